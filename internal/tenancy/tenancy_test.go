package tenancy

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
)

// A record of an auth collection other than users is nobody's member, even
// with a user's id (ids are unique per collection only): custom routes let
// any signed-in record through to ActorOf.
func TestActorOfIsAUserOrASuperuser(t *testing.T) {
	record := func(collection *core.Collection) *core.Record {
		r := core.NewRecord(collection)
		r.Id = "sameid000000000"
		return r
	}
	for _, c := range []struct {
		name string
		auth *core.Record
		want Actor
	}{
		{"signed out", nil, Actor{}},
		{"a user", record(core.NewAuthCollection(Users)), Actor{UserID: "sameid000000000"}},
		{"a superuser", record(core.NewAuthCollection(core.CollectionNameSuperusers)), Actor{Superuser: true}},
		{"another auth collection", record(core.NewAuthCollection("staff")), Actor{}},
	} {
		if got := ActorOf(&core.RequestEvent{Auth: c.auth}); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

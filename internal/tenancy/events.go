package tenancy

import (
	"github.com/pocketbase/pocketbase/core"
)

// Event is one entry of the audit trail (SPEC §7): written in the
// transaction of the change it describes, so the trail and the data cannot
// disagree, and read-only through the API.
type Event struct {
	Group   string
	Project string
	Action  string // e.g. "member.joined", "credential.revoked"
	Target  string // the id the action is about (a user, credential, invite…)
	Data    map[string]any
}

// record writes ev with the transaction's actor.
func (t *Tenancy) record(tx core.App, ev Event) error {
	collection, err := tx.FindCachedCollectionByNameOrId(Events)
	if err != nil {
		return err
	}
	r := core.NewRecord(collection)
	r.Set("group", ev.Group)
	r.Set("project", ev.Project)
	r.Set("action", ev.Action)
	r.Set("target", ev.Target)
	data := ev.Data
	if data == nil {
		data = map[string]any{}
	}
	switch actor := t.actorIn(tx); {
	case actor.UserID != "":
		r.Set("actor", actor.UserID)
	case actor.Superuser:
		data["by"] = "superuser"
	default:
		data["by"] = "server"
	}
	r.Set("data", data)
	return tx.Save(r)
}

// change is one field's before and after, as events carry them.
type change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// diff lists the fields whose value differs between two versions of a record.
func diff(before, after *core.Record, fields ...string) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		if !sameValue(before.Get(f), after.Get(f)) {
			out[f] = change{From: before.Get(f), To: after.Get(f)}
		}
	}
	return out
}

// OnEventWriteRequest keeps the trail read-only through the API, for
// superusers too: an audit trail that can be edited proves nothing.
func (t *Tenancy) OnEventWriteRequest(e *core.RecordRequestEvent) error {
	return forbidden("the activity trail is written by the server only")
}

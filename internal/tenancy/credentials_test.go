package tenancy

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tools/router"
)

// A wrong JSON type is a 400 that names the field and the JSON it takes,
// pointer fields and array elements included.
func TestDecodeJSONNamesTheType(t *testing.T) {
	for _, c := range []struct {
		body string
		dst  any
		want string
	}{
		{`{"name":1}`, &IssueRequest{}, "name must be a string"},
		{`{"allow_responses":"yes"}`, &IssueRequest{}, "allow_responses must be true or false"},
		{`{"pub_allow":"a.b"}`, &IssueRequest{}, "pub_allow must be an array of strings"},
		{`{"pub_allow":[1]}`, &IssueRequest{}, "pub_allow must be an array of strings"},
		{`{"max_uses":"3"}`, &InviteRequest{}, "max_uses must be a whole number"},
		{`{"max_uses":1.5}`, &InviteRequest{}, "max_uses must be a whole number"},
	} {
		err := DecodeJSON(strings.NewReader(c.body), c.dst)
		apiErr, ok := err.(*router.ApiError)
		if !ok || apiErr.Status != 400 || !strings.EqualFold(strings.TrimSuffix(apiErr.Message, "."), c.want) {
			t.Errorf("%s: %v; want 400 %q", c.body, err, c.want)
		}
	}
}

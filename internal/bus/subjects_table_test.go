package bus

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// permissionCase is one row of testdata/permission_subjects.json, the table
// of permission subjects that this validator and the web form's
// (web/src/lib/subjects.js, web/tests/subjects-table.test.js) must agree on.
type permissionCase struct {
	Subject string `json:"subject"`
	Repeat  string `json:"repeat"`
	Times   int    `json:"times"`
	Suffix  string `json:"suffix"`
	Pub     bool   `json:"pub"`
	Sub     bool   `json:"sub"`
	Why     string `json:"why"`
}

func (c permissionCase) text() string {
	if c.Repeat != "" {
		return strings.Repeat(c.Repeat, c.Times) + c.Suffix
	}
	return c.Subject
}

func TestValidateSubjectsSharedTable(t *testing.T) {
	raw, err := os.ReadFile("testdata/permission_subjects.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Cases []permissionCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) < 50 {
		t.Fatalf("only %d cases", len(table.Cases))
	}
	for _, c := range table.Cases {
		s := c.text()
		for _, field := range []string{"pub_allow", "pub_deny", "sub_allow", "sub_deny"} {
			want := c.Pub
			if strings.HasPrefix(field, "sub_") {
				want = c.Sub
			}
			err := ValidateSubjects(field, []string{s})
			if got := err == nil; got != want {
				t.Errorf("%s %q (%s): valid=%v, table says %v (%v)", field, short(s), c.Why, got, want, err)
			}
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-10:]
	}
	return s
}

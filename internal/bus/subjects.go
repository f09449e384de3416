package bus

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// FieldError is a rejected input, naming the field so an API can answer 400
// with the field it came from.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// maxSubjectLen keeps permission lists sane; NATS itself has no hard cap but
// a JWT carrying huge subjects helps nobody (and see MaxUserJWTLen).
const maxSubjectLen = 512

// ValidateSubjects checks one permission list of a credential. field is
// pub_allow, pub_deny, sub_allow or sub_deny: the sub lists also take a
// queue permission, "subject queue" (e.g. "jobs.> workers": only queue
// subscriptions in group workers), the pub lists do not.
//
// The checks are the libraries' own: jwt/v2's permission validation (what
// nats-server runs on a user JWT: spaces, empty tokens, where a queue may
// be) and nats-server's subject validity (wildcards, ">" last, whitespace),
// which is stricter than jwt's. On top, two things neither library
// refuses: a wildcard inside a token ("orders*", "a.b>") is a literal to
// NATS, so it would silently match nothing the user meant; and invalid
// UTF-8 or control characters.
func ValidateSubjects(field string, subjects []string) error {
	permitQueue := strings.HasPrefix(field, "sub_")
	for _, s := range subjects {
		if msg := permissionProblem(s, permitQueue); msg != "" {
			return &FieldError{Field: field, Message: fmt.Sprintf("invalid subject %q: %s", s, msg)}
		}
	}
	return nil
}

func permissionProblem(s string, permitQueue bool) string {
	if s == "" {
		return "empty subject"
	}
	if len(s) > maxSubjectLen {
		return fmt.Sprintf("longer than %d bytes", maxSubjectLen)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "contains a control character"
	}
	vr := jwt.CreateValidationResults()
	(&jwt.Permission{Allow: jwt.StringList{s}}).Validate(vr, permitQueue)
	if errs := vr.Errors(); len(errs) > 0 {
		if !permitQueue && strings.Contains(errs[0].Error(), "queue") {
			return "queue groups (\"subject queue\") are allowed in sub_allow and sub_deny only"
		}
		return errs[0].Error()
	}
	subject, queue, _ := strings.Cut(s, " ")
	if msg := subjectProblem(subject); msg != "" {
		return msg
	}
	if queue != "" {
		if msg := subjectProblem(queue); msg != "" {
			return "queue " + msg
		}
	}
	return ""
}

// subjectProblem is nats-server's validity check, plus wildcards inside a
// token, which nats-server takes as literal characters.
func subjectProblem(s string) string {
	if !server.IsValidSubject(s) {
		return `not a valid NATS subject (empty token, whitespace, or ">" not last)`
	}
	for _, t := range strings.Split(s, ".") {
		if len(t) > 1 && strings.ContainsAny(t, "*>") {
			return "wildcards must be a whole token"
		}
	}
	return ""
}

// covers reports whether deny matches every subject that subject matches
// (NATS wildcards: "*" one token, ">" one or more trailing tokens), as
// nats-server decides it. A queue permission is compared by its subject; a
// deny entry with a queue denies that queue only, so it covers nothing here
// (never refuse a credential that could work).
func covers(deny, subject string) bool {
	if strings.Contains(deny, " ") {
		return false
	}
	subject, _, _ = strings.Cut(subject, " ")
	return server.SubjectMatchesFilter(subject, deny)
}

// coveredBy returns the first deny entry that covers subject, or "".
func coveredBy(denies []string, subject string) string {
	for _, d := range denies {
		if covers(d, subject) {
			return d
		}
	}
	return ""
}

package bus

import (
	"fmt"
	"strings"
	"unicode"
)

// FieldError is a rejected input, naming the field so an API can answer 400
// with the field it came from.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// maxSubjectLen keeps permission lists sane; NATS itself has no hard cap but
// a JWT carrying huge subjects helps nobody.
const maxSubjectLen = 512

// ValidateSubjects checks permission subjects: non-empty, no whitespace, no
// empty tokens, wildcards only as whole tokens and ">" only last.
func ValidateSubjects(field string, subjects []string) error {
	for _, s := range subjects {
		if msg := subjectProblem(s); msg != "" {
			return &FieldError{Field: field, Message: fmt.Sprintf("invalid subject %q: %s", s, msg)}
		}
	}
	return nil
}

func subjectProblem(s string) string {
	if s == "" {
		return "empty subject"
	}
	if len(s) > maxSubjectLen {
		return fmt.Sprintf("longer than %d bytes", maxSubjectLen)
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "contains whitespace"
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return "empty token (leading, trailing or double dot)"
		case t == ">":
			if i != len(tokens)-1 {
				return `">" must be the last token`
			}
		case t == "*":
		case strings.ContainsAny(t, "*>"):
			return "wildcards must be a whole token"
		}
	}
	return ""
}

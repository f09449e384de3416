package tenancy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// IssueRequest is the body of POST /api/pocketbus/projects/{id}/credentials.
type IssueRequest struct {
	Name     string   `json:"name"`
	PubAllow []string `json:"pub_allow"`
	PubDeny  []string `json:"pub_deny"`
	SubAllow []string `json:"sub_allow"`
	SubDeny  []string `json:"sub_deny"`
	Expires  string   `json:"expires"` // RFC 3339; empty = never
}

// Issued is the one response that carries a credential's secret.
type Issued struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
	JWT       string `json:"jwt"`
	Seed      string `json:"seed"`
	Creds     string `json:"creds"`
}

// DecodeJSON reads a request body strictly into dst; a wrong type is a 400
// naming the field, anything unparsable a 400 naming the body.
func DecodeJSON(r io.Reader, dst any) error {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		field := strings.SplitN(typeErr.Field, ".", 2)[0]
		return fieldError(field, "invalid_type", fmt.Sprintf("%s must be %s", field, jsonKind(typeErr.Type.Kind().String())))
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fieldError(field, "unknown", "unknown field "+field)
	}
	return fieldError("body", "malformed", "the request body is not valid JSON: "+err.Error())
}

func jsonKind(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array of strings"
	case "string":
		return "a string"
	default:
		return "a " + kind
	}
}

// Validate checks an issue request; the first problem is a 400 naming it.
func (r *IssueRequest) validate(now time.Time) (time.Time, error) {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return time.Time{}, fieldError("name", "required", "name is required")
	}
	if len([]rune(r.Name)) > 64 {
		return time.Time{}, fieldError("name", "too_long", "name must be at most 64 characters")
	}
	lists := []struct {
		field string
		list  []string
	}{{"pub_allow", r.PubAllow}, {"pub_deny", r.PubDeny}, {"sub_allow", r.SubAllow}, {"sub_deny", r.SubDeny}}
	for _, l := range lists {
		if len(l.list) > 256 {
			return time.Time{}, fieldError(l.field, "too_many", l.field+" takes at most 256 subjects")
		}
		if err := bus.ValidateSubjects(l.field, l.list); err != nil {
			var fe *bus.FieldError
			if errors.As(err, &fe) {
				return time.Time{}, fieldError(fe.Field, "invalid_subject", fe.Message)
			}
			return time.Time{}, fieldError(l.field, "invalid_subject", err.Error())
		}
	}
	if r.Expires == "" {
		return time.Time{}, nil
	}
	expires, err := time.Parse(time.RFC3339, r.Expires)
	if err != nil {
		return time.Time{}, fieldError("expires", "invalid_date", "expires must be an RFC 3339 time, e.g. 2026-12-01T10:00:00Z")
	}
	if !expires.After(now) {
		return time.Time{}, fieldError("expires", "in_past", "expires must be in the future")
	}
	return expires, nil
}

// IssueCredential mints a NATS user for the project and records it. The seed
// is in the result only: it is never stored.
func (t *Tenancy) IssueCredential(app core.App, project *core.Record, by *core.Record, req IssueRequest) (*Issued, error) {
	expires, err := req.validate(time.Now())
	if err != nil {
		return nil, err
	}
	user, err := t.Operator.IssueUser(bus.UserSpec{
		ProjectID: project.Id,
		Name:      req.Name,
		PubAllow:  req.PubAllow, PubDeny: req.PubDeny,
		SubAllow: req.SubAllow, SubDeny: req.SubDeny,
		Expires: expires,
	})
	if err != nil {
		return nil, err
	}
	collection, err := app.FindCachedCollectionByNameOrId(Credentials)
	if err != nil {
		return nil, err
	}
	cred := core.NewRecord(collection)
	cred.Set("project", project.Id)
	cred.Set("name", req.Name)
	cred.Set("public_key", user.PublicKey)
	cred.Set("pub_allow", nonNil(req.PubAllow))
	cred.Set("pub_deny", nonNil(req.PubDeny))
	cred.Set("sub_allow", nonNil(req.SubAllow))
	cred.Set("sub_deny", nonNil(req.SubDeny))
	if !expires.IsZero() {
		cred.Set("expires", expires)
	}
	if by != nil {
		cred.Set("created_by", by.Id)
	}
	if err := app.Save(cred); err != nil {
		return nil, err
	}
	return &Issued{ID: cred.Id, PublicKey: user.PublicKey, JWT: user.JWT, Seed: user.Seed, Creds: user.Creds}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RevokeCredential marks the credential revoked and revokes its key in the
// project's account, in one transaction; the account update that closes its
// connections is pushed after the commit (OnProjectCommitted). Revoking twice
// changes nothing.
func (t *Tenancy) RevokeCredential(app core.App, cred *core.Record) error {
	if !cred.GetDateTime("revoked").IsZero() {
		return nil
	}
	return app.RunInTransaction(func(tx core.App) error {
		cred.Set("revoked", types.NowDateTime())
		if err := tx.Save(cred); err != nil {
			return err
		}
		return revokeKey(tx, cred)
	})
}

// OnCredentialDelete keeps a deleted credential's key revoked: the record
// goes, the revocation stays in the project's account.
func (t *Tenancy) OnCredentialDelete(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if err := e.Next(); err != nil {
			return err
		}
		if !e.Record.GetDateTime("revoked").IsZero() {
			return nil
		}
		return revokeKey(tx, e.Record)
	})
}

// MaxRevocations bounds the revocations a project's account holds for
// credentials that have not expired (expired ones are dropped whenever the
// account is re-signed). Each costs ~93 bytes of account JWT, and the JWT
// reaches NATS as one message (1 MiB max payload): 8,000 make ~750 KB. Past
// it a revoke is refused with a 400 rather than silently not applied.
const MaxRevocations = 8000

// revokeKey adds the credential's user key to its project's revocations and
// saves the project, which re-signs the account JWT (OnProjectSave).
func revokeKey(tx core.App, cred *core.Record) error {
	project, err := tx.FindRecordById(Projects, cred.GetString("project"))
	if err != nil {
		// The project itself is going (cascade): its whole account goes too.
		return nil
	}
	revs, err := projectRevocations(project)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	live := 0
	for _, r := range revs {
		if r.Expires == 0 || r.Expires >= now {
			live++
		}
	}
	if live >= MaxRevocations {
		return fieldError("id", "too_many_revocations", fmt.Sprintf(
			"this project already has %d revoked credentials that have not expired, the most its account can hold; "+
				"disable the project to shut every credential out, and issue credentials with an expiry so their revocations lapse", live))
	}
	r := revocation{At: now}
	if exp := cred.GetDateTime("expires"); !exp.IsZero() {
		r.Expires = exp.Time().Unix()
	}
	revs[cred.GetString("public_key")] = r
	project.Set("revocations", revs)
	return tx.Save(project)
}

// OnCredentialCreateRequest refuses the records API create: credentials are
// issued only by the issue route, which returns the seed once.
func (t *Tenancy) OnCredentialCreateRequest(e *core.RecordRequestEvent) error {
	return fieldError("project", "use_issue_route", "credentials are issued with POST /api/pocketbus/projects/{id}/credentials")
}

// WebToken is the short-lived credential of the web app's own connection.
type WebToken struct {
	JWT     string    `json:"jwt"`
	Seed    string    `json:"seed"`
	Expires time.Time `json:"expires"`
	WSURL   string    `json:"ws_url"`
}

// WebTokenTTL bounds a web token's life; the app renews it before it ends.
const WebTokenTTL = time.Hour

// IssueWebToken mints an unrecorded, full-access credential for the project
// that expires within WebTokenTTL.
func (t *Tenancy) IssueWebToken(project *core.Record, user *core.Record, wsURL string) (*WebToken, error) {
	name := "web"
	if user != nil {
		name = "web:" + user.Id
	}
	expires := time.Now().Add(WebTokenTTL).Truncate(time.Second)
	issued, err := t.Operator.IssueUser(bus.UserSpec{ProjectID: project.Id, Name: name, Expires: expires})
	if err != nil {
		return nil, err
	}
	return &WebToken{JWT: issued.JWT, Seed: issued.Seed, Expires: expires.UTC(), WSURL: wsURL}, nil
}

package tenancy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
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
	// AllowResponses lets the credential publish one reply to the reply
	// subject of each message it receives, whatever its pub lists say (and
	// whoever chose that reply subject). Off unless asked for.
	AllowResponses *bool `json:"allow_responses"`
	// JetStream gives a credential with any list the JetStream API (and so
	// KV and Object Store), through which it can read and write any stream
	// of the project whatever its lists. Default: on for a credential
	// without lists, off for one with lists.
	JetStream *bool `json:"jetstream"`
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
		return fieldError(field, "invalid_type", fmt.Sprintf("%s must be %s", field, jsonKind(fieldType(dst, field, typeErr.Type))))
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fieldError(field, "unknown", "unknown field "+field)
	}
	return fieldError("body", "malformed", "the request body is not valid JSON: "+err.Error())
}

// fieldType is the type of dst's field named name in JSON, pointer
// dereferenced. A type error inside an array names the array's field with the
// element's type; the message names the field's (else: reported).
func fieldType(dst any, name string, reported reflect.Type) reflect.Type {
	st := reflect.TypeOf(dst)
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := range st.NumField() {
			f := st.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
				t := f.Type
				for t.Kind() == reflect.Pointer {
					t = t.Elem()
				}
				return t
			}
		}
	}
	return reported
}

// jsonKind says in a message what JSON a field of type t takes.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array of strings" // the only arrays the routes take
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "an object"
	}
}

// validate checks what bus does not: the name and the expiry.
func (r *IssueRequest) validate(now time.Time) (time.Time, error) {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return time.Time{}, fieldError("name", "required", "name is required")
	}
	if len([]rune(r.Name)) > 64 {
		return time.Time{}, fieldError("name", "too_long", "name must be at most 64 characters")
	}
	for _, l := range []struct {
		field string
		list  []string
	}{{"pub_allow", r.PubAllow}, {"pub_deny", r.PubDeny}, {"sub_allow", r.SubAllow}, {"sub_deny", r.SubDeny}} {
		if len(l.list) > 256 {
			return time.Time{}, fieldError(l.field, "too_many", l.field+" takes at most 256 subjects")
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

// restricted reports whether the request lists any subjects.
func (r *IssueRequest) restricted() bool {
	return len(r.PubAllow)+len(r.PubDeny)+len(r.SubAllow)+len(r.SubDeny) > 0
}

// projectFor loads a project for an actor inside tx: members of its group
// (and superusers) get it, everyone else "not found", so ids leak nothing.
func projectFor(tx core.App, actor Actor, id string) (*core.Record, error) {
	p, err := tx.FindRecordById(Projects, id)
	if err != nil {
		return nil, notFound("project not found")
	}
	if actor.Superuser {
		return p, nil
	}
	if ok, err := IsMember(tx, actor.UserID, p.GetString("group")); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFound("project not found")
	}
	return p, nil
}

// IssueCredential mints a NATS user for the project (as the caller loaded
// it, after checking the caller may see it) and records it, in one
// transaction with the membership check (a member removed meanwhile gets a
// 404, not a credential). The seed is in the result only: never stored.
func (t *Tenancy) IssueCredential(app core.App, actor Actor, project *core.Record, req IssueRequest) (*Issued, error) {
	expires, err := req.validate(time.Now())
	if err != nil {
		return nil, err
	}
	jetstream := !req.restricted()
	if req.JetStream != nil {
		jetstream = *req.JetStream
	}
	allowResponses := req.AllowResponses != nil && *req.AllowResponses
	waitPastRotation(project)
	// The key pair and JWT (~0.1 ms of ed25519 work) are made before the
	// transaction, so concurrent issues do not queue behind each other's
	// signing on SQLite's one writer; the transaction re-checks the
	// membership and that the project is still the one signed for.
	salt := project.GetString("account_salt")
	signedFrom := time.Now().Unix() // the JWT's issue time is this second or later
	user, err := t.Operator.IssueUser(bus.UserSpec{
		ProjectID: project.Id,
		Salt:      salt,
		Name:      req.Name,
		PubAllow:  req.PubAllow, PubDeny: req.PubDeny,
		SubAllow: req.SubAllow, SubDeny: req.SubDeny,
		AllowResponses: allowResponses,
		JetStream:      jetstream,
		Expires:        expires,
	})
	if err != nil {
		var fe *bus.FieldError
		if errors.As(err, &fe) {
			return nil, fieldError(fe.Field, "invalid", fe.Message)
		}
		return nil, err
	}
	var issued *Issued
	err = t.Run(app, actor, func(tx core.App) error {
		var now struct {
			Group         string         `db:"group"`
			Salt          string         `db:"account_salt"`
			RevokedBefore types.DateTime `db:"revoked_before"`
		}
		if err := tx.DB().NewQuery("SELECT [[group]], account_salt, revoked_before FROM projects WHERE id = {:id}").
			Bind(dbx.Params{"id": project.Id}).One(&now); err != nil || now.Salt != salt {
			return notFound("project not found") // gone, or deleted and made again: not the account signed for
		}
		if !actor.Superuser {
			if ok, err := IsMember(tx, actor.UserID, now.Group); err != nil {
				return err
			} else if !ok {
				return notFound("project not found")
			}
		}
		if rb := now.RevokedBefore; !rb.IsZero() && rb.Time().Unix() >= signedFrom {
			// A rotation committed since the JWT was signed, in its second:
			// the JWT is refused already. Better say so than hand it out.
			return router.NewApiError(http.StatusConflict, "the project's credentials were rotated while this one was being issued; issue it again", nil)
		}
		collection, err := tx.FindCachedCollectionByNameOrId(Credentials)
		if err != nil {
			return err
		}
		cred := core.NewRecord(collection)
		cred.Set("project", project.Id)
		cred.Set("name", req.Name)
		cred.Set("public_key", user.PublicKey)
		cred.Set("pub_allow", nonNil(req.PubAllow))
		cred.Set("pub_deny", nonNil(req.PubDeny))
		cred.Set("sub_allow", nonNil(req.SubAllow))
		cred.Set("sub_deny", nonNil(req.SubDeny))
		cred.Set("allow_responses", allowResponses)
		cred.Set("jetstream", jetstream)
		if !expires.IsZero() {
			cred.Set("expires", expires)
		}
		if actor.UserID != "" {
			cred.Set("created_by", actor.UserID)
		}
		if err := tx.Save(cred); err != nil {
			return err
		}
		if err := t.journalIn(tx, "issued", project.Id, user.PublicKey, time.Now(), expires); err != nil {
			return err
		}
		issued = &Issued{ID: cred.Id, PublicKey: user.PublicKey, JWT: user.JWT, Seed: user.Seed, Creds: user.Creds}
		return t.record(tx, Event{Group: now.Group, Project: project.Id, Action: "credential.issued", Target: cred.Id,
			Data: map[string]any{
				"name": req.Name, "public_key": user.PublicKey,
				"pub_allow": nonNil(req.PubAllow), "pub_deny": nonNil(req.PubDeny),
				"sub_allow": nonNil(req.SubAllow), "sub_deny": nonNil(req.SubDeny),
				"allow_responses": allowResponses, "jetstream": jetstream, "expires": req.Expires,
			}})
	})
	return issued, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RevokeCredential revokes the credential: its record says so, its key goes
// into the project's revocations rows, and the account is re-signed from
// them, all in one transaction; after the commit the account update closes
// its connections. Revoking twice changes nothing.
func (t *Tenancy) RevokeCredential(app core.App, actor Actor, credentialID string) (*core.Record, error) {
	var cred *core.Record
	err := t.Run(app, actor, func(tx core.App) error {
		var err error
		cred, err = tx.FindRecordById(Credentials, credentialID)
		if err != nil {
			return notFound("credential not found")
		}
		if _, err := projectFor(tx, actor, cred.GetString("project")); err != nil {
			return notFound("credential not found")
		}
		if !cred.GetDateTime("revoked").IsZero() {
			return nil
		}
		if err := t.revokeInTx(tx, cred, time.Now(), "revoked"); err != nil {
			return err
		}
		return t.resign(tx, cred.GetString("project"))
	})
	return cred, err
}

// revokeInTx marks one credential revoked and records the revocation of its
// key (the caller re-signs the project once for all it revokes).
func (t *Tenancy) revokeInTx(tx core.App, cred *core.Record, at time.Time, reason string) error {
	cred.Set("revoked", at)
	cred.IgnoreUnchangedFields(true)
	if err := tx.Save(cred); err != nil {
		return err
	}
	if err := t.revokeKey(tx, cred.GetString("project"), cred.GetString("public_key"), at, expiryOf(cred)); err != nil {
		return err
	}
	project, err := tx.FindRecordById(Projects, cred.GetString("project"))
	if err != nil {
		return err
	}
	return t.record(tx, Event{Group: project.GetString("group"), Project: project.Id, Action: "credential.revoked", Target: cred.Id,
		Data: map[string]any{"name": cred.GetString("name"), "public_key": cred.GetString("public_key"), "reason": reason}})
}

// expiryOf is when a credential's JWT expires (zero: never): its revocation
// can leave the account JWT after that.
func expiryOf(cred *core.Record) time.Time {
	if exp := cred.GetDateTime("expires"); !exp.IsZero() {
		return exp.Time()
	}
	return time.Time{}
}

// OnCredentialDeleteRequest re-checks inside the deleting transaction that
// the caller owns the project's group (the delete rule).
func (t *Tenancy) OnCredentialDeleteRequest(e *core.RecordRequestEvent) error {
	return t.guard(e, func(tx core.App) error {
		p, err := tx.FindRecordById(Projects, e.Record.GetString("project"))
		if err != nil {
			return notFound("credential not found")
		}
		return requireOwner(tx, e.RequestEvent, p.GetString("group"))
	})
}

// OnCredentialDelete keeps a deleted credential's key revoked: the record
// goes, the revocation row stays. When the project itself is being deleted
// (cascade), its whole account goes and nothing needs revoking.
func (t *Tenancy) OnCredentialDelete(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if err := e.Next(); err != nil {
			return err
		}
		project, err := tx.FindRecordById(Projects, e.Record.GetString("project"))
		if err != nil {
			return nil // the project is going: its account goes with it
		}
		if e.Record.GetDateTime("revoked").IsZero() {
			if err := t.revokeKey(tx, project.Id, e.Record.GetString("public_key"), time.Now(), expiryOf(e.Record)); err != nil {
				return err
			}
			if err := t.resign(tx, project.Id); err != nil {
				return err
			}
		}
		return t.record(tx, Event{Group: project.GetString("group"), Project: project.Id, Action: "credential.deleted", Target: e.Record.Id,
			Data: map[string]any{"name": e.Record.GetString("name"), "public_key": e.Record.GetString("public_key")}})
	})
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

// webKeyFor names the web-token key of one membership: every web token a
// member gets for a project of the group has the same user key (derived,
// bus.UserSpec.WebKey), so one revocation entry ends all of them when the
// membership ends. A later membership (rejoining) is a new row with a new
// key, untouched by the old revocation even within the same second (JWT
// times are whole seconds).
func webKeyFor(membershipID string) string { return "web:" + membershipID }

// IssueWebToken mints an unrecorded, full-access credential for the project
// that expires within WebTokenTTL. The membership check runs in a write
// transaction, so it is ordered against a concurrent removal: either the
// removal commits first (404 here) or its revocation, signed after this
// token, covers it.
func (t *Tenancy) IssueWebToken(app core.App, actor Actor, projectID, wsURL string) (*WebToken, error) {
	if p, err := app.FindRecordById(Projects, projectID); err == nil {
		waitPastRotation(p)
	}
	var token *WebToken
	err := t.Run(app, actor, func(tx core.App) error {
		project, err := projectFor(tx, actor, projectID)
		if err != nil {
			return err
		}
		membership, err := membershipID(tx, actor.UserID, project.GetString("group"))
		if err != nil {
			return err
		}
		signedFrom := time.Now().Unix() // the JWT's issue time is this second or later
		if rb := project.GetDateTime("revoked_before"); !rb.IsZero() && rb.Time().Unix() >= signedFrom {
			// A rotation committed after waitPastRotation read the project,
			// in this second: the token would be refused at once.
			return router.NewApiError(http.StatusConflict, "the project's credentials were rotated while this token was being issued; ask for it again", nil)
		}
		spec := bus.UserSpec{
			ProjectID: project.Id,
			Salt:      project.GetString("account_salt"),
			Name:      "web",
			JetStream: true,
			Expires:   time.Now().Add(WebTokenTTL).Truncate(time.Second),
		}
		if membership != "" {
			spec.Name, spec.WebKey = "web:"+actor.UserID, webKeyFor(membership)
		}
		issued, err := t.Operator.IssueUser(spec)
		if err != nil {
			return err
		}
		token = &WebToken{JWT: issued.JWT, Seed: issued.Seed, Expires: spec.Expires.UTC(), WSURL: wsURL}
		return nil
	})
	return token, err
}

package tenancy

import (
	"net/http"
	"strings"

	"github.com/ganigeorgiev/fexpr"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// serverSetUserFields are users fields only the server writes: the personal
// group and the copy of the memberships.
var serverSetUserFields = []string{"mygroup", "groups"}

// OnUserCreate gives every new user a personal group, in the same
// transaction as the user: if the group cannot be made, no user is left.
// It is a model hook, so sign-up, the dashboard and Go code all get one.
func (t *Tenancy) OnUserCreate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if e.Record.GetInt("max_groups") == 0 {
			e.Record.Set("max_groups", DefaultUserMaxGroups)
		}
		if err := e.Next(); err != nil {
			return err
		}
		groups, err := tx.FindCachedCollectionByNameOrId(Groups)
		if err != nil {
			return err
		}
		group := core.NewRecord(groups)
		group.Set("name", personalGroupName(e.Record))
		group.Set("owner", e.Record.Id)
		group.Set("personal", true)
		if err := tx.Save(group); err != nil { // OnGroupCreate makes the user its member
			return err
		}
		if _, err := tx.DB().NewQuery("UPDATE users SET mygroup = {:g} WHERE id = {:u}").
			Bind(dbx.Params{"g": group.Id, "u": e.Record.Id}).Execute(); err != nil {
			return err
		}
		// The response and realtime show what was written.
		e.Record.Set("mygroup", group.Id)
		e.Record.Set("groups", []string{group.Id})
		return nil
	})
}

func personalGroupName(user *core.Record) string {
	name := user.GetString("name")
	if name == "" {
		name = user.Email()
	}
	if name == "" {
		return "Personal"
	}
	runes := []rune(name)
	if len(runes) > 64 {
		runes = runes[:64]
	}
	return string(runes)
}

// OnUserWriteRequest refuses client writes of the server-set fields, for
// create and update alike (superusers included: the membership routes are
// the one way to change membership, so the invariants hold), and of the
// limit max_groups from anyone but a superuser.
func (t *Tenancy) OnUserWriteRequest(e *core.RecordRequestEvent) error {
	for _, f := range serverSetUserFields {
		if sends, err := sendsChange(e, f); err != nil {
			return err
		} else if sends {
			return fieldError(f, "read_only", f+" is set by the server; join by invite, leave with the membership routes")
		}
	}
	if err := superuserOnly(e, []string{"max_groups"}); err != nil {
		return err
	}
	return e.Next()
}

// OnUserUpdate writes only the fields this save changed, and puts the
// memberships copy back from the rows whatever the save carried: a user's
// profile save must not write back a membership list it loaded earlier.
func (t *Tenancy) OnUserUpdate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		e.Record.IgnoreUnchangedFields(true)
		if err := e.Next(); err != nil {
			return err
		}
		return syncUserGroups(tx, e.Record.Id)
	})
}

// OnUserDeleteRequest keeps groups from losing their owner: a user who owns
// a group with other members must transfer it (or delete it) first, checked
// in the deleting transaction so a join cannot slip in between. Their
// personal group and groups they alone are in go with them (owner cascade).
func (t *Tenancy) OnUserDeleteRequest(e *core.RecordRequestEvent) error {
	return t.guard(e, func(tx core.App) error {
		var shared []string
		err := tx.DB().NewQuery(`
			SELECT g.name FROM groups g
			WHERE g.owner = {:user} AND EXISTS (
				SELECT 1 FROM memberships m WHERE m.[[group]] = g.id AND m.[[user]] != {:user})
			ORDER BY g.name`).
			Bind(dbx.Params{"user": e.Record.Id}).Column(&shared)
		if err != nil {
			return err
		}
		if len(shared) > 0 {
			return fieldError("id", "owns_groups", "this user owns the shared group \""+shared[0]+"\"; transfer its ownership or delete it first")
		}
		return nil
	})
}

// OnUserDelete ends the user's access to every group they leave with their
// account, as a removal does (SPEC §7 "Leaving ends access"): their web
// tokens and the credentials they created in the groups' projects are
// revoked, and the trail records it. Groups they own go with them (the
// delete request refuses while others are in them).
func (t *Tenancy) OnUserDelete(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		var rows []struct {
			Group      string `db:"group"`
			Membership string `db:"membership"`
		}
		err := tx.DB().NewQuery(`SELECT m.[[group]] AS [[group]], m.id AS membership FROM memberships m JOIN groups g ON g.id = m.[[group]]
			WHERE m.[[user]] = {:u} AND g.owner != {:u}`).Bind(dbx.Params{"u": e.Record.Id}).All(&rows)
		if err != nil {
			return err
		}
		for _, r := range rows {
			revoked, err := t.revokeMemberAccess(tx, r.Group, e.Record.Id, r.Membership, true)
			if err != nil {
				return err
			}
			if err := t.record(tx, Event{Group: r.Group, Action: "member.left", Target: e.Record.Id,
				Data: map[string]any{"reason": "account deleted", "credentials_revoked": revoked}}); err != nil {
				return err
			}
		}
		return e.Next()
	})
}

// OnUserEnrich shows a user's memberships and limits to themself (and
// superusers) only; co-members see each other's name and avatar, nothing
// else (SPEC §7 Privacy). The email follows PocketBase's emailVisibility.
func (t *Tenancy) OnUserEnrich(e *core.RecordEnrichEvent) error {
	auth := e.RequestInfo.Auth
	switch {
	case auth != nil && auth.IsSuperuser():
	case auth != nil && auth.Id == e.Record.Id && auth.Collection().Name == Users:
		e.Record.Unhide("groups", "mygroup", "max_groups")
	default:
		e.Record.Hide("verified", "emailVisibility", "created", "updated")
	}
	return e.Next()
}

// userQueryFields are the users fields a non-superuser may sort or filter
// by: the ones co-members see. Sorting by a hidden value (an email) would
// reveal it letter by letter.
var userQueryFields = map[string]bool{"id": true, "name": true, "@random": true, "@rowid": true}

// CheckUsersQuery refuses, for non-superusers, sort and filter terms of a
// users records request outside userQueryFields, with a 400 naming the
// parameter. It runs as a router middleware, before PocketBase builds the
// query (which would refuse hidden fields with a bare 400, and sort by email
// without a word).
func CheckUsersQuery(e *core.RequestEvent) error {
	if e.Request.Method != http.MethodGet || !strings.HasPrefix(e.Request.URL.Path, "/api/collections/") || e.HasSuperuserAuth() {
		return e.Next()
	}
	rest := strings.TrimPrefix(e.Request.URL.Path, "/api/collections/")
	name, tail, _ := strings.Cut(rest, "/")
	if !strings.HasPrefix(tail, "records") {
		return e.Next()
	}
	if users, err := e.App.FindCachedCollectionByNameOrId(Users); err != nil || (name != users.Name && name != users.Id) {
		return e.Next()
	}
	q := e.Request.URL.Query()
	for _, term := range strings.Split(q.Get("sort"), ",") {
		field := strings.TrimLeft(strings.TrimSpace(term), "+-")
		if field != "" && !userQueryFields[field] {
			return fieldError("sort", "not_allowed", "users can be sorted by id and name only")
		}
	}
	if f := strings.TrimSpace(q.Get("filter")); f != "" {
		groups, err := fexpr.Parse(f)
		if err != nil {
			return fieldError("filter", "invalid", "invalid filter: "+err.Error())
		}
		if bad := filterFieldOutside(groups, userQueryFields); bad != "" {
			return fieldError("filter", "not_allowed", "users can be filtered by id and name only, not "+bad)
		}
	}
	for _, ex := range strings.Split(q.Get("expand"), ",") {
		if f, _, _ := strings.Cut(strings.TrimSpace(ex), "."); f == "groups" || f == "mygroup" {
			return fieldError("expand", "not_allowed", "a user's groups are not expandable here; list your groups instead")
		}
	}
	return e.Next()
}

// filterFieldOutside returns the first field a filter names that is not in
// allowed ("" when none). Request macros (@request.auth.id, @now…) are
// values, not fields of the listed records.
func filterFieldOutside(groups []fexpr.ExprGroup, allowed map[string]bool) string {
	for _, g := range groups {
		switch item := g.Item.(type) {
		case fexpr.Expr:
			for _, tok := range []fexpr.Token{item.Left, item.Right} {
				switch tok.Type {
				case fexpr.TokenIdentifier:
					name := tok.Literal
					if strings.HasPrefix(name, "@request.auth.id") || (strings.HasPrefix(name, "@") && !strings.HasPrefix(name, "@collection") && !strings.HasPrefix(name, "@request")) {
						continue
					}
					if !allowed[name] {
						return name
					}
				case fexpr.TokenFunction:
					return tok.Literal
				}
			}
		case []fexpr.ExprGroup:
			if bad := filterFieldOutside(item, allowed); bad != "" {
				return bad
			}
		}
	}
	return ""
}

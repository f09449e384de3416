package tenancy

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Fair share (SPEC §7): what one group, and one user, may take of the
// server. Superusers change them per record; new records get these.
const (
	DefaultGroupMaxProjects = 10 // projects in one group
	DefaultGroupJSShare     = 10 // percent of each of the server's JetStream totals one group may reserve
	DefaultUserMaxGroups    = 5  // groups one user may own, the personal one included
)

// groupLimitFields are the group fields only superusers set.
var groupLimitFields = []string{"max_projects", "js_share"}

// OnGroupCreateRequest forces the owner of a new group to its creator and
// keeps "personal" and the limits for the server and superusers. A
// superuser may name any owner.
func (t *Tenancy) OnGroupCreateRequest(e *core.RecordRequestEvent) error {
	if e.Record.GetBool("personal") {
		return fieldError("personal", "read_only", "personal is set by the server")
	}
	if err := superuserOnly(e, groupLimitFields); err != nil {
		return err
	}
	if user := AuthUser(e.RequestEvent); user != nil {
		if owner := e.Record.GetString("owner"); owner != "" && owner != user.Id {
			return fieldError("owner", "not_you", "a new group is owned by its creator")
		}
		e.Record.Set("owner", user.Id)
	}
	return t.guard(e, nil)
}

// OnGroupCreate gives the group its limits, checks its owner may own one
// more (and by that name), and makes the owner the first member, all in the
// transaction that inserts it.
func (t *Tenancy) OnGroupCreate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		g := e.Record
		if g.GetInt("max_projects") == 0 {
			g.Set("max_projects", DefaultGroupMaxProjects)
		}
		if g.GetInt("js_share") == 0 {
			g.Set("js_share", DefaultGroupJSShare)
		}
		owner := g.GetString("owner")
		if !g.GetBool("personal") {
			if err := checkCanOwnAnother(tx, owner, g.GetString("name"), false); err != nil {
				return err
			}
		}
		if err := e.Next(); err != nil {
			return err
		}
		if _, err := addMembership(tx, owner, g.Id); err != nil {
			return err
		}
		return t.record(tx, Event{Group: g.Id, Action: "group.created", Target: g.Id,
			Data: map[string]any{"name": g.GetString("name"), "personal": g.GetBool("personal")}})
	})
}

// OnGroupUpdateRequest: only the owner renames (the update rule, checked
// again inside the transaction); the owner changes only by transfer,
// "personal" never, the limits only by superusers.
func (t *Tenancy) OnGroupUpdateRequest(e *core.RecordRequestEvent) error {
	for _, f := range []string{"owner", "personal"} {
		if changed(e.Record, f) {
			msg := f + " cannot be changed here"
			if f == "owner" {
				msg = "the owner changes only by POST /api/pocketbus/groups/{id}/owner"
			}
			return fieldError(f, "read_only", msg)
		}
	}
	if err := superuserOnly(e, groupLimitFields); err != nil {
		return err
	}
	return t.guard(e, func(tx core.App) error { return requireOwner(tx, e.RequestEvent, e.Record.Id) })
}

// OnGroupUpdate writes only the fields this save changed (PocketBase
// otherwise writes the whole record it loaded, undoing a transfer that
// committed meanwhile) and records what changed.
func (t *Tenancy) OnGroupUpdate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		before, err := tx.FindRecordById(Groups, e.Record.Id)
		if err != nil {
			return err
		}
		e.Record.IgnoreUnchangedFields(true)
		if changed(e.Record, "name") {
			var same int
			if err := tx.DB().NewQuery("SELECT COUNT(*) FROM groups WHERE owner = {:o} AND name = {:n} COLLATE NOCASE AND id != {:id}").
				Bind(dbx.Params{"o": before.GetString("owner"), "n": e.Record.GetString("name"), "id": e.Record.Id}).Row(&same); err != nil {
				return err
			}
			if same > 0 {
				return fieldError("name", "not_unique", fmt.Sprintf("the owner already has a group named %q", e.Record.GetString("name")))
			}
		}
		if err := e.Next(); err != nil {
			return err
		}
		after, err := tx.FindRecordById(Groups, e.Record.Id)
		if err != nil {
			return err
		}
		if d := diff(before, after, "name"); len(d) > 0 {
			if err := t.record(tx, Event{Group: after.Id, Action: "group.renamed", Target: after.Id, Data: d}); err != nil {
				return err
			}
		}
		if d := diff(before, after, "owner"); len(d) > 0 {
			if err := t.record(tx, Event{Group: after.Id, Action: "group.owner_transferred", Target: after.GetString("owner"), Data: d}); err != nil {
				return err
			}
		}
		if d := diff(before, after, groupLimitFields...); len(d) > 0 {
			if err := t.record(tx, Event{Group: after.Id, Action: "group.limits_changed", Target: after.Id, Data: d}); err != nil {
				return err
			}
		}
		return nil
	})
}

// OnGroupDeleteRequest refuses to delete a personal group (it goes only
// with its user) and re-checks ownership inside the transaction.
func (t *Tenancy) OnGroupDeleteRequest(e *core.RecordRequestEvent) error {
	if e.Record.GetBool("personal") {
		return fieldError("personal", "personal_group", "a personal group cannot be deleted")
	}
	return t.guard(e, func(tx core.App) error { return requireOwner(tx, e.RequestEvent, e.Record.Id) })
}

// OnGroupDelete ends every membership of the group in the deleting
// transaction (so no user keeps the id of a deleted group, whatever joins
// raced it) and records the deletion. Projects, invites and their accounts
// go with the group (cascade, and OnProjectDelete).
func (t *Tenancy) OnGroupDelete(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		members, err := membersOf(tx, e.Record.Id)
		if err != nil {
			return err
		}
		if _, err := tx.DB().NewQuery("DELETE FROM memberships WHERE [[group]] = {:g}").Bind(dbx.Params{"g": e.Record.Id}).Execute(); err != nil {
			return err
		}
		for _, u := range members {
			if err := syncUserGroups(tx, u); err != nil {
				return err
			}
		}
		if err := t.record(tx, Event{Group: e.Record.Id, Action: "group.deleted", Target: e.Record.Id,
			Data: map[string]any{"name": e.Record.GetString("name"), "members": len(members)}}); err != nil {
			return err
		}
		if err := e.Next(); err != nil { // the projects go too, each releasing its quota
			return err
		}
		_, err = tx.DB().NewQuery("DELETE FROM " + groupQuotaTable + " WHERE group_id = {:g}").Bind(dbx.Params{"g": e.Record.Id}).Execute()
		return ignoreUncounted(err)
	})
}

// requireOwner re-reads, inside tx, that the request's user owns the group
// and is a member of it (superusers pass). Non-members get 404, members 403.
func requireOwner(tx core.App, e *core.RequestEvent, groupID string) error {
	return requireOwnerActor(tx, ActorOf(e), groupID)
}

// superuserOnly refuses changes of fields only superusers set (on create:
// any value sent; on update: a value that differs).
func superuserOnly(e *core.RecordRequestEvent, fields []string) error {
	if e.HasSuperuserAuth() {
		return nil
	}
	for _, f := range fields {
		if sends, err := sendsChange(e, f); err != nil {
			return err
		} else if sends {
			return fieldError(f, "superuser_only", f+" is set by superusers only")
		}
	}
	return nil
}

// sendsChange reports whether the request body sets the field (or one of
// PocketBase's modifiers of it) to something else than the stored value. It
// reads the body as sent (KeepRequestBody), not the record: PocketBase drops
// hidden fields from non-superusers' bodies silently, and a refused write
// should say so.
func sendsChange(e *core.RecordRequestEvent, field string) (bool, error) {
	body, _ := e.Get(requestBodyKey).(map[string]any)
	if body == nil {
		info, err := e.RequestInfo()
		if err != nil {
			return false, err
		}
		body = info.Body
	}
	for _, key := range []string{"+" + field, field + "+", field + "-"} {
		if _, sent := body[key]; sent {
			return true, nil
		}
	}
	v, sent := body[field]
	if !sent {
		return false, nil
	}
	return e.Record.IsNew() || !sameValue(v, e.Record.Original().Get(field)), nil
}

// changed reports whether a save changes the field of a stored record.
func changed(r *core.Record, field string) bool {
	return !sameValue(r.Get(field), r.Original().Get(field))
}

// sameValue compares two record values as PocketBase stores them.
func sameValue(a, b any) bool {
	return fmt.Sprintf("%v", a) == fmt.Sprintf("%v", b)
}

const requestBodyKey = "pocketbus.requestBody"

// KeepRequestBody keeps a copy of a records-API write's body as sent, before
// PocketBase removes the hidden fields from it (router middleware).
func KeepRequestBody(e *core.RequestEvent) error {
	if (e.Request.Method == http.MethodPost || e.Request.Method == http.MethodPatch) &&
		strings.HasPrefix(e.Request.URL.Path, "/api/collections/") && !e.HasSuperuserAuth() {
		if info, err := e.RequestInfo(); err == nil {
			e.Set(requestBodyKey, maps.Clone(info.Body))
		}
	}
	return e.Next()
}

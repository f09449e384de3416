package tenancy

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// serverSetUserFields are users fields only the server writes: the personal
// group and the membership list (changed by the membership routes).
var serverSetUserFields = []string{"mygroup", "groups"}

// OnUserCreate gives every new user a personal group, in the same
// transaction as the user: if the group cannot be made, no user is left.
// It is a model hook, so sign-up, the dashboard and Go code all get one.
func (t *Tenancy) OnUserCreate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if err := e.Next(); err != nil {
			return err
		}
		groups, err := tx.FindCollectionByNameOrId(Groups)
		if err != nil {
			return err
		}
		group := core.NewRecord(groups)
		group.Set("name", personalGroupName(e.Record))
		group.Set("owner", e.Record.Id)
		group.Set("personal", true)
		if err := tx.Save(group); err != nil {
			return err
		}
		e.Record.Set("mygroup", group.Id)
		e.Record.Set("groups", []string{group.Id})
		return tx.Save(e.Record)
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
// the one way to change membership, so the invariants hold).
func (t *Tenancy) OnUserWriteRequest(e *core.RecordRequestEvent) error {
	info, err := e.RequestInfo()
	if err != nil {
		return err
	}
	for _, f := range serverSetUserFields {
		if _, sent := info.Body[f]; !sent {
			continue
		}
		if e.Record.IsNew() || !sameValue(e.Record.Get(f), e.Record.Original().Get(f)) {
			return fieldError(f, "read_only", f+" is set by the server; use the group membership routes")
		}
	}
	return e.Next()
}

// OnUserDeleteRequest keeps groups from losing their owner: a user who owns
// a shared group must transfer it (or delete it) first. Their personal group
// and groups they alone are in go with them (owner cascade).
func (t *Tenancy) OnUserDeleteRequest(e *core.RecordRequestEvent) error {
	var shared []struct {
		Name string `db:"name"`
	}
	err := e.App.DB().NewQuery(`
		SELECT g.name FROM groups g
		WHERE g.owner = {:user} AND g.personal = FALSE AND EXISTS (
			SELECT 1 FROM users u, json_each(u.groups) m
			WHERE m.value = g.id AND u.id != {:user})`).
		Bind(dbx.Params{"user": e.Record.Id}).All(&shared)
	if err != nil {
		return err
	}
	if len(shared) > 0 {
		return fieldError("id", "owns_groups", "this user owns the shared group \""+shared[0].Name+"\"; transfer its ownership or delete it first")
	}
	return e.Next()
}

package tenancy

import (
	"fmt"
	"slices"

	"github.com/pocketbase/pocketbase/core"
)

// OnGroupCreateRequest forces the owner of a new group to its creator and
// keeps "personal" for the server. A superuser may name any owner.
func (t *Tenancy) OnGroupCreateRequest(e *core.RecordRequestEvent) error {
	if e.Record.GetBool("personal") {
		return fieldError("personal", "read_only", "personal is set by the server")
	}
	if user := AuthUser(e.RequestEvent); user != nil {
		if owner := e.Record.GetString("owner"); owner != "" && owner != user.Id {
			return fieldError("owner", "not_you", "a new group is owned by its creator")
		}
		e.Record.Set("owner", user.Id)
	}
	return e.Next()
}

// OnGroupCreate makes the owner the first member, atomically with the group.
func (t *Tenancy) OnGroupCreate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if err := e.Next(); err != nil {
			return err
		}
		owner, err := tx.FindRecordById(Users, e.Record.GetString("owner"))
		if err != nil {
			return err
		}
		return addToGroups(tx, owner, e.Record.Id)
	})
}

// OnGroupUpdateRequest: only the owner renames (the update rule); the owner
// changes only by transfer and "personal" never changes.
func (t *Tenancy) OnGroupUpdateRequest(e *core.RecordRequestEvent) error {
	for _, f := range []string{"owner", "personal"} {
		if !sameValue(e.Record.Get(f), e.Record.Original().Get(f)) {
			msg := f + " cannot be changed here"
			if f == "owner" {
				msg = "the owner changes only by POST /api/pocketbus/groups/{id}/owner"
			}
			return fieldError(f, "read_only", msg)
		}
	}
	return e.Next()
}

// OnGroupDeleteRequest refuses to delete a personal group; it goes only with
// its user. Projects go with the group (cascade), and with them their accounts.
func (t *Tenancy) OnGroupDeleteRequest(e *core.RecordRequestEvent) error {
	if e.Record.GetBool("personal") {
		return fieldError("personal", "personal_group", "a personal group cannot be deleted")
	}
	return e.Next()
}

// IsMember reports whether user belongs to the group.
func IsMember(user *core.Record, groupID string) bool {
	return user != nil && slices.Contains(user.GetStringSlice("groups"), groupID)
}

// AddMember adds the existing user with that email to the group. Adding a
// member twice is not an error.
func AddMember(app core.App, group *core.Record, email string) (*core.Record, error) {
	if email == "" {
		return nil, fieldError("email", "required", "email is required")
	}
	user, err := app.FindAuthRecordByEmail(Users, email)
	if err != nil {
		return nil, notFound("no user with that email")
	}
	if err := addToGroups(app, user, group.Id); err != nil {
		return nil, err
	}
	return user, nil
}

// RemoveMember removes a member from the group. The owner is never removed:
// ownership must be transferred first.
func RemoveMember(app core.App, group *core.Record, userID string) error {
	if userID == group.GetString("owner") {
		return fieldError("userId", "owner", "the owner cannot be removed; transfer ownership first")
	}
	user, err := app.FindRecordById(Users, userID)
	if err != nil || !IsMember(user, group.Id) {
		return notFound("that user is not a member of this group")
	}
	user.Set("groups-", group.Id)
	return app.Save(user)
}

// TransferOwner hands the group to a current member. A personal group stays
// with its user.
func TransferOwner(app core.App, group *core.Record, userID string) error {
	if userID == "" {
		return fieldError("user", "required", "user is required")
	}
	if group.GetBool("personal") {
		return fieldError("user", "personal_group", "a personal group cannot change owner")
	}
	user, err := app.FindRecordById(Users, userID)
	if err != nil || !IsMember(user, group.Id) {
		return fieldError("user", "not_member", "the new owner must be a member of the group")
	}
	group.Set("owner", user.Id)
	return app.Save(group)
}

func addToGroups(app core.App, user *core.Record, groupID string) error {
	if IsMember(user, groupID) {
		return nil
	}
	user.Set("groups+", groupID)
	return app.Save(user)
}

// sameValue compares two record values as PocketBase stores them.
func sameValue(a, b any) bool {
	return toComparable(a) == toComparable(b)
}

func toComparable(v any) string {
	return fmt.Sprintf("%v", v)
}

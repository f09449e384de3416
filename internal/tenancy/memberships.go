package tenancy

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// A membership is one memberships row (user × group, unique). It is the one
// record of who belongs where: the API rules, the routes and the NATS side
// all read these rows. users.groups is a copy the server derives from them
// (syncUserGroups) in the transaction that changes them, for the user's own
// convenience; nothing trusts it.
//
// Memberships change only here: a group's creation (its owner), accepting an
// invite, removal or leaving, and the deletion of a group or user. The
// records API cannot write them (OnMembershipWriteRequest).

// IsMember reports whether the user has a membership of the group, as seen
// by app (inside a transaction: including what it has written so far).
func IsMember(app core.App, userID, groupID string) (bool, error) {
	if userID == "" || groupID == "" {
		return false, nil
	}
	var n int
	err := app.DB().NewQuery("SELECT COUNT(*) FROM memberships WHERE [[user]] = {:u} AND [[group]] = {:g}").
		Bind(dbx.Params{"u": userID, "g": groupID}).Row(&n)
	return n > 0, err
}

// membersOf lists the user ids of a group's members.
func membersOf(app core.App, groupID string) ([]string, error) {
	var ids []string
	err := app.DB().NewQuery("SELECT [[user]] FROM memberships WHERE [[group]] = {:g} ORDER BY created").
		Bind(dbx.Params{"g": groupID}).Column(&ids)
	return ids, err
}

// syncUserGroups rewrites users.groups from the user's memberships rows. A
// plain UPDATE, so it cannot carry anything else of the user's record back.
func syncUserGroups(tx core.App, userID string) error {
	_, err := tx.DB().NewQuery(`UPDATE users SET [[groups]] = (
			SELECT COALESCE(json_group_array(m.[[group]]), '[]') FROM
				(SELECT [[group]] FROM memberships WHERE [[user]] = {:u} ORDER BY created, [[group]]) m)
		WHERE id = {:u}`).Bind(dbx.Params{"u": userID}).Execute()
	return err
}

// addMembership makes the user a member of the group; false when they were
// one already.
func addMembership(tx core.App, userID, groupID string) (bool, error) {
	if ok, err := IsMember(tx, userID, groupID); err != nil || ok {
		return false, err
	}
	collection, err := tx.FindCachedCollectionByNameOrId(Memberships)
	if err != nil {
		return false, err
	}
	m := core.NewRecord(collection)
	m.Set("user", userID)
	m.Set("group", groupID)
	return true, tx.Save(m) // OnMembershipChange keeps users.groups in step
}

// membershipID is the id of the user's membership row of the group ("" when
// they are not a member).
func membershipID(app core.App, userID, groupID string) (string, error) {
	var id string
	err := app.DB().NewQuery("SELECT id FROM memberships WHERE [[user]] = {:u} AND [[group]] = {:g}").
		Bind(dbx.Params{"u": userID, "g": groupID}).Row(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// deleteMembership removes the row and returns its id ("" when there was none).
func deleteMembership(tx core.App, userID, groupID string) (string, error) {
	m, err := tx.FindFirstRecordByFilter(Memberships, "user = {:u} && group = {:g}", dbx.Params{"u": userID, "g": groupID})
	if err != nil {
		return "", nil
	}
	return m.Id, tx.Delete(m)
}

// OnMembershipChange keeps the member's users.groups copy in step with the
// rows, in the same transaction, whoever writes them (routes or cascades).
func (t *Tenancy) OnMembershipChange(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if err := e.Next(); err != nil {
			return err
		}
		return syncUserGroups(tx, e.Record.GetString("user"))
	})
}

// OnMembershipWriteRequest refuses records-API writes of memberships, for
// superusers too: people join by invite and leave by the membership routes,
// which keep the owner a member and revoke what a leaver held.
func (t *Tenancy) OnMembershipWriteRequest(e *core.RecordRequestEvent) error {
	return forbidden("memberships change only by invite links and the membership routes")
}

// RemoveRequest is a removal or a leave: DELETE /groups/{id}/members/{userId}.
type RemoveRequest struct {
	GroupID, UserID string
	// KeepCredentials keeps the credentials the member created in the
	// group's projects (they stay listed with their creator). Otherwise they
	// are revoked with the membership.
	KeepCredentials bool
}

// RemoveMember ends a membership. The owner is never removed (transfer
// first); the group owner removes anyone else, a member removes themself.
// In the same transaction every web token the member holds for the group's
// projects is revoked (their connections close within a second, through the
// account update pushed after the commit) and, unless KeepCredentials, so is
// every credential they created there.
func (t *Tenancy) RemoveMember(app core.App, actor Actor, req RemoveRequest) error {
	return t.Run(app, actor, func(tx core.App) error {
		group, err := tx.FindRecordById(Groups, req.GroupID)
		if err != nil {
			return notFound("group not found")
		}
		actorIsMember, err := IsMember(tx, actor.UserID, group.Id)
		if err != nil {
			return err
		}
		if !actor.Superuser && !actorIsMember {
			return notFound("group not found")
		}
		leaving := actor.UserID != "" && actor.UserID == req.UserID
		if !actor.Superuser && !leaving && group.GetString("owner") != actor.UserID {
			return forbidden("only the group owner removes other members")
		}
		if req.UserID == group.GetString("owner") {
			return fieldError("userId", "owner", "the owner cannot leave or be removed; transfer ownership first")
		}
		membership, err := deleteMembership(tx, req.UserID, group.Id)
		if err != nil {
			return err
		}
		if membership == "" {
			return notFound("that user is not a member of this group")
		}
		revoked, err := t.revokeMemberAccess(tx, group.Id, req.UserID, membership, !req.KeepCredentials)
		if err != nil {
			return err
		}
		action := "member.removed"
		if leaving {
			action = "member.left"
		}
		return t.record(tx, Event{Group: group.Id, Action: action, Target: req.UserID, Data: map[string]any{
			"credentials_revoked": revoked, "kept_credentials": req.KeepCredentials,
		}})
	})
}

// revokeMemberAccess revokes, in every project of the group, the web-token
// key of the ended membership and (when credentials is true) every live
// credential the user created; it returns how many credentials it revoked.
func (t *Tenancy) revokeMemberAccess(tx core.App, groupID, userID, membership string, credentials bool) (int, error) {
	projects, err := tx.FindRecordsByFilter(Projects, "group = {:g}", "", 0, 0, dbx.Params{"g": groupID})
	if err != nil {
		return 0, err
	}
	now := time.Now()
	revoked := 0
	for _, p := range projects {
		webKey, err := t.Operator.DerivedUserPublicKey(p.Id, p.GetString("account_salt"), webKeyFor(membership))
		if err != nil {
			return revoked, err
		}
		// Web tokens live at most WebTokenTTL; the entry can go after that.
		if err := t.revokeKey(tx, p.Id, webKey, now, now.Add(WebTokenTTL+time.Minute)); err != nil {
			return revoked, err
		}
		if credentials {
			creds, err := tx.FindRecordsByFilter(Credentials, "project = {:p} && created_by = {:u} && revoked = ''", "", 0, 0,
				dbx.Params{"p": p.Id, "u": userID})
			if err != nil {
				return revoked, err
			}
			for _, c := range creds {
				if err := t.revokeInTx(tx, c, now, "member removed"); err != nil {
					return revoked, err
				}
				revoked++
			}
		}
		if err := t.resign(tx, p.Id); err != nil {
			return revoked, err
		}
	}
	return revoked, nil
}

// TransferOwner hands the group to a current member. Checked and written in
// one transaction, so a transfer racing the new owner's leave cannot leave
// the group with an owner who is not a member: whichever commits second sees
// the other.
func (t *Tenancy) TransferOwner(app core.App, actor Actor, groupID, userID string) error {
	if userID == "" {
		return fieldError("user", "required", "user is required")
	}
	return t.Run(app, actor, func(tx core.App) error {
		group, err := tx.FindRecordById(Groups, groupID)
		if err != nil {
			return notFound("group not found")
		}
		if !actor.Superuser {
			if ok, err := IsMember(tx, actor.UserID, group.Id); err != nil {
				return err
			} else if !ok {
				return notFound("group not found")
			}
			if group.GetString("owner") != actor.UserID {
				return forbidden("only the group owner transfers ownership")
			}
		}
		if group.GetBool("personal") {
			return fieldError("user", "personal_group", "a personal group cannot change owner")
		}
		if ok, err := IsMember(tx, userID, group.Id); err != nil {
			return err
		} else if !ok {
			return fieldError("user", "not_member", "the new owner must be a member of the group")
		}
		if userID == group.GetString("owner") {
			return nil
		}
		if err := checkCanOwnAnother(tx, userID, group.GetString("name"), true); err != nil {
			return err
		}
		group.Set("owner", userID)
		return tx.Save(group) // OnGroupUpdate records the transfer
	})
}

// checkCanOwnAnother refuses to give a user one more group beyond their
// max_groups, or one named like a group they own. On a transfer the error
// names the request's "user"; on a create, "owner" (the limit) or "name".
func checkCanOwnAnother(tx core.App, userID, name string, transfer bool) error {
	user, err := tx.FindRecordById(Users, userID)
	if err != nil {
		return fieldError("user", "not_found", "no such user")
	}
	limitField, nameField, who := "owner", "name", "you already own"
	if transfer {
		limitField, nameField, who = "user", "user", "that user already owns"
	}
	var owned int
	if err := tx.DB().NewQuery("SELECT COUNT(*) FROM groups WHERE owner = {:u}").Bind(dbx.Params{"u": userID}).Row(&owned); err != nil {
		return err
	}
	if limit := user.GetInt("max_groups"); limit >= 0 && owned >= limit {
		return fieldError(limitField, "max_groups", fmt.Sprintf(
			"%s %d groups, the limit (max_groups %d, set by a superuser)", who, owned, limit))
	}
	var same int
	if err := tx.DB().NewQuery("SELECT COUNT(*) FROM groups WHERE owner = {:u} AND name = {:n} COLLATE NOCASE").
		Bind(dbx.Params{"u": userID, "n": name}).Row(&same); err != nil {
		return err
	}
	if same > 0 {
		return fieldError(nameField, "not_unique", fmt.Sprintf("%s a group named %q", who, name))
	}
	return nil
}

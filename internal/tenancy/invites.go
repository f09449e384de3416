package tenancy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Invites are how people join a group (SPEC §3): the owner makes a link, the
// invitee opens it signed in and accepts. Nobody is added without consent,
// and nothing tells a stranger whether an email is registered. The token is
// shown once; only its SHA-256 is stored.

// Invite defaults and bounds.
const (
	DefaultInviteTTL = 7 * 24 * time.Hour
	MaxInviteTTL     = 90 * 24 * time.Hour
	MaxInviteUses    = 1000
)

// InviteRequest is the body of POST /api/pocketbus/groups/{id}/invites.
type InviteRequest struct {
	Expires string `json:"expires"` // RFC 3339; default now + 7 days
	MaxUses *int   `json:"max_uses"`
}

// NewInvite is the one answer that carries an invite's token.
type NewInvite struct {
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
	MaxUses int       `json:"max_uses"`
}

// InviteInfo is what an invitee sees before accepting.
type InviteInfo struct {
	Group     GroupRef  `json:"group"`
	InvitedBy string    `json:"invited_by"`
	Expires   time.Time `json:"expires"`
}

// GroupRef names a group.
type GroupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateInvite makes an invite link to the group; only its owner may. The
// url is baseURL + "/join/" + token.
func (t *Tenancy) CreateInvite(app core.App, actor Actor, groupID string, req InviteRequest, baseURL string) (*NewInvite, error) {
	now := time.Now()
	expires := now.Add(DefaultInviteTTL)
	if req.Expires != "" {
		var err error
		if expires, err = time.Parse(time.RFC3339, req.Expires); err != nil {
			return nil, fieldError("expires", "invalid_date", "expires must be an RFC 3339 time, e.g. 2026-12-01T10:00:00Z")
		}
		if !expires.After(now) {
			return nil, fieldError("expires", "in_past", "expires must be in the future")
		}
		if expires.After(now.Add(MaxInviteTTL)) {
			return nil, fieldError("expires", "too_far", "an invite lasts at most 90 days")
		}
	}
	maxUses := 1
	if req.MaxUses != nil {
		maxUses = *req.MaxUses
		if maxUses < 1 || maxUses > MaxInviteUses {
			return nil, fieldError("max_uses", "out_of_range", "max_uses must be between 1 and 1000")
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	var out *NewInvite
	err := t.Run(app, actor, func(tx core.App) error {
		if err := requireOwnerActor(tx, actor, groupID); err != nil {
			return err
		}
		group, err := tx.FindRecordById(Groups, groupID)
		if err != nil {
			return notFound("group not found")
		}
		if group.GetBool("personal") {
			return fieldError("group", "personal_group", "a personal group is yours alone; create a group to invite people")
		}
		collection, err := tx.FindCachedCollectionByNameOrId(Invites)
		if err != nil {
			return err
		}
		inv := core.NewRecord(collection)
		inv.Set("group", group.Id)
		inv.Set("token_hash", hashToken(token))
		inv.Set("created_by", actor.UserID)
		inv.Set("expires", expires)
		inv.Set("max_uses", maxUses)
		inv.Set("uses", 0)
		if err := tx.Save(inv); err != nil {
			return err
		}
		out = &NewInvite{ID: inv.Id, Token: token, URL: baseURL + "/join/" + token, Expires: expires.UTC().Truncate(time.Millisecond), MaxUses: maxUses}
		return t.record(tx, Event{Group: group.Id, Action: "invite.created", Target: inv.Id,
			Data: map[string]any{"expires": out.Expires, "max_uses": maxUses}})
	})
	return out, err
}

// findUsableInvite finds the invite behind a token: 404 when unknown,
// expired, used up or deleted (the same answer for each, so a token reveals
// nothing but whether it works).
func findUsableInvite(app core.App, token string) (*core.Record, error) {
	if token == "" || len(token) > 128 {
		return nil, notFound("invite not found")
	}
	inv, err := app.FindFirstRecordByFilter(Invites, "token_hash = {:h}", dbx.Params{"h": hashToken(token)})
	if err != nil {
		return nil, notFound("invite not found")
	}
	if !inv.GetDateTime("expires").Time().After(time.Now()) || inv.GetInt("uses") >= inv.GetInt("max_uses") {
		return nil, notFound("invite not found")
	}
	return inv, nil
}

// ViewInvite tells a signed-in user what the invite is for.
func (t *Tenancy) ViewInvite(app core.App, token string) (*InviteInfo, error) {
	inv, err := findUsableInvite(app, token)
	if err != nil {
		return nil, err
	}
	group, err := app.FindRecordById(Groups, inv.GetString("group"))
	if err != nil {
		return nil, notFound("invite not found")
	}
	by := ""
	if u, err := app.FindRecordById(Users, inv.GetString("created_by")); err == nil {
		by = u.GetString("name")
	}
	return &InviteInfo{Group: GroupRef{ID: group.Id, Name: group.GetString("name")}, InvitedBy: by,
		Expires: inv.GetDateTime("expires").Time().UTC()}, nil
}

// AcceptInvite makes the signed-in user a member. Checked and written in one
// transaction: a use is counted exactly once however many accept at once, a
// group deleted meanwhile gives 404 (never a membership of a deleted
// group), and an existing member gets 200 without using the invite up.
func (t *Tenancy) AcceptInvite(app core.App, actor Actor, token string) (*GroupRef, error) {
	if actor.UserID == "" {
		return nil, forbidden("only users join groups")
	}
	var ref *GroupRef
	err := t.Run(app, actor, func(tx core.App) error {
		inv, err := findUsableInvite(tx, token)
		if err != nil {
			return err
		}
		group, err := tx.FindRecordById(Groups, inv.GetString("group"))
		if err != nil {
			return notFound("invite not found")
		}
		ref = &GroupRef{ID: group.Id, Name: group.GetString("name")}
		added, err := addMembership(tx, actor.UserID, group.Id)
		if err != nil || !added {
			return err
		}
		res, err := tx.DB().NewQuery("UPDATE invites SET uses = uses + 1 WHERE id = {:id} AND uses < max_uses").
			Bind(dbx.Params{"id": inv.Id}).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return notFound("invite not found")
		}
		return t.record(tx, Event{Group: group.Id, Action: "member.joined", Target: actor.UserID,
			Data: map[string]any{"invite": inv.Id, "invited_by": inv.GetString("created_by")}})
	})
	return ref, err
}

// DeleteInvite ends an invite link; only the group's owner may.
func (t *Tenancy) DeleteInvite(app core.App, actor Actor, inviteID string) error {
	return t.Run(app, actor, func(tx core.App) error {
		inv, err := tx.FindRecordById(Invites, inviteID)
		if err != nil {
			return notFound("invite not found")
		}
		if err := requireOwnerActor(tx, actor, inv.GetString("group")); err != nil {
			return notFound("invite not found")
		}
		if err := tx.Delete(inv); err != nil {
			return err
		}
		return t.record(tx, Event{Group: inv.GetString("group"), Action: "invite.deleted", Target: inv.Id})
	})
}

// requireOwnerActor is requireOwner for the custom routes.
func requireOwnerActor(tx core.App, actor Actor, groupID string) error {
	if actor.Superuser {
		if _, err := tx.FindRecordById(Groups, groupID); err != nil {
			return notFound("group not found")
		}
		return nil
	}
	group, err := tx.FindRecordById(Groups, groupID)
	if err != nil {
		return notFound("group not found")
	}
	if ok, err := IsMember(tx, actor.UserID, groupID); err != nil {
		return err
	} else if !ok {
		return notFound("group not found")
	}
	if group.GetString("owner") != actor.UserID {
		return forbidden("only the group owner may do this")
	}
	return nil
}

// OnInviteWriteRequest keeps invites to their routes (the token is made
// there and shown once).
func (t *Tenancy) OnInviteWriteRequest(e *core.RecordRequestEvent) error {
	return forbidden("invites are made and deleted with /api/pocketbus/groups/{id}/invites and /api/pocketbus/invites/{id}")
}

package migrations

// Tenant trust (SPEC §7): every fact that two people can change on their own
// gets its own row, so PocketBase's whole-record saves cannot lose it.
//
//   - memberships: one row per user × group (was the users.groups array, which
//     two owners adding the same user at once read, changed and saved whole).
//     users.groups stays as a read-only copy the server derives from these
//     rows, hidden from everyone but the user.
//   - revocations: one row per revoked user key (was a JSON map on the project
//     row, which a member's concurrent rename wrote back without the revoke).
//   - invites: links a group owner hands out; people join by accepting one.
//   - events: the audit trail, written in the transaction of each change.
//
// It also adds the fair-share limits (groups.max_projects, groups.js_share,
// users.max_groups), a per-project salt for the account key (so a deleted
// project's account never comes back), unique names, the credential options,
// and turns PocketBase's rate limiter on.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Rules over memberships rows. A back-relation ("memberships_via_group")
// reads the rows at query time; the auth record's own copy is not trusted.
const (
	// ruleMemberOfThisGroup: the signed-in user has a membership of the group
	// whose id is the record's `id` (groups) …
	ruleMemberOfThisGroup = ruleSignedIn + ` && memberships_via_group.user ?= @request.auth.id`
	ruleMemberOfGroup     = ruleSignedIn + ` && group.memberships_via_group.user ?= @request.auth.id`
	ruleMemberOfProject   = ruleSignedIn + ` && project.group.memberships_via_group.user ?= @request.auth.id`
	// events keep their group as a plain id (a deleted group's trail stays
	// for superusers), so the membership is found with @collection; both
	// conditions apply to the same joined memberships row.
	ruleMemberOfEventGroup = ruleSignedIn + ` && @collection.memberships.group ?= group && @collection.memberships.user ?= @request.auth.id`
	// Users see themselves and the people they share a group with.
	ruleUserVisibleV2 = `@request.auth.id != "" && (id = @request.auth.id || memberships_via_user.group.memberships_via_group.user ?= @request.auth.id)`
)

// Defaults of the fair-share limits (superusers change them per record).
const (
	DefaultGroupMaxProjects = 10 // projects per group
	DefaultGroupJSShare     = 10 // percent of each of the server's JetStream totals one group may reserve
	DefaultUserMaxGroups    = 5  // groups one user may own, the personal one included
)

func init() {
	m.Register(trustUp, trustDown)
}

func trustUp(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	groups, err := app.FindCollectionByNameOrId("groups")
	if err != nil {
		return err
	}
	projects, err := app.FindCollectionByNameOrId("projects")
	if err != nil {
		return err
	}
	credentials, err := app.FindCollectionByNameOrId("credentials")
	if err != nil {
		return err
	}

	// --- memberships ---------------------------------------------------
	memberships := core.NewBaseCollection("memberships")
	memberships.Fields.Add(
		&core.RelationField{Name: "user", Required: true, CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true},
		&core.RelationField{Name: "group", Required: true, CollectionId: groups.Id, MaxSelect: 1, CascadeDelete: true},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	memberships.AddIndex("idx_memberships_user_group", true, "user, `group`", "")
	memberships.AddIndex("idx_memberships_group", false, "`group`", "")
	memberships.ListRule = types.Pointer(ruleMemberOfGroup)
	memberships.ViewRule = types.Pointer(ruleMemberOfGroup)
	if err := app.Save(memberships); err != nil {
		return err
	}
	// The rows the users.groups arrays stood for.
	if _, err := app.DB().NewQuery(`
		INSERT OR IGNORE INTO memberships (id, user, "group", created)
		SELECT ` + newIDSQL + `, u.id, g.value, ` + nowSQL + `
		FROM users u, json_each(CASE WHEN json_valid(u.groups) THEN u.groups ELSE '[]' END) g
		WHERE EXISTS (SELECT 1 FROM groups WHERE groups.id = g.value)`).Execute(); err != nil {
		return fmt.Errorf("memberships from users.groups: %w", err)
	}
	// An owner is always a member.
	if _, err := app.DB().NewQuery(`
		INSERT OR IGNORE INTO memberships (id, user, "group", created)
		SELECT ` + newIDSQL + `, g.owner, g.id, ` + nowSQL + ` FROM groups g
		WHERE g.owner != '' AND EXISTS (SELECT 1 FROM users WHERE users.id = g.owner)`).Execute(); err != nil {
		return err
	}

	// --- users: membership copies are the user's own business ------------
	for _, name := range []string{"groups", "mygroup"} {
		if f := users.Fields.GetByName(name); f != nil {
			f.SetHidden(true)
		}
	}
	users.Fields.Add(&core.NumberField{Name: "max_groups", OnlyInt: true, Min: types.Pointer(-1.0), Hidden: true})
	users.ListRule = types.Pointer(ruleUserVisibleV2)
	users.ViewRule = types.Pointer(ruleUserVisibleV2)
	if err := app.Save(users); err != nil {
		return err
	}
	if _, err := app.DB().NewQuery("UPDATE users SET max_groups = {:n}").Bind(dbx.Params{"n": DefaultUserMaxGroups}).Execute(); err != nil {
		return err
	}
	// users.groups becomes the derived copy of the rows (owners included).
	if _, err := app.DB().NewQuery(`
		UPDATE users SET groups = (SELECT COALESCE(json_group_array(m."group"), '[]') FROM
			(SELECT "group" FROM memberships WHERE memberships.user = users.id ORDER BY created, "group") m)`).Execute(); err != nil {
		return err
	}

	// --- groups: fair share, unique names per owner ----------------------
	groups.Fields.Add(
		&core.NumberField{Name: "max_projects", OnlyInt: true, Min: types.Pointer(-1.0)},
		&core.NumberField{Name: "js_share", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(100.0)},
	)
	if err := dedupeNames(app, "groups", "owner"); err != nil {
		return err
	}
	groups.AddIndex("idx_groups_owner_name", true, "owner, name COLLATE NOCASE", "")
	groups.ListRule = types.Pointer(ruleMemberOfThisGroup)
	groups.ViewRule = types.Pointer(ruleMemberOfThisGroup)
	if err := app.Save(groups); err != nil {
		return err
	}
	if _, err := app.DB().NewQuery("UPDATE groups SET max_projects = {:p}, js_share = {:s}").
		Bind(dbx.Params{"p": DefaultGroupMaxProjects, "s": DefaultGroupJSShare}).Execute(); err != nil {
		return err
	}

	// --- revocations ------------------------------------------------------
	revocations := core.NewBaseCollection("revocations")
	revocations.Fields.Add(
		&core.RelationField{Name: "project", Required: true, CollectionId: projects.Id, MaxSelect: 1, CascadeDelete: true},
		// A user public key, or "*" for "every user issued before revoked_at".
		&core.TextField{Name: "public_key", Required: true, Max: 56},
		&core.DateField{Name: "revoked_at", Required: true},
		// After this the revoked key could not connect anyway (its JWT has
		// expired), so the entry leaves the account JWT. Empty = never.
		&core.DateField{Name: "expires"},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	revocations.AddIndex("idx_revocations_project_key", true, "project, public_key", "")
	if err := app.Save(revocations); err != nil {
		return err
	}
	if err := moveRevocations(app); err != nil {
		return err
	}

	// --- projects ---------------------------------------------------------
	projects.Fields.RemoveByName("revocations")
	projects.Fields.Add(&core.TextField{Name: "account_salt", Hidden: true, Max: 64})
	if err := dedupeNames(app, "projects", "group"); err != nil {
		return err
	}
	projects.AddIndex("idx_projects_group_name", true, "`group`, name COLLATE NOCASE", "")
	projects.ListRule = types.Pointer(ruleMemberOfGroup)
	projects.ViewRule = types.Pointer(ruleMemberOfGroup)
	projects.UpdateRule = types.Pointer(ruleMemberOfGroup)
	if err := app.Save(projects); err != nil {
		return err
	}

	// --- credentials: what the issue granted ------------------------------
	credentials.Fields.Add(
		&core.BoolField{Name: "allow_responses"},
		&core.BoolField{Name: "jetstream"},
	)
	credentials.ListRule = types.Pointer(ruleMemberOfProject)
	credentials.ViewRule = types.Pointer(ruleMemberOfProject)
	if err := app.Save(credentials); err != nil {
		return err
	}
	// Credentials issued before the options existed: full-access ones had
	// JetStream, restricted ones had a response permission.
	if _, err := app.DB().NewQuery(`UPDATE credentials SET
		jetstream = (pub_allow IN ('', '[]', 'null') AND pub_deny IN ('', '[]', 'null') AND sub_allow IN ('', '[]', 'null') AND sub_deny IN ('', '[]', 'null')),
		allow_responses = NOT (pub_allow IN ('', '[]', 'null') AND pub_deny IN ('', '[]', 'null'))`).Execute(); err != nil {
		return err
	}

	// --- invites ----------------------------------------------------------
	invites := core.NewBaseCollection("invites")
	invites.Fields.Add(
		&core.RelationField{Name: "group", Required: true, CollectionId: groups.Id, MaxSelect: 1, CascadeDelete: true},
		// SHA-256 of the token; the token itself is shown once and never stored.
		&core.TextField{Name: "token_hash", Required: true, Hidden: true, Max: 64},
		&core.RelationField{Name: "created_by", CollectionId: users.Id, MaxSelect: 1},
		&core.DateField{Name: "expires", Required: true},
		&core.NumberField{Name: "max_uses", OnlyInt: true, Min: types.Pointer(1.0)},
		&core.NumberField{Name: "uses", OnlyInt: true, Min: types.Pointer(0.0)},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	invites.AddIndex("idx_invites_token_hash", true, "token_hash", "")
	invites.AddIndex("idx_invites_group", false, "`group`", "")
	invites.ListRule = types.Pointer(ruleSignedIn + ` && group.owner = @request.auth.id`)
	invites.ViewRule = types.Pointer(ruleSignedIn + ` && group.owner = @request.auth.id`)
	if err := app.Save(invites); err != nil {
		return err
	}

	// --- events -----------------------------------------------------------
	events := core.NewBaseCollection("events")
	events.Fields.Add(
		// Plain ids, not relations: the trail outlives what it describes.
		&core.TextField{Name: "group", Max: 15},
		&core.TextField{Name: "project", Max: 15},
		// The user who acted, as a plain id too: deleting the user must not
		// rewrite (or fail to write) the trail of what they did.
		&core.TextField{Name: "actor", Max: 15},
		&core.TextField{Name: "action", Required: true, Max: 64},
		&core.TextField{Name: "target", Max: 64},
		&core.JSONField{Name: "data", MaxSize: 64 << 10},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	events.AddIndex("idx_events_group_created", false, "`group`, created", "")
	events.AddIndex("idx_events_project", false, "project", "")
	events.ListRule = types.Pointer(ruleMemberOfEventGroup)
	events.ViewRule = types.Pointer(ruleMemberOfEventGroup)
	if err := app.Save(events); err != nil {
		return err
	}

	return enableRateLimits(app)
}

// dedupeNames renames case-insensitive duplicates within one scope (a
// group's projects, an owner's groups) to "name (2)", "name (3)", …, so the
// unique index can be created on an existing database.
func dedupeNames(app core.App, table, scope string) error {
	var rows []struct {
		ID    string `db:"id"`
		Scope string `db:"scope"`
		Name  string `db:"name"`
	}
	q := fmt.Sprintf(`SELECT id, [[%s]] AS scope, name FROM %s ORDER BY [[%s]], created, id`, scope, table, scope)
	if err := app.DB().NewQuery(q).All(&rows); err != nil {
		return err
	}
	taken := map[string]bool{}
	for _, r := range rows {
		taken[r.Scope+"\x00"+strings.ToLower(r.Name)] = true
	}
	seen := map[string]bool{}
	for _, r := range rows {
		key := r.Scope + "\x00" + strings.ToLower(r.Name)
		if !seen[key] {
			seen[key] = true
			continue
		}
		for n := 2; ; n++ {
			suffix := fmt.Sprintf(" (%d)", n)
			base := []rune(r.Name)
			if len(base)+len([]rune(suffix)) > 64 {
				base = base[:64-len([]rune(suffix))]
			}
			name := string(base) + suffix
			k := r.Scope + "\x00" + strings.ToLower(name)
			if taken[k] {
				continue
			}
			taken[k], seen[k] = true, true
			if _, err := app.DB().Update(table, dbx.Params{"name": name}, dbx.HashExp{"id": r.ID}).Execute(); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// moveRevocations turns each entry of the old projects.revocations JSON
// ({userKey: {at, expires}}) into a revocations row.
func moveRevocations(app core.App) error {
	var rows []struct {
		ID          string `db:"id"`
		Revocations string `db:"revocations"`
	}
	if err := app.DB().NewQuery("SELECT id, revocations FROM projects WHERE revocations NOT IN ('', 'null', '{}')").All(&rows); err != nil {
		return err
	}
	for _, r := range rows {
		var revs map[string]struct {
			At      int64 `json:"at"`
			Expires int64 `json:"expires"`
		}
		if err := json.Unmarshal([]byte(r.Revocations), &revs); err != nil {
			return fmt.Errorf("project %s revocations: %w", r.ID, err)
		}
		for key, v := range revs {
			if _, err := app.DB().NewQuery(`INSERT OR IGNORE INTO revocations (id, project, public_key, revoked_at, expires, created)
				VALUES (` + newIDSQL + `, {:project}, {:public_key}, {:revoked_at}, {:expires}, ` + nowSQL + `)`).
				Bind(dbx.Params{"project": r.ID, "public_key": key, "revoked_at": unixDate(v.At), "expires": unixDate(v.Expires)}).
				Execute(); err != nil {
				return err
			}
		}
	}
	return nil
}

// SQL expressions for a PocketBase-shaped id (15 characters of [a-z0-9]) and
// PocketBase's date format, for rows written by plain SQL here.
const (
	newIDSQL = "substr(lower(hex(randomblob(8))), 1, 15)"
	nowSQL   = "strftime('%Y-%m-%d %H:%M:%fZ')"
)

// unixDate is PocketBase's stored date text for unix seconds ("" for 0).
func unixDate(sec int64) string {
	if sec <= 0 {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format(types.DefaultDateLayout)
}

// enableRateLimits turns on PocketBase's rate limiter with its own default
// rules plus Pocketbus's routes. `serve --rate-limits=false` switches it off
// for one process (load tests) without touching these settings.
func enableRateLimits(app core.App) error {
	s := app.Settings()
	s.RateLimits.Enabled = true
	have := map[string]bool{}
	for _, r := range s.RateLimits.Rules {
		have[r.Label+r.Audience] = true
	}
	for _, r := range RateLimitRules {
		if !have[r.Label+r.Audience] {
			s.RateLimits.Rules = append(s.RateLimits.Rules, r)
		}
	}
	return app.Save(s)
}

// RateLimitRules are Pocketbus's additions to PocketBase's default rules
// (*:auth 2 per 3 s, *:create 20 per 5 s, /api/batch, /api/ 300 per 10 s),
// per client IP.
var RateLimitRules = []core.RateLimitRule{
	// issue, revoke, token, invites, accept, rotate, exports, members, owner
	{Label: "POST /api/pocketbus/", MaxRequests: 30, Duration: 10},
	// looking up invite tokens
	{Label: "GET /api/pocketbus/invites/", MaxRequests: 10, Duration: 10},
	{Label: "DELETE /api/pocketbus/", MaxRequests: 30, Duration: 10},
}

// trustDown is refused: the revocations and memberships that replaced the
// old JSON copies would be lost. Restore a backup taken before the upgrade.
func trustDown(app core.App) error {
	return fmt.Errorf("migration 1764300000_trust cannot be reverted (its rows replace JSON copies); restore a backup taken before the upgrade")
}

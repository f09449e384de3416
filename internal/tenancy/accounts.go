package tenancy

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// AccountSource serves account JWTs to the NATS data plane straight from the
// projects table: the database is the one source of truth, and start-up
// reads nothing until an account is first used.
type AccountSource struct{ App core.App }

// AccountJWT implements bus.AccountSource.
func (s AccountSource) AccountJWT(pub string) (string, error) {
	var token string
	// "account != ''" lets SQLite use the partial unique index on account
	// (WHERE account != ''); without it every lookup scans the whole table
	// (~1.5 ms at 10k projects, growing with every project).
	err := s.App.DB().NewQuery("SELECT account_jwt FROM projects WHERE account = {:pub} AND account != '' LIMIT 1").
		Bind(dbx.Params{"pub": pub}).Row(&token)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && token == "") {
		return "", bus.ErrAccountNotFound
	}
	return token, err
}

// signAccount signs the account JWT of project p from p's own fields (its
// salt, limits and disabled, as they will be written) and the project's live
// revocations and exports rows as tx sees them, and sets account and
// account_jwt on p.
func (t *Tenancy) signAccount(tx core.App, p *core.Record) error {
	revs, err := liveRevocations(tx, p.Id, time.Now())
	if err != nil {
		return err
	}
	exports, imports, err := sharesOf(tx, p)
	if err != nil {
		return err
	}
	pub, token, err := t.Operator.AccountJWT(bus.Account{
		ProjectID:   p.Id,
		Salt:        p.GetString("account_salt"),
		Limits:      ProjectLimits(p),
		Disabled:    p.GetBool("disabled"),
		Revocations: revs,
		Exports:     exports,
		Imports:     imports,
	})
	if err != nil {
		return fmt.Errorf("signing account of project %s: %w", p.Id, err)
	}
	p.Set("account", pub)
	p.Set("account_jwt", token)
	return nil
}

// resign re-signs a stored project's account from its row and revocations
// as written so far in tx, stores it with a plain UPDATE (no record save: a
// revocation is not an edit of the project) and queues the push to the data
// plane for after the commit. Every change that affects an account calls
// this inside its own transaction, so the JWT always matches committed rows.
func (t *Tenancy) resign(tx core.App, projectID string) error {
	p, err := tx.FindRecordById(Projects, projectID)
	if err != nil {
		return err
	}
	if err := t.signAccount(tx, p); err != nil {
		return err
	}
	if _, err := tx.DB().NewQuery("UPDATE projects SET account = {:a}, account_jwt = {:j} WHERE id = {:id}").
		Bind(dbx.Params{"a": p.GetString("account"), "j": p.GetString("account_jwt"), "id": p.Id}).Execute(); err != nil {
		return err
	}
	t.syncAfterCommit(tx, p.GetString("account"))
	return nil
}

// MaxRevocations bounds the revocations a project's account holds for keys
// that could still connect (expired ones leave the JWT, and so do those a
// rotation covers). Each costs ~93 bytes of account JWT, and the JWT reaches
// NATS as one message (1 MiB max payload): 8,000 make ~750 KB. Past it a
// revoke is refused with a 400 rather than silently not applied; the "*"
// entry of a rotation is never refused, since it is how a full list empties.
const MaxRevocations = 8000

// signedRevocation is the condition on a revocations row of project {:p}
// for it to be signed into the account JWT at {:now}: not expired, and not
// covered by the project's "*" row. jwt/v2 (RevocationList.IsRevoked, what
// nats-server checks) refuses every user issued at or before the "*" time,
// so a key revoked at or before it is refused without its own entry.
const signedRevocation = `(expires = '' OR expires > {:now}) AND (public_key = '*' OR revoked_at >
	COALESCE((SELECT s.revoked_at FROM revocations s WHERE s.project = {:p} AND s.public_key = '*'), ''))`

// liveRevocations are the project's revoked keys that the account JWT
// needs (signedRevocation), with the time each was revoked ("*" = every
// user issued before it).
func liveRevocations(app core.App, projectID string, now time.Time) (map[string]time.Time, error) {
	var rows []struct {
		Key string         `db:"public_key"`
		At  types.DateTime `db:"revoked_at"`
	}
	err := app.DB().NewQuery("SELECT public_key, revoked_at FROM revocations WHERE project = {:p} AND " + signedRevocation).
		Bind(dbx.Params{"p": projectID, "now": dbDate(now)}).All(&rows)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.Key] = r.At.Time()
	}
	return out, nil
}

// revokeKey revokes key in the project from at on (until expires, zero:
// for good) and journals it, in tx. The caller re-signs the account.
func (t *Tenancy) revokeKey(tx core.App, projectID, key string, at, expires time.Time) error {
	if err := upsertRevocation(tx, projectID, key, at, expires); err != nil {
		return err
	}
	return t.journalIn(tx, "revoked", projectID, key, at, expires)
}

// upsertRevocation records that key is revoked in the project from at on,
// until expires (zero: for good). Revoking a key again moves the time
// forward and keeps the later expiry. A write that would add an entry to an
// account JWT already holding MaxRevocations is refused; the caller's
// transaction then rolls it back. The caller re-signs the account.
func upsertRevocation(tx core.App, projectID, key string, at, expires time.Time) error {
	signed, live, err := signedRevocations(tx, projectID, key)
	if err != nil {
		return err
	}
	exp := ""
	if !expires.IsZero() {
		exp = dbDate(expires)
	}
	if _, err := tx.DB().NewQuery(`INSERT INTO revocations (id, project, public_key, revoked_at, expires, created)
		VALUES ({:id}, {:p}, {:k}, {:at}, {:exp}, {:now})
		ON CONFLICT (project, public_key) DO UPDATE SET
			revoked_at = MAX(revoked_at, excluded.revoked_at),
			expires = CASE WHEN expires = '' OR excluded.expires = '' THEN '' ELSE MAX(expires, excluded.expires) END`).
		Bind(dbx.Params{
			"id": core.GenerateDefaultRandomId(),
			"p":  projectID, "k": key, "at": dbDate(at), "exp": exp, "now": types.NowDateTime().String(),
		}).Execute(); err != nil {
		return err
	}
	if key == jwt.All || signed || live < MaxRevocations {
		return nil
	}
	// Whether the row is signed now depends on the row as merged (a key
	// revoked at or before the "*" time stays covered, e.g. on replay).
	if signed, _, err = signedRevocations(tx, projectID, key); err != nil || !signed {
		return err
	}
	return fieldError("id", "too_many_revocations", fmt.Sprintf(
		"this project already has %d revoked credentials that have not expired, the most its account can hold; "+
			"rotate the project's credentials or disable it to shut every credential out, and issue credentials with an expiry so their revocations lapse", live))
}

// signedRevocations reports whether key's row is in the project's account
// JWT, and how many rows other than "*" are (the count MaxRevocations
// bounds).
func signedRevocations(tx core.App, projectID, key string) (signed bool, live int, err error) {
	err = tx.DB().NewQuery(`SELECT
			COALESCE(SUM(public_key = {:k}), 0) > 0,
			COALESCE(SUM(public_key != '*'), 0)
		FROM revocations WHERE project = {:p} AND `+signedRevocation).
		Bind(dbx.Params{"p": projectID, "k": key, "now": types.NowDateTime().String()}).Row(&signed, &live)
	return signed, live, err
}

// dbDate is PocketBase's stored form of a time.
func dbDate(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// OnRevocationWriteRequest keeps revocations to the credential actions that
// make them (revoke, delete, remove a member, rotate), superusers included:
// deleting a row by hand would un-revoke a key without re-signing anything.
func (t *Tenancy) OnRevocationWriteRequest(e *core.RecordRequestEvent) error {
	return forbidden("revocations are made by revoking credentials, removing members or rotating a project")
}

// Repairs lists what Reconcile changed.
type Repairs struct {
	Resigned      []string // project ids whose account was missing or stale
	RemovedOrphan []string // account keys with JetStream data but no project
}

// Reconcile makes NATS agree with the database after a crash: a project
// without a valid account JWT gets one (its key is derived from its id and
// salt, so this is idempotent), and JetStream data of accounts that no
// project owns (a delete whose cleanup never ran) is removed. It also
// recounts the JetStream reservations that quota admission reads.
func (t *Tenancy) Reconcile(app core.App, plane bus.DataPlane) (Repairs, error) {
	var r Repairs
	if err := RecountQuota(app); err != nil {
		return r, err
	}
	var stale []string
	err := app.DB().NewQuery("SELECT id FROM projects WHERE account = '' OR account_jwt = ''").Column(&stale)
	if err != nil {
		return r, err
	}
	for _, id := range stale {
		if err := t.Run(app, Actor{}, func(tx core.App) error { return t.resign(tx, id) }); err != nil {
			return r, err
		}
		r.Resigned = append(r.Resigned, id)
	}

	stored, err := plane.StoredAccounts()
	if err != nil {
		return r, err
	}
	for _, pub := range stored {
		if pub == t.Operator.SystemAccountPublicKey() {
			continue
		}
		if _, err := (AccountSource{App: app}).AccountJWT(pub); errors.Is(err, bus.ErrAccountNotFound) {
			if err := plane.RemoveOrphan(pub); err != nil {
				return r, err
			}
			r.RemovedOrphan = append(r.RemovedOrphan, pub)
		} else if err != nil {
			return r, err
		}
	}
	return r, nil
}

// SyncAll converges every project's account on the data plane, a page at a
// time. An external cluster may have missed pushes while Pocketbus was down
// or crashed between a commit and its push; syncing again is idempotent.
func (t *Tenancy) SyncAll(app core.App, plane bus.DataPlane) (int, error) {
	const page = 500
	synced, after := 0, ""
	for {
		var rows []struct {
			ID      string `db:"id"`
			Account string `db:"account"`
		}
		err := app.DB().NewQuery("SELECT id, account FROM projects WHERE id > {:after} AND account != '' ORDER BY id LIMIT {:n}").
			Bind(dbx.Params{"after": after, "n": page}).All(&rows)
		if err != nil {
			return synced, err
		}
		for _, r := range rows {
			if err := plane.SyncAccount(r.Account); err != nil {
				return synced, fmt.Errorf("project %s: %w", r.ID, err)
			}
			synced++
		}
		if len(rows) < page {
			return synced, nil
		}
		after = rows[len(rows)-1].ID
	}
}

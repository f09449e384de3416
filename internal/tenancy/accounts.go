package tenancy

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// AccountSource serves account JWTs to the NATS resolver straight from the
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

// Repairs lists what Reconcile changed.
type Repairs struct {
	Resigned      []string // project ids whose account was missing or stale
	RemovedOrphan []string // account keys with JetStream data but no project
}

// Reconcile makes NATS agree with the database after a crash: a project
// without a valid account JWT gets one (its key is derived from its id, so
// this is idempotent), and JetStream data of accounts that no project owns
// (a delete whose cleanup never ran) is removed. It also recounts the
// JetStream reservations that quota admission reads (RecountQuota).
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
		p, err := app.FindRecordById(Projects, id)
		if err != nil {
			return r, err
		}
		if err := app.Save(p); err != nil { // OnProjectSave signs it
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

// PushAll pushes every project's account JWT to the data plane, a page at a
// time, each under its account's push lock (so it never overtakes a newer
// push). An external cluster may have missed pushes while Pocketbus was down
// or crashed between a commit and its push; pushing again is idempotent.
func (t *Tenancy) PushAll(app core.App, p bus.AccountPublisher) (int, error) {
	const page = 500
	pushed, after := 0, ""
	for {
		var rows []struct {
			ID      string `db:"id"`
			Account string `db:"account"`
		}
		err := app.DB().NewQuery("SELECT id, account FROM projects WHERE id > {:after} AND account != '' ORDER BY id LIMIT {:n}").
			Bind(dbx.Params{"after": after, "n": page}).All(&rows)
		if err != nil {
			return pushed, err
		}
		for _, r := range rows {
			unlock := t.lockAccount(r.Account)
			token, err := AccountSource{App: app}.AccountJWT(r.Account)
			if err == nil {
				err = p.UpdateAccount(r.Account, token)
			} else if errors.Is(err, bus.ErrAccountNotFound) {
				err = nil // deleted meanwhile
			}
			unlock()
			if err != nil {
				return pushed, fmt.Errorf("project %s: %w", r.ID, err)
			}
			pushed++
		}
		if len(rows) < page {
			return pushed, nil
		}
		after = rows[len(rows)-1].ID
	}
}

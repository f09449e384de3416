package tenancy

import (
	"database/sql"
	"errors"

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

// DataPlaneState is what reconciliation needs to see of NATS.
type DataPlaneState interface {
	JetStreamAccountDirs() ([]string, error)
	RemoveJetStreamData(pub string) error
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
func (t *Tenancy) Reconcile(app core.App, plane DataPlaneState) (Repairs, error) {
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

	dirs, err := plane.JetStreamAccountDirs()
	if err != nil {
		return r, err
	}
	for _, pub := range dirs {
		if pub == t.Operator.SystemAccountPublicKey() {
			continue
		}
		if _, err := (AccountSource{App: app}).AccountJWT(pub); errors.Is(err, bus.ErrAccountNotFound) {
			if err := plane.RemoveJetStreamData(pub); err != nil {
				return r, err
			}
			r.RemovedOrphan = append(r.RemovedOrphan, pub)
		} else if err != nil {
			return r, err
		}
	}
	return r, nil
}

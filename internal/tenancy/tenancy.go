// Package tenancy holds the rules of Pocketbus's tenants: every user has a
// personal group, groups have one owner and members (one memberships row
// each), projects live in groups and each project is one NATS account,
// credentials are NATS users of that account. internal/pb registers these
// functions as PocketBase hooks and routes; the NATS side is reached only
// through internal/bus.
//
// Every change runs in one database transaction with the checks that allow
// it, re-read inside that transaction: PocketBase reads a record and checks
// its API rule before it writes, so a check made outside the transaction can
// be stale by the time the write happens (an owner who just transferred the
// group deleting it, a member removed while issuing a credential). What NATS
// needs (the signed account JWT) is derived from the committed rows in the
// same transaction, and pushed to the data plane after the commit.
package tenancy

import (
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	validation "github.com/pocketbase/ozzo-validation/v4"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// Collection names.
const (
	Users       = "users"
	Groups      = "groups"
	Projects    = "projects"
	Credentials = "credentials"
	Memberships = "memberships"
	Revocations = "revocations"
	Invites     = "invites"
	Events      = "events"
	Exports     = "exports"
)

// Tenancy applies the rules. Its NATS side (the data plane and its
// JetStream totals) is set when the data plane is up; before that (e.g.
// during `superuser upsert`) records are still kept consistent, only nothing
// is pushed live and quotas are not admitted.
type Tenancy struct {
	Operator *bus.Operator
	Defaults bus.Limits

	mu      sync.RWMutex
	plane   bus.DataPlane
	totals  func() (maxMemory, maxDisk int64)
	journal *Journal // credential keys issued and revoked; see journal.go

	// txs holds what a running transaction knows beyond the database: who
	// acts in it and which accounts to push after it commits. Keyed by the
	// transaction's *core.TxAppInfo, removed when it completes.
	txs sync.Map
}

// New returns the rules bound to an operator, with defaults for new projects.
func New(op *bus.Operator, defaults bus.Limits) *Tenancy {
	return &Tenancy{Operator: op, Defaults: defaults}
}

// SetDataPlane connects the rules to a running NATS data plane: accounts
// are converged there after each commit, and totals reports the JetStream
// capacity quotas are admitted against (nil: no admission).
func (t *Tenancy) SetDataPlane(p bus.DataPlane, totals func() (int64, int64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.plane, t.totals = p, totals
}

func (t *Tenancy) dataPlane() (bus.DataPlane, func() (int64, int64)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.plane, t.totals
}

// Actor is who makes a change: a user, a superuser, or the server itself
// (CLI commands, start-up repairs), for the audit trail.
type Actor struct {
	UserID    string
	Superuser bool
}

// ActorOf is the actor of a request. Only users are members: a record of
// another auth collection (one a superuser adds) acts as nobody, as the
// collections' rules say (@request.auth.collectionName = "users"); ids are
// unique per collection only, so its id may be a user's.
func ActorOf(e *core.RequestEvent) Actor {
	if e.HasSuperuserAuth() {
		return Actor{Superuser: true}
	}
	if u := AuthUser(e); u != nil {
		return Actor{UserID: u.Id}
	}
	return Actor{}
}

// txState is what one transaction carries besides its writes.
type txState struct {
	actor Actor
	syncs []string // account public keys to converge after the commit
	queue map[string]bool
}

// state returns the transaction's state, creating it on first use; nil
// outside a transaction.
func (t *Tenancy) state(tx core.App) *txState {
	info := tx.TxInfo()
	if info == nil {
		return nil
	}
	if s, ok := t.txs.Load(info); ok {
		return s.(*txState)
	}
	s := &txState{queue: map[string]bool{}}
	t.txs.Store(info, s)
	app := tx // only its logger: it reports a failed after-commit sync
	info.OnComplete(func(txErr error) error {
		t.txs.Delete(info)
		if txErr == nil {
			t.syncAccounts(app, s.syncs)
		}
		return nil
	})
	return s
}

// actAs records who acts in the transaction tx.
func (t *Tenancy) actAs(tx core.App, a Actor) {
	if s := t.state(tx); s != nil {
		s.actor = a
	}
}

func (t *Tenancy) actorIn(tx core.App) Actor {
	if info := tx.TxInfo(); info != nil {
		if s, ok := t.txs.Load(info); ok {
			return s.(*txState).actor
		}
	}
	return Actor{}
}

// syncAfterCommit queues the account for the data plane once tx commits (a
// rollback pushes nothing). Outside a transaction it syncs at once.
func (t *Tenancy) syncAfterCommit(tx core.App, pub string) {
	if pub == "" {
		return
	}
	s := t.state(tx)
	if s == nil {
		t.syncAccounts(tx, []string{pub})
		return
	}
	if !s.queue[pub] {
		s.queue[pub] = true
		s.syncs = append(s.syncs, pub)
	}
}

// syncAccounts converges the accounts on the data plane with what the
// database now holds. A failure is logged, not returned: the change is
// committed, and the next sync or start-up reconciliation applies it.
func (t *Tenancy) syncAccounts(app core.App, pubs []string) {
	plane, _ := t.dataPlane()
	if plane == nil {
		return
	}
	for _, pub := range pubs {
		if err := plane.SyncAccount(pub); err != nil {
			app.Logger().Error("applying an account change to NATS", "account", pub, "error", err)
		}
	}
}

// guard runs the rest of a records-API request (the save or delete and all
// its model hooks) in one transaction, after check has re-read inside it
// whatever authorises the request. The API rule PocketBase checked before
// is only a first filter: between it and the write, the group may have
// changed owner or the user may have left.
func (t *Tenancy) guard(e *core.RecordRequestEvent, check func(tx core.App) error) error {
	original := e.App
	defer func() { e.App = original }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		t.actAs(tx, ActorOf(e.RequestEvent))
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		return e.Next()
	})
}

// Run runs fn in one transaction on behalf of actor: the custom routes'
// counterpart of guard.
func (t *Tenancy) Run(app core.App, actor Actor, fn func(tx core.App) error) error {
	return app.RunInTransaction(func(tx core.App) error {
		t.actAs(tx, actor)
		return fn(tx)
	})
}

// inTransaction runs a model hook's rest (fn calls e.Next) inside one
// transaction, with the event's app swapped for the transaction's, as
// PocketBase requires inside a transaction. The event outlives it (its
// after-commit hooks get it too), so the app is restored afterwards.
func inTransaction(e *core.RecordEvent, fn func(tx core.App) error) error {
	original := e.App
	defer func() { e.App = original }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		return fn(tx)
	})
}

// RefuseClientID refuses a records-API create that names its own id: ids are
// the server's (SPEC §7), so nobody can aim a record at an id that means
// something elsewhere.
func RefuseClientID(e *core.RecordRequestEvent) error {
	info, err := e.RequestInfo()
	if err != nil {
		return err
	}
	if id, sent := info.Body["id"]; sent && id != "" && id != nil {
		return fieldError("id", "server_chosen", "ids are chosen by the server; leave id out")
	}
	return e.Next()
}

// fieldError is a 400 whose data names the field, in PocketBase's error body.
func fieldError(field, code, message string) *router.ApiError {
	return router.NewBadRequestError(message, validation.Errors{
		field: validation.NewError("validation_"+code, message),
	})
}

func forbidden(message string) *router.ApiError {
	return router.NewForbiddenError(message, nil)
}

func notFound(message string) *router.ApiError {
	return router.NewNotFoundError(message, nil)
}

// AuthUser returns the signed-in users record of a request, or nil
// (anonymous or a superuser).
func AuthUser(e *core.RequestEvent) *core.Record {
	if e.Auth == nil || e.Auth.Collection().Name != Users {
		return nil
	}
	return e.Auth
}

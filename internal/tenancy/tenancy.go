// Package tenancy holds the rules of Pocketbus's tenants: every user has a
// personal group, groups have one owner and members, projects live in groups
// and each project is one NATS account, credentials are NATS users of that
// account. internal/pb registers these functions as PocketBase hooks and
// routes; the NATS side is reached only through internal/bus.
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
)

// Tenancy applies the rules. Its NATS side (Publisher and Totals) is set
// when the data plane is up; before that (e.g. during `superuser upsert`)
// records are still kept consistent, only nothing is pushed live.
type Tenancy struct {
	Operator *bus.Operator
	Defaults bus.Limits

	mu        sync.RWMutex
	publisher bus.AccountPublisher
	totals    func() (maxMemory, maxDisk int64)

	pushLocks [64]sync.Mutex // see lockAccount
}

// New returns the rules bound to an operator, with defaults for new projects.
func New(op *bus.Operator, defaults bus.Limits) *Tenancy {
	return &Tenancy{Operator: op, Defaults: defaults}
}

// SetDataPlane connects the rules to a running NATS data plane: publisher
// receives account changes, totals reports the JetStream capacity quotas are
// admitted against (nil: no admission).
func (t *Tenancy) SetDataPlane(p bus.AccountPublisher, totals func() (int64, int64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.publisher, t.totals = p, totals
}

func (t *Tenancy) dataPlane() (bus.AccountPublisher, func() (int64, int64)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.publisher, t.totals
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

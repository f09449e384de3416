package pb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// Hub is Pocketbus inside one PocketBase app: the tenancy rules and, while
// serving, the embedded NATS server.
type Hub struct {
	Tenancy *tenancy.Tenancy
	NATS    *bus.Server // nil until serve starts it
	cfg     *Config
}

// Bind registers every Pocketbus hook on app. This is the one place where the
// rules of internal/tenancy meet PocketBase's events.
func Bind(app core.App, cfg *Config) *Hub {
	t := tenancy.New(nil, tenancy.DefaultLimits)
	h := &Hub{Tenancy: t, cfg: cfg}

	// The operator exists from the first start on, for every command.
	app.OnBootstrap().BindFunc(func(e *core.BootstrapEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		op, err := bus.LoadOrCreateOperator(operatorDir(e.App), os.Getenv(e.App.EncryptionEnv()))
		if err != nil {
			return fmt.Errorf("NATS operator: %w", err)
		}
		t.Operator = op
		return nil
	})

	// users: a personal group each; membership is the server's to write.
	app.OnRecordCreate(tenancy.Users).BindFunc(t.OnUserCreate)
	app.OnRecordCreateRequest(tenancy.Users).BindFunc(t.OnUserWriteRequest)
	app.OnRecordUpdateRequest(tenancy.Users).BindFunc(t.OnUserWriteRequest)
	app.OnRecordDeleteRequest(tenancy.Users).BindFunc(t.OnUserDeleteRequest)

	// groups: owner forced to the creator and made a member; personal groups stay.
	app.OnRecordCreateRequest(tenancy.Groups).BindFunc(t.OnGroupCreateRequest)
	app.OnRecordCreate(tenancy.Groups).BindFunc(t.OnGroupCreate)
	app.OnRecordUpdateRequest(tenancy.Groups).BindFunc(t.OnGroupUpdateRequest)
	app.OnRecordDeleteRequest(tenancy.Groups).BindFunc(t.OnGroupDeleteRequest)

	// projects: each one is a NATS account, signed into its own row on every
	// save and pushed to the data plane after the commit.
	app.OnRecordCreateRequest(tenancy.Projects).BindFunc(t.OnProjectCreateRequest)
	app.OnRecordUpdateRequest(tenancy.Projects).BindFunc(t.OnProjectUpdateRequest)
	app.OnRecordCreate(tenancy.Projects).BindFunc(t.OnProjectSave)
	app.OnRecordUpdate(tenancy.Projects).BindFunc(t.OnProjectSave)
	app.OnRecordAfterUpdateSuccess(tenancy.Projects).BindFunc(t.OnProjectUpdated)
	app.OnRecordDelete(tenancy.Projects).BindFunc(t.OnProjectDelete)
	app.OnRecordAfterDeleteSuccess(tenancy.Projects).BindFunc(t.OnProjectDeleted)

	// credentials: issued by route only; a deleted one stays revoked.
	app.OnRecordCreateRequest(tenancy.Credentials).BindFunc(t.OnCredentialCreateRequest)
	app.OnRecordDelete(tenancy.Credentials).BindFunc(t.OnCredentialDelete)

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if err := h.startNATS(se.App); err != nil {
			return err
		}
		registerRoutes(se, h)
		return se.Next()
	})
	// Runs after PocketBase has stopped HTTP and before the database closes.
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		if h.NATS != nil {
			h.NATS.Shutdown()
		}
		return e.Next()
	})
	return h
}

// startNATS starts the embedded server, connects the rules to it and repairs
// whatever a crash left between the database and NATS.
func (h *Hub) startNATS(app core.App) error {
	store := h.cfg.NATSStore
	if store == "" {
		store = filepath.Join(app.DataDir(), "nats")
	}
	srv, err := bus.Start(bus.Config{
		StoreDir:  store,
		Listen:    h.cfg.NATSListen,
		WSListen:  h.cfg.NATSWSListen,
		MaxMemory: h.cfg.MaxMemory,
		MaxDisk:   h.cfg.MaxDisk,
		Logger:    app.Logger().With("component", "nats"),
		Source:    tenancy.AccountSource{App: app},
	}, h.Tenancy.Operator)
	if err != nil {
		return fmt.Errorf("starting NATS: %w", err)
	}
	h.NATS = srv
	h.Tenancy.SetDataPlane(srv, srv.JetStreamTotals)

	repairs, err := h.Tenancy.Reconcile(app, srv)
	if err != nil {
		srv.Shutdown()
		return fmt.Errorf("reconciling projects with NATS: %w", err)
	}
	if len(repairs.Resigned)+len(repairs.RemovedOrphan) > 0 {
		app.Logger().Warn("reconciled NATS with the database",
			"resigned_projects", repairs.Resigned, "removed_orphan_accounts", repairs.RemovedOrphan)
	}

	fmt.Printf("NATS listening on %s\n", srv.ClientURL())
	if ws := srv.WebsocketURL(); ws != "" {
		fmt.Printf("NATS WebSocket listening on %s (and /nats on the HTTP port)\n", ws)
	}
	return nil
}

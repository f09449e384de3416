package pb

import (
	"crypto/tls"
	"fmt"
	"math"
	"net/http/httputil"
	"os"
	"sync/atomic"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// Hub is Pocketbus inside one PocketBase app: the tenancy rules and, while
// serving, the NATS data plane (the embedded server or an external cluster).
type Hub struct {
	Tenancy *tenancy.Tenancy
	cfg     *Config
	// What serve runs, nil until it starts. Replaced whole when a failed
	// restore starts NATS again (on new ports where they were 0), while
	// requests are being served: handlers load it once and use that.
	running atomic.Pointer[dataPlane]
}

// dataPlane is the running NATS data plane (the embedded server or an
// external cluster) with the WebSocket endpoint that /nats proxies to: the
// embedded server's listener, or --nats-ws-url ("" = none).
type dataPlane struct {
	bus.DataPlane
	wsURL   string
	wsProxy *httputil.ReverseProxy // nil when wsURL is ""
}

// Plane is the running data plane, nil before serve starts it.
func (h *Hub) Plane() bus.DataPlane {
	if p := h.running.Load(); p != nil {
		return p.DataPlane
	}
	return nil
}

// embedded is the running embedded server, nil with an external cluster
// or before serve starts NATS.
func (h *Hub) embedded() *bus.Server {
	srv, _ := h.Plane().(*bus.Server)
	return srv
}

// run makes p the running data plane, with /nats proxying to wsURL (TLS:
// the config to reach it, e.g. the embedded listener's own certificate).
func (h *Hub) run(p bus.DataPlane, wsURL string, wsTLS *tls.Config) error {
	dp := &dataPlane{DataPlane: p, wsURL: wsURL}
	if wsURL != "" {
		proxy, err := wsReverseProxy(wsURL, wsTLS)
		if err != nil {
			return err
		}
		dp.wsProxy = proxy
	}
	h.running.Store(dp)
	return nil
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

	// Ids are the server's (SPEC §7): no records-API create names its own.
	for _, c := range []string{tenancy.Users, tenancy.Groups, tenancy.Projects, tenancy.Credentials,
		tenancy.Memberships, tenancy.Invites, tenancy.Events, tenancy.Revocations, tenancy.Exports} {
		app.OnRecordCreateRequest(c).BindFunc(tenancy.RefuseClientID)
	}

	// users: a personal group each; what they belong to is theirs alone.
	app.OnRecordCreate(tenancy.Users).BindFunc(t.OnUserCreate)
	app.OnRecordUpdate(tenancy.Users).BindFunc(t.OnUserUpdate)
	app.OnRecordDelete(tenancy.Users).BindFunc(t.OnUserDelete)
	app.OnRecordCreateRequest(tenancy.Users).BindFunc(t.OnUserWriteRequest)
	app.OnRecordUpdateRequest(tenancy.Users).BindFunc(t.OnUserWriteRequest)
	app.OnRecordDeleteRequest(tenancy.Users).BindFunc(t.OnUserDeleteRequest)
	app.OnRecordEnrich(tenancy.Users).BindFunc(t.OnUserEnrich)

	// groups: owner forced to the creator and made a member; personal groups
	// stay; owner checks re-read inside the writing transaction.
	app.OnRecordCreateRequest(tenancy.Groups).BindFunc(t.OnGroupCreateRequest)
	app.OnRecordUpdateRequest(tenancy.Groups).BindFunc(t.OnGroupUpdateRequest)
	app.OnRecordDeleteRequest(tenancy.Groups).BindFunc(t.OnGroupDeleteRequest)
	app.OnRecordCreate(tenancy.Groups).BindFunc(t.OnGroupCreate)
	app.OnRecordUpdate(tenancy.Groups).BindFunc(t.OnGroupUpdate)
	app.OnRecordDelete(tenancy.Groups).BindFunc(t.OnGroupDelete)

	// memberships: one row per user × group, written by the membership
	// routes and invites only; users.groups follows them.
	app.OnRecordCreate(tenancy.Memberships).BindFunc(t.OnMembershipChange)
	app.OnRecordDelete(tenancy.Memberships).BindFunc(t.OnMembershipChange)
	bindRefuseWrites(app, t.OnMembershipWriteRequest, tenancy.Memberships)

	// projects: each one is a NATS account, signed into its own row in the
	// saving transaction and converged on the data plane after the commit.
	app.OnRecordCreateRequest(tenancy.Projects).BindFunc(t.OnProjectCreateRequest)
	app.OnRecordUpdateRequest(tenancy.Projects).BindFunc(t.OnProjectUpdateRequest)
	app.OnRecordDeleteRequest(tenancy.Projects).BindFunc(t.OnProjectDeleteRequest)
	app.OnRecordCreate(tenancy.Projects).BindFunc(t.OnProjectCreate)
	app.OnRecordUpdate(tenancy.Projects).BindFunc(t.OnProjectUpdate)
	app.OnRecordDelete(tenancy.Projects).BindFunc(t.OnProjectDelete)

	// credentials: issued and revoked by route only; a deleted one stays revoked.
	app.OnRecordCreateRequest(tenancy.Credentials).BindFunc(t.OnCredentialCreateRequest)
	app.OnRecordUpdateRequest(tenancy.Credentials).BindFunc(func(e *core.RecordRequestEvent) error {
		return apis.NewForbiddenError("credentials change only by the revoke route", nil)
	})
	app.OnRecordDeleteRequest(tenancy.Credentials).BindFunc(t.OnCredentialDeleteRequest)
	app.OnRecordDelete(tenancy.Credentials).BindFunc(t.OnCredentialDelete)

	// exports: shares between projects of a group, made by their routes;
	// however one ends (route or cascade), both accounts are re-signed.
	app.OnRecordDelete(tenancy.Exports).BindFunc(t.OnExportDelete)
	bindRefuseWrites(app, t.OnExportWriteRequest, tenancy.Exports)

	// revocations, invites, events: made by the routes, read-only here.
	bindRefuseWrites(app, t.OnRevocationWriteRequest, tenancy.Revocations)
	bindRefuseWrites(app, t.OnInviteWriteRequest, tenancy.Invites)
	bindRefuseWrites(app, t.OnEventWriteRequest, tenancy.Events)

	// --rate-limits=false switches PocketBase's limiter off for this process
	// (also after the settings are saved again), leaving the stored settings.
	app.OnSettingsReload().BindFunc(func(e *core.SettingsReloadEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if !cfg.RateLimits {
			e.App.Settings().RateLimits.Enabled = false
		}
		return nil
	})

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if !cfg.RateLimits {
			se.App.Settings().RateLimits.Enabled = false
		}
		if err := h.openJournal(se.App); err != nil {
			return err
		}
		if err := h.startDataPlane(se.App); err != nil {
			return err
		}
		registerRoutes(se, h)
		// Password reset and verification emails link to the App URL; PocketBase's
		// default points at localhost. Only a superuser knows the real address.
		if se.App.Settings().Meta.AppURL == "http://localhost:8090" {
			fmt.Println("Emails link to http://localhost:8090 (PocketBase's default App URL): set the address people use in the dashboard, Settings → Application")
		}
		return se.Next()
	})
	h.bindBackups(app)

	// Runs after PocketBase has stopped HTTP and before the database closes.
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		if p := h.Plane(); p != nil {
			p.Shutdown()
		}
		return e.Next()
	})
	return h
}

// bindRefuseWrites answers every records-API write of the collections with
// refuse (reads follow the collection's rules).
func bindRefuseWrites(app core.App, refuse func(*core.RecordRequestEvent) error, collections ...string) {
	app.OnRecordCreateRequest(collections...).BindFunc(refuse)
	app.OnRecordUpdateRequest(collections...).BindFunc(refuse)
	app.OnRecordDeleteRequest(collections...).BindFunc(refuse)
}

// startDataPlane starts the embedded NATS server, or connects to the
// external cluster given by --nats-url, connects the rules to it and repairs
// whatever a crash left between the database and NATS.
func (h *Hub) startDataPlane(app core.App) error {
	if h.cfg.NATSURL != "" {
		return h.connectCluster(app)
	}
	srv, err := bus.Start(bus.Config{
		StoreDir:      h.cfg.storeDir(app.DataDir()),
		Listen:        h.cfg.NATSListen,
		WSListen:      h.cfg.NATSWSListen,
		MaxMemory:     h.cfg.MaxMemory,
		MaxDisk:       h.cfg.MaxDisk,
		TLSCert:       h.cfg.TLSCert,
		TLSKey:        h.cfg.TLSKey,
		MonitorListen: h.cfg.MonitorListen,
		Logger:        app.Logger(), // records say "NATS: ..." (see bus/logger.go)
		Source:        tenancy.AccountSource{App: app},
	}, h.Tenancy.Operator)
	if err != nil {
		return fmt.Errorf("starting NATS: %w", err)
	}
	wsURL, wsTLS := srv.WebsocketProxyTarget()
	if err := h.run(srv, wsURL, wsTLS); err != nil {
		srv.Shutdown()
		return err
	}
	h.Tenancy.SetDataPlane(srv, srv.JetStreamTotals)
	if err := h.reconcile(app, srv); err != nil {
		return err
	}
	fmt.Printf("NATS listening on %s\n", srv.ClientURL())
	if wsURL != "" {
		fmt.Printf("NATS WebSocket listening on %s (and /nats on the HTTP port)\n", srv.WebsocketURL())
	}
	if u := srv.MonitorURL(); u != "" {
		fmt.Printf("NATS monitoring on %s\n", u)
	}
	return nil
}

// connectCluster makes Pocketbus the control plane of an external NATS
// cluster (SPEC §6). Quotas are admitted against --nats-max-memory and
// --nats-max-disk when given: only the cluster's operator knows its size.
func (h *Hub) connectCluster(app core.App) error {
	cl, err := bus.ConnectCluster(h.cfg.NATSURL, h.cfg.NATSSystemCreds, h.Tenancy.Operator, tenancy.AccountSource{App: app})
	if err != nil {
		return err
	}
	if err := h.run(cl, h.cfg.NATSWSURL, nil); err != nil {
		cl.Shutdown()
		return err
	}
	var totals func() (int64, int64)
	if h.cfg.MaxMemory > 0 || h.cfg.MaxDisk > 0 {
		mem, disk := h.cfg.MaxMemory, h.cfg.MaxDisk
		if mem == 0 {
			mem = math.MaxInt64
		}
		if disk == 0 {
			disk = math.MaxInt64
		}
		totals = func() (int64, int64) { return mem, disk }
	}
	h.Tenancy.SetDataPlane(cl, totals)
	if err := h.reconcile(app, cl); err != nil {
		return err
	}
	// The cluster may have missed pushes (a crash between a commit and its
	// push); pushing every account again is idempotent. In the background,
	// so that start-up does not wait for it.
	go func() {
		n, err := h.Tenancy.SyncAll(app, cl)
		if err != nil {
			app.Logger().Error("pushing accounts to the NATS cluster", "pushed", n, "error", err)
			return
		}
		app.Logger().Info("pushed every project account to the NATS cluster", "accounts", n)
	}()
	fmt.Printf("NATS cluster at %s (Pocketbus is its control plane)\n", cl.ClientURL())
	if u := h.cfg.NATSWSURL; u != "" {
		fmt.Printf("NATS WebSocket at %s (proxied at /nats on the HTTP port)\n", u)
	}
	return nil
}

// reconcile repairs what a crash left between the database and NATS, and
// says so on the console as well as in the logs.
func (h *Hub) reconcile(app core.App, plane bus.DataPlane) error {
	caught, err := h.Tenancy.CatchUpJournal(app)
	if err != nil {
		plane.Shutdown()
		return fmt.Errorf("catching up with the credential journal: %w", err)
	}
	if caught.Replayed > 0 || caught.Rotated > 0 {
		app.Logger().Warn("the database was behind the credential journal (restored from a backup?)",
			"replayed_entries", caught.Replayed, "rotated_projects", caught.Rotated)
		fmt.Printf("Credential journal: re-applied %d entries the database lost, rotated %d projects\n", caught.Replayed, caught.Rotated)
	}
	repairs, err := h.Tenancy.Reconcile(app, plane)
	if err != nil {
		plane.Shutdown()
		return fmt.Errorf("reconciling projects with NATS: %w", err)
	}
	if len(repairs.Resigned)+len(repairs.RemovedOrphan) > 0 {
		app.Logger().Warn("reconciled NATS with the database",
			"resigned_projects", repairs.Resigned, "removed_orphan_accounts", repairs.RemovedOrphan)
		fmt.Printf("Reconciled NATS with the database: re-signed %d project accounts, removed %d orphan accounts\n",
			len(repairs.Resigned), len(repairs.RemovedOrphan))
	}
	return nil
}

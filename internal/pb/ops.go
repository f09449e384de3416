package pb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/fatih/color"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/osutils"
	"github.com/pocketbase/pocketbase/ui"

	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// ops is the operations side of `serve` (SPEC §8): one process per data
// dir, start-up failures that name their cause within seconds, /api/health
// that knows about NATS, and the metrics listener.
type ops struct {
	hub     *Hub
	cfg     *Config
	metrics *metrics

	metricsListener net.Listener
	// Set by serve's OnServe, read by OnTerminate, which a signal runs on
	// another goroutine, possibly while serve is still starting.
	metricsServer atomic.Pointer[http.Server]
}

func bindOps(app core.App, h *Hub, cfg *Config) *ops {
	o := &ops{hub: h, cfg: cfg, metrics: newMetrics(app, h)}
	// Before Bind's OnServe (which starts NATS): the HTTP port is taken
	// first, so that a port in use fails before anything else starts.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Priority: -100, Func: o.onServe})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		o.stopMetrics()
		return e.Next()
	})
	return o
}

// preflight runs before `serve` does anything else (migrations, ports,
// NATS): every flag value is checked, the JetStream store is locked
// (which also shows that the store is writable), and the metrics port is
// taken. The data dir is already locked (App.execute, before Bootstrap).
func (o *ops) preflight(app core.App) error {
	if err := o.cfg.validate(); err != nil {
		return err
	}
	dir := app.DataDir()
	if o.cfg.NATSURL == "" {
		store := o.cfg.storeDir(dir)
		if abs(store) != abs(dir) {
			if _, err := lockDir(store, "--nats-store"); err != nil {
				return err
			}
		}
	}
	if o.cfg.MetricsListen != "" {
		l, err := net.Listen("tcp", o.cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", o.cfg.MetricsListen, err)
		}
		o.metricsListener = l
	}
	return nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// storeDir is the JetStream store: --nats-store, or <dir>/nats.
func (cfg *Config) storeDir(dataDir string) string {
	if cfg.NATSStore != "" {
		return cfg.NATSStore
	}
	return filepath.Join(dataDir, "nats")
}

func (o *ops) onServe(se *core.ServeEvent) error {
	// PocketBase opens its HTTP listener only after every OnServe hook, so
	// a port in use would be found after NATS has started; open it now.
	if se.Listener == nil {
		// Server.Addr is --https when given, else --http (never "" from
		// serve's flags, which default --http); ":http" is PocketBase's
		// fallback for an empty one.
		addr := se.Server.Addr
		if addr == "" {
			addr = ":http"
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("HTTP listener (--http/--https) %s: %w", addr, err)
		}
		se.Listener = l
		// Port 0 (a free port): PocketBase prints Server.Addr as the
		// address it serves on; give it the port the listener got.
		if host, port, err := net.SplitHostPort(se.Server.Addr); err == nil && port == "0" {
			se.Server.Addr = net.JoinHostPort(host, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
		}
	}
	se.InstallerFunc = installer
	if o.metricsListener != nil {
		// Right inside PocketBase's activity logger, outside its panic
		// recovery, rate limiter, superuser IP whitelist and body limit:
		// the requests those answer (429, 403, 413, 500) are counted too.
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Priority: apis.DefaultActivityLoggerMiddlewarePriority + 1,
			Func:     o.metrics.observe,
		})
	}
	se.Router.BindFunc(o.health)
	registerOpsRoutes(se)
	if err := se.Next(); err != nil {
		se.Listener.Close()
		if o.metricsListener != nil {
			o.metricsListener.Close()
		}
		return err
	}
	o.startMetrics(se.App)
	o.warnOvercommit(se.App)
	return nil
}

// warnOvercommit says so at start when the projects on record reserve more
// JetStream than the server's totals (e.g. --nats-max-disk lowered, or a
// size whose unit changed: 10G is 10×10⁹ bytes since sizes are
// go-humanize's, it was 10×2³⁰): nats-server then enables JetStream only
// for the accounts that load first, and the others get no JetStream.
func (o *ops) warnOvercommit(app core.App) {
	maxMem, maxDisk := o.cfg.MaxMemory, o.cfg.MaxDisk
	if srv := o.hub.embedded(); srv != nil {
		maxMem, maxDisk = srv.JetStreamTotals()
	}
	mem, disk, err := tenancy.ReservedJetStream(app) // the start's reconcile has just recounted them
	if err != nil {
		return
	}
	for _, c := range []struct {
		what, flag     string
		reserved, have int64
	}{{"memory", "--nats-max-memory", mem, maxMem}, {"disk", "--nats-max-disk", disk, maxDisk}} {
		if c.have > 0 && c.reserved > c.have {
			msg := fmt.Sprintf("Warning: projects reserve %s of JetStream %s but the server has %s (%s): "+
				"projects whose accounts load last get no JetStream; raise %s (e.g. %s) or lower project limits",
				humanize.IBytes(uint64(c.reserved)), c.what, humanize.IBytes(uint64(c.have)), c.flag, c.flag, humanize.IBytes(uint64(c.reserved)))
			fmt.Println(msg)
			app.Logger().Warn("JetStream overcommitted", "storage", c.what, "reserved", c.reserved, "total", c.have)
		}
	}
}

// health makes PocketBase's GET /api/health answer 503 while NATS cannot
// serve clients (not started yet, stopped, or the cluster unreachable).
func (o *ops) health(e *core.RequestEvent) error {
	if e.Request.URL.Path == "/api/health" && (e.Request.Method == http.MethodGet || e.Request.Method == http.MethodHead) {
		if err := o.hub.natsReady(); err != nil {
			return apis.NewApiError(http.StatusServiceUnavailable, "NATS is not ready: "+err.Error(), nil)
		}
	}
	return e.Next()
}

// natsReady is nil when the data plane can serve clients.
func (h *Hub) natsReady() error {
	p := h.Plane()
	if p == nil {
		return errors.New("not started")
	}
	if r, ok := p.(interface{ Ready() error }); ok {
		return r.Ready()
	}
	return nil
}

// monitoringPaths are nats-server's and Prometheus's usual paths. On the
// HTTP port they would fall through to the web app (its index.html with
// 200), so a probe aimed at them would always pass: they are JSON 404s
// that say where the real ones are.
var monitoringPaths = []string{"/metrics", "/healthz", "/varz", "/connz", "/routez", "/gatewayz", "/leafz",
	"/subsz", "/accountz", "/accstatz", "/jsz", "/raftz", "/ipqueuesz", "/expvarz", "/stacksz"}

func registerOpsRoutes(se *core.ServeEvent) {
	for _, p := range monitoringPaths {
		se.Router.GET(p, func(e *core.RequestEvent) error {
			return apis.NewNotFoundError(fmt.Sprintf("%s is not served on the HTTP port: Prometheus metrics are at --metrics-listen, "+
				"NATS monitoring at --nats-monitor-listen, and the health check is GET /api/health", p), nil)
		})
	}
}

func (o *ops) startMetrics(app core.App) {
	if o.metricsListener == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Stored before Serve: a shutdown from here on stops it (Serve after
	// Shutdown returns at once).
	o.metricsServer.Store(srv)
	l := o.metricsListener
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			app.Logger().Error("metrics listener stopped", "error", err)
		}
	}()
	fmt.Printf("Metrics at http://%s/metrics\n", o.metricsListener.Addr())
}

func (o *ops) stopMetrics() {
	if srv := o.metricsServer.Load(); srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}

// installer is PocketBase's DefaultInstallerFunc with a command that works
// here: PocketBase suggests `go run . superuser upsert`, but this module's
// main package is ./cmd/pocketbus.
func installer(app core.App, systemSuperuser *core.Record, baseURL string) error {
	command := os.Args[0]
	if osutils.IsProbablyGoRun() {
		command = "go run ./cmd/pocketbus"
	}
	if ui.DistDirFS == nil {
		color.Magenta("You can create your first superuser by running: %s superuser upsert EMAIL PASS", command)
		return nil
	}
	token, err := systemSuperuser.NewStaticAuthToken(30 * time.Minute)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/_/#/pbinstall/%s", strings.TrimRight(baseURL, "/"), token)
	_ = osutils.LaunchURL(url)
	color.Magenta("\n(!) Launch the URL below in the browser if it hasn't been open already to create your first superuser account:")
	color.New(color.Bold).Add(color.FgCyan).Println(url)
	color.New(color.FgHiBlack, color.Italic).Printf("(you can also create your first superuser by running: %s superuser upsert EMAIL PASS --dir %s)\n\n",
		command, app.DataDir())
	return nil
}

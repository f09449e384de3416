// Package pb wires Pocketbus into PocketBase: the serve flags, the NATS data
// plane's lifecycle, the hooks of internal/tenancy and the custom routes.
// Every hook and route is registered in this package, in bind (hooks.go) and
// registerRoutes (routes.go); operations (lock, start-up checks, health,
// metrics) are in ops.go, the commands in run.go.
package pb

import (
	"os"
	"path/filepath"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"

	_ "github.com/pocketbus/pocketbus/migrations"
)

// Version of Pocketbus, reported by /api/pocketbus/info and --version.
var Version = "0.1.0-dev"

// Config is the NATS side of `serve`, from flags or environment.
type Config struct {
	NATSListen   string // embedded client listener, host:port (port 0 = free port)
	NATSWSListen string // embedded WebSocket listener ("" = none)
	NATSStore    string // JetStream store; default <dir>/nats
	MaxMemory    int64  // JetStream totals; 0 = nats-server's own sizing
	MaxDisk      int64
	// External-cluster mode: no embedded server; accounts are pushed to the
	// cluster at NATSURL as the system account.
	NATSURL         string
	NATSSystemCreds string // .creds of a system-account user; "" = minted from the operator
	NATSWSURL       string // the cluster's WebSocket URL, proxied at /nats for the web app
	// RateLimits leaves PocketBase's rate limiter as the settings say (on
	// since the trust migration); false switches it off for this process.
	RateLimits bool

	// What clients are told (SPEC §8): NATS client URL(s) as given, and
	// the WebSocket URL ("" = the app's origin + /nats).
	NATSAdvertise, NATSWSAdvertise string
	TLSCert, TLSKey                string // TLS on the embedded client and WebSocket listeners
	MonitorListen                  string // nats-server's HTTP monitoring ("" = off)
	MetricsListen                  string // Prometheus /metrics ("" = off)

	maxMemory, maxDisk string // the size flags as given; validate parses them
	rateLimitsEnv      string // $POCKETBUS_RATE_LIMITS as given ("" = unset); validate checks it
}

// App is the pocketbus command: PocketBase with its own commands and
// flags, plus ours. Start runs it.
type App struct {
	*pocketbase.PocketBase
	Hub *Hub
	cfg *Config
	ops *ops
}

// New builds the pocketbus command.
func New() *App {
	app := pocketbase.NewWithConfig(pocketbase.Config{HideStartBanner: false})
	cfg := &Config{}
	a := &App{PocketBase: app, cfg: cfg}
	a.Hub = Bind(app, cfg)
	a.ops = bindOps(app, a.Hub, cfg)
	app.RootCmd.AddCommand(newNATSCommand(app))
	return a
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func operatorDir(app core.App) string {
	return filepath.Join(app.DataDir(), "nats-operator")
}

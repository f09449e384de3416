// Package pb wires Pocketbus into PocketBase: the serve flags, the NATS data
// plane's lifecycle, the hooks of internal/tenancy and the custom routes.
// Every hook and route is registered in this package, in bind (hooks.go) and
// registerRoutes (routes.go).
package pb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"

	_ "github.com/pocketbus/pocketbus/migrations"
)

// Version of Pocketbus, reported by /api/pocketbus/info.
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
}

// New builds the pocketbus command: PocketBase with its own commands and
// flags, plus ours.
func New() *pocketbase.PocketBase {
	app := pocketbase.NewWithConfig(pocketbase.Config{HideStartBanner: false})
	cfg := &Config{}
	flags := app.RootCmd.PersistentFlags()
	flags.StringVar(&cfg.NATSListen, "nats-listen", envOr("POCKETBUS_NATS_LISTEN", "127.0.0.1:4222"),
		"embedded NATS client listener; port 0 picks a free port (env POCKETBUS_NATS_LISTEN)")
	flags.StringVar(&cfg.NATSWSListen, "nats-ws-listen", envOr("POCKETBUS_NATS_WS_LISTEN", "127.0.0.1:0"),
		"embedded NATS WebSocket listener, also proxied at /nats on the HTTP port (env POCKETBUS_NATS_WS_LISTEN)")
	flags.StringVar(&cfg.NATSStore, "nats-store", envOr("POCKETBUS_NATS_STORE", ""),
		"JetStream store directory (default <dir>/nats) (env POCKETBUS_NATS_STORE)")
	flags.StringVar(&cfg.NATSURL, "nats-url", envOr("POCKETBUS_NATS_URL", ""),
		"external NATS cluster URL(s), comma-separated: no embedded server, accounts are pushed there (env POCKETBUS_NATS_URL)")
	flags.StringVar(&cfg.NATSSystemCreds, "nats-system-creds", envOr("POCKETBUS_NATS_SYSTEM_CREDS", ""),
		"system-account .creds for --nats-url (default: a system user minted from the operator) (env POCKETBUS_NATS_SYSTEM_CREDS)")
	flags.StringVar(&cfg.NATSWSURL, "nats-ws-url", envOr("POCKETBUS_NATS_WS_URL", ""),
		"with --nats-url: a WebSocket URL of the cluster (ws:// or wss://), proxied at /nats for the web app (env POCKETBUS_NATS_WS_URL)")
	flags.BoolVar(&cfg.RateLimits, "rate-limits", envOr("POCKETBUS_RATE_LIMITS", "true") != "false",
		"PocketBase's rate limiter on auth and create routes; false turns it off for this process, e.g. for load tests (env POCKETBUS_RATE_LIMITS)")
	maxMemory := flags.String("nats-max-memory", envOr("POCKETBUS_NATS_MAX_MEMORY", ""),
		"JetStream memory total, bytes or with K/M/G/T suffix (default: nats-server's sizing) (env POCKETBUS_NATS_MAX_MEMORY)")
	maxDisk := flags.String("nats-max-disk", envOr("POCKETBUS_NATS_MAX_DISK", ""),
		"JetStream disk total, bytes or with K/M/G/T suffix (default: nats-server's sizing) (env POCKETBUS_NATS_MAX_DISK)")

	// Sizes are parsed once the command line is, before anything starts.
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		var err error
		if cfg.MaxMemory, err = parseSize("--nats-max-memory", *maxMemory); err != nil {
			return err
		}
		if cfg.MaxDisk, err = parseSize("--nats-max-disk", *maxDisk); err != nil {
			return err
		}
		return se.Next()
	})
	hub := Bind(app, cfg)
	app.RootCmd.AddCommand(newNATSCommand(hub))
	return app
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// parseSize reads "1073741824", "512M", "1G", "2T".
func parseSize(flag, s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	for suffix, m := range map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40} {
		if strings.HasSuffix(s, suffix) || strings.HasSuffix(s, suffix+"B") {
			s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), suffix)
			mult = m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a size (bytes, or a number with K, M, G or T)", flag, s)
	}
	return n * mult, nil
}

func operatorDir(app core.App) string {
	return filepath.Join(app.DataDir(), "nats-operator")
}

package pb

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"
)

// serveFlags are `serve`'s own flags (SPEC §1, §8), each with its
// environment variable. They are attached to the serve command only: the
// other commands do not start NATS.
func (cfg *Config) serveFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("pocketbus serve", pflag.ContinueOnError)
	fs.StringVar(&cfg.NATSListen, "nats-listen", envOr("POCKETBUS_NATS_LISTEN", "127.0.0.1:4222"),
		"embedded NATS client listener; port 0 picks a free port (env POCKETBUS_NATS_LISTEN)")
	fs.StringVar(&cfg.NATSWSListen, "nats-ws-listen", envOr("POCKETBUS_NATS_WS_LISTEN", "127.0.0.1:0"),
		"embedded NATS WebSocket listener, also proxied at /nats on the HTTP port; \"\" turns it off (env POCKETBUS_NATS_WS_LISTEN)")
	fs.StringVar(&cfg.NATSStore, "nats-store", envOr("POCKETBUS_NATS_STORE", ""),
		"JetStream store directory (default <dir>/nats) (env POCKETBUS_NATS_STORE)")
	fs.StringVar(&cfg.maxMemory, "nats-max-memory", envOr("POCKETBUS_NATS_MAX_MEMORY", ""),
		"JetStream memory total: bytes, or 512M, 1.5G (powers of 1000), 512MiB, 2Gi (powers of 1024) (default: nats-server's sizing) (env POCKETBUS_NATS_MAX_MEMORY)")
	fs.StringVar(&cfg.maxDisk, "nats-max-disk", envOr("POCKETBUS_NATS_MAX_DISK", ""),
		"JetStream disk total, same units as --nats-max-memory (default: nats-server's sizing) (env POCKETBUS_NATS_MAX_DISK)")
	fs.StringVar(&cfg.NATSAdvertise, "nats-advertise", envOr("POCKETBUS_NATS_ADVERTISE", ""),
		"client URL(s), comma-separated, that /api/pocketbus/info and the web app show, e.g. nats://nats.example.com:4222 (default: the listener, a 0.0.0.0 host replaced by the host the HTTP request came to) (env POCKETBUS_NATS_ADVERTISE)")
	fs.StringVar(&cfg.NATSWSAdvertise, "nats-ws-advertise", envOr("POCKETBUS_NATS_WS_ADVERTISE", ""),
		"WebSocket URL that /api/pocketbus/info and web tokens give as ws_url (default: the app's own origin + /nats) (env POCKETBUS_NATS_WS_ADVERTISE)")
	fs.StringVar(&cfg.TLSCert, "nats-tls-cert", envOr("POCKETBUS_NATS_TLS_CERT", ""),
		"PEM certificate (chain) for TLS on the embedded NATS client and WebSocket listeners; plain clients are then refused (env POCKETBUS_NATS_TLS_CERT)")
	fs.StringVar(&cfg.TLSKey, "nats-tls-key", envOr("POCKETBUS_NATS_TLS_KEY", ""),
		"PEM private key for --nats-tls-cert (env POCKETBUS_NATS_TLS_KEY)")
	fs.StringVar(&cfg.MonitorListen, "nats-monitor-listen", envOr("POCKETBUS_NATS_MONITOR_LISTEN", ""),
		"nats-server's own HTTP monitoring (/healthz, /varz, /connz, /accountz, /jsz) on host:port; off by default (env POCKETBUS_NATS_MONITOR_LISTEN)")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", envOr("POCKETBUS_METRICS_LISTEN", ""),
		"Prometheus metrics at http://host:port/metrics; off by default (env POCKETBUS_METRICS_LISTEN)")
	fs.StringVar(&cfg.NATSURL, "nats-url", envOr("POCKETBUS_NATS_URL", ""),
		"external NATS cluster URL(s), comma-separated: no embedded server, accounts are pushed there (env POCKETBUS_NATS_URL)")
	fs.StringVar(&cfg.NATSSystemCreds, "nats-system-creds", envOr("POCKETBUS_NATS_SYSTEM_CREDS", ""),
		"system-account .creds for --nats-url (default: a system user minted from the operator) (env POCKETBUS_NATS_SYSTEM_CREDS)")
	fs.StringVar(&cfg.NATSWSURL, "nats-ws-url", envOr("POCKETBUS_NATS_WS_URL", ""),
		"with --nats-url: a WebSocket URL of the cluster (ws:// or wss://), proxied at /nats for the web app (env POCKETBUS_NATS_WS_URL)")
	// strconv.ParseBool's values, as the flag takes; validate refuses others
	// (anything but "false" left the limiter on before).
	rateLimits := true
	if v := strings.TrimSpace(os.Getenv("POCKETBUS_RATE_LIMITS")); v != "" {
		cfg.rateLimitsEnv = v
		if b, err := strconv.ParseBool(v); err == nil {
			rateLimits = b
		}
	}
	fs.BoolVar(&cfg.RateLimits, "rate-limits", rateLimits,
		"PocketBase's rate limiter on auth and create routes; false turns it off for this process, e.g. for load tests (env POCKETBUS_RATE_LIMITS)")
	return fs
}

// validate checks every serve flag before anything starts, so that a bad
// value is an error that names its flag instead of a failure later on.
func (cfg *Config) validate() error {
	var err error
	if v := cfg.rateLimitsEnv; v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("POCKETBUS_RATE_LIMITS (--rate-limits): %q is not true or false", v)
		}
	}
	if cfg.MaxMemory, err = parseSize("--nats-max-memory", cfg.maxMemory); err != nil {
		return err
	}
	if cfg.MaxDisk, err = parseSize("--nats-max-disk", cfg.maxDisk); err != nil {
		return err
	}
	listens := []struct{ flag, value string }{
		{"--nats-listen", cfg.NATSListen}, {"--nats-ws-listen", cfg.NATSWSListen},
		{"--nats-monitor-listen", cfg.MonitorListen}, {"--metrics-listen", cfg.MetricsListen},
	}
	for _, l := range listens {
		if l.value == "" && l.flag != "--nats-listen" {
			continue
		}
		if err := checkListen(l.flag, l.value); err != nil {
			return err
		}
	}
	if cfg.NATSAdvertise != "" {
		if err := checkURLs("--nats-advertise", cfg.NATSAdvertise, "nats", "tls", "ws", "wss"); err != nil {
			return err
		}
	}
	if cfg.NATSWSAdvertise != "" {
		if err := checkURLs("--nats-ws-advertise", cfg.NATSWSAdvertise, "ws", "wss"); err != nil {
			return err
		}
	}
	if cfg.NATSURL != "" {
		// These configure the embedded server, which does not run then.
		for _, f := range []struct{ flag, value string }{
			{"--nats-tls-cert", cfg.TLSCert}, {"--nats-tls-key", cfg.TLSKey},
			{"--nats-monitor-listen", cfg.MonitorListen}, {"--nats-store", cfg.NATSStore},
		} {
			if f.value != "" {
				return fmt.Errorf("%s configures the embedded NATS server, which does not run with --nats-url (configure the cluster itself)", f.flag)
			}
		}
		if u := cfg.NATSWSURL; u != "" {
			if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "ws" && parsed.Scheme != "wss") || parsed.Host == "" {
				return fmt.Errorf("--nats-ws-url: %q is not a ws:// or wss:// URL", u)
			}
		}
	} else if cfg.NATSWSURL != "" {
		return fmt.Errorf("--nats-ws-url goes with --nats-url (the embedded server has --nats-ws-listen)")
	}
	switch {
	case cfg.TLSCert != "" && cfg.TLSKey == "":
		return fmt.Errorf("--nats-tls-cert needs --nats-tls-key")
	case cfg.TLSKey != "" && cfg.TLSCert == "":
		return fmt.Errorf("--nats-tls-key needs --nats-tls-cert")
	case cfg.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--nats-tls-cert %s / --nats-tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
	}
	return nil
}

// parseSize reads a byte size with go-humanize: "1073741824", "512M",
// "1.5G", "10GB" (powers of 1000), "512MiB", "2Gi" (powers of 1024).
// "" is 0 (nats-server's own sizing).
func parseSize(flag, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a size (bytes, or e.g. 512M, 1.5G, 512MiB, 10GB): %v", flag, s, err)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("%s: %q is too large", flag, s)
	}
	return int64(n), nil
}

func checkListen(flag, hp string) error {
	// The host is not checked: a name that does not resolve fails when the
	// listener opens, naming the address.
	_, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port: %v", flag, hp, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%s: %q: bad port %q", flag, hp, port)
	}
	return nil
}

// checkURLs validates a comma-separated list of client URLs: a scheme out
// of schemes (or none: host:port), a host that clients can reach (not a
// wildcard listen address), a numeric port.
func checkURLs(flag, list string, schemes ...string) error {
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Errorf("%s: %q has an empty URL", flag, list)
		}
		raw := item
		if !strings.Contains(raw, "://") {
			raw = schemes[0] + "://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return fmt.Errorf("%s: %q is not a URL", flag, item)
		}
		ok := false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
		if !ok {
			return fmt.Errorf("%s: %q: the scheme must be one of %s", flag, item, strings.Join(schemes, ", "))
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "" || (ip != nil && ip.IsUnspecified()) {
			return fmt.Errorf("%s: %q: %q is a listen address, not one clients can connect to", flag, item, u.Hostname())
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%s: %q: bad port %q", flag, item, p)
			}
		}
	}
	return nil
}

package pb

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// What clients are told about where NATS is (SPEC §8).

// natsClientURL is info.nats.url: --nats-advertise as given; else the
// data plane's URL(s), where a wildcard listener (0.0.0.0, ::) is shown
// with the host the HTTP request came to, on the NATS port.
func (h *Hub) natsClientURL(e *core.RequestEvent) string {
	if h.cfg.NATSAdvertise != "" {
		return h.cfg.NATSAdvertise
	}
	p := h.Plane()
	if p == nil {
		return ""
	}
	raw := p.ClientURL()
	if h.cfg.NATSURL != "" {
		return raw // the cluster's URLs, as given
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return raw
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		_, reqHost := appOrigin(e)
		u.Host = net.JoinHostPort(hostOnly(reqHost), port)
	}
	return u.String()
}

// natsWebSocketURL is ws_url in /api/pocketbus/info and web tokens:
// --nats-ws-advertise, else the app's own origin + /nats (the proxy on
// the HTTP port), "" when there is no WebSocket endpoint.
func (h *Hub) natsWebSocketURL(e *core.RequestEvent) string {
	if h.cfg.NATSWSAdvertise != "" {
		return h.cfg.NATSWSAdvertise
	}
	if dp := h.running.Load(); dp == nil || dp.wsURL == "" {
		return ""
	}
	scheme, host := appOrigin(e)
	if scheme == "https" {
		return "wss://" + host + "/nats"
	}
	return "ws://" + host + "/nats"
}

// appOrigin is the scheme and host by which the client reached the app.
// Behind a reverse proxy that PocketBase is told to trust (Settings >
// Application > "User IP proxy headers", i.e. TrustedProxy.Headers is not
// empty), the proxy's X-Forwarded-Proto / X-Forwarded-Host (or RFC 7239
// Forwarded) are honoured, taking the value the proxy added (the last one,
// or the first with "use leftmost IP"), as PocketBase does for the IP.
// Without that setting they are ignored: anyone could send them.
func appOrigin(e *core.RequestEvent) (scheme, host string) {
	scheme, host = "http", e.Request.Host
	if e.Request.TLS != nil {
		scheme = "https"
	}
	tp := e.App.Settings().TrustedProxy
	if len(tp.Headers) == 0 {
		return scheme, host
	}
	pick := func(values []string) string {
		if len(values) == 0 {
			return ""
		}
		items := strings.Split(values[len(values)-1], ",")
		v := items[len(items)-1]
		if tp.UseLeftmostIP {
			v = items[0]
		}
		return strings.TrimSpace(v)
	}
	if fwd := pick(e.Request.Header.Values("Forwarded")); fwd != "" {
		for _, pair := range strings.Split(fwd, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "proto":
				if v == "http" || v == "https" {
					scheme = v
				}
			case "host":
				if v != "" {
					host = v
				}
			}
		}
	}
	if p := strings.ToLower(pick(e.Request.Header.Values("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme = p
	}
	if hv := pick(e.Request.Header.Values("X-Forwarded-Host")); hv != "" {
		host = hv
	}
	return scheme, host
}

// hostOnly strips the port from a Host header value ("[::1]:8090" → "::1").
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// natsProxy is the handler of GET /nats: the NATS WebSocket endpoint on the
// app's own origin, relayed to the running data plane's WebSocket endpoint.
func (h *Hub) natsProxy(e *core.RequestEvent) error {
	dp := h.running.Load()
	if dp == nil || dp.wsProxy == nil {
		return e.Error(http.StatusServiceUnavailable, "NATS is not running", nil)
	}
	dp.wsProxy.ServeHTTP(e.Response, e.Request)
	return nil
}

// wsReverseProxy relays requests to a NATS WebSocket endpoint: the embedded
// listener (wss:// when it has TLS, trusting exactly its certificate, given
// as tlsConfig) or --nats-ws-url.
func wsReverseProxy(wsURL string, tlsConfig *tls.Config) (*httputil.ReverseProxy, error) {
	target, err := url.Parse(wsURL)
	if err != nil {
		return nil, fmt.Errorf("NATS WebSocket URL %q: %w", wsURL, err)
	}
	// The WebSocket handshake is HTTP; ReverseProxy then relays the
	// upgraded connection. The request goes to the target URL as it is
	// (its own path, if any), not to target + "/nats".
	target.Scheme = map[string]string{"ws": "http", "wss": "https"}[target.Scheme]
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.URL.Path, pr.Out.URL.RawPath = target.Scheme, target.Host, target.Path, ""
		pr.Out.Host = target.Host
		pr.SetXForwarded()
	}}
	if tlsConfig != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig
		proxy.Transport = tr
	}
	return proxy, nil
}

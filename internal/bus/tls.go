package bus

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// loadTLS reads the certificate and key for the client and WebSocket
// listeners; nil when neither is given.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("bus: TLS needs both a certificate and a key file")
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		return nil, fmt.Errorf("bus: TLS certificate %s / key %s: %w", certFile, keyFile, err)
	}
	return tc, nil
}

// WebsocketProxyTarget is where a reverse proxy in this process reaches the
// WebSocket listener: its bound address, with a wildcard host (0.0.0.0,
// ::) replaced by loopback, and the TLS client configuration to use (nil
// for ws://). The configuration accepts exactly the listener's own
// certificate, whatever names it is issued for: the proxy talks to this
// process, not to a host name. "" when WebSocket is off.
func (s *Server) WebsocketProxyTarget() (string, *tls.Config) {
	if !s.ws {
		return "", nil
	}
	u, err := url.Parse(s.ns.WebsocketURL())
	if err != nil {
		return "", nil
	}
	host, port, _ := net.SplitHostPort(u.Host)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	u.Host = net.JoinHostPort(host, port)
	if s.tls == nil || len(s.tls.Certificates) == 0 {
		return u.String(), nil
	}
	return u.String(), pinnedTLS(s.tls.Certificates[0])
}

// pinnedTLS is a client TLS configuration that trusts only cert.
func pinnedTLS(cert tls.Certificate) *tls.Config {
	want := cert.Certificate[0]
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is VerifyConnection's: the leaf must be ours.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("bus: the WebSocket listener presented another certificate")
			}
			return nil
		},
	}
}

// applyMonitorListen turns on nats-server's HTTP monitoring at hp.
func applyMonitorListen(opts *server.Options, hp string) error {
	if hp == "" {
		return nil
	}
	host, port, err := splitListen(hp)
	if err != nil {
		return fmt.Errorf("bus: monitor listen %q: %w", hp, err)
	}
	opts.HTTPHost, opts.HTTPPort = host, port
	return nil
}

// MonitorURL is nats-server's HTTP monitoring endpoint ("" when off).
func (s *Server) MonitorURL() string {
	a := s.ns.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
}

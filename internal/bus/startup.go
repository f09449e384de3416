package bus

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// waitReady waits until the server accepts connections, or fails with the
// first fatal error nats-server logged (it logs them instead of returning
// them: a listener that cannot bind, a JetStream store it cannot use).
func waitReady(ns *server.Server, fatal <-chan string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		select {
		case msg := <-fatal:
			return fmt.Errorf("bus: nats-server: %s", msg)
		default:
		}
		if ns.ReadyForConnections(50 * time.Millisecond) {
			// A fatal error may have come in while the listeners were up.
			select {
			case msg := <-fatal:
				return fmt.Errorf("bus: nats-server: %s", msg)
			default:
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bus: nats-server was not ready for connections after %s", within)
		}
	}
}

// Ready reports why clients cannot use the embedded server now (nil: they
// can): it has stopped, a listener is not accepting, JetStream is off, or
// Pocketbus's own system connection is down.
func (s *Server) Ready() error {
	switch {
	case !s.ns.Running():
		return errors.New("the embedded nats-server is not running")
	case !s.ns.ReadyForConnections(30 * time.Millisecond):
		return errors.New("the embedded nats-server is not accepting connections")
	case !s.ns.JetStreamEnabled():
		return errors.New("JetStream is not enabled on the embedded nats-server")
	case s.sys == nil || !s.sys.IsConnected():
		return errors.New("the system connection to the embedded nats-server is down")
	}
	return nil
}

// Ready reports whether the control plane is connected to the cluster.
func (c *Cluster) Ready() error {
	if c.sys.IsConnected() {
		return nil
	}
	return fmt.Errorf("not connected to the NATS cluster at %s (%s)", c.urls, c.sys.Status())
}

// NATS is the embedded nats-server, for monitoring (Varz, Connz, Jsz,
// AccountStatz): read it, do not configure it.
func (s *Server) NATS() *server.Server { return s.ns }

// AccountStatz lists the loaded accounts' statistics (the system account
// included; it does not load any account).
func (s *Server) AccountStatz() ([]*server.AccountStat, error) {
	az, err := s.ns.AccountStatz(&server.AccountStatzOptions{IncludeUnused: true})
	if err != nil {
		return nil, err
	}
	return az.Accounts, nil
}

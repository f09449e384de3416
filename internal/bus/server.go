package bus

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"context"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ErrAccountNotFound is what an AccountSource returns for an unknown account.
var ErrAccountNotFound = errors.New("bus: account not found")

// AccountSource gives the server an account's current JWT.
type AccountSource interface {
	AccountJWT(accountPub string) (string, error) // ErrAccountNotFound when unknown
}

// Config of the embedded server.
type Config struct {
	StoreDir         string   // JetStream store
	Listen           string   // "host:port"; port 0 => random free port
	WSListen         string   // same for websocket; "" disables it
	WSAllowedOrigins []string // empty = any origin (tokens are the auth)
	MaxMemory        int64    // JetStream totals; 0 = nats-server's own sizing
	MaxDisk          int64
	Logger           *slog.Logger
	Source           AccountSource
	// TLSCert and TLSKey (PEM files) put TLS on the client port and the
	// WebSocket listener; plain clients are refused. Both or neither.
	TLSCert, TLSKey string
	// MonitorListen is nats-server's own HTTP monitoring (/varz, /connz,
	// /healthz, ...), "host:port" (port 0 => free port); "" = off.
	MonitorListen string
}

// Server is the embedded nats-server plus an in-process system connection.
type Server struct {
	ns       *server.Server
	op       *Operator
	src      AccountSource
	storeDir string
	sys      *nats.Conn
	ws       bool
	tls      *tls.Config // the listeners' TLS config; nil = plain
	stop     sync.Once
	locks    accountLocks
	loads    *loadGuard    // accounts between their first Fetch and settling; see loadguard.go
	forced   atomic.Int64  // claims the load guard forced onto accounts (each empties their JetStream API import for a moment)
	paused   *sync.RWMutex // held by PauseJetStream; new accounts' Fetch waits for it
	unwatch  chan struct{} // stops the load watcher
	watching sync.WaitGroup
}

var _ DataPlane = (*Server)(nil)

// Start runs an embedded nats-server in operator mode with JetStream on.
func Start(cfg Config, op *Operator) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("bus: Config.Source is required")
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("bus: Config.StoreDir is required")
	}
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("bus: listen %q: %w", cfg.Listen, err)
	}
	opClaims, err := jwt.DecodeOperatorClaims(op.JWT())
	if err != nil {
		return nil, err
	}
	loads := newLoadGuard()
	paused := &sync.RWMutex{} // see PauseJetStream
	opts := &server.Options{
		ServerName:         "pocketbus",
		Host:               host,
		Port:               port,
		TrustedOperators:   []*jwt.OperatorClaims{opClaims},
		SystemAccount:      op.SystemAccountPublicKey(),
		AccountResolver:    &resolver{src: cfg.Source, op: op, loads: loads, paused: paused},
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxDisk,
		NoSigs:             true,
		// One log record per event (see logger.go): no ASCII art.
		DisableJetStreamBanner: true,
	}
	// HTTP monitoring only when asked for (stats go through the in-process
	// API); TLS on the client and WebSocket listeners when configured.
	if err := applyMonitorListen(opts, cfg.MonitorListen); err != nil {
		return nil, err
	}
	tlsConfig, err := loadTLS(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil {
		opts.TLSConfig, opts.TLS = tlsConfig, true
	}
	if cfg.MaxMemory == 0 {
		opts.JetStreamMaxMemory = -1
	}
	if cfg.MaxDisk == 0 {
		opts.JetStreamMaxStore = -1
	}
	if cfg.WSListen != "" {
		wh, wp, err := splitListen(cfg.WSListen)
		if err != nil {
			return nil, fmt.Errorf("bus: websocket listen %q: %w", cfg.WSListen, err)
		}
		opts.Websocket = server.WebsocketOpts{
			Host:           wh,
			Port:           wp,
			NoTLS:          tlsConfig == nil,
			AllowedOrigins: cfg.WSAllowedOrigins,
		}
		if tlsConfig != nil {
			opts.Websocket.TLSConfig = tlsConfig.Clone()
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: nats-server: %w", err)
	}
	// Our logger also catches nats-server's fatal errors (a port in use, a
	// store it cannot write), which it only logs: Start fails with them at
	// once instead of waiting for a readiness that never comes.
	logTo := cfg.Logger
	if logTo == nil {
		logTo = slog.New(slog.DiscardHandler)
	}
	fatal := make(chan string, 1)
	logger := newSlogLogger(logTo, func(msg string) {
		select {
		case fatal <- msg:
		default:
		}
	})
	ns.SetLoggerV2(logger, logTo.Enabled(context.Background(), slog.LevelDebug), false, false)
	ns.Start()
	logger.flush()
	if err := waitReady(ns, fatal, 30*time.Second); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	s := &Server{ns: ns, op: op, src: cfg.Source, storeDir: cfg.StoreDir, ws: cfg.WSListen != "", tls: tlsConfig, loads: loads, paused: paused, unwatch: make(chan struct{})}
	ujwt, useed := op.systemUser()
	s.sys, err = nats.Connect("",
		nats.InProcessServer(ns),
		nats.UserJWTAndSeed(ujwt, string(useed)),
		nats.Name("pocketbus-system"),
		nats.MaxReconnects(-1),
	)
	if err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("bus: system connection: %w", err)
	}
	if cfg.Logger != nil {
		if err := s.logAuthFailures(cfg.Logger); err != nil {
			s.sys.Close()
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, err
		}
	}
	// Accounts with JetStream data loaded during ns.Start are in the guard
	// already; the watcher settles them like any other load.
	s.watching.Add(1)
	go func() {
		defer s.watching.Done()
		s.watchLoads(s.unwatch)
	}()
	return s, nil
}

// splitListen maps "host:port" to nats options; port 0 means a free port,
// which nats-server spells RANDOM_PORT (its 0 means the default 4222).
func splitListen(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// WebsocketURL is "" when websocket is off.
func (s *Server) WebsocketURL() string {
	if !s.ws {
		return ""
	}
	return s.ns.WebsocketURL()
}

// JetStreamTotals returns the server's effective JetStream totals, against
// which project quotas must be admitted.
func (s *Server) JetStreamTotals() (maxMemory, maxDisk int64) {
	c := s.ns.JetStreamConfig()
	if c == nil {
		return 0, 0
	}
	return c.MaxMemory, c.MaxStore
}

// Shutdown drains the system connection and stops the server; idempotent.
func (s *Server) Shutdown() {
	s.stop.Do(func() {
		close(s.unwatch)
		s.watching.Wait()
		if s.sys != nil {
			s.sys.Close()
		}
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}

// IsLoaded reports whether the server currently holds the account in memory
// (registered: claim updates reach it).
func (s *Server) IsLoaded(pub string) bool {
	// AccountStatz with an account name does not fetch, unlike
	// LookupAccount, and unlike Accountz it does not decode and verify the
	// account JWT: ~0.15 µs not loaded, ~0.45 µs loaded (Accountz: 0.4 µs
	// and 75 µs).
	az, err := s.ns.AccountStatz(&server.AccountStatzOptions{Accounts: []string{pub}, IncludeUnused: true})
	return err == nil && len(az.Accounts) == 1
}

// LoadedAccounts lists the project accounts currently loaded.
func (s *Server) LoadedAccounts() []string {
	az, err := s.ns.Accountz(nil)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range az.Accounts {
		if a != s.op.SystemAccountPublicKey() && nkeys.IsValidPublicAccountKey(a) {
			out = append(out, a)
		}
	}
	return out
}

// SyncAccount applies what the Source holds for the account now: its JWT
// if it is loaded, or, when the Source no longer knows it, a tombstone and
// the removal of its JetStream data. An account that is not loaded is
// skipped: it will be fetched from the Source, which holds the committed
// state by now (callers sync after their commit), and reading the Source
// and pushing would cost a query, ~0.24 ms of signature checks and a round
// trip on every project create for nothing.
func (s *Server) SyncAccount(pub string) error {
	// Only the system account is refused up front: anything else that is
	// not a valid account key is never loaded, so nothing below touches
	// it, and this keeps a project create's sync at ~0.4 µs.
	if pub == s.op.SystemAccountPublicKey() {
		return fmt.Errorf("bus: not a project account: %q", pub)
	}
	defer s.locks.lock(pub)()
	return s.syncLocked(pub)
}

// syncLocked is SyncAccount under the account's lock.
func (s *Server) syncLocked(pub string) error {
	s.loads.touch(pub)
	if !s.IsLoaded(pub) {
		return nil
	}
	token, err := s.src.AccountJWT(pub)
	switch {
	case err == nil:
		return s.pushLocked(pub, token)
	case errors.Is(err, ErrAccountNotFound):
		return s.deleteLocked(pub)
	default:
		return fmt.Errorf("bus: reading account %s: %w", pub, err)
	}
}

// DeleteAccount applies a tombstone JWT (which closes every connection,
// revokes every user and stops the account's JetStream) and then removes the
// account's JetStream directory, whatever the Source holds.
func (s *Server) DeleteAccount(pub string) error {
	if err := s.projectAccount(pub); err != nil {
		return err
	}
	defer s.locks.lock(pub)()
	s.loads.touch(pub)
	return s.deleteLocked(pub)
}

func (s *Server) projectAccount(pub string) error {
	if !nkeys.IsValidPublicAccountKey(pub) || pub == s.op.SystemAccountPublicKey() {
		return fmt.Errorf("bus: not a project account: %q", pub)
	}
	return nil
}

// pushLocked applies a JWT through $SYS.REQ.ACCOUNT.<pub>.CLAIMS.UPDATE, the
// same wire protocol a cluster uses: the server applies it synchronously
// when the account is loaded (closing revoked or excess connections before
// it answers) and skips it otherwise. The server decodes the JWT and checks
// that it is pub's before anything else, loaded or not, and answers an
// error that is returned here.
func (s *Server) pushLocked(pub, token string) error {
	msg, err := s.sys.Request(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", pub), []byte(token), 5*time.Second)
	if err != nil {
		return fmt.Errorf("bus: push account claims: %w", err)
	}
	var resp server.ServerAPIClaimUpdateResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("bus: claims update response: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("bus: claims update for %s: %s", pub, resp.Error.Description)
	}
	return nil
}

// deleteLocked tombstones the account if it is loaded and removes its
// JetStream directory.
func (s *Server) deleteLocked(pub string) error {
	if s.IsLoaded(pub) {
		tomb, err := s.op.tombstoneJWT(pub)
		if err != nil {
			return err
		}
		if err := s.pushLocked(pub, tomb); err != nil {
			return err
		}
	}
	return s.removeJetStreamDir(pub)
}

func (s *Server) jsAccountDir(pub string) string {
	return filepath.Join(s.storeDir, "jetstream", pub)
}

func (s *Server) removeJetStreamDir(pub string) error {
	var err error
	for range 5 {
		// A load of the account racing the delete (see loadguard.go) can
		// create files while they are removed: "directory not empty".
		// The guard tombstones such a load; the removal is tried again.
		if err = os.RemoveAll(s.jsAccountDir(pub)); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("bus: remove jetstream data of %s: %w", pub, err)
}

// StoredAccounts lists the accounts with JetStream data on disk: the only
// state the embedded server keeps of an account (its JWT is in the Source).
func (s *Server) StoredAccounts() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.storeDir, "jetstream"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() && n != s.op.SystemAccountPublicKey() && nkeys.IsValidPublicAccountKey(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// RemoveOrphan removes an orphan account's JetStream data. If the account
// happens to be loaded it is deleted properly first, so no stream keeps
// writing into a removed directory.
func (s *Server) RemoveOrphan(pub string) error {
	return s.DeleteAccount(pub)
}

// Stats of one account on this server.
type Stats struct {
	Connections                        int
	InMsgs, OutMsgs, InBytes, OutBytes int64
	JetStream                          struct {
		Memory, Storage    uint64
		Streams, Consumers int
	}
}

// AccountStats returns zeros for an account that is not loaded.
func (s *Server) AccountStats(pub string) (Stats, error) {
	var st Stats
	if !s.IsLoaded(pub) {
		return st, nil
	}
	az, err := s.ns.AccountStatz(&server.AccountStatzOptions{Accounts: []string{pub}, IncludeUnused: true})
	if err != nil {
		return st, err
	}
	for _, a := range az.Accounts {
		if a.Account != pub {
			continue
		}
		st.Connections = a.Conns
		// Received is what clients sent into the server.
		st.InMsgs, st.InBytes = a.Received.Msgs, a.Received.Bytes
		st.OutMsgs, st.OutBytes = a.Sent.Msgs, a.Sent.Bytes
	}
	acc, err := s.ns.LookupAccount(pub)
	if err != nil {
		return st, nil
	}
	u := acc.JetStreamUsage()
	st.JetStream.Memory, st.JetStream.Storage = u.Memory, u.Store
	st.JetStream.Streams, st.JetStream.Consumers = u.Streams, u.Consumers
	return st, nil
}

// resolver serves account JWTs from the Source (the projects table) and the
// system account from the operator. It is read-only and does not track
// updates, so nats-server subscribes to claim updates itself and applies them
// to loaded accounts only. Every Fetch is recorded in the load guard, which
// makes sure the account does not stay registered with a JWT that a
// commit has overtaken (see loadguard.go).
type resolver struct {
	src    AccountSource
	op     *Operator
	loads  *loadGuard
	paused *sync.RWMutex
}

func (r *resolver) Fetch(pub string) (string, error) {
	if pub == r.op.SystemAccountPublicKey() {
		return r.op.SystemAccountJWT(), nil
	}
	// A backup's pause (PauseJetStream) holds new accounts back: one that
	// loads during it would write JetStream files into the copy.
	r.paused.RLock()
	defer r.paused.RUnlock()
	r.loads.begin(pub) // before the read: see loadguard.go
	t, err := r.src.AccountJWT(pub)
	r.loads.end(pub, t, err)
	if errors.Is(err, ErrAccountNotFound) {
		return "", server.ErrMissingAccount
	}
	return t, err
}
func (r *resolver) Store(string, string) error {
	return errors.New("bus: account resolver is read-only; the database is the source of truth")
}
func (r *resolver) IsReadOnly() bool           { return true }
func (r *resolver) Start(*server.Server) error { return nil }
func (r *resolver) IsTrackingUpdate() bool     { return false }
func (r *resolver) Reload() error              { return nil }
func (r *resolver) Close()                     {}

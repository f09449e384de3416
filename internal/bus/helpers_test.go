package bus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// mapSource is the test's projects table.
type mapSource struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *mapSource) AccountJWT(pub string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.m[pub]; ok {
		return t, nil
	}
	return "", ErrAccountNotFound
}

func (s *mapSource) put(pub, token string) {
	s.mu.Lock()
	s.m[pub] = token
	s.mu.Unlock()
}

func (s *mapSource) del(pub string) {
	s.mu.Lock()
	delete(s.m, pub)
	s.mu.Unlock()
}

type env struct {
	t     testing.TB
	op    *Operator
	src   *mapSource
	srv   *Server
	cfg   Config
	opDir string
}

const (
	testServerMem  = 64 << 20
	testServerDisk = 1 << 30
)

var defaultTestLimits = Limits{MaxConnections: -1, MaxPayload: -1, JSMaxMemory: 8 << 20, JSMaxDisk: 64 << 20, JSMaxStreams: -1, JSMaxConsumers: -1}

func testLogger() *slog.Logger {
	if os.Getenv("BUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvSource(t, nil)
}

// newEnvSource is newEnv with the server reading the test's projects table
// through wrap (nil: directly).
func newEnvSource(t testing.TB, wrap func(*mapSource) AccountSource) *env {
	t.Helper()
	e := &env{t: t, src: &mapSource{m: map[string]string{}}, opDir: t.TempDir()}
	op, err := LoadOrCreateOperator(e.opDir, "")
	if err != nil {
		t.Fatal(err)
	}
	e.op = op
	var src AccountSource = e.src
	if wrap != nil {
		src = wrap(e.src)
	}
	e.cfg = Config{
		StoreDir:  t.TempDir(),
		Listen:    "127.0.0.1:0",
		WSListen:  "127.0.0.1:0",
		MaxMemory: testServerMem,
		MaxDisk:   testServerDisk,
		Logger:    testLogger(),
		Source:    src,
	}
	e.start()
	t.Cleanup(func() { e.srv.Shutdown() })
	return e
}

func (e *env) start() {
	e.t.Helper()
	srv, err := Start(e.cfg, e.op)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
}

// apply stores the account in the source (as tenancy's commit would) and
// syncs the server with it.
func (e *env) apply(a Account) string {
	e.t.Helper()
	pub, token, err := e.op.AccountJWT(a)
	if err != nil {
		e.t.Fatal(err)
	}
	e.src.put(pub, token)
	if err := e.srv.SyncAccount(pub); err != nil {
		e.t.Fatal(err)
	}
	return pub
}

// remove deletes the account from the source (the project row) and syncs
// the server.
func (e *env) remove(pub string) {
	e.t.Helper()
	e.src.del(pub)
	if err := e.srv.SyncAccount(pub); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) project(id string) string {
	return e.apply(Account{ProjectID: id, Limits: defaultTestLimits})
}

func (e *env) user(spec UserSpec) IssuedUser {
	e.t.Helper()
	u, err := e.op.IssueUser(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// closeWatch records when a connection is closed and its last error.
type closeWatch struct {
	closed chan struct{}
	mu     sync.Mutex
	errs   []error
}

func (w *closeWatch) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) == 0 {
		return nil
	}
	return w.errs[len(w.errs)-1]
}

func (e *env) dial(url string, u IssuedUser, extra ...nats.Option) (*nats.Conn, *closeWatch, error) {
	w := &closeWatch{closed: make(chan struct{})}
	opts := append([]nats.Option{
		nats.UserJWTAndSeed(u.JWT, u.Seed),
		nats.NoReconnect(),
		nats.Timeout(3 * time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(w.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			w.mu.Lock()
			w.errs = append(w.errs, err)
			w.mu.Unlock()
		}),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err == nil {
		e.t.Cleanup(nc.Close)
	}
	return nc, w, err
}

func (e *env) connect(u IssuedUser, extra ...nats.Option) (*nats.Conn, *closeWatch) {
	e.t.Helper()
	nc, w, err := e.dial(e.srv.ClientURL(), u, extra...)
	if err != nil {
		e.t.Fatalf("connect %s: %v", u.PublicKey, err)
	}
	return nc, w
}

func (e *env) mustRefuse(u IssuedUser, want string) {
	e.t.Helper()
	nc, _, err := e.dial(e.srv.ClientURL(), u)
	if err == nil {
		nc.Close()
		e.t.Fatalf("connection with %s was accepted, want refusal", u.PublicKey)
	}
	if want != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
		e.t.Fatalf("refusal error %q does not mention %q", err, want)
	}
}

// waitClosed fails unless the connection closes within d; returns the latency.
func waitClosed(t *testing.T, w *closeWatch, start time.Time, d time.Duration) time.Duration {
	t.Helper()
	select {
	case <-w.closed:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("connection not closed within %v", d)
		return 0
	}
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func newJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func names(t *testing.T, ch <-chan string, errf func() error) []string {
	t.Helper()
	var out []string
	for n := range ch {
		out = append(out, n)
	}
	if err := errf(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		t.Fatal(err)
	}
	return out
}

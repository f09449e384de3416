package bus

import (
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// crashAfter makes a deadlock fail the test binary instead of hanging it:
// unless stop is called within d, every goroutine's stack is printed and
// the process panics (from a goroutine of its own, so no cleanup, which
// would wait on the deadlocked locks, runs first).
func crashAfter(d time.Duration, what string) (stop func()) {
	timer := time.AfterFunc(d, func() {
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		panic(what + " did not return within " + d.String() + ": deadlock")
	})
	return func() { timer.Stop() }
}

// A first connect's Fetch returns just as a backup pauses JetStream: the
// account registers (and enables its JetStream) after the pause took its
// locks. The pause must neither deadlock (a lookup of an account that
// JetStream lists but that is not registered yet fetches it, and Fetch
// waits for the pause) nor leave that account's JetStream running.
func TestPauseJetStreamDuringLoad(t *testing.T) {
	var ps *pausingSource
	e := newEnvSource(t, func(m *mapSource) AccountSource {
		ps = &pausingSource{mapSource: m}
		return ps
	})
	a := Account{ProjectID: "p", Salt: NewAccountSalt(), Limits: defaultTestLimits}
	pub := e.apply(a) // not loaded
	u := e.user(UserSpec{ProjectID: "p", Salt: a.Salt, Name: "u", JetStream: true})

	ps.arm(pub)
	connected := make(chan error, 1)
	go func() {
		_, _, err := e.dial(e.srv.ClientURL(), u)
		connected <- err
	}()
	select {
	case <-ps.read:
	case <-time.After(5 * time.Second):
		t.Fatal("the connect did not fetch the account")
	}
	type paused struct {
		resume func() error
		err    error
	}
	done := make(chan paused, 1)
	go func() {
		resume, err := e.srv.PauseJetStream()
		done <- paused{resume, err}
	}()
	time.Sleep(50 * time.Millisecond) // the pause waits for the held Fetch
	stop := crashAfter(15*time.Second, "PauseJetStream")
	close(ps.release)
	p := <-done
	stop()
	if p.err != nil {
		t.Fatal(p.err)
	}
	if err := <-connected; err != nil {
		t.Fatalf("connect: %v", err)
	}
	acc, err := e.srv.ns.LookupAccount(pub) // registered: no fetch
	if err != nil {
		t.Fatal(err)
	}
	if acc.JetStreamEnabled() {
		p.resume()
		t.Fatal("the account that loaded as the pause began kept its JetStream running")
	}
	stop = crashAfter(15*time.Second, "resume")
	err = p.resume()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if !acc.JetStreamEnabled() {
		t.Fatal("resume did not turn the account's JetStream back on")
	}
}

// Resuming re-applies each paused account's claims; an account importing
// from one that is not loaded makes nats-server look the exporter up, which
// fetches it. That Fetch must not wait for the pause being resumed.
func TestPauseJetStreamResumeFetchesExporter(t *testing.T) {
	e := newEnv(t)
	exp := Account{ProjectID: "exp", Salt: NewAccountSalt(), Limits: defaultTestLimits,
		Exports: []Share{{Subject: "orders.>"}}}
	expPub, expJWT, err := e.op.AccountJWT(exp)
	if err != nil {
		t.Fatal(err)
	}
	imp := Account{ProjectID: "imp", Salt: NewAccountSalt(), Limits: defaultTestLimits,
		Imports: []Share{{Subject: "orders.>", Account: expPub}}}
	e.apply(imp)
	// The importer loads while the exporter is unknown: its import stays
	// incomplete and the exporter unloaded.
	nc, _ := e.connect(e.user(UserSpec{ProjectID: "imp", Salt: imp.Salt, Name: "u", JetStream: true}))
	js := newJS(t, nc)
	if _, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	e.src.put(expPub, expJWT)
	if e.srv.IsLoaded(expPub) {
		t.Fatal("exporter loaded: the test does not test the fetch on resume")
	}

	stop := crashAfter(15*time.Second, "PauseJetStream and resume")
	resume, err := e.srv.PauseJetStream()
	if err != nil {
		stop()
		t.Fatal(err)
	}
	err = resume()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if !e.srv.IsLoaded(expPub) {
		t.Fatal("resume did not look the exporter up: the test does not test the fetch on resume")
	}
	if _, err := js.Publish(ctx(t), "s.x", []byte("x")); err != nil {
		t.Fatalf("JetStream after resume: %v", err)
	}
}

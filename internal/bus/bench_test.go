package bus

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkIssueUser(b *testing.B) {
	op, err := LoadOrCreateOperator(b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	spec := UserSpec{ProjectID: "p", Name: "u", PubAllow: []string{"a.>"}, SubAllow: []string{"a.>", "_INBOX.>"}}
	for b.Loop() {
		if _, err := op.IssueUser(spec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccountJWT(b *testing.B) {
	op, err := LoadOrCreateOperator(b.TempDir(), "")
	if err != nil {
		b.Fatal(err)
	}
	a := Account{ProjectID: "p", Limits: defaultTestLimits, Revocations: map[string]time.Time{}}
	for i := range 10 {
		a.Revocations[fmt.Sprintf("U%055d", i)] = time.Now()
	}
	for b.Loop() {
		if _, _, err := op.AccountJWT(a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevokeToClose measures SyncAccount with a revocation until the
// revoked client's closed callback has fired.
func BenchmarkRevokeToClose(b *testing.B) {
	e := newEnv(b)
	e.project("p")
	var total time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		u := e.user(UserSpec{ProjectID: "p"})
		_, w := e.connect(u)
		b.StartTimer()
		start := time.Now()
		e.apply(Account{ProjectID: "p", Limits: defaultTestLimits, Revocations: map[string]time.Time{u.PublicKey: time.Now()}})
		select {
		case <-w.closed:
		case <-time.After(2 * time.Second):
			b.Fatal("not closed")
		}
		total += time.Since(start)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/float64(n), "µs/revoke-close")
}

// BenchmarkSyncAccountNotLoaded is SyncAccount after a project create on the
// embedded server: the account is not loaded, so nothing is read or pushed.
func BenchmarkSyncAccountNotLoaded(b *testing.B) {
	e := newEnv(b)
	pub := e.project("p")
	for b.Loop() {
		if err := e.srv.SyncAccount(pub); err != nil {
			b.Fatal(err)
		}
	}
}

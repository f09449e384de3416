package bus

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/nats-io/nats.go"
)

// BenchmarkLoadedAccountHeap reports the server's heap per project account
// once 1,000 accounts are loaded (each with JetStream limits, each used by
// one connection that then closes). Run with
//
//	go test -run '^$' -bench LoadedAccountHeap -benchtime 1x ./internal/bus/
func BenchmarkLoadedAccountHeap(b *testing.B) {
	const accounts = 1000
	for range b.N {
		e := newEnv(b)
		e.cfg.MaxMemory, e.cfg.MaxDisk = 1<<40, 1<<44
		e.srv.Shutdown()
		e.start()
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		before := heap()
		for i := range accounts {
			id := fmt.Sprintf("heap%05d", i)
			pub, token, err := e.op.AccountJWT(Account{ProjectID: id, Limits: Limits{
				MaxConnections: 1000, MaxPayload: 1 << 20, JSMaxMemory: 16 << 20, JSMaxDisk: 256 << 20, JSMaxStreams: 100, JSMaxConsumers: 1000}})
			if err != nil {
				b.Fatal(err)
			}
			e.src.put(pub, token)
			u := e.user(UserSpec{ProjectID: id, Name: "u"})
			nc, err := nats.Connect(e.srv.ClientURL(), nats.UserJWTAndSeed(u.JWT, u.Seed))
			if err != nil {
				b.Fatal(err)
			}
			nc.Close()
		}
		after := heap()
		if got := len(e.srv.LoadedAccounts()); got < accounts {
			b.Fatalf("%d accounts loaded, want %d", got, accounts)
		}
		b.ReportMetric(float64(after-before)/accounts/1024, "KiB/account")
	}
}

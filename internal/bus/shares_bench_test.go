package bus

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkAccountLoadWithShares measures what exports and imports (SPEC §3
// sharing) cost nats-server when accounts load: BUS_SHARE_N accounts
// (default 2000) in pairs, the second of each pair importing a stream and a
// service from the first, against the same number of accounts without
// shares, loaded in the same run (alternating batches, so the machine's
// noise hits both). Each account is loaded by one connect, 8 at a time:
//
//	go test -run '^$' -bench AccountLoadWithShares -benchtime 1x ./internal/bus/
func BenchmarkAccountLoadWithShares(b *testing.B) {
	n := envInt("BUS_SHARE_N", 2000)
	batch := envInt("BUS_SHARE_BATCH", 250)
	for range b.N {
		b.StopTimer()
		e := newEnv(b)
		e.cfg.MaxMemory, e.cfg.MaxDisk = 1<<50, 1<<55
		e.srv.Shutdown()
		e.start()
		limits := Limits{MaxConnections: 1000, MaxPayload: 1 << 20, JSMaxMemory: 16 << 20, JSMaxDisk: 256 << 20, JSMaxStreams: 100, JSMaxConsumers: 1000}
		mk := func(prefix string, shares bool) []IssuedUser {
			users := make([]IssuedUser, n)
			var exporter string
			for i := range n {
				id := fmt.Sprintf("%s%06d", prefix, i)
				a := Account{ProjectID: id, Limits: limits}
				if shares && i%2 == 0 {
					a.Exports = []Share{{Subject: "orders.>"}, {Subject: "time.now", Service: true}}
				}
				if shares && i%2 == 1 {
					a.Imports = []Share{{Subject: "orders.>", Account: exporter}, {Subject: "time.now", Service: true, Account: exporter}}
				}
				pub, token, err := e.op.AccountJWT(a)
				if err != nil {
					b.Fatal(err)
				}
				if i%2 == 0 {
					exporter = pub
				}
				e.src.put(pub, token)
				users[i] = e.user(UserSpec{ProjectID: id, Name: "u", JetStream: true})
			}
			return users
		}
		plain, shared := mk("plain", false), mk("share", true)
		url := e.srv.ClientURL()
		load := func(users []IssuedUser, from, to int) time.Duration {
			next := make(chan int)
			var wg sync.WaitGroup
			t0 := time.Now()
			for range 8 {
				wg.Go(func() {
					for i := range next {
						nc, err := nats.Connect(url, nats.UserJWTAndSeed(users[i].JWT, users[i].Seed), nats.Timeout(30*time.Second))
						if err != nil {
							b.Error(err)
							continue
						}
						nc.Close()
					}
				})
			}
			for i := from; i < to; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			return time.Since(t0) / time.Duration(to-from)
		}
		b.StartTimer()
		var plainD, sharedD []time.Duration
		for from := 0; from < n; from += batch {
			to := min(from+batch, n)
			p, s := load(plain, from, to), load(shared, from, to)
			plainD, sharedD = append(plainD, p), append(sharedD, s)
			b.Logf("accounts %5d-%5d (each kind; %5d loaded): plain %6.3f ms/account, with shares %6.3f ms/account",
				from, to, 2*to, float64(p)/1e6, float64(s)/1e6)
		}
		b.StopTimer()
		sum := func(ds []time.Duration) (t time.Duration) {
			for _, d := range ds {
				t += d
			}
			return t / time.Duration(len(ds))
		}
		b.ReportMetric(float64(sum(plainD))/1e6, "ms/load-plain")
		b.ReportMetric(float64(sum(sharedD))/1e6, "ms/load-shared")
		b.ReportMetric(float64(sum(sharedD))/float64(sum(plainD)), "shared/plain")
		e.srv.Shutdown()
		b.StartTimer()
	}
}

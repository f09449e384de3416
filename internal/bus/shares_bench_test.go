package bus

import (
	"fmt"
	"testing"
	"time"
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
		e := newLoadBenchEnv(b)
		mk := func(prefix string, shares bool) []IssuedUser {
			users := make([]IssuedUser, n)
			var exporter string
			for i := range n {
				id := fmt.Sprintf("%s%06d", prefix, i)
				a := Account{ProjectID: id, Limits: loadBenchLimits}
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
			t0 := time.Now()
			if err := connectEach(url, users[from:to], 8); err != nil {
				b.Error(err)
			}
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

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// figure is one measured number with its runs and target.
type figure struct {
	Key    string // stable name (tests look figures up by it)
	Name   string
	Unit   string
	Runs   []float64 // one value per run; Value is their median
	Value  float64
	P50    float64 // latency figures: over every sample of every run, ms
	P99    float64
	Target string
	Status string // "met", "MISSED", "reported"
	Note   string
}

func (f *figure) latency() bool { return f.P50 != 0 || f.P99 != 0 }

type results struct {
	Config    config
	Command   string
	Figures   []*figure
	Notes     []string
	Elapsed   time.Duration
	LoadStart string // 1-minute load average when the bench started
}

func (r *results) get(key string) *figure {
	for _, f := range r.Figures {
		if f.Key == key {
			return f
		}
	}
	return nil
}

type bench struct {
	cfg      config
	keep     bool
	only     map[string]bool
	logf     func(string, ...any)
	command  string
	pprofDir string // CPU profiles of the server per section, when set

	pbBinOverride string // a prebuilt pocketbus to measure instead

	res      *results
	tmp      string
	pbBin    string
	natsBin  string
	pb       *pocketbus
	user     *api
	existing int // projects in the database
	cred     credential
	projects []project // created over REST, for issue/connect/revoke
}

func (b *bench) want(section string) bool { return b.only == nil || b.only[section] }

// profiled runs fn while taking a CPU profile of the server named name.
func (b *bench) profiled(name string, d time.Duration, fn func() error) error {
	if b.pprofDir == "" {
		return fn()
	}
	done := b.pb.profile(d, filepath.Join(b.pprofDir, name+".pprof"))
	err := fn()
	if perr := <-done; perr != nil {
		b.logf("profile %s: %v", name, perr)
	}
	return err
}

func (b *bench) add(f *figure) *figure {
	if len(f.Runs) > 0 {
		f.Value = median(f.Runs)
	}
	if f.Status == "" {
		f.Status = "reported"
	}
	b.res.Figures = append(b.res.Figures, f)
	b.logf("%-28s %12.2f %-10s p50=%.2f p99=%.2f %s", f.Key, f.Value, f.Unit, f.P50, f.P99, f.Status)
	return f
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func (b *bench) run() (*results, error) {
	b.res = &results{Config: b.cfg, Command: b.command, LoadStart: loadavg()}
	var err error
	if b.tmp, err = os.MkdirTemp("", "pocketbus-bench"); err != nil {
		return nil, err
	}
	if !b.keep {
		defer os.RemoveAll(b.tmp)
	} else {
		b.logf("data under %s", b.tmp)
	}
	b.logf("building pocketbus and nats-server")
	if b.pbBin, b.natsBin, err = buildBinaries(b.tmp, b.pprofDir != ""); err != nil {
		return nil, err
	}
	if b.pbBinOverride != "" {
		b.pbBin = b.pbBinOverride
	}
	dir := filepath.Join(b.tmp, "pb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if b.pb, err = newPocketbus(b.pbBin, dir, "--nats-max-memory", b.cfg.ServerMaxMemory, "--nats-max-disk", b.cfg.ServerMaxDisk); err != nil {
		return nil, err
	}
	if _, err := b.pb.start("", ""); err != nil {
		return nil, err
	}
	defer func() { b.pb.stop() }()
	if b.user, err = signUp(b.pb.URL); err != nil {
		return nil, err
	}
	if err := liftLimits(b.pb.URL, b.user); err != nil {
		return nil, err
	}
	main, err := b.user.createProject("bench-main")
	if err != nil {
		return nil, err
	}
	b.existing = 1
	b.projects = append(b.projects, main)
	if b.cred, err = b.user.issue(main.ID, "bench-main"); err != nil {
		return nil, err
	}

	steps := []struct {
		name string
		fn   func() error
	}{
		{"msg", b.messaging},
		{"js", b.jetstream},
		{"provision", b.provisioning}, // also issue/connect/revoke at the first level
		{"restart", b.restart},
		{"memory", b.memory},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return b.res, nil
}

func (b *bench) embeddedOpts() []nats.Option {
	return []nats.Option{nats.UserJWTAndSeed(b.cred.JWT, b.cred.Seed)}
}

// messaging: 1 publisher, 1 subscriber, embedded vs standalone, interleaved.
func (b *bench) messaging() error {
	if !b.want("msg") {
		return nil
	}
	sa, err := startStandalone(b.natsBin, filepath.Join(b.tmp, "standalone-msg"))
	if err != nil {
		return err
	}
	defer sa.stop()
	for _, sz := range []struct {
		key   string
		size  int
		count int
	}{{"128", 128, b.cfg.Msgs128}, {"16k", 16 << 10, b.cfg.Msgs16K}} {
		profiledOnce := false
		emb, std, err := b.interleave(b.cfg.MsgRuns, func(embedded bool) (v float64, err error) {
			if embedded && !profiledOnce {
				profiledOnce = true
				err = b.profiled("msg-"+sz.key, time.Second, func() (err error) {
					v, err = pubSub(b.pb.NATSURL, b.embeddedOpts(), sz.size, sz.count)
					return err
				})
				return v, err
			}
			if embedded {
				return pubSub(b.pb.NATSURL, b.embeddedOpts(), sz.size, sz.count)
			}
			return pubSub(sa.URL, nil, sz.size, sz.count)
		})
		if err != nil {
			return err
		}
		b.ratioFigures("msg_"+sz.key, fmt.Sprintf("pub/sub %s B, 1 pub 1 sub", label(sz.size)), "msgs/s", emb, std,
			fmt.Sprintf("%d msgs per run", sz.count))
	}
	return nil
}

func label(size int) string {
	if size >= 1024 {
		return fmt.Sprintf("%dK", size>>10)
	}
	return fmt.Sprint(size)
}

// interleave alternates embedded and standalone runs, swapping who goes
// first every pair, so drift on a shared machine hits both alike.
func (b *bench) interleave(runs int, fn func(embedded bool) (float64, error)) (emb, std []float64, err error) {
	for i := 0; i < runs; i++ {
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, embedded := range order {
			v, err := fn(embedded)
			if err != nil {
				return nil, nil, fmt.Errorf("embedded=%v run %d: %w", embedded, i, err)
			}
			if embedded {
				emb = append(emb, v)
			} else {
				std = append(std, v)
			}
		}
	}
	return emb, std, nil
}

func (b *bench) ratioFigures(key, name, unit string, emb, std []float64, note string) {
	b.add(&figure{Key: key + "_embedded", Name: name + ", Pocketbus (issued creds)", Unit: unit, Runs: emb, Note: note})
	b.add(&figure{Key: key + "_standalone", Name: name + ", standalone nats-server", Unit: unit, Runs: std, Note: note})
	ratios := make([]float64, len(emb))
	for i := range emb {
		ratios[i] = emb[i] / std[i]
	}
	r := median(emb) / median(std)
	b.add(&figure{Key: key + "_ratio", Name: name + ", ratio embedded/standalone", Unit: "×", Runs: ratios,
		Target: "≥ 0.95", Status: status(median(ratios) >= 0.95),
		Note: fmt.Sprintf("median of the per-pair ratios (each pair run back to back); ratio of the medians: %.3f", r)})
}

func (b *bench) jetstream() error {
	if !b.want("js") {
		return nil
	}
	sa, err := startStandalone(b.natsBin, filepath.Join(b.tmp, "standalone-js"))
	if err != nil {
		return err
	}
	defer sa.stop()
	emb, std, err := b.interleave(b.cfg.JSRuns, func(embedded bool) (float64, error) {
		if embedded {
			return jsPublish(b.pb.NATSURL, b.embeddedOpts(), 128, b.cfg.JSMsgs)
		}
		return jsPublish(sa.URL, nil, 128, b.cfg.JSMsgs)
	})
	if err != nil {
		return err
	}
	b.ratioFigures("js", "JetStream async publish 128 B, file R1", "msgs/s", emb, std,
		fmt.Sprintf("%d msgs per run into a fresh stream, until every ack", b.cfg.JSMsgs))
	return nil
}

// provisioning measures REST creates at every level of existing projects,
// seeding the database (server stopped) between levels.
func (b *bench) provisioning() error {
	if !b.want("provision") && !b.want("issue") && !b.want("connect") && !b.want("revoke") && !b.want("restart") && !b.want("memory") {
		return nil
	}
	rates := map[int]float64{}
	for li, level := range b.cfg.Levels {
		if level > b.existing {
			if err := b.seedTo(level); err != nil {
				return err
			}
		}
		if b.want("provision") {
			var runs, all, cpu []float64
			err := b.profiled(fmt.Sprintf("provision-%d", level), 5*time.Second, func() error {
				for r := 0; r < b.cfg.ProvRuns; r++ {
					var rate float64
					var lat []time.Duration
					us, err := b.serverCPU(b.cfg.CreatesPerRun, func() (err error) {
						rate, lat, err = parallel(1, b.cfg.CreatesPerRun, func(i int) error {
							_, err := b.user.createProject(fmt.Sprintf("prov-%d-%d-%d", level, r, i))
							return err
						})
						return err
					})
					if err != nil {
						return err
					}
					b.existing += b.cfg.CreatesPerRun
					runs = append(runs, rate)
					all = append(all, millis(lat)...)
					cpu = append(cpu, us)
				}
				return nil
			})
			if err != nil {
				return err
			}
			f := b.add(&figure{Key: fmt.Sprintf("provision_%d", level), Name: fmt.Sprintf("project create over REST, %d existing", level),
				Unit: "creates/s", Runs: runs, P50: percentile(all, 50), P99: percentile(all, 99),
				Target: "p99 < 25 ms", Note: fmt.Sprintf("%d × %d sequential creates (one client)", b.cfg.ProvRuns, b.cfg.CreatesPerRun)})
			f.Status = status(f.P99 < 25)
			rates[level] = f.Value
			b.add(&figure{Key: fmt.Sprintf("provision_cpu_%d", level), Name: fmt.Sprintf("server CPU per project create, %d existing", level),
				Unit: "µs", Runs: cpu, Note: cpuNote})
			if err := b.provisionFreshGroup(level); err != nil {
				return err
			}
		}
		if li == 0 {
			if err := b.credentials(); err != nil {
				return err
			}
		}
	}
	if b.want("provision") && len(b.cfg.Levels) >= 3 {
		if err := b.flatness(rates); err != nil {
			return err
		}
	}
	return nil
}

// provisionFreshGroup measures creates at the same level into a new group
// of the same user: the existing projects are all in the bench user's
// personal group, so this separates what a create costs per project on the
// server from what it costs per project in its group.
func (b *bench) provisionFreshGroup(level int) error {
	group, err := b.user.createGroup(fmt.Sprintf("fresh-%d", level))
	if err != nil {
		return err
	}
	var rate float64
	var lat []time.Duration
	us, err := b.serverCPU(b.cfg.CreatesPerRun, func() (err error) {
		rate, lat, err = parallel(1, b.cfg.CreatesPerRun, func(i int) error {
			_, err := b.user.createProjectIn(group, fmt.Sprintf("fresh-%d-%d", level, i))
			return err
		})
		return err
	})
	if err != nil {
		return err
	}
	b.existing += b.cfg.CreatesPerRun
	ms := millis(lat)
	b.add(&figure{Key: fmt.Sprintf("provision_fresh_%d", level), Name: fmt.Sprintf("project create over REST, %d existing, into a new group", level),
		Unit: "creates/s", Runs: []float64{rate}, P50: percentile(ms, 50), P99: percentile(ms, 99),
		Note: fmt.Sprintf("%d sequential creates into a group made for them (the existing projects are all in one other group); server CPU per create %.0f µs", b.cfg.CreatesPerRun, us)})
	return nil
}

// flatness compares the create rate at the top level with the rate at the
// second level (1k) side by side: a second pocketbus holding only the
// reference number of projects runs next to the main one, and their create
// runs alternate, so the machine's drift between the level measurements
// (minutes apart) does not decide the ratio.
func (b *bench) flatness(levelRates map[int]float64) error {
	top := b.cfg.Levels[len(b.cfg.Levels)-1]
	refLevel := b.cfg.Levels[1]
	dir := filepath.Join(b.tmp, "pb-ref")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ref, err := newPocketbus(b.pbBin, dir, "--nats-max-memory", b.cfg.ServerMaxMemory, "--nats-max-disk", b.cfg.ServerMaxDisk)
	if err != nil {
		return err
	}
	if _, err := ref.start("", ""); err != nil {
		return err
	}
	defer func() { ref.stop() }()
	refUser, err := signUp(ref.URL)
	if err != nil {
		return err
	}
	if err := liftLimits(ref.URL, refUser); err != nil {
		return err
	}
	ref.stop()
	if _, err := seedProjects(dir, refUser.MyGroup, refLevel); err != nil {
		return err
	}
	if _, err := ref.start("", ""); err != nil {
		return err
	}
	run := func(u *api, tag string, r int) (float64, error) {
		rate, _, err := parallel(1, b.cfg.CreatesPerRun, func(i int) error {
			_, err := u.createProject(fmt.Sprintf("flat-%s-%d-%d", tag, r, i))
			return err
		})
		return rate, err
	}
	var topRuns, refRuns, ratios []float64
	for r := 0; r < b.cfg.ProvRuns; r++ {
		// Alternate who goes first.
		var tr, rr float64
		var err error
		if r%2 == 0 {
			if tr, err = run(b.user, "top", r); err == nil {
				rr, err = run(refUser, "ref", r)
			}
		} else {
			if rr, err = run(refUser, "ref", r); err == nil {
				tr, err = run(b.user, "top", r)
			}
		}
		if err != nil {
			return err
		}
		topRuns, refRuns = append(topRuns, tr), append(refRuns, rr)
		ratios = append(ratios, tr/rr)
	}
	b.add(&figure{Key: "provision_flatness_top", Name: fmt.Sprintf("project create over REST, %d existing (paired with the %d-project server)", top, refLevel),
		Unit: "creates/s", Runs: topRuns})
	b.add(&figure{Key: "provision_flatness_ref", Name: fmt.Sprintf("project create over REST, %d existing, second server alongside", refLevel),
		Unit: "creates/s", Runs: refRuns})
	v := median(ratios)
	b.add(&figure{Key: "provision_flatness", Name: fmt.Sprintf("create rate at %d / rate at %d existing", top, refLevel), Unit: "×",
		Runs: ratios, Target: "≥ 0.80", Status: status(v >= 0.8),
		Note: fmt.Sprintf("median of %d per-pair ratios: a second pocketbus seeded with %d projects runs alongside and the two servers' create runs (%d sequential creates each) alternate; "+
			"the ratio of the per-level medians above, measured minutes apart, is %.2f", len(ratios), refLevel, b.cfg.CreatesPerRun, levelRates[top]/levelRates[refLevel])})
	return nil
}

// seedTo stops the server, bulk-inserts projects up to level and starts it.
func (b *bench) seedTo(level int) error {
	b.logf("seeding %d projects (server stopped)", level-b.existing)
	b.pb.stop()
	t := time.Now()
	if _, err := seedProjects(b.pb.dir, b.user.MyGroup, level-b.existing); err != nil {
		return err
	}
	b.logf("seeded in %s", time.Since(t).Round(time.Millisecond))
	b.existing = level
	if _, err := b.pb.start(b.cred.JWT, b.cred.Seed); err != nil {
		return err
	}
	return nil
}

// credentials: issue rate, connect rate and revoke latency.
func (b *bench) credentials() error {
	// A few projects to spread credentials over, as tenants would.
	for len(b.projects) < 4 {
		p, err := b.user.createProject(fmt.Sprintf("bench-%d", len(b.projects)))
		if err != nil {
			return err
		}
		b.existing++
		b.projects = append(b.projects, p)
	}
	if b.want("issue") {
		var runs, all, cpu []float64
		err := b.profiled("issue", 5*time.Second, func() error {
			for r := 0; r < b.cfg.IssueRuns; r++ {
				var rate float64
				var lat []time.Duration
				us, err := b.serverCPU(b.cfg.Issues, func() (err error) {
					rate, lat, err = parallel(b.cfg.IssueWorkers, b.cfg.Issues, func(i int) error {
						_, err := b.user.issue(b.projects[i%len(b.projects)].ID, fmt.Sprintf("issue-%d-%d", r, i))
						return err
					})
					return err
				})
				if err != nil {
					return err
				}
				runs = append(runs, rate)
				all = append(all, millis(lat)...)
				cpu = append(cpu, us)
			}
			return nil
		})
		if err != nil {
			return err
		}
		f := b.add(&figure{Key: "issue", Name: fmt.Sprintf("credential issue over REST, %d concurrent clients", b.cfg.IssueWorkers),
			Unit: "issues/s", Runs: runs, P50: percentile(all, 50), P99: percentile(all, 99), Target: "≥ 1500/s",
			Note: fmt.Sprintf("%d × %d issues over %d projects", b.cfg.IssueRuns, b.cfg.Issues, len(b.projects))})
		f.Status = status(f.Value >= 1500)
		b.add(&figure{Key: "issue_cpu", Name: "server CPU per credential issue", Unit: "µs", Runs: cpu, Note: cpuNote})
	}
	if b.want("connect") {
		if err := b.connects(); err != nil {
			return err
		}
	}
	if b.want("revoke") {
		var runs []float64
		var all []float64
		for r := 0; r < b.cfg.RevokeRuns; r++ {
			lat, err := b.revokeRun(r)
			if err != nil {
				return err
			}
			ms := millis(lat)
			runs = append(runs, percentile(ms, 50))
			all = append(all, ms...)
		}
		f := b.add(&figure{Key: "revoke", Name: "revoke over REST → connection closed", Unit: "ms (p50 per run)",
			Runs: runs, P50: percentile(all, 50), P99: percentile(all, 99), Target: "p99 < 250 ms",
			Note: fmt.Sprintf("%d revocations in all, one at a time, each credential with one live connection; timed from sending the POST to the client seeing the close", len(all))})
		f.Status = status(f.P99 < 250)
	}
	return nil
}

func (b *bench) revokeRun(run int) ([]time.Duration, error) {
	type live struct {
		cred   credential
		closed chan time.Time
		nc     *nats.Conn
	}
	conns := make([]*live, b.cfg.Revokes)
	defer func() {
		for _, l := range conns {
			if l != nil && l.nc != nil {
				l.nc.Close()
			}
		}
	}()
	for i := range conns {
		c, err := b.user.issue(b.projects[i%len(b.projects)].ID, fmt.Sprintf("revoke-%d-%d", run, i))
		if err != nil {
			return nil, err
		}
		l := &live{cred: c, closed: make(chan time.Time, 1)}
		nc, err := nats.Connect(b.pb.NATSURL, nats.UserJWTAndSeed(c.JWT, c.Seed), nats.NoReconnect(),
			nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
			nats.ClosedHandler(func(*nats.Conn) { l.closed <- time.Now() }))
		if err != nil {
			return nil, err
		}
		l.nc = nc
		conns[i] = l
	}
	lat := make([]time.Duration, len(conns))
	for i, l := range conns {
		t0 := time.Now()
		if err := b.user.revoke(l.cred.ID); err != nil {
			return nil, err
		}
		select {
		case t := <-l.closed:
			lat[i] = t.Sub(t0)
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("connection of revoked credential %s still open after 10 s", l.cred.ID)
		}
	}
	return lat, nil
}

// restart: SIGTERM, start, until /api/health and a NATS connect succeed.
func (b *bench) restart() error {
	if !b.want("restart") {
		return nil
	}
	var runs []float64
	for r := 0; r < b.cfg.RestartRuns; r++ {
		b.pb.stop()
		d, err := b.pb.start(b.cred.JWT, b.cred.Seed)
		if err != nil {
			return err
		}
		runs = append(runs, d.Seconds())
	}
	f := b.add(&figure{Key: "restart", Name: fmt.Sprintf("restart to ready, %d projects", b.existing), Unit: "s", Runs: runs,
		Target: "< 3 s", Note: "exec of `pocketbus serve` until GET /api/health is 200 and a NATS connect with an issued credential succeeds (polled every 5 ms)"})
	f.Status = status(f.Value < 3)
	return nil
}

// memory: RSS idle with every project in the database; then LoadedAccounts
// accounts loaded by a first connect each (kept open), the cost of a first
// connect as the number of loaded accounts grows (a window of LoadWindow
// connects ending at each of LoadCheckpoints), a stream in StreamAccounts of
// them, RSS with all of them loaded; and, once every connection is closed,
// restart-to-ready after that use.
func (b *bench) memory() error {
	if !b.want("memory") {
		return nil
	}
	time.Sleep(b.cfg.IdleSettle)
	rss, err := rssBytes(b.pb.pid())
	if err != nil {
		return err
	}
	f := b.add(&figure{Key: "rss_idle", Name: fmt.Sprintf("RSS idle, %d projects", b.existing), Unit: "MB",
		Runs: []float64{float64(rss) / 1e6}, Target: "< 500 MB",
		Note: fmt.Sprintf("VmRSS of the serve process %s after a restart, no clients", b.cfg.IdleSettle)})
	f.Status = status(f.Value < 500)

	ids, err := projectIDs(b.pb.dir, b.cfg.LoadedAccounts)
	if err != nil {
		return err
	}
	if len(ids) < b.cfg.LoadedAccounts {
		return fmt.Errorf("only %d seeded projects for %d loaded accounts", len(ids), b.cfg.LoadedAccounts)
	}
	// Credentials are minted here with the data dir's operator, as the issue
	// route would: 10k REST issues would only add a minute of setup.
	op, err := bus.LoadOrCreateOperator(filepath.Join(b.pb.dir, "nats-operator"), "")
	if err != nil {
		return err
	}
	creds := make([]bus.IssuedUser, len(ids))
	for i, p := range ids {
		if creds[i], err = op.IssueUser(bus.UserSpec{ProjectID: p.ID, Salt: p.Salt, Name: "mem", JetStream: true}); err != nil {
			return err
		}
	}
	conns := make([]*nats.Conn, len(ids))
	var mu sync.Mutex
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for i, nc := range conns {
			if nc != nil {
				nc.Close()
				conns[i] = nil
			}
		}
	}
	defer closeAll()
	// load connects accounts [from, to) (each for the first time) and keeps
	// the connections.
	load := func(from, to int) (float64, []time.Duration, error) {
		return parallel(b.cfg.LoadedWorkers, to-from, func(i int) error {
			i += from
			nc, err := nats.Connect(b.pb.NATSURL, nats.UserJWTAndSeed(creds[i].JWT, creds[i].Seed), nats.NoReconnect(), nats.Timeout(20*time.Second))
			if err != nil {
				return fmt.Errorf("first connect to account %d: %w", i, err)
			}
			mu.Lock()
			conns[i] = nc
			mu.Unlock()
			return nil
		})
	}
	var allLat []time.Duration
	t0 := time.Now()
	err = b.profiled("account-load", 20*time.Second, func() error {
		loaded := 0
		for _, cp := range append(slices.Clone(b.cfg.LoadCheckpoints), len(ids)) {
			if cp > len(ids) || cp <= loaded {
				continue
			}
			wStart := max(loaded, cp-b.cfg.LoadWindow)
			if wStart > loaded {
				_, lat, err := load(loaded, wStart)
				if err != nil {
					return err
				}
				allLat = append(allLat, lat...)
			}
			var rate float64
			var lat []time.Duration
			us, err := b.serverCPU(cp-wStart, func() (err error) {
				rate, lat, err = load(wStart, cp)
				return err
			})
			if err != nil {
				return err
			}
			allLat = append(allLat, lat...)
			loaded = cp
			if !slices.Contains(b.cfg.LoadCheckpoints, cp) {
				continue
			}
			ms := millis(lat)
			b.add(&figure{Key: fmt.Sprintf("account_load_%d", cp), Name: fmt.Sprintf("first connect (loads the account), %d accounts loaded", cp),
				Unit: "connects/s", Runs: []float64{rate}, P50: percentile(ms, 50), P99: percentile(ms, 99),
				Note: fmt.Sprintf("the %d first connects that bring the loaded accounts from %d to %d, %d concurrent clients, each connection kept open",
					cp-wStart, wStart, cp, b.cfg.LoadedWorkers)})
			b.add(&figure{Key: fmt.Sprintf("account_load_cpu_%d", cp), Name: fmt.Sprintf("server CPU per first connect, %d accounts loaded", cp),
				Unit: "µs", Runs: []float64{us}, Note: cpuNote})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("connecting to %d accounts: %w", len(ids), err)
	}
	ms := millis(allLat)
	b.add(&figure{Key: "account_load_connect", Name: fmt.Sprintf("first connect to a not-yet-loaded account, all %d", len(ids)), Unit: "connects/s",
		Runs: []float64{float64(len(ids)) / time.Since(t0).Seconds()}, P50: percentile(ms, 50), P99: percentile(ms, 99),
		Note: fmt.Sprintf("%d accounts loaded from none, %d concurrent clients", len(ids), b.cfg.LoadedWorkers)})

	time.Sleep(b.cfg.IdleSettle / 2)
	rss, err = rssBytes(b.pb.pid())
	if err != nil {
		return err
	}
	b.add(&figure{Key: "rss_loaded", Name: fmt.Sprintf("RSS with %d loaded accounts, one connection each", len(ids)), Unit: "MB",
		Runs: []float64{float64(rss) / 1e6}, Target: "report",
		Note: fmt.Sprintf("%d projects in the database; JetStream enabled in every loaded account, no streams", b.existing)})

	// A stream with one message in StreamAccounts of the loaded accounts:
	// nats-server loads every account whose store holds streams at start.
	streamed, err := b.addStreams(conns)
	if err != nil {
		return err
	}
	time.Sleep(b.cfg.IdleSettle / 2)
	if rss, err = rssBytes(b.pb.pid()); err != nil {
		return err
	}
	b.add(&figure{Key: "rss_loaded_streams", Name: fmt.Sprintf("RSS with those %d accounts and a stream in %d of them", len(ids), len(streamed)), Unit: "MB",
		Runs: []float64{float64(rss) / 1e6}, Note: "as above, after a file stream with one message was created in every tenth account"})
	closeAll()
	return b.restartAfterUse(len(ids), streamed, creds)
}

// addStreams creates a file stream holding one message in every
// (len/StreamAccounts)-th account, through its open connection, and returns
// their indexes.
func (b *bench) addStreams(conns []*nats.Conn) ([]int, error) {
	if b.cfg.StreamAccounts <= 0 {
		return nil, nil
	}
	step := max(1, len(conns)/b.cfg.StreamAccounts)
	var idx []int
	for i := 0; i < len(conns) && len(idx) < b.cfg.StreamAccounts; i += step {
		idx = append(idx, i)
	}
	t := time.Now()
	_, _, err := parallel(b.cfg.LoadedWorkers, len(idx), func(k int) error {
		js, err := jetstream.New(conns[idx[k]])
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "USED", Subjects: []string{"used"}, Storage: jetstream.FileStorage}); err != nil {
			return fmt.Errorf("stream in account %d: %w", idx[k], err)
		}
		_, err = js.Publish(ctx, "used", []byte("x"))
		return err
	})
	if err != nil {
		return nil, err
	}
	b.logf("created %d streams in %s", len(idx), time.Since(t).Round(time.Millisecond))
	return idx, nil
}

// restartAfterUse: SIGTERM, start, until /api/health and a NATS connect
// succeed, with `used` accounts used since the data dir's last start (each
// had JetStream enabled) and a stream in the accounts at streamed; then the
// streams are checked to be back.
func (b *bench) restartAfterUse(used int, streamed []int, creds []bus.IssuedUser) error {
	var runs []float64
	for r := 0; r < b.cfg.RestartRuns; r++ {
		b.pb.stop()
		var prof <-chan error
		if r == 0 && b.pprofDir != "" {
			// The first start after use, from its first moments: pprofserve
			// listens before the app starts, so poll until it answers.
			prof = b.pb.profileStart(8*time.Second, filepath.Join(b.pprofDir, "restart-used.pprof"))
		}
		d, err := b.pb.start(b.cred.JWT, b.cred.Seed)
		if err != nil {
			return err
		}
		if prof != nil {
			if err := <-prof; err != nil {
				b.logf("profile restart-used: %v", err)
			}
		}
		runs = append(runs, d.Seconds())
	}
	b.add(&figure{Key: "restart_used", Name: fmt.Sprintf("restart to ready after %d accounts were used, %d with a stream", used, len(streamed)), Unit: "s", Runs: runs,
		Note: fmt.Sprintf("as the restart figure above, %d projects, after %d accounts were loaded once with JetStream enabled and %d of them were given a file stream with one message; every connection closed before the first restart",
			b.existing, used, len(streamed))})
	time.Sleep(b.cfg.IdleSettle / 2)
	rss, err := rssBytes(b.pb.pid())
	if err != nil {
		return err
	}
	b.add(&figure{Key: "rss_restart_used", Name: "RSS after that restart, no clients", Unit: "MB", Runs: []float64{float64(rss) / 1e6},
		Note: "VmRSS after the last restart of the figure above: what nats-server loads at start (the accounts with streams) stays loaded"})
	// The streams survived the restarts (if any: addStreams returns none
	// when StreamAccounts is 0 or no account was loaded).
	if len(streamed) == 0 {
		return nil
	}
	for _, i := range []int{streamed[0], streamed[len(streamed)-1]} {
		if err := checkStream(b.pb.NATSURL, creds[i]); err != nil {
			return fmt.Errorf("account %d after restart: %w", i, err)
		}
	}
	return nil
}

func checkStream(url string, c bus.IssuedUser) error {
	nc, err := nats.Connect(url, nats.UserJWTAndSeed(c.JWT, c.Seed), nats.NoReconnect(), nats.Timeout(20*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "USED")
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs != 1 {
		return fmt.Errorf("stream USED holds %d messages, want 1", info.State.Msgs)
	}
	return nil
}

const cpuNote = "user+system CPU time of the server process over each run (/proc/PID/stat, 10 ms ticks) divided by its operations: " +
	"less disturbed than a rate by other work on the shared machine"

// serverCPU runs fn and returns the serve process's CPU time per operation
// over it, in µs.
func (b *bench) serverCPU(ops int, fn func() error) (float64, error) {
	c0, err := cpuTime(b.pb.pid())
	if err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	c1, err := cpuTime(b.pb.pid())
	if err != nil {
		return 0, err
	}
	return float64((c1 - c0).Microseconds()) / float64(ops), nil
}

// sane reports whether a figure holds usable numbers.
func (f *figure) sane() error {
	if len(f.Runs) == 0 {
		return fmt.Errorf("%s: no runs", f.Key)
	}
	for _, v := range append([]float64{f.Value}, f.Runs...) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return fmt.Errorf("%s: value %v", f.Key, v)
		}
	}
	if f.latency() {
		for _, v := range []float64{f.P50, f.P99} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				return fmt.Errorf("%s: latency %v", f.Key, v)
			}
		}
		if f.P99 < f.P50 {
			return fmt.Errorf("%s: p99 %v < p50 %v", f.Key, f.P99, f.P50)
		}
	}
	return nil
}

// connects: new authenticated connections per second through Pocketbus, and
// through a stock nats-server in operator mode holding the same account JWT
// (interleaved), which separates NATS's own JWT authentication cost from
// anything Pocketbus adds.
func (b *bench) connects() error {
	op, err := bus.LoadOrCreateOperator(filepath.Join(b.pb.dir, "nats-operator"), "")
	if err != nil {
		return err
	}
	accPub, accJWT, err := accountJWT(b.pb.URL, b.projects[0].ID)
	if err != nil {
		return err
	}
	sa, err := startStandaloneOperator(b.natsBin, filepath.Join(b.tmp, "standalone-operator"),
		op.JWT(), op.SystemAccountPublicKey(), op.SystemAccountJWT(), accPub, accJWT)
	if err != nil {
		return err
	}
	defer sa.stop()
	var embLat, stdLat, embCPU, stdCPU []float64
	emb, std, err := b.interleave(b.cfg.ConnectRuns, func(embedded bool) (float64, error) {
		url, pid := sa.URL, sa.pid()
		if embedded {
			url, pid = b.pb.NATSURL, b.pb.pid()
		}
		cpu0, err := cpuTime(pid)
		if err != nil {
			return 0, err
		}
		defer func() {
			if cpu1, err := cpuTime(pid); err == nil {
				us := float64((cpu1 - cpu0).Microseconds()) / float64(b.cfg.Connects)
				if embedded {
					embCPU = append(embCPU, us)
				} else {
					stdCPU = append(stdCPU, us)
				}
			}
		}()
		var rate float64
		var lat []time.Duration
		run := func() (err error) {
			rate, lat, err = parallel(b.cfg.ConnectWorkers, b.cfg.Connects, func(int) error {
				nc, err := nats.Connect(url, nats.UserJWTAndSeed(b.cred.JWT, b.cred.Seed), nats.NoReconnect())
				if err != nil {
					return err
				}
				nc.Close()
				return nil
			})
			return err
		}
		if embedded && len(embLat) == 0 {
			err = b.profiled("connect", 2*time.Second, run) // only the Pocketbus process is profiled
		} else {
			err = run()
		}
		if embedded {
			embLat = append(embLat, millis(lat)...)
		} else {
			stdLat = append(stdLat, millis(lat)...)
		}
		return rate, err
	})
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%d × %d new TCP connections from %d concurrent clients, each authenticated (user JWT + signed nonce) then closed; runs interleaved with the standalone server",
		b.cfg.ConnectRuns, b.cfg.Connects, b.cfg.ConnectWorkers)
	f := b.add(&figure{Key: "connect", Name: "NATS connect with an issued JWT, Pocketbus", Unit: "connects/s", Runs: emb,
		P50: percentile(embLat, 50), P99: percentile(embLat, 99), Target: "≥ 3000/s", Note: note})
	f.Status = status(f.Value >= 3000)
	b.add(&figure{Key: "connect_standalone", Name: "NATS connect with the same JWT, standalone nats-server in operator mode", Unit: "connects/s", Runs: std,
		P50: percentile(stdLat, 50), P99: percentile(stdLat, 99),
		Note: "stock nats-server, operator mode, the project's account JWT preloaded in a memory resolver; same credential, same load"})
	ratios := make([]float64, len(emb))
	for i := range emb {
		ratios[i] = emb[i] / std[i]
	}
	b.add(&figure{Key: "connect_ratio", Name: "NATS connect, ratio Pocketbus/standalone", Unit: "×", Runs: ratios})
	b.add(&figure{Key: "connect_cpu", Name: "NATS connect, server CPU per connect, Pocketbus", Unit: "µs", Runs: embCPU, Note: cpuNote})
	b.add(&figure{Key: "connect_cpu_standalone", Name: "NATS connect, server CPU per connect, standalone nats-server", Unit: "µs", Runs: stdCPU, Note: cpuNote})
	return nil
}

// Command pocketbus-bench measures Pocketbus against the targets of its
// benchmark issue and writes BENCHMARKS.md. It builds `pocketbus` and a stock
// `nats-server` (same module version) into a temporary directory and runs
// them as real processes on loopback; nothing here runs inside the server.
//
//	go run ./cmd/pocketbus-bench                 # full run, writes BENCHMARKS.md (make bench)
//	go run ./cmd/pocketbus-bench -smoke -out x.md  # seconds; what `make test` runs
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"
)

// config sizes one bench run.
type config struct {
	Smoke bool

	MsgRuns          int // interleaved embedded/standalone pairs
	Msgs128, Msgs16K int
	JSRuns, JSMsgs   int

	Levels         []int // existing projects before each provisioning measurement
	ProvRuns       int   // runs of CreatesPerRun sequential creates at each level
	CreatesPerRun  int
	IssueRuns      int
	Issues         int // per run
	IssueWorkers   int
	ConnectRuns    int
	Connects       int // per run
	ConnectWorkers int
	RevokeRuns     int
	Revokes        int // per run
	RestartRuns    int
	IdleSettle     time.Duration
	LoadedAccounts int
	LoadedWorkers  int
	// First connects are measured in a window of LoadWindow accounts ending
	// at each checkpoint (accounts loaded), e.g. the loads 501-1000 for 1k.
	LoadCheckpoints []int
	LoadWindow      int
	StreamAccounts  int    // loaded accounts given a stream before the restart-after-use figure
	ServerMaxMemory string // --nats-max-memory / --nats-max-disk of the bench server
	ServerMaxDisk   string
}

func fullConfig() config {
	return config{
		MsgRuns: 15, Msgs128: 1_000_000, Msgs16K: 50_000,
		JSRuns: 15, JSMsgs: 100_000,
		Levels: []int{0, 1_000, 10_000, 100_000}, ProvRuns: 5, CreatesPerRun: 300,
		IssueRuns: 3, Issues: 3_000, IssueWorkers: 8,
		ConnectRuns: 3, Connects: 6_000, ConnectWorkers: 8,
		RevokeRuns: 3, Revokes: 50,
		RestartRuns: 3, IdleSettle: 10 * time.Second,
		LoadedAccounts: 10_000, LoadedWorkers: 16,
		LoadCheckpoints: []int{1_000, 5_000, 10_000}, LoadWindow: 500, StreamAccounts: 1_000,
		ServerMaxMemory: "64T", ServerMaxDisk: "64T",
	}
}

func smokeConfig() config {
	return config{
		Smoke:   true,
		MsgRuns: 1, Msgs128: 20_000, Msgs16K: 2_000,
		JSRuns: 1, JSMsgs: 2_000,
		Levels: []int{0, 20, 100}, ProvRuns: 1, CreatesPerRun: 10,
		IssueRuns: 1, Issues: 40, IssueWorkers: 4,
		ConnectRuns: 1, Connects: 50, ConnectWorkers: 4,
		RevokeRuns: 1, Revokes: 5,
		RestartRuns: 1, IdleSettle: 200 * time.Millisecond,
		LoadedAccounts: 20, LoadedWorkers: 4,
		LoadCheckpoints: []int{5, 10, 20}, LoadWindow: 3, StreamAccounts: 4,
		ServerMaxMemory: "64T", ServerMaxDisk: "64T",
	}
}

func main() {
	smoke := flag.Bool("smoke", false, "tiny sizes, seconds: checks the harness, not the product")
	out := flag.String("out", "BENCHMARKS.md", "report to write")
	keep := flag.Bool("keep", false, "keep the temporary data directories")
	only := flag.String("only", "", "comma-separated sections to run (msg,js,provision,issue,connect,revoke,restart,memory); default all. "+
		"memory: idle RSS, first connects at 1k/5k/10k loaded accounts, RSS loaded, restart after 10k accounts were used")
	levels := flag.String("levels", "", "override the existing-project levels, e.g. 0,1000,10000")
	pprofDir := flag.String("pprof", "", "directory for CPU profiles of the server (runs a pocketbus build with net/http/pprof)")
	pbBin := flag.String("pocketbus-bin", "", "use this pocketbus binary instead of building ./cmd/pocketbus (before/after comparisons)")
	flag.Parse()

	cfg := fullConfig()
	if *smoke {
		cfg = smokeConfig()
	}
	if *levels != "" {
		var ls []int
		for _, s := range strings.Split(*levels, ",") {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil {
				log.Fatalf("-levels: %v", err)
			}
			ls = append(ls, n)
		}
		cfg.Levels = ls
	}
	b := &bench{cfg: cfg, keep: *keep, logf: log.Printf, command: "go run ./cmd/pocketbus-bench " + strings.Join(os.Args[1:], " ")}
	b.pbBinOverride = *pbBin
	if *pprofDir != "" {
		if err := os.MkdirAll(*pprofDir, 0o755); err != nil {
			log.Fatal(err)
		}
		b.pprofDir = *pprofDir
	}
	if *only != "" {
		b.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			b.only[strings.TrimSpace(s)] = true
		}
	}
	start := time.Now()
	res, err := b.run()
	if err != nil {
		log.Fatalf("bench: %v", err)
	}
	res.Elapsed = time.Since(start)
	if err := os.WriteFile(*out, []byte(res.markdown()), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.summary())
	log.Printf("wrote %s in %s", *out, res.Elapsed.Round(time.Second))
}

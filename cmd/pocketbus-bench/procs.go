package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pocketbus/pocketbus/internal/proc"
)

// buildBinaries compiles pocketbus and a stock nats-server (the module's own
// main package, the version go.mod pins) into dir.
// With profiling, "pocketbus" is cmd/pocketbus-bench/pprofserve: the same
// app plus net/http/pprof.
func buildBinaries(dir string, profiling bool) (pocketbus, natsServer string, err error) {
	pocketbus = filepath.Join(dir, "pocketbus")
	natsServer = filepath.Join(dir, "nats-server")
	pbPkg := "github.com/pocketbus/pocketbus/cmd/pocketbus"
	if profiling {
		pbPkg = "github.com/pocketbus/pocketbus/cmd/pocketbus-bench/pprofserve"
	}
	for _, b := range []struct{ out, pkg string }{
		{pocketbus, pbPkg},
		{natsServer, "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return pocketbus, natsServer, nil
}

// tail is the end of a child's log, for error messages.
func tail(p *proc.Process) string {
	b := p.Output()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return b
}

// rssBytes reads the resident set size of a process from /proc.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// cpuTime is the user+system CPU time a process has used so far, from
// /proc/PID/stat (clock ticks of 10 ms). CPU per operation is what a shared
// machine disturbs least: other work slows a run down but does not add to
// the server's own CPU time.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces, in parentheses).
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// pocketbus is one `pocketbus serve` on fixed loopback ports, so that it can
// be stopped and started again on the same addresses.
type pocketbus struct {
	bin, dir string
	httpPort int
	natsPort int
	URL      string
	NATSURL  string
	args     []string
	p        *proc.Process

	pprofAddr string // net/http/pprof of a pprofserve binary
}

const (
	superEmail = "bench@pocketbus.test"
	superPass  = "benchpass123"
)

func newPocketbus(bin, dir string, extra ...string) (*pocketbus, error) {
	up := exec.Command(bin, "superuser", "upsert", superEmail, superPass, "--dir", dir)
	if out, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("superuser upsert: %v: %s", err, out)
	}
	hp, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	np, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	pb := &pocketbus{bin: bin, dir: dir, httpPort: hp, natsPort: np,
		URL:     fmt.Sprintf("http://127.0.0.1:%d", hp),
		NATSURL: fmt.Sprintf("nats://127.0.0.1:%d", np),
	}
	if pprofPort, err := proc.FreePort(); err == nil {
		pb.pprofAddr = fmt.Sprintf("127.0.0.1:%d", pprofPort)
	}
	pb.args = append([]string{"serve", "--dir", dir,
		"--http", fmt.Sprintf("127.0.0.1:%d", hp),
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", np),
		"--nats-ws-listen", "127.0.0.1:0"}, extra...)
	return pb, nil
}

// start runs serve and returns once /api/health answers 200 (and, if creds
// are given, a NATS connection with them succeeds): the "ready" of the
// restart figure. It returns the time from exec to ready.
func (pb *pocketbus) start(jwt, seed string) (time.Duration, error) {
	t0 := time.Now()
	// Rate limits off (the environment variable, which older binaries
	// ignore): the benchmark is one client address making thousands of calls.
	p, err := proc.Start(pb.bin, pb.args, filepath.Join(pb.dir, "serve.log"), "POCKETBUS_BENCH_PPROF_ADDR="+pb.pprofAddr, "POCKETBUS_RATE_LIMITS=false")
	if err != nil {
		return 0, err
	}
	pb.p = p
	client := &http.Client{Timeout: 2 * time.Second}
	httpOK, natsOK := false, jwt == ""
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return 0, fmt.Errorf("pocketbus exited early: %s", tail(p))
		}
		if !httpOK {
			if resp, err := client.Get(pb.URL + "/api/health"); err == nil {
				resp.Body.Close()
				httpOK = resp.StatusCode == 200
			}
		}
		if !natsOK {
			if nc, err := nats.Connect(pb.NATSURL, nats.UserJWTAndSeed(jwt, seed), nats.NoReconnect(), nats.Timeout(2*time.Second)); err == nil {
				nc.Close()
				natsOK = true
			}
		}
		if httpOK && natsOK {
			return time.Since(t0), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("pocketbus did not become ready: %s", tail(p))
}

func (pb *pocketbus) stop()          { pb.p.Stop(30 * time.Second) }
func (pb *pocketbus) pid() int       { return pb.p.Pid() }
func (pb *pocketbus) dbPath() string { return filepath.Join(pb.dir, "data.db") }

// standalone is a stock nats-server with JetStream, no auth.
type standalone struct {
	URL string
	p   *proc.Process
}

func startStandalone(bin, dir string) (*standalone, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "js")
	p, err := proc.Start(bin, []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", store}, filepath.Join(dir, "nats-server.log"))
	if err != nil {
		return nil, err
	}
	s := &standalone{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), p: p}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return nil, fmt.Errorf("nats-server exited: %s", tail(p))
		}
		if nc, err := nats.Connect(s.URL, nats.NoReconnect()); err == nil {
			js, _ := nc.JetStream()
			_, jerr := js.AccountInfo()
			nc.Close()
			if jerr == nil {
				return s, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop(30 * time.Second)
	return nil, fmt.Errorf("nats-server did not become ready: %s", tail(p))
}

func (s *standalone) stop()    { s.p.Stop(30 * time.Second) }
func (s *standalone) pid() int { return s.p.Pid() }

// profile fetches a CPU profile of the server over the next d into path
// (only when the server is the pprofserve build).
func (pb *pocketbus) profile(d time.Duration, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pb.pprofAddr, int(d.Seconds())))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		f.Close()
		done <- err
	}()
	return done
}

// profileStart is profile for a server that is about to be started: it
// retries until the pprof listener answers (for up to 5 s).
func (pb *pocketbus) profileStart(d time.Duration, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.Dial("tcp", pb.pprofAddr)
			if err == nil {
				c.Close()
				done <- <-pb.profile(d, path)
				return
			}
			if time.Now().After(deadline) {
				done <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return done
}

// startStandaloneOperator runs a stock nats-server in operator mode with the
// data dir's operator, its system account and one account JWT preloaded
// (memory resolver): the same authentication work as Pocketbus, without
// Pocketbus. Credentials issued by Pocketbus for that account work on it.
func startStandaloneOperator(bin, dir, opJWT, sysPub, sysJWT, accPub, accJWT string) (*standalone, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("listen: \"127.0.0.1:%d\"\noperator: %q\nsystem_account: %q\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n",
		port, opJWT, sysPub, sysPub, sysJWT, accPub, accJWT)
	confPath := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	p, err := proc.Start(bin, []string{"-c", confPath}, filepath.Join(dir, "nats-server.log"))
	if err != nil {
		return nil, err
	}
	s := &standalone{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), p: p}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return nil, fmt.Errorf("nats-server (operator mode) exited: %s", tail(p))
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop(30 * time.Second)
	return nil, fmt.Errorf("nats-server (operator mode) did not become ready: %s", tail(p))
}

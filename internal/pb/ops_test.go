package pb_test

// Operations (SPEC §8): start-up failures, one process per data dir, sizes,
// health, metrics and NATS monitoring, TLS, advertised URLs, the CLI.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pocketbus/pocketbus/internal/proc"
)

// runFailing runs the binary, which must exit non-zero within 5 s; it
// returns stderr and how long the exit took. A failure is reported with
// t.Errorf (ok false), so that a table of cases shows every one.
func runFailing(t *testing.T, env []string, args ...string) (stderr string, took time.Duration, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var errBuf, outBuf bytes.Buffer
	cmd.Stderr, cmd.Stdout = &errBuf, &outBuf
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("%v: still running after %s (stdout %.300q, stderr %.300q)", args, took, outBuf.String(), errBuf.String())
	case err == nil:
		t.Errorf("%v: exit 0 after %s, want non-zero (stdout %.300q, stderr %.300q)", args, took, outBuf.String(), errBuf.String())
	case !errors.As(err, &exit):
		t.Errorf("%v: %v", args, err)
	case took > 5*time.Second:
		t.Errorf("%v: exit after %s, want ≤ 5 s: %s", args, took, errBuf.String())
	default:
		return errBuf.String(), took, true
	}
	return errBuf.String(), took, false
}

// holdPort listens on a free loopback port for the test's lifetime.
func holdPort(t *testing.T) (addr string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), l.Addr().(*net.TCPAddr).Port
}

func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// Every start-up failure exits non-zero within 5 s with its cause on
// stderr: ports in use, bad sizes, an unwritable store, a wrong key.
func TestStartupFailuresExitFast(t *testing.T) {
	dir := t.TempDir()
	held, _ := holdPort(t)
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o600)
	base := func(extra ...string) []string {
		return append([]string{"serve", "--dir", dir, "--http", freeAddr(t), "--nats-listen", "127.0.0.1:0",
			"--nats-ws-listen", "127.0.0.1:0"}, extra...)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"HTTP port in use", nil, base("--http", held), []string{held, "address already in use"}},
		{"NATS port in use", nil, base("--nats-listen", held), []string{held, "address already in use"}},
		{"WebSocket port in use", nil, base("--nats-ws-listen", held), []string{held, "address already in use", "websocket"}},
		{"monitor port in use", nil, base("--nats-monitor-listen", held), []string{held, "address already in use"}},
		{"metrics port in use", nil, base("--metrics-listen", held), []string{"--metrics-listen", "address already in use"}},
		{"nonsense size", nil, base("--nats-max-memory", "lots"), []string{"--nats-max-memory", `"lots"`}},
		{"overflowing size", nil, base("--nats-max-disk", "99999999999T"), []string{"--nats-max-disk", "99999999999T"}},
		{"bad listen address", nil, base("--nats-listen", "127.0.0.1:99999"), []string{"--nats-listen", "99999"}},
		{"unwritable store", nil, base("--nats-store", filepath.Join(file, "store")), []string{"--nats-store", "not a directory"}},
		{"wildcard advertise", nil, base("--nats-advertise", "nats://0.0.0.0:4222"), []string{"--nats-advertise", "0.0.0.0"}},
		{"TLS key without cert", nil, base("--nats-tls-key", file), []string{"--nats-tls-key"}},
		{"unknown flag", nil, base("--nats-lisen", "x"), []string{"unknown flag", "--nats-lisen"}},
	}
	for _, c := range cases {
		stderr, took, ok := runFailing(t, c.env, c.args...)
		if !ok {
			t.Errorf("%s: see above", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, stderr)
			}
		}
		t.Logf("%s: exit after %s: %s", c.name, took.Round(time.Millisecond), strings.TrimSpace(stderr))
	}

	// The operator's seeds encrypted with one key, started with another.
	keyDir := t.TempDir()
	up := exec.Command(binPath, "superuser", "upsert", superEmail, superPass, "--dir", keyDir, "--encryptionEnv", "PB_KEY")
	up.Env = append(os.Environ(), "PB_KEY=0123456789abcdef0123456789abcdef")
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("superuser upsert: %v: %s", err, out)
	}
	stderr, took, _ := runFailing(t, []string{"PB_KEY=fedcba9876543210fedcba9876543210"},
		"serve", "--dir", keyDir, "--encryptionEnv", "PB_KEY", "--http", freeAddr(t), "--nats-listen", "127.0.0.1:0")
	if !strings.Contains(stderr, "encryption key") || !strings.Contains(stderr, "PB_KEY") {
		t.Fatalf("wrong key: stderr %q", stderr)
	}
	t.Logf("wrong encryption key: exit after %s", took.Round(time.Millisecond))
}

// One process per data dir: a second serve on the same --dir, or on the
// same --nats-store, exits at once naming the locked path. superuser
// upsert keeps working beside serve; migrate does not (it changes the
// schema under the running server).
func TestOneProcessPerDataDir(t *testing.T) {
	inst := startInstance(t, "")
	store := filepath.Join(t.TempDir(), "store")
	storeInst := startInstance(t, "", "--nats-store", store)
	// PocketBase's temp dir (a backup or restore in progress) is the
	// running server's: a refused second start leaves it alone.
	planted := filepath.Join(inst.dir, ".pb_temp_to_delete", "in-progress")
	if err := os.MkdirAll(filepath.Dir(planted), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planted, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	stderr, took, _ := runFailing(t, nil, "serve", "--dir", inst.dir, "--http", freeAddr(t), "--nats-listen", "127.0.0.1:0")
	if !strings.Contains(stderr, filepath.Join(inst.dir, "pocketbus.lock")) || !strings.Contains(stderr, "in use") {
		t.Fatalf("second serve on the same --dir: %s", stderr)
	}
	if _, err := os.Stat(planted); err != nil {
		t.Fatalf("the refused second serve touched the running server's temp dir: %v", err)
	}
	t.Logf("same --dir: exit after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr))

	stderr, took, _ = runFailing(t, nil, "serve", "--dir", t.TempDir(), "--http", freeAddr(t), "--nats-listen", "127.0.0.1:0",
		"--nats-store", store)
	if !strings.Contains(stderr, filepath.Join(store, "pocketbus.lock")) || !strings.Contains(stderr, "--nats-store") {
		t.Fatalf("second serve on the same --nats-store: %s", stderr)
	}
	t.Logf("same --nats-store: exit after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr))

	stderr, _, _ = runFailing(t, nil, "migrate", "up", "--dir", inst.dir)
	if !strings.Contains(stderr, "pocketbus.lock") {
		t.Fatalf("migrate beside serve: %s", stderr)
	}
	if _, err := os.Stat(planted); err != nil {
		t.Fatalf("the refused migrate touched the running server's temp dir: %v", err)
	}
	if out, err := exec.Command(binPath, "superuser", "upsert", "second@pocketbus.test", "password123", "--dir", inst.dir).CombinedOutput(); err != nil {
		t.Fatalf("superuser upsert beside serve: %v: %s", err, out)
	}
	superuser(t, inst)
	// Both servers still serve.
	anonymous(t, inst).must(200, "GET", "/api/health", nil)
	anonymous(t, storeInst).must(200, "GET", "/api/health", nil)

	// The lock goes with the process: after a crash the dir starts again.
	inst.kill()
	if err := inst.start(); err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
}

// Sizes go through go-humanize: powers of 1000 and of 1024, fractions.
// The JetStream totals show in the metrics and in nats-server's /varz.
func TestMetricsAndNATSMonitoring(t *testing.T) {
	metricsAddr, monitorAddr := freeAddr(t), freeAddr(t)
	// The rate limiter on (the harness turns it off): its 429s are counted.
	inst := startInstance(t, "", "--metrics-listen", metricsAddr, "--nats-monitor-listen", monitorAddr,
		"--nats-max-memory", "512MiB", "--nats-max-disk", "15.5G", "--rate-limits=true")
	metricsURL, monitorURL := "http://"+metricsAddr+"/metrics", "http://"+monitorAddr

	before := scrape(t, metricsURL)
	if v := metric(t, before, "nats_jetstream_memory_max_bytes"); v != 512<<20 {
		t.Fatalf("JetStream memory total %v, want 512MiB", v)
	}
	if v := metric(t, before, "nats_jetstream_storage_max_bytes"); v != 15.5e9 {
		t.Fatalf("JetStream storage total %v, want 15.5G", v)
	}
	if v := metric(t, before, "pocketbus_nats_ready"); v != 1 {
		t.Fatalf("pocketbus_nats_ready %v", v)
	}
	var varz struct {
		JetStream struct {
			Config struct {
				MaxMemory int64 `json:"max_memory"`
			} `json:"config"`
		} `json:"jetstream"`
		Connections int `json:"connections"`
	}
	getJSON(t, monitorURL+"/varz", &varz)
	if varz.JetStream.Config.MaxMemory != 512<<20 {
		t.Fatalf("/varz JetStream max memory %d", varz.JetStream.Config.MaxMemory)
	}

	u := signUp(t, inst, "Metrics")
	project := u.createProject(u.MyGroup, "metrics")
	pid, account := project["id"].(string), project["account"].(string)
	unused := u.createProject(u.MyGroup, "never-used")["account"].(string)
	nc := mustConnect(t, inst.NATSURL, u.issue(pid, nil))
	for i := 0; i < 10; i++ {
		nc.Publish("m", []byte("0123456789"))
	}
	nc.Flush()

	after := scrape(t, metricsURL)
	for _, c := range []struct {
		name string
		min  float64
	}{
		{"pocketbus_projects", 2}, {"pocketbus_credentials_issued", 1}, {"nats_connections", 1},
		{"nats_in_msgs_total", 10}, {"nats_in_bytes_total", 100}, {"nats_accounts_loaded", 1},
	} {
		if d := metric(t, after, c.name) - metric(t, before, c.name); d < c.min {
			t.Fatalf("%s grew by %v, want ≥ %v", c.name, d, c.min)
		}
	}
	labels := fmt.Sprintf(`account="%s",project="%s"`, account, pid)
	if v := metric(t, after, "nats_account_connections{"+labels+"}"); v != 1 {
		t.Fatalf("nats_account_connections of the project: %v\n%s", v, after)
	}
	if v := metric(t, after, "nats_account_in_msgs_total{"+labels+"}"); v != 10 {
		t.Fatalf("nats_account_in_msgs_total of the project: %v", v)
	}
	if v := metric(t, after, `pocketbus_http_requests_total{route="POST /api/pocketbus/projects/{id}/credentials",status="200"}`); v != 1 {
		t.Fatalf("credential issue requests by route: %v", v)
	}
	// Per-project series exist only for accounts nats-server has loaded.
	if strings.Contains(after, unused) {
		t.Fatal("a project nobody connected to has series")
	}
	if strings.Contains(after, pid+"/credentials") {
		t.Fatal("a request path with an id became a label")
	}

	// Requests that PocketBase's rate limiter answers (before any handler)
	// are counted too.
	limited := 0
	for i := 0; i < 10; i++ {
		st, _, err := anonymous(t, inst).call("POST", "/api/collections/users/auth-with-password",
			map[string]any{"identity": u.Email, "password": "wrong"})
		if err != nil {
			t.Fatal(err)
		}
		if st == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("10 quick sign-in attempts were never rate-limited")
	}
	if v := metric(t, scrape(t, metricsURL), `pocketbus_http_requests_total{route="POST /api/collections/{collection}/auth-with-password",status="429"}`); v != float64(limited) {
		t.Fatalf("rate-limited sign-ins counted %v, want %d", v, limited)
	}

	// nats-server's own monitoring sees the same connection.
	var connz struct {
		Connections []struct {
			Account string `json:"account"`
		} `json:"connections"`
	}
	getJSON(t, monitorURL+"/connz?auth=1", &connz)
	found := false
	for _, c := range connz.Connections {
		found = found || c.Account == account
	}
	if !found {
		t.Fatalf("/connz does not list the project's connection: %+v", connz)
	}
	var healthz map[string]any
	getJSON(t, monitorURL+"/healthz", &healthz)
	if healthz["status"] != "ok" {
		t.Fatalf("/healthz %v", healthz)
	}
	var accountz struct {
		Accounts []string `json:"accounts"`
	}
	getJSON(t, monitorURL+"/accountz", &accountz)
	if !strings.Contains(strings.Join(accountz.Accounts, ","), account) {
		t.Fatalf("/accountz %v", accountz.Accounts)
	}
	getJSON(t, monitorURL+"/jsz", &map[string]any{})

	// On the HTTP port these are JSON 404s, not the web app's page.
	for _, p := range []string{"/metrics", "/healthz", "/varz", "/connz"} {
		resp, err := http.Get(inst.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s on the HTTP port: %d %s %.80s", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// metric reads one sample from Prometheus text: name, or name{labels} with
// the labels in the exposition's (sorted) order. Missing is 0.
func metric(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("GET %s: %v: %.200s", url, err, b)
	}
}

// With no superuser yet, serve's hint names a command that works here:
// PocketBase's says `go run . superuser upsert` (the module root has no
// main package). The test binary lives in the temp dir, which PocketBase
// takes for `go run`.
func TestFirstSuperuserHint(t *testing.T) {
	dir := t.TempDir()
	port, _ := proc.FreePort()
	p, err := proc.Start(binPath, []string{"serve", "--dir", dir, "--http", fmt.Sprintf("127.0.0.1:%d", port),
		"--nats-listen", "127.0.0.1:0"}, filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	waitFor(t, 20*time.Second, "the first-superuser hint", func() bool { return strings.Contains(p.Output(), "superuser upsert") })
	out := p.Output()
	if strings.Contains(out, "go run . superuser") || !strings.Contains(out, "go run ./cmd/pocketbus superuser upsert EMAIL PASS --dir "+dir) {
		t.Fatalf("hint:\n%s", out)
	}
}

// Sizes are go-humanize's, so 1G is 10⁹ bytes where it was 2³⁰: a server
// restarted with totals below what its projects reserve says so at start.
func TestOvercommitWarning(t *testing.T) {
	dir := t.TempDir()
	inst := startInstance(t, dir, "--nats-max-memory", "1GiB", "--nats-max-disk", "1GiB")
	alice := signUp(t, inst, "Alice")
	unlimited(t, superuser(t, inst), alice)
	for i := 0; i < 4; i++ { // 4 × 256 MiB: the whole GiB
		alice.createProject(alice.MyGroup, fmt.Sprintf("p%d", i))
	}
	if strings.Contains(inst.logs(), "Warning: projects reserve") {
		t.Fatalf("warned without overcommitment:\n%s", inst.logs())
	}
	inst.stop()
	inst.args = append(inst.args, "--nats-max-disk", "1G")
	if err := inst.start(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inst.logs(), "Warning: projects reserve 1.0 GiB of JetStream disk but the server has 954 MiB (--nats-max-disk)") {
		t.Fatalf("no overcommitment warning:\n%s", inst.logs())
	}
}

// GET /api/health is 503 while NATS cannot serve clients: here the
// external cluster of a --nats-url instance goes away and comes back.
func TestHealthFollowsNATS(t *testing.T) {
	dir := t.TempDir()
	// superuser upsert makes the data dir and its operator.
	mustRun(t, "superuser", "upsert", superEmail, superPass, "--dir", dir)
	out := mustRun(t, "nats", "operator", "--dir", dir, "--resolver-dir", filepath.Join(dir, "ext-jwt"))
	port, _ := proc.FreePort()
	conf := filepath.Join(dir, "ext.conf")
	head := fmt.Sprintf("listen: 127.0.0.1:%d\njetstream: {store_dir: %q}\n", port, filepath.Join(dir, "ext-js"))
	os.WriteFile(conf, append([]byte(head), out...), 0o600)
	ext := startExternal(t, conf)
	defer func() { ext.Shutdown() }()
	inst := startInstance(t, dir, "--nats-url", ext.ClientURL())
	anon := anonymous(t, inst)
	anon.must(200, "GET", "/api/health", nil)

	ext.Shutdown()
	ext.WaitForShutdown()
	start := time.Now()
	var body map[string]any
	waitFor(t, 5*time.Second, "/api/health to report NATS down", func() bool {
		var st int
		st, body = anon.do("GET", "/api/health", nil)
		return st == 503
	})
	if msg, _ := body["message"].(string); !strings.Contains(msg, "NATS") {
		t.Fatalf("503 body %v", body)
	}
	t.Logf("503 %s after the cluster went away: %v", time.Since(start).Round(time.Millisecond), body["message"])

	ext = startExternal(t, conf)
	waitFor(t, 15*time.Second, "/api/health back to 200", func() bool {
		st, _ := anon.do("GET", "/api/health", nil)
		return st == 200
	})
}

// TLS on the embedded client port and its WebSocket listener: a client
// that trusts the CA connects, a plain one is refused, and the web app's
// /nats keeps working (it proxies to wss then).
func TestNATSTLS(t *testing.T) {
	caPEM, certFile, keyFile := writeCert(t, t.TempDir(), "127.0.0.1")
	inst := startInstance(t, "", "--nats-tls-cert", certFile, "--nats-tls-key", keyFile)
	if !strings.HasPrefix(inst.NATSURL, "tls://127.0.0.1:") {
		t.Fatalf("info nats.url %s", inst.NATSURL)
	}
	u := signUp(t, inst, "TLS")
	pid := u.createProject(u.MyGroup, "tls")["id"].(string)
	cred := u.issue(pid, nil)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	nc := mustConnect(t, inst.NATSURL, cred, nats.Secure(&tls.Config{RootCAs: pool}))
	// A plain client (nats.go would upgrade by itself, so speak the
	// protocol over TCP): the server asks for TLS and does not answer a
	// plain CONNECT/PING.
	if reply := plainNATS(t, strings.TrimPrefix(inst.NATSURL, "tls://"), cred); reply != "" {
		t.Fatalf("a plain client got %q", reply)
	}
	if c, err := connect(t, inst.NATSURL, cred); err == nil {
		c.Close()
		t.Fatal("a client that does not trust the CA connected")
	}

	tok := u.must(200, "POST", "/api/pocketbus/projects/"+pid+"/token", nil)
	wsURL := strings.Replace(inst.URL, "http://", "ws://", 1) + "/nats"
	if tok["ws_url"] != wsURL {
		t.Fatalf("token ws_url %v, want %s", tok["ws_url"], wsURL)
	}
	browser, err := nats.Connect(wsURL, nats.UserJWTAndSeed(tok["jwt"].(string), tok["seed"].(string)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("web token through /nats to the wss listener: %v", err)
	}
	defer browser.Close()
	sub, _ := browser.SubscribeSync("tls.test")
	browser.Flush()
	nc.Publish("tls.test", []byte("over tls"))
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "over tls" {
		t.Fatalf("message through the proxied wss: %v", err)
	}
}

// plainNATS sends CONNECT (with the credential's JWT) and PING in plain
// text after the server's INFO, which must require TLS; it returns what
// the server answered ("" when it closed the connection instead).
func plainNATS(t *testing.T, addr string, cred map[string]any) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	rd := bufio.NewReader(c)
	info, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q %v", info, err)
	}
	connect, _ := json.Marshal(map[string]any{"jwt": cred["jwt"], "verbose": false, "pedantic": false, "protocol": 1})
	fmt.Fprintf(c, "CONNECT %s\r\nPING\r\n", connect)
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Logf("plain client: connection closed (%v)", err)
		return ""
	}
	return line
}

func writeCert(t *testing.T, dir, host string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pocketbus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(host)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}

// infoAs reads /api/pocketbus/info with a Host header and extra headers.
func infoAs(t *testing.T, inst *instance, host string, headers map[string]string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest("GET", inst.URL+"/api/pocketbus/info", nil)
	if host != "" {
		req.Host = host
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		NATS map[string]string `json:"nats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("info: %d %v", resp.StatusCode, err)
	}
	return out.NATS
}

// Without --nats-advertise, a 0.0.0.0 listener is shown with the host the
// request came to, on the NATS port; ws_url is the app's own origin +
// /nats, behind a trusted proxy as the proxy says.
func TestAdvertisedURLs(t *testing.T) {
	inst := startInstance(t, "", "--nats-listen", "0.0.0.0:0")
	natsPort := inst.NATSURL[strings.LastIndex(inst.NATSURL, ":")+1:]
	httpPort := inst.URL[strings.LastIndex(inst.URL, ":")+1:]
	if inst.NATSURL != "nats://127.0.0.1:"+natsPort {
		t.Fatalf("info nats.url %s", inst.NATSURL)
	}
	got := infoAs(t, inst, "pocketbus.example:"+httpPort, nil)
	if got["url"] != "nats://pocketbus.example:"+natsPort || got["ws_url"] != "ws://pocketbus.example:"+httpPort+"/nats" {
		t.Fatalf("info as pocketbus.example: %v", got)
	}
	got = infoAs(t, inst, "[::1]:"+httpPort, nil)
	if got["url"] != "nats://[::1]:"+natsPort {
		t.Fatalf("info as [::1]: %v", got)
	}
	// Issued credentials connect on the URL as shown.
	u := signUp(t, inst, "Adv")
	pid := u.createProject(u.MyGroup, "adv")["id"].(string)
	mustConnect(t, inst.NATSURL, u.issue(pid, nil)).Close()

	// Forwarded headers count only once PocketBase trusts a proxy.
	fwd := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-For": "203.0.113.9"}
	if got := infoAs(t, inst, "", fwd); strings.Contains(got["ws_url"], "app.example.com") {
		t.Fatalf("untrusted forwarded headers honoured: %v", got)
	}
	superuser(t, inst).must(200, "PATCH", "/api/settings", map[string]any{"trustedProxy": map[string]any{"headers": []string{"X-Forwarded-For"}}})
	if got := infoAs(t, inst, "", fwd); got["ws_url"] != "wss://app.example.com/nats" || got["url"] != "nats://app.example.com:"+natsPort {
		t.Fatalf("behind a trusted proxy: %v", got)
	}
	tok := u.must(200, "POST", "/api/pocketbus/projects/"+pid+"/token", nil)
	if tok["ws_url"] != strings.Replace(inst.URL, "http://", "ws://", 1)+"/nats" {
		t.Fatalf("token ws_url %v", tok["ws_url"])
	}

	// --nats-advertise is shown as given; --nats-ws-advertise replaces ws_url.
	list := "nats://nats1.example.com:4222,tls://nats2.example.com:4443"
	adv := startInstance(t, "", "--nats-advertise", list, "--nats-ws-advertise", "wss://ws.example.com/nats")
	if got := infoAs(t, adv, "", nil); got["url"] != list || got["ws_url"] != "wss://ws.example.com/nats" {
		t.Fatalf("advertised: %v", got)
	}
}

// The CLI: --version is info's version; migrate is PocketBase's; NATS flags
// only on serve; `nats operator` refuses a dir without an operator; `nats
// sys-creds` answers $SYS.REQ.SERVER.PING.
func TestCommands(t *testing.T) {
	inst := startInstance(t, "")
	out, err := exec.Command(binPath, "--version").Output()
	info := anonymous(t, inst).must(200, "GET", "/api/pocketbus/info", nil)
	if err != nil || strings.TrimSpace(string(out)) != info["version"] {
		t.Fatalf("--version %q (%v), info version %v", out, err, info["version"])
	}

	fresh := t.TempDir()
	out, err = exec.Command(binPath, "migrate", "up", "--dir", fresh).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate up: %v: %s", err, out)
	}
	if out, err := exec.Command(binPath, "migrate", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "history-sync") {
		t.Fatalf("migrate --help: %v: %s", err, out)
	}

	for _, c := range [][]string{{"superuser", "--help"}, {"migrate", "--help"}, {"nats", "operator", "--help"}} {
		out, _ := exec.Command(binPath, c...).CombinedOutput()
		if strings.Contains(string(out), "--nats-listen") || strings.Contains(string(out), "--nats-store") || strings.Contains(string(out), "--metrics-listen") {
			t.Fatalf("%v lists serve's NATS flags:\n%s", c, out)
		}
	}
	out, _ = exec.Command(binPath, "serve", "--help").CombinedOutput()
	for _, f := range []string{"--nats-listen", "--nats-advertise", "--nats-tls-cert", "--nats-monitor-listen", "--metrics-listen", "--rate-limits"} {
		if !strings.Contains(string(out), f) {
			t.Fatalf("serve --help lacks %s", f)
		}
	}
	if !strings.Contains(string(mustRun(t, "nats", "operator", "--help")), "--resolver-dir") {
		t.Fatal("nats operator lost --resolver-dir")
	}

	empty := filepath.Join(t.TempDir(), "typo")
	stderr, _, _ := runFailing(t, nil, "nats", "operator", "--dir", empty)
	if !strings.Contains(stderr, "no Pocketbus operator") {
		t.Fatalf("nats operator on an empty dir: %s", stderr)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("nats operator created %s", empty)
	}
	if stderr, _, _ := runFailing(t, nil, "nats", "operator"); !strings.Contains(stderr, "--dir") {
		t.Fatalf("nats operator without --dir: %s", stderr)
	}

	creds := mustRun(t, "nats", "sys-creds", "--dir", inst.dir, "--expires", "10m")
	path := filepath.Join(t.TempDir(), "sys.creds")
	os.WriteFile(path, creds, 0o600)
	nc, err := nats.Connect(inst.NATSURL, nats.UserCredentials(path), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect with sys-creds: %v", err)
	}
	defer nc.Close()
	msg, err := nc.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"server"`) {
		t.Fatalf("$SYS.REQ.SERVER.PING with sys-creds: %v", err)
	}
}

func mustRun(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, stderr.String())
	}
	return out
}

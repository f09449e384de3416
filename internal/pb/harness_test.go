package pb_test

// The tests in this package run the real pocketbus binary on free ports and
// talk to it as users do: PocketBase's REST API over HTTP and NATS with
// nats.go and issued credentials.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pocketbus/pocketbus/internal/proc"
)

var (
	binPath string

	sharedOnce sync.Once
	sharedInst *instance
	sharedErr  error
)

const (
	superEmail = "admin@pocketbus.test"
	superPass  = "superpass123"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pocketbus-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "pocketbus")
	if prebuilt := os.Getenv("POCKETBUS_TEST_BIN"); prebuilt != "" {
		// Run the tests against another build, e.g. an older commit's binary
		// to show that a test fails without a fix.
		binPath = prebuilt
	} else {
		build := exec.Command("go", "build", "-o", binPath, "github.com/pocketbus/pocketbus/cmd/pocketbus")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building pocketbus:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if sharedInst != nil {
		sharedInst.stop()
		os.RemoveAll(sharedInst.dir)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running `pocketbus serve`.
type instance struct {
	dir     string
	args    []string
	URL     string
	NATSURL string
	WSURL   string
	logPath string
	p       *proc.Process
}

// shared is one server for the tests that do not restart it; each test
// signs up its own users, so tests cannot see each other's tenants.
func shared(t *testing.T) *instance {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pocketbus-shared")
		if err != nil {
			sharedErr = err
			return
		}
		// Totals far above what the tests store (nats-server takes them as
		// given): every test adds projects to this one server, and a
		// `go test -count=3` ran out of the 20G it had before.
		sharedInst, sharedErr = launch(dir, "--nats-max-memory", "64G", "--nats-max-disk", "1T")
	})
	if sharedErr != nil {
		t.Fatalf("starting shared server: %v", sharedErr)
	}
	return sharedInst
}

// startInstance runs a server of the test's own on dir (a fresh one when "").
func startInstance(t *testing.T, dir string, extra ...string) *instance {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	inst, err := launch(dir, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.stop)
	return inst
}

func launch(dir string, extra ...string) (*instance, error) {
	inst, err := prepare(dir, extra...)
	if err != nil {
		return nil, err
	}
	return inst, inst.start()
}

// prepare makes the superuser and the serve command line of an instance on
// dir, without starting it.
func prepare(dir string, extra ...string) (*instance, error) {
	up := exec.Command(binPath, "superuser", "upsert", superEmail, superPass, "--dir", dir)
	if out, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("superuser upsert: %v: %s", err, out)
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	inst := &instance{
		dir:     dir,
		URL:     fmt.Sprintf("http://127.0.0.1:%d", port),
		logPath: filepath.Join(dir, fmt.Sprintf("serve-%d.log", time.Now().UnixNano())),
		// Every test signs up its own users from one address, far above
		// PocketBase's per-IP limits; the rate-limit test removes the flag
		// to run with the default.
		args: append([]string{"serve", "--dir", dir, "--http", fmt.Sprintf("127.0.0.1:%d", port),
			"--nats-listen", "127.0.0.1:0", "--nats-ws-listen", "127.0.0.1:0", noRateLimits}, extra...),
	}
	return inst, nil
}

// noRateLimits is the flag every instance of the tests runs with but one.
const noRateLimits = "--rate-limits=false"

func (i *instance) start() error {
	var err error
	if i.p, err = proc.Start(binPath, i.args, i.logPath); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if i.p.Exited() {
			return fmt.Errorf("pocketbus exited early: %s", i.logs())
		}
		resp, err := http.Get(i.URL + "/api/pocketbus/info")
		if err == nil {
			var raw map[string]any
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && json.Unmarshal(b, &raw) == nil {
				i.NATSURL = raw["nats"].(map[string]any)["url"].(string)
				i.WSURL = raw["nats"].(map[string]any)["ws_url"].(string)
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pocketbus did not become ready: %s", i.logs())
}

func (i *instance) logs() string { return i.p.Output() }

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 15 s).
func (i *instance) stop() { i.p.Stop(15 * time.Second) }

// kill is a crash: SIGKILL, no cleanup.
func (i *instance) kill() { i.p.Kill() }

// client is an HTTP client signed in as one user (or a superuser, or nobody).
type client struct {
	t     *testing.T
	inst  *instance
	token string
	ID    string
	Email string
	// MyGroup is the user's personal group.
	MyGroup string
}

func anonymous(t *testing.T, inst *instance) *client { return &client{t: t, inst: inst} }

func superuser(t *testing.T, inst *instance) *client {
	t.Helper()
	c := anonymous(t, inst)
	st, body := c.do("POST", "/api/collections/_superusers/auth-with-password", map[string]any{"identity": superEmail, "password": superPass})
	if st != 200 {
		t.Fatalf("superuser auth: %d %v", st, body)
	}
	c.token = body["token"].(string)
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// signUp creates a user through the public sign-up and signs them in.
func signUp(t *testing.T, inst *instance, name string) *client {
	t.Helper()
	c := anonymous(t, inst)
	c.Email = fmt.Sprintf("%s-%s@pocketbus.test", strings.ToLower(name), randomHex(4))
	st, body := c.do("POST", "/api/collections/users/records", map[string]any{
		"email": c.Email, "password": "password123", "passwordConfirm": "password123", "name": name,
	})
	if st != 200 {
		t.Fatalf("sign up %s: %d %v", name, st, body)
	}
	st, body = c.do("POST", "/api/collections/users/auth-with-password", map[string]any{"identity": c.Email, "password": "password123"})
	if st != 200 {
		t.Fatalf("sign in %s: %d %v", name, st, body)
	}
	c.token = body["token"].(string)
	rec := body["record"].(map[string]any)
	c.ID = rec["id"].(string)
	c.MyGroup, _ = rec["mygroup"].(string)
	return c
}

// do sends a JSON request; body may be a value to marshal, a string sent
// raw, or nil. It returns the status and the decoded object (or nil).
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	st, raw := c.doRaw(method, path, body)
	var out map[string]any
	if len(raw) > 0 {
		json.Unmarshal(raw, &out)
	}
	return st, out
}

func (c *client) doRaw(method, path string, body any) (int, []byte) {
	c.t.Helper()
	st, raw, err := c.send(method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, raw
}

// send makes the request and returns the status and raw body; it does not
// touch t, so goroutines may use it (see call).
func (c *client) send(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.inst.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// call is do for goroutines and for requests that may meet a killed
// server: no t.Fatal, the error comes back (with status 0 when the request
// got no answer).
func (c *client) call(method, path string, body any) (int, map[string]any, error) {
	st, raw, err := c.send(method, path, body)
	var out map[string]any
	if len(raw) > 0 {
		json.Unmarshal(raw, &out)
	}
	return st, out, err
}

// must asserts the status of a request and returns its body.
func (c *client) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	st, out := c.do(method, path, body)
	if st != want {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, st, want, out)
	}
	return out
}

// fieldErr asserts a 400 whose data names field.
func (c *client) fieldErr(field, method, path string, body any) map[string]any {
	c.t.Helper()
	out := c.must(400, method, path, body)
	data, _ := out["data"].(map[string]any)
	if _, ok := data[field]; !ok {
		c.t.Fatalf("%s %s: 400 without field %q in data: %v", method, path, field, out)
	}
	return out
}

func (c *client) list(collection, filter string) []map[string]any {
	c.t.Helper()
	var recs []map[string]any
	for page := 1; ; page++ {
		path := fmt.Sprintf("/api/collections/%s/records?perPage=500&page=%d&sort=id", collection, page)
		if filter != "" {
			path += "&filter=" + url.QueryEscape(filter)
		}
		out := c.must(200, "GET", path, nil)
		items, _ := out["items"].([]any)
		for _, it := range items {
			recs = append(recs, it.(map[string]any))
		}
		if len(items) < 500 {
			return recs
		}
	}
}

func (c *client) createGroup(name string) string {
	c.t.Helper()
	return c.must(200, "POST", "/api/collections/groups/records", map[string]any{"name": name})["id"].(string)
}

func (c *client) createProject(group, name string) map[string]any {
	c.t.Helper()
	return c.must(200, "POST", "/api/collections/projects/records", map[string]any{"name": name, "group": group})
}

// invite makes an invite link to the group (c must own it) and has member
// accept it: people join groups only this way.
func (c *client) invite(gid string, member *client) {
	c.t.Helper()
	inv := c.must(200, "POST", "/api/pocketbus/groups/"+gid+"/invites", map[string]any{})
	member.must(200, "POST", "/api/pocketbus/invites/"+inv["token"].(string)+"/accept", nil)
}

// issue creates a credential and returns the route's response.
func (c *client) issue(project string, body map[string]any) map[string]any {
	c.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["name"]; !ok {
		body["name"] = "test-" + randomHex(3)
	}
	return c.must(200, "POST", "/api/pocketbus/projects/"+project+"/credentials", body)
}

// connect opens a NATS connection with an issued credential's .creds text.
func connect(t *testing.T, url string, cred map[string]any, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(path, []byte(cred["creds"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts = append([]nats.Option{nats.UserCredentials(path), nats.NoReconnect(), nats.Timeout(5 * time.Second)}, opts...)
	return nats.Connect(url, opts...)
}

func mustConnect(t *testing.T, url string, cred map[string]any, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := connect(t, url, cred, opts...)
	if err != nil {
		t.Fatalf("connect with issued credential: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

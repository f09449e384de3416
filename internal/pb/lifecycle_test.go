package pb_test

// Credential and project lifecycle (issue 4), end to end against the real
// binary: revoke, delete, expire, disable/enable, delete project and group,
// SIGTERM and kill -9 restarts, start-up reconciliation and the size of
// revocation lists. Every close is timed from the client's closed callback.
//
// Measurements are logged (run with -v). The large ones run only with
// POCKETBUS_LIFECYCLE_SCALE=1:
//
//	POCKETBUS_LIFECYCLE_SCALE=1 go test -count=1 -v -run 'TestRevokeLatency|TestRestartToReady' ./internal/pb/

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// closeBound is SPEC §4: revoke, disable and delete close connections within 1 s.
const closeBound = time.Second

func lcScale() bool { return os.Getenv("POCKETBUS_LIFECYCLE_SCALE") != "" }

// lcConn is a NATS connection whose closing is timed by its closed callback.
type lcConn struct {
	*nats.Conn
	closed chan time.Time
	mu     sync.Mutex
	errs   []error // asynchronous errors the server sent
}

func lcDial(t *testing.T, url string, cred map[string]any, opts ...nats.Option) *lcConn {
	t.Helper()
	c := &lcConn{closed: make(chan time.Time, 1)}
	opts = append([]nats.Option{
		nats.ClosedHandler(func(*nats.Conn) { c.closed <- time.Now() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.errs = append(c.errs, err)
			c.mu.Unlock()
		}),
	}, opts...)
	c.Conn = mustConnect(t, url, cred, opts...)
	return c
}

// told reports whether the server sent an error containing text.
func (c *lcConn) told(text string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		if strings.Contains(strings.ToLower(err.Error()), text) {
			return true
		}
	}
	return false
}

// closedWithin asserts the closed callback fired at most max after since and
// returns that latency.
func (c *lcConn) closedWithin(t *testing.T, since time.Time, max time.Duration, what string) time.Duration {
	t.Helper()
	select {
	case at := <-c.closed:
		d := at.Sub(since)
		if d > max {
			t.Fatalf("%s: connection closed %v after the change, want ≤ %v", what, d, max)
		}
		return d
	case <-time.After(max + 5*time.Second):
		t.Fatalf("%s: connection still open %v after the change (last error %v)", what, max+5*time.Second, c.LastError())
	}
	return 0
}

// alive asserts the connection was not closed and still carries messages.
func (c *lcConn) alive(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.closed:
		t.Fatalf("%s: connection was closed (last error %v)", what, c.LastError())
	default:
	}
	lcRoundTrip(t, c.Conn, what)
}

func lcRoundTrip(t *testing.T, nc *nats.Conn, what string) {
	t.Helper()
	subj := "lc.ping." + randomHex(4)
	sub, err := nc.SubscribeSync(subj)
	if err != nil {
		t.Fatalf("%s: subscribe: %v", what, err)
	}
	defer sub.Unsubscribe()
	if err := nc.Publish(subj, []byte("ping")); err != nil {
		t.Fatalf("%s: publish: %v", what, err)
	}
	if m, err := sub.NextMsg(3 * time.Second); err != nil || string(m.Data) != "ping" {
		t.Fatalf("%s: round trip: %v", what, err)
	}
}

// lcRefused asserts that a new connection with cred is refused.
func lcRefused(t *testing.T, url string, cred map[string]any, what string) error {
	t.Helper()
	nc, err := connect(t, url, cred)
	if err == nil {
		nc.Close()
		t.Fatalf("%s: a new connection was accepted", what)
	}
	return err
}

func lcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func lcJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// lcSeed fills a project with a file stream, a KV bucket and an object, so
// that it has JetStream data on disk.
func lcSeed(t *testing.T, nc *nats.Conn) []byte {
	t.Helper()
	ctx, js := lcCtx(t), lcJS(t, nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, MaxBytes: 1 << 20}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := js.Publish(ctx, fmt.Sprintf("orders.%d", i), []byte(fmt.Sprintf("order-%d", i))); err != nil {
			t.Fatalf("js publish: %v", err)
		}
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cfg", MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("create kv: %v", err)
	}
	if _, err := kv.Put(ctx, "color", []byte("blue")); err != nil {
		t.Fatalf("kv put: %v", err)
	}
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "files", MaxBytes: 2 << 20})
	if err != nil {
		t.Fatalf("create object store: %v", err)
	}
	blob := make([]byte, 100<<10)
	rand.Read(blob)
	if _, err := obs.PutBytes(ctx, "blob.bin", blob); err != nil {
		t.Fatalf("object put: %v", err)
	}
	return blob
}

// lcCheckSeed asserts that what lcSeed wrote is all there.
func lcCheckSeed(t *testing.T, nc *nats.Conn, blob []byte, what string) {
	t.Helper()
	ctx, js := lcCtx(t), lcJS(t, nc)
	s, err := js.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatalf("%s: stream ORDERS: %v", what, err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 3 {
		t.Fatalf("%s: stream ORDERS state: %+v %v", what, info, err)
	}
	if m, err := s.GetMsg(ctx, 2); err != nil || string(m.Data) != "order-2" {
		t.Fatalf("%s: stream message 2: %v", what, err)
	}
	kv, err := js.KeyValue(ctx, "cfg")
	if err != nil {
		t.Fatalf("%s: kv cfg: %v", what, err)
	}
	if e, err := kv.Get(ctx, "color"); err != nil || string(e.Value()) != "blue" {
		t.Fatalf("%s: kv get: %v", what, err)
	}
	obs, err := js.ObjectStore(ctx, "files")
	if err != nil {
		t.Fatalf("%s: object store: %v", what, err)
	}
	if got, err := obs.GetBytes(ctx, "blob.bin"); err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("%s: object: %d bytes, %v", what, len(got), err)
	}
}

func lcJSDir(inst *instance, account string) string {
	return filepath.Join(inst.dir, "nats", "jetstream", account)
}

func lcExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lcJSAccounts lists the account keys that have JetStream data on disk.
func lcJSAccounts(t *testing.T, inst *instance) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(inst.dir, "nats", "jetstream"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && nkeys.IsValidPublicAccountKey(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// lcTerm sends SIGTERM and returns how long the process took to exit; it
// must exit within 10 s.
func lcTerm(t *testing.T, inst *instance) time.Duration {
	t.Helper()
	start := time.Now()
	if !inst.p.Stop(10 * time.Second) {
		t.Fatalf("pocketbus did not exit within 10 s of SIGTERM: %s", inst.logs())
	}
	return time.Since(start)
}

func lcRestart(t *testing.T, inst *instance) time.Duration {
	t.Helper()
	start := time.Now()
	if err := inst.start(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// lcProjectJWT reads a project's hidden account JWT and live revocations
// (rows) as a superuser and checks the JWT belongs to the project's account.
func lcProjectJWT(t *testing.T, su *client, pid string) (*jwt.AccountClaims, map[string]any, int) {
	t.Helper()
	p := su.must(200, "GET", "/api/collections/projects/records/"+pid, nil)
	token, _ := p["account_jwt"].(string)
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		t.Fatalf("project %s account_jwt: %v", pid, err)
	}
	if ac.Subject != p["account"] {
		t.Fatalf("project %s: account_jwt is for %s, account is %v", pid, ac.Subject, p["account"])
	}
	revs := map[string]any{}
	for _, r := range su.list("revocations", "project='"+pid+"' && (expires = '' || expires > @now)") {
		revs[r["public_key"].(string)] = r
	}
	return ac, revs, len(token)
}

func lcDurations(ds []time.Duration) (p50, p99, max time.Duration) {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1)+0.5)] }
	return at(0.50), at(0.99), s[len(s)-1]
}

// ---------------------------------------------------------------------------
// Revocation

func TestRevokeClosesOnlyThatCredential(t *testing.T) {
	inst := shared(t)
	owner, stranger := signUp(t, inst, "Rita"), signUp(t, inst, "Rex")
	pid := owner.createProject(owner.MyGroup, "revoke")["id"].(string)
	victim, other := owner.issue(pid, nil), owner.issue(pid, nil)
	vc, oc := lcDial(t, inst.NATSURL, victim), lcDial(t, inst.NATSURL, other)
	vc.alive(t, "before revoke")

	revoke := "/api/pocketbus/credentials/" + victim["id"].(string) + "/revoke"
	anonymous(t, inst).must(401, "POST", revoke, nil)
	stranger.must(404, "POST", revoke, nil)
	vc.alive(t, "after refused revokes")

	start := time.Now()
	owner.must(200, "POST", revoke, nil)
	d := vc.closedWithin(t, start, closeBound, "revoked credential")
	t.Logf("revoke → closed callback: %v", d)
	if !vc.told("revoked") {
		t.Fatalf("the server did not tell the revoked connection why (errors %v)", vc.errs)
	}
	lcRefused(t, inst.NATSURL, victim, "reconnect with a revoked credential")
	oc.alive(t, "another credential of the project after the revoke")
	lcDial(t, inst.NATSURL, other).alive(t, "new connection with the other credential")

	rec := owner.must(200, "GET", "/api/collections/credentials/records/"+victim["id"].(string), nil)
	if rec["revoked"] == "" || rec["revoked"] == nil {
		t.Fatalf("revoked credential record has no revoked date: %v", rec)
	}
	owner.must(200, "POST", revoke, nil) // twice is fine
	if again := owner.must(200, "GET", "/api/collections/credentials/records/"+victim["id"].(string), nil); again["revoked"] != rec["revoked"] {
		t.Fatalf("revoking twice moved the revoked date: %v → %v", rec["revoked"], again["revoked"])
	}
	oc.alive(t, "other credential after revoking twice")
}

func TestDeletingCredentialRecordRevokes(t *testing.T) {
	inst := shared(t)
	owner, member := signUp(t, inst, "Dora"), signUp(t, inst, "Dan")
	gid := owner.createGroup("creds")
	owner.invite(gid, member)
	pid := member.createProject(gid, "delete-cred")["id"].(string)
	victim, other := member.issue(pid, nil), member.issue(pid, nil)
	vc, oc := lcDial(t, inst.NATSURL, victim), lcDial(t, inst.NATSURL, other)
	path := "/api/collections/credentials/records/" + victim["id"].(string)

	// Only the group owner deletes credential records.
	if st, _ := member.do("DELETE", path, nil); st != 403 && st != 404 {
		t.Fatalf("member deleting a credential record: %d", st)
	}
	vc.alive(t, "after the member's refused delete")

	start := time.Now()
	owner.must(204, "DELETE", path, nil)
	t.Logf("delete record → closed callback: %v", vc.closedWithin(t, start, closeBound, "deleted credential"))
	lcRefused(t, inst.NATSURL, victim, "reconnect with a deleted credential")
	oc.alive(t, "another credential after the delete")
	owner.must(404, "GET", path, nil)

	// The record is gone, the revocation stays in the account.
	ac, revs, _ := lcProjectJWT(t, superuser(t, inst), pid)
	if _, ok := revs[victim["public_key"].(string)]; !ok {
		t.Fatalf("project revocations lack the deleted credential's key: %v", revs)
	}
	if !ac.IsClaimRevoked(&jwt.UserClaims{ClaimsData: jwt.ClaimsData{Subject: victim["public_key"].(string), IssuedAt: time.Now().Add(-time.Minute).Unix()}}) {
		t.Fatal("the account JWT does not revoke the deleted credential's key")
	}
}

// Revocations of one project racing each other: each one's push must not be
// overtaken by an older account JWT.
func TestConcurrentRevocationsAllClose(t *testing.T) {
	inst := shared(t)
	owner := signUp(t, inst, "Cora")
	pid := owner.createProject(owner.MyGroup, "concurrent")["id"].(string)
	const n = 12
	creds := make([]map[string]any, n)
	conns := make([]*lcConn, n)
	for i := range creds {
		creds[i] = owner.issue(pid, nil)
		conns[i] = lcDial(t, inst.NATSURL, creds[i])
	}
	keep := lcDial(t, inst.NATSURL, owner.issue(pid, nil))
	start := time.Now()
	var wg sync.WaitGroup
	for i := range creds {
		wg.Go(func() {
			owner.must(200, "POST", "/api/pocketbus/credentials/"+creds[i]["id"].(string)+"/revoke", nil)
		})
	}
	wg.Wait()
	for i, c := range conns {
		c.closedWithin(t, start, 2*closeBound, fmt.Sprintf("concurrently revoked credential %d", i))
	}
	for _, cr := range creds {
		lcRefused(t, inst.NATSURL, cr, "reconnect after a concurrent revoke")
	}
	keep.alive(t, "unrevoked credential after concurrent revocations")
}

// TestRevokeLatency measures revoke → closed callback over many revocations
// (SPEC: ≤ 1 s each); p50/p99 are logged.
func TestRevokeLatency(t *testing.T) {
	inst := shared(t)
	owner := signUp(t, inst, "Lat")
	pid := owner.createProject(owner.MyGroup, "latency")["id"].(string)
	n := 100
	if lcScale() {
		n = 500
	}
	keep := lcDial(t, inst.NATSURL, owner.issue(pid, nil))
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		cred := owner.issue(pid, nil)
		c := lcDial(t, inst.NATSURL, cred)
		c.Flush()
		start := time.Now()
		owner.must(200, "POST", "/api/pocketbus/credentials/"+cred["id"].(string)+"/revoke", nil)
		lat = append(lat, c.closedWithin(t, start, closeBound, fmt.Sprintf("revocation %d", i)))
	}
	keep.alive(t, "unrevoked credential after all revocations")
	p50, p99, max := lcDurations(lat)
	t.Logf("revoke → closed callback over %d revocations (HTTP route included): p50 %v, p99 %v, max %v", n, p50, p99, max)
}

// ---------------------------------------------------------------------------
// Expiry

func TestExpiredCredentialIsClosedAndRefused(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Eve")
	pid := u.createProject(u.MyGroup, "expiry")["id"].(string)
	// RFC 3339 in whole seconds, 2–3 s ahead.
	expires := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	cred := u.issue(pid, map[string]any{"expires": expires.UTC().Format(time.RFC3339)})
	other := lcDial(t, inst.NATSURL, u.issue(pid, nil))
	c := lcDial(t, inst.NATSURL, cred)
	c.alive(t, "before expiry")

	select {
	case at := <-c.closed:
		// nats-server arms a timer with whole seconds to go: it fires in [exp, exp+1s).
		if at.Before(expires.Add(-100*time.Millisecond)) || at.After(expires.Add(1500*time.Millisecond)) {
			t.Fatalf("expiring credential closed at %v, expiry %v", at.Format(time.StampMilli), expires.Format(time.StampMilli))
		}
		t.Logf("closed %v after its expiry", at.Sub(expires))
	case <-time.After(time.Until(expires) + 5*time.Second):
		t.Fatal("a connection outlived its credential's expiry by 5 s")
	}
	if !c.told("expired") {
		t.Fatalf("the server did not tell the expired connection why (errors %v)", c.errs)
	}
	// JWT expiry has whole-second resolution and nats-server still admits a
	// user during the second of "exp" itself, but closes it at once: such
	// a reconnect must not stay open.
	if time.Now().Before(expires.Add(time.Second)) {
		if nc, err := connect(t, inst.NATSURL, cred); err == nil {
			waitFor(t, time.Second, "a reconnect in the expiry second to be closed", nc.IsClosed)
		}
	}
	time.Sleep(time.Until(expires.Add(1100 * time.Millisecond))) // waiting out the expiry second itself
	lcRefused(t, inst.NATSURL, cred, "reconnect with an expired credential")
	other.alive(t, "a credential without expiry")
	rec := u.must(200, "GET", "/api/collections/credentials/records/"+cred["id"].(string), nil)
	if got, _ := time.Parse("2006-01-02 15:04:05.000Z", rec["expires"].(string)); !got.Equal(expires) {
		t.Fatalf("credential record expires = %v, want %v", rec["expires"], expires.UTC())
	}
}

// ---------------------------------------------------------------------------
// Disable / enable

func TestDisableClosesAllAndEnableRestores(t *testing.T) {
	inst := shared(t)
	owner, member := signUp(t, inst, "Otis"), signUp(t, inst, "Mona")
	gid := owner.createGroup("disable")
	owner.invite(gid, member)
	pid := member.createProject(gid, "switch")["id"].(string)
	other := member.createProject(gid, "bystander")["id"].(string)
	a, b := member.issue(pid, nil), member.issue(pid, nil)
	ac, bc := lcDial(t, inst.NATSURL, a), lcDial(t, inst.NATSURL, b)
	blob := lcSeed(t, ac.Conn)
	by := lcDial(t, inst.NATSURL, member.issue(other, nil))
	path := "/api/collections/projects/records/" + pid

	member.must(403, "PATCH", path, map[string]any{"disabled": true})
	ac.alive(t, "after a member's refused disable")

	start := time.Now()
	owner.must(200, "PATCH", path, map[string]any{"disabled": true})
	t.Logf("disable → closed callbacks: %v, %v",
		ac.closedWithin(t, start, closeBound, "credential A of a disabled project"),
		bc.closedWithin(t, start, closeBound, "credential B of a disabled project"))
	lcRefused(t, inst.NATSURL, a, "new connection to a disabled project")
	lcRefused(t, inst.NATSURL, b, "new connection to a disabled project")
	lcRefused(t, inst.NATSURL, member.issue(pid, nil), "a credential issued while disabled")
	by.alive(t, "another project of the group while one is disabled")
	if p := member.must(200, "GET", path, nil); p["disabled"] != true {
		t.Fatalf("project after disable = %v", p)
	}

	owner.must(200, "PATCH", path, map[string]any{"disabled": false})
	a2 := lcDial(t, inst.NATSURL, a)
	lcDial(t, inst.NATSURL, b).alive(t, "credential B after enable")
	a2.alive(t, "credential A after enable")
	lcCheckSeed(t, a2.Conn, blob, "after disable and enable")
}

// ---------------------------------------------------------------------------
// Deleting projects and groups

type lcLive struct {
	pid, account string
	cred         map[string]any
	conn         *lcConn
}

func lcLiveProject(t *testing.T, inst *instance, c *client, gid, name string) lcLive {
	t.Helper()
	p := c.createProject(gid, name)
	l := lcLive{pid: p["id"].(string), account: p["account"].(string)}
	l.cred = c.issue(l.pid, nil)
	l.conn = lcDial(t, inst.NATSURL, l.cred)
	lcSeed(t, l.conn.Conn)
	if !lcExists(lcJSDir(inst, l.account)) {
		t.Fatalf("project %s has JetStream data but no %s", l.pid, lcJSDir(inst, l.account))
	}
	return l
}

func (l lcLive) assertGone(t *testing.T, inst *instance, su *client, start time.Time, what string) {
	t.Helper()
	t.Logf("%s: delete → closed callback %v", what, l.conn.closedWithin(t, start, closeBound, what))
	if lcExists(lcJSDir(inst, l.account)) {
		t.Fatalf("%s: JetStream data %s is still there", what, lcJSDir(inst, l.account))
	}
	su.must(404, "GET", "/api/collections/projects/records/"+l.pid, nil)
	su.must(404, "GET", "/api/collections/credentials/records/"+l.cred["id"].(string), nil)
	if left := su.list("credentials", "project='"+l.pid+"'"); len(left) != 0 {
		t.Fatalf("%s: %d credential records left", what, len(left))
	}
	lcRefused(t, inst.NATSURL, l.cred, what+": reconnect")
}

func TestDeleteProjectRemovesEverything(t *testing.T) {
	inst := shared(t)
	owner, member := signUp(t, inst, "Dex"), signUp(t, inst, "Dee")
	su := superuser(t, inst)
	gid := owner.createGroup("deletes")
	owner.invite(gid, member)
	doomed := lcLiveProject(t, inst, member, gid, "doomed")
	second := lcDial(t, inst.NATSURL, member.issue(doomed.pid, nil))
	kept := lcLiveProject(t, inst, member, gid, "kept")

	if st, _ := member.do("DELETE", "/api/collections/projects/records/"+doomed.pid, nil); st != 403 && st != 404 {
		t.Fatalf("member deleting a project: %d", st)
	}
	doomed.conn.alive(t, "after the member's refused delete")

	start := time.Now()
	owner.must(204, "DELETE", "/api/collections/projects/records/"+doomed.pid, nil)
	doomed.assertGone(t, inst, su, start, "deleted project")
	second.closedWithin(t, start, closeBound, "second connection of the deleted project")
	kept.conn.alive(t, "another project of the group")
	if !lcExists(lcJSDir(inst, kept.account)) {
		t.Fatal("deleting one project removed another's JetStream data")
	}
}

func TestDeleteGroupRemovesItsProjects(t *testing.T) {
	inst := shared(t)
	owner := signUp(t, inst, "Gus")
	su := superuser(t, inst)
	gid := owner.createGroup("doomed group")
	p1 := lcLiveProject(t, inst, owner, gid, "one")
	p2 := lcLiveProject(t, inst, owner, gid, "two")
	elsewhere := lcLiveProject(t, inst, owner, owner.MyGroup, "elsewhere")

	start := time.Now()
	owner.must(204, "DELETE", "/api/collections/groups/records/"+gid, nil)
	p1.assertGone(t, inst, su, start, "first project of a deleted group")
	p2.assertGone(t, inst, su, start, "second project of a deleted group")
	elsewhere.conn.alive(t, "a project in another group")
}

// ---------------------------------------------------------------------------
// Restart

func TestRestartKeepsAccountsDataAndRules(t *testing.T) {
	inst := startInstance(t, "", "--nats-max-memory", "1G", "--nats-max-disk", "10G")
	owner, member := signUp(t, inst, "Rory"), signUp(t, inst, "Ruth")
	su := superuser(t, inst)
	gid := owner.createGroup("restart")
	owner.invite(gid, member)

	// Project with everything: data, limits, a revoked, a deleted and a
	// restricted credential.
	p := member.createProject(gid, "everything")
	pid, account := p["id"].(string), p["account"].(string)
	su.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"max_connections": 3, "js_max_streams": 4})
	full := member.issue(pid, map[string]any{"name": "full"})
	revoked := member.issue(pid, map[string]any{"name": "revoked"})
	deleted := member.issue(pid, map[string]any{"name": "deleted"})
	narrow := member.issue(pid, map[string]any{"name": "narrow", "pub_allow": []string{"ok.>"}})
	fc := lcDial(t, inst.NATSURL, full)
	blob := lcSeed(t, fc.Conn) // 3 streams of the 4 allowed
	member.must(200, "POST", "/api/pocketbus/credentials/"+revoked["id"].(string)+"/revoke", nil)
	owner.must(204, "DELETE", "/api/collections/credentials/records/"+deleted["id"].(string), nil)

	// A disabled project.
	off := member.createProject(gid, "off")["id"].(string)
	offCred := member.issue(off, nil)
	lcDial(t, inst.NATSURL, offCred).Close()
	owner.must(200, "PATCH", "/api/collections/projects/records/"+off, map[string]any{"disabled": true})

	// Clean stop with a client connected: exits within 10 s.
	took := lcTerm(t, inst)
	fc.closedWithin(t, time.Now().Add(-took), 10*time.Second, "client connection at SIGTERM")
	t.Logf("SIGTERM → exit: %v", took)
	ready := lcRestart(t, inst)
	t.Logf("restart → ready: %v", ready)

	after := member.must(200, "GET", "/api/collections/projects/records/"+pid, nil)
	if after["account"] != account || after["max_connections"].(float64) != 3 {
		t.Fatalf("project after restart = %v", after)
	}
	c1 := lcDial(t, inst.NATSURL, full)
	c1.alive(t, "full credential after restart")
	lcCheckSeed(t, c1.Conn, blob, "after restart")

	// Limits: a 4th stream fits, a 5th does not; 3 connections, not 4.
	ctx, js := lcCtx(t), lcJS(t, c1.Conn)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FOURTH", Subjects: []string{"fourth"}, MaxBytes: 1 << 16}); err != nil {
		t.Fatalf("4th stream within js_max_streams after restart: %v", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FIFTH", Subjects: []string{"fifth"}, MaxBytes: 1 << 16}); err == nil {
		t.Fatal("a 5th stream was created over js_max_streams=4 after restart")
	}
	x1 := lcDial(t, inst.NATSURL, full)
	lcDial(t, inst.NATSURL, full)
	lcRefused(t, inst.NATSURL, full, "a 4th connection over max_connections=3 after restart")

	// Revocations and the deleted credential.
	lcRefused(t, inst.NATSURL, revoked, "revoked credential after restart")
	lcRefused(t, inst.NATSURL, deleted, "deleted credential after restart")

	// Permissions of the restricted credential.
	c1.Close()
	violations := make(chan error, 4)
	var nc *nats.Conn
	waitFor(t, 5*time.Second, "the server to drop the closed connection and admit another", func() bool {
		var err error
		nc, err = connect(t, inst.NATSURL, narrow, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
		return err == nil
	})
	defer nc.Close()
	nc.Publish("not.ok", []byte("x"))
	nc.Flush()
	select {
	case err := <-violations:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("restricted credential after restart: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a publish outside pub_allow was not refused after restart")
	}
	if err := nc.Publish("ok.fine", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := nc.FlushTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-violations:
		t.Fatalf("a publish inside pub_allow was refused: %v", err)
	default:
	}

	// Disabled stays disabled until enabled.
	lcRefused(t, inst.NATSURL, offCred, "disabled project after restart")
	owner.must(200, "PATCH", "/api/collections/projects/records/"+off, map[string]any{"disabled": false})
	lcDial(t, inst.NATSURL, offCred).alive(t, "re-enabled project after restart")

	// Deletion still removes everything after a restart.
	start := time.Now()
	l := lcLive{pid: pid, account: account, cred: full, conn: x1}
	owner.must(204, "DELETE", "/api/collections/projects/records/"+pid, nil)
	l.assertGone(t, inst, su, start, "project deleted after restart")
}

// ---------------------------------------------------------------------------
// Crash and reconciliation

// lcAssertConsistent checks what reconciliation promises: every project has
// a working account (operator-signed JWT, credentials connect, JetStream on)
// and no JetStream data belongs to an account without a project.
func lcAssertConsistent(t *testing.T, inst *instance, su *client) []map[string]any {
	t.Helper()
	operator := anonymous(t, inst).must(200, "GET", "/api/pocketbus/info", nil)["operator"].(string)
	projects := su.list("projects", "")
	accounts := map[string]bool{}
	for _, p := range projects {
		pid := p["id"].(string)
		ac, _, _ := lcProjectJWT(t, su, pid)
		if ac.Issuer != operator || !nkeys.IsValidPublicAccountKey(ac.Subject) {
			t.Fatalf("project %s: account JWT issued by %s for %s", pid, ac.Issuer, ac.Subject)
		}
		accounts[ac.Subject] = true
		nc := mustConnect(t, inst.NATSURL, su.issue(pid, nil))
		lcRoundTrip(t, nc, "project "+pid)
		if _, err := lcJS(t, nc).AccountInfo(lcCtx(t)); err != nil {
			t.Fatalf("project %s: JetStream: %v", pid, err)
		}
		nc.Close()
	}
	for _, acc := range lcJSAccounts(t, inst) {
		if !accounts[acc] {
			t.Fatalf("orphan JetStream data of account %s with no project", acc)
		}
	}
	return projects
}

func TestCrashRightAfterCreate(t *testing.T) {
	inst := startInstance(t, "", "--nats-max-memory", "4G", "--nats-max-disk", "100G")
	u := signUp(t, inst, "Kim")
	su := superuser(t, inst)
	unlimited(t, su, u)

	// A revoke acknowledged just before the crash holds after it.
	base := u.createProject(u.MyGroup, "base")["id"].(string)
	gone := u.issue(base, nil)
	u.must(200, "POST", "/api/pocketbus/credentials/"+gone["id"].(string)+"/revoke", nil)
	p := u.createProject(u.MyGroup, "fresh")
	inst.kill()
	lcRestart(t, inst)
	lcRefused(t, inst.NATSURL, gone, "credential revoked just before kill -9")
	got := u.must(200, "GET", "/api/collections/projects/records/"+p["id"].(string), nil)
	if got["account"] != p["account"] {
		t.Fatalf("account changed over the crash: %v → %v", p["account"], got["account"])
	}
	lcSeed(t, mustConnect(t, inst.NATSURL, u.issue(p["id"].(string), nil)))

	// A burst of creates, some with data and deleted again, killed mid-way.
	var (
		mu        sync.Mutex
		created   []string // acknowledged creates
		deleting  []string // deletes sent (the kill may cut their answer)
		deleted   []string // acknowledged deletes
		accounted atomic.Int64
		killed    atomic.Bool
	)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Go(func() {
			for i := 0; !killed.Load(); i++ {
				st, body, _ := u.call("POST", "/api/collections/projects/records", map[string]any{"name": fmt.Sprintf("burst-%d-%d", w, i), "group": u.MyGroup})
				if st != 200 {
					continue
				}
				id := body["id"].(string)
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
				accounted.Add(1)
				if i%2 == 1 {
					continue
				}
				// Give it JetStream data on disk, then delete it.
				st, cred, _ := u.call("POST", "/api/pocketbus/projects/"+id+"/credentials", map[string]any{"name": "b"})
				if st != 200 {
					continue
				}
				nc, err := connect(t, inst.NATSURL, cred)
				if err != nil {
					continue
				}
				js, _ := jetstream.New(nc)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", MaxBytes: 1 << 16})
				cancel()
				nc.Close()
				mu.Lock()
				deleting = append(deleting, id)
				mu.Unlock()
				if st, _, _ := u.call("DELETE", "/api/collections/projects/records/"+id, nil); st == 204 {
					mu.Lock()
					deleted = append(deleted, id)
					mu.Unlock()
				}
			}
		})
	}
	waitFor(t, 30*time.Second, "a burst of creates", func() bool { return accounted.Load() >= 12 })
	inst.kill()
	killed.Store(true)
	wg.Wait()
	t.Logf("killed after %d acknowledged creates, %d acknowledged deletes", len(created), len(deleted))

	lcRestart(t, inst)
	projects := lcAssertConsistent(t, inst, su)
	for _, id := range created {
		if !slices.Contains(deleting, id) && !containsID(projects, id) {
			t.Fatalf("acknowledged project %s is missing after kill -9", id)
		}
	}
	for _, id := range deleted {
		if containsID(projects, id) {
			t.Fatalf("acknowledged delete of %s undone by kill -9", id)
		}
	}
}

// lcOpenDB opens a stopped instance's database with PocketBase's core app
// and no Pocketbus hooks: changes made through it are exactly what a crash
// between the database and NATS would leave.
func lcOpenDB(t *testing.T, dir string) core.App {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	return app
}

func lcExec(t *testing.T, app core.App, sql string, params dbx.Params) {
	t.Helper()
	res, err := app.DB().NewQuery(sql).Bind(params).Execute()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed nothing", sql)
	}
}

// lcLogs returns the server log entries whose message contains msg.
func lcLogs(su *client, msg string) []map[string]any {
	out := su.must(200, "GET", "/api/logs?perPage=200&filter="+url.QueryEscape("message~'"+msg+"'"), nil)
	items, _ := out["items"].([]any)
	logs := make([]map[string]any, 0, len(items))
	for _, it := range items {
		logs = append(logs, it.(map[string]any))
	}
	return logs
}

func TestStartupReconcilesBothWays(t *testing.T) {
	inst := startInstance(t, "", "--nats-max-memory", "1G", "--nats-max-disk", "10G")
	u := signUp(t, inst, "Rae")
	su := superuser(t, inst)
	orphan := lcLiveProject(t, inst, u, u.MyGroup, "orphan")
	blank := lcLiveProject(t, inst, u, u.MyGroup, "blank")
	blankRevoked := u.issue(blank.pid, nil)
	u.must(200, "POST", "/api/pocketbus/credentials/"+blankRevoked["id"].(string)+"/revoke", nil)
	lcSeed(t, lcDial(t, inst.NATSURL, u.issue(u.createProject(u.MyGroup, "untouched")["id"].(string), nil)).Conn)
	lcTerm(t, inst)

	// The two crash windows, written straight into the database:
	//  - a project delete committed, its NATS cleanup never ran;
	//  - a project row whose account was never (or wrongly) written.
	app := lcOpenDB(t, inst.dir)
	lcExec(t, app, "DELETE FROM credentials WHERE project = {:id}", dbx.Params{"id": orphan.pid})
	lcExec(t, app, "DELETE FROM projects WHERE id = {:id}", dbx.Params{"id": orphan.pid})
	lcExec(t, app, "UPDATE projects SET account = '', account_jwt = '' WHERE id = {:id}", dbx.Params{"id": blank.pid})
	if err := app.ResetBootstrapState(); err != nil {
		t.Fatal(err)
	}
	if !lcExists(lcJSDir(inst, orphan.account)) {
		t.Fatal("test setup: the orphan's JetStream data is already gone")
	}

	lcRestart(t, inst)
	if lcExists(lcJSDir(inst, orphan.account)) {
		t.Fatalf("orphan JetStream data %s survived start-up", lcJSDir(inst, orphan.account))
	}
	lcRefused(t, inst.NATSURL, orphan.cred, "credential of the orphaned account")
	p := u.must(200, "GET", "/api/collections/projects/records/"+blank.pid, nil)
	if p["account"] != blank.account {
		t.Fatalf("re-provisioned account = %v, want the same derived key %s", p["account"], blank.account)
	}
	c := lcDial(t, inst.NATSURL, blank.cred)
	c.alive(t, "old credential of the re-provisioned project")
	ctx, js := lcCtx(t), lcJS(t, c.Conn)
	if kv, err := js.KeyValue(ctx, "cfg"); err != nil {
		t.Fatalf("re-provisioned project's KV: %v", err)
	} else if e, err := kv.Get(ctx, "color"); err != nil || string(e.Value()) != "blue" {
		t.Fatalf("re-provisioned project's KV value: %v", err)
	}
	lcRefused(t, inst.NATSURL, blankRevoked, "a credential revoked before the account was re-provisioned")
	lcAssertConsistent(t, inst, su)

	// Both repairs are logged.
	waitFor(t, 15*time.Second, "the reconciliation log entry", func() bool {
		for _, e := range lcLogs(su, "reconciled") {
			data := fmt.Sprint(e["data"])
			if strings.Contains(data, orphan.account) && strings.Contains(data, blank.pid) {
				return true
			}
		}
		return false
	})
}

// ---------------------------------------------------------------------------
// Revocation lists

// TestRevocationListSize measures the account JWT with 1,000 revocations.
func TestRevocationListSize(t *testing.T) {
	op, err := bus.LoadOrCreateOperator(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int{}
	for _, n := range []int{0, 1000, 10000} {
		revs := make(map[string]time.Time, n)
		for i := 0; i < n; i++ {
			kp, _ := nkeys.CreateUser()
			pub, _ := kp.PublicKey()
			revs[pub] = time.Now()
		}
		_, token, err := op.AccountJWT(bus.Account{ProjectID: "p" + randomHex(6), Limits: bus.Limits{MaxConnections: -1, JSMaxMemory: 1 << 20, JSMaxDisk: 1 << 20}, Revocations: revs})
		if err != nil {
			t.Fatal(err)
		}
		ac, err := jwt.DecodeAccountClaims(token)
		if err != nil || len(ac.Revocations) != n {
			t.Fatalf("%d revocations: %v, %d decoded", n, err, len(ac.Revocations))
		}
		sizes[n] = len(token)
	}
	per := float64(sizes[1000]-sizes[0]) / 1000
	t.Logf("account JWT: %d B bare, %d B with 1,000 revocations (%.0f B each), %d B with 10,000", sizes[0], sizes[1000], per, sizes[10000])
	// The claims update travels as one NATS message (default max payload 1 MiB).
	if sizes[1000] > 128<<10 {
		t.Fatalf("an account JWT with 1,000 revocations is %d bytes", sizes[1000])
	}
}

// Revocations of credentials that expired are dropped on the next re-sign
// of the account, so the list does not keep keys that cannot connect anyway.
func TestExpiredRevocationsAreDropped(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Pru")
	su := superuser(t, inst)
	pid := u.createProject(u.MyGroup, "prune")["id"].(string)
	expires := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	short := u.issue(pid, map[string]any{"expires": expires.UTC().Format(time.RFC3339)})
	forever := u.issue(pid, nil)
	for _, c := range []map[string]any{short, forever} {
		u.must(200, "POST", "/api/pocketbus/credentials/"+c["id"].(string)+"/revoke", nil)
	}
	ac, revs, _ := lcProjectJWT(t, su, pid)
	for _, c := range []map[string]any{short, forever} {
		if _, ok := revs[c["public_key"].(string)]; !ok {
			t.Fatalf("revocations lack %s: %v", c["public_key"], revs)
		}
		if _, ok := ac.Revocations[c["public_key"].(string)]; !ok {
			t.Fatalf("account JWT does not revoke %s", c["public_key"])
		}
	}
	lcRefused(t, inst.NATSURL, short, "revoked, not yet expired credential")

	time.Sleep(time.Until(expires) + 1100*time.Millisecond) // the expiry itself is what we wait for
	later := u.issue(pid, nil)
	u.must(200, "POST", "/api/pocketbus/credentials/"+later["id"].(string)+"/revoke", nil)
	ac, revs, _ = lcProjectJWT(t, su, pid)
	if _, ok := revs[short["public_key"].(string)]; ok {
		t.Fatalf("an expired credential's revocation was kept: %v", revs)
	}
	if _, ok := ac.Revocations[short["public_key"].(string)]; ok {
		t.Fatal("the account JWT still lists an expired credential")
	}
	for _, c := range []map[string]any{forever, later} {
		if _, ok := ac.Revocations[c["public_key"].(string)]; !ok {
			t.Fatalf("the account JWT lost the revocation of %s", c["public_key"])
		}
		lcRefused(t, inst.NATSURL, c, "revoked credential after pruning")
	}
	lcRefused(t, inst.NATSURL, short, "expired credential after its revocation was dropped")
}

// ---------------------------------------------------------------------------
// Restart with many projects

func TestRestartToReady(t *testing.T) {
	n := 60
	if lcScale() {
		n = 1000
	}
	inst := startInstance(t, "", "--nats-max-memory", "64G", "--nats-max-disk", "1T")
	su := superuser(t, inst)
	owner := signUp(t, inst, "Max")
	unlimited(t, su, owner)
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				st, body, _ := su.call("POST", "/api/collections/projects/records", map[string]any{
					"name": fmt.Sprintf("p%d", i), "group": owner.MyGroup, "js_max_memory": 1 << 20, "js_max_disk": 1 << 20,
				})
				if st != 200 {
					failed.Store(fmt.Sprintf("create %d: %d %v", i, st, body))
					return
				}
				ids[i] = body["id"].(string)
				if i%5 != 0 {
					continue
				}
				// One in five has JetStream data, which nats-server loads at start.
				st, cred, _ := su.call("POST", "/api/pocketbus/projects/"+ids[i]+"/credentials", map[string]any{"name": "c"})
				if st != 200 {
					failed.Store(fmt.Sprintf("issue %d: %d", i, st))
					return
				}
				nc, err := connect(t, inst.NATSURL, cred)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				js, _ := jetstream.New(nc)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, MaxBytes: 1 << 16})
				if err == nil {
					_, err = js.Publish(ctx, "s", []byte("x"))
				}
				cancel()
				nc.Close()
				if err != nil {
					failed.Store(fmt.Sprintf("stream %d: %v", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	took := lcTerm(t, inst)
	ready := lcRestart(t, inst)
	t.Logf("%d projects (%d with a stream): SIGTERM → exit %v, start → ready %v", n, (n+4)/5, took, ready)
	if ready > 30*time.Second {
		t.Fatalf("restart with %d projects took %v", n, ready)
	}
	// Spot-check: a project with data and one without work after the restart.
	for _, i := range []int{0, n - 1} {
		nc := mustConnect(t, inst.NATSURL, su.issue(ids[i], nil))
		lcRoundTrip(t, nc, fmt.Sprintf("project %d after restart", i))
		info, err := lcJS(t, nc).AccountInfo(lcCtx(t))
		if err != nil || (i%5 == 0) != (info.Streams == 1) {
			t.Fatalf("project %d after restart: %+v %v", i, info, err)
		}
	}
}

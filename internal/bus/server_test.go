package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.project("p1")
	nc, _ := e.connect(e.user(UserSpec{ProjectID: "p1", Name: "u"}))

	sub, err := nc.SubscribeSync("greet.>")
	if err != nil {
		t.Fatal(err)
	}
	nc.Publish("greet.x", []byte("hi"))
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("pub/sub: %v", err)
	}

	// A responder whose publish permission is restricted answers when it
	// was issued with allow_responses, and the requester gets the reply.
	svcUser := e.user(UserSpec{ProjectID: "p1", Name: "svc", PubAllow: []string{"events.>"}, SubAllow: []string{"svc.>"}, AllowResponses: true})
	svc, _ := e.connect(svcUser)
	svc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	svc.Flush()
	if m, err := nc.Request("svc.echo", []byte("q"), 2*time.Second); err != nil || string(m.Data) != "re:q" {
		t.Fatalf("request/reply: %v", err)
	}

	js := newJS(t, nc)
	c := ctx(t)
	if _, err := js.CreateStream(c, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "s.1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if m, err := lastMsg(c, js, "S", "s.1"); err != nil || string(m.Data) != "one" {
		t.Fatalf("stream get: %v", err)
	}
	kv, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	kv.Put(c, "k", []byte("v"))
	if ent, err := kv.Get(c, "k"); err != nil || string(ent.Value()) != "v" {
		t.Fatalf("kv: %v", err)
	}
	obs, err := js.CreateObjectStore(c, jetstream.ObjectStoreConfig{Bucket: "files"})
	if err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 300<<10)
	rand.Read(blob)
	if _, err := obs.PutBytes(c, "blob", blob); err != nil {
		t.Fatal(err)
	}
	if got, err := obs.GetBytes(c, "blob"); err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("object: %v, %d bytes", err, len(got))
	}

	st, err := e.srv.AccountStats(mustPub(t, e.op, "p1"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Connections != 2 || st.InMsgs == 0 || st.JetStream.Streams != 3 || st.JetStream.Storage == 0 {
		t.Fatalf("stats: %+v", st)
	}
	if st, _ := e.srv.AccountStats(mustPub(t, e.op, "never-loaded")); st.Connections != 0 || st.JetStream.Streams != 0 {
		t.Fatalf("stats of unloaded account: %+v", st)
	}
}

func mustPub(t *testing.T, op *Operator, id string) string {
	p, err := op.AccountPublicKey(id, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIsolation(t *testing.T) {
	e := newEnv(t)
	pubA, pubB := e.project("a"), e.project("b")
	ncA, _ := e.connect(e.user(UserSpec{ProjectID: "a"}))
	ncB, _ := e.connect(e.user(UserSpec{ProjectID: "b"}))

	all, _ := ncA.SubscribeSync(">")
	sys, _ := ncA.SubscribeSync("$SYS.>")
	ncA.Flush()

	ncB.Publish("secret", []byte("b-data"))
	ncB.Publish("$SYS.REQ.ACCOUNT."+pubA+".CLAIMS.UPDATE", []byte("junk"))
	ncB.Flush()
	// System activity that would show on $SYS.> in the system account.
	extra, _ := e.connect(e.user(UserSpec{ProjectID: "b"}))
	extra.Close()
	if err := e.srv.SyncAccount(pubB); err != nil {
		t.Fatal(err)
	}
	ncA.Publish("sentinel", []byte("a"))
	ncA.Flush()
	m, err := all.NextMsg(2 * time.Second)
	if err != nil || m.Subject != "sentinel" {
		t.Fatalf("A's > subscriber saw %v (err %v) before its own sentinel", m, err)
	}
	if m, err := all.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("A saw %q from elsewhere", m.Subject)
	}
	if m, err := sys.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("A's $SYS.> subscriber got %q", m.Subject)
	}

	// JetStream: each account sees only its own.
	c := ctx(t)
	jsA, jsB := newJS(t, ncA), newJS(t, ncB)
	jsB.CreateStream(c, jetstream.StreamConfig{Name: "BS", Subjects: []string{"bs"}})
	jsB.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "bkv"})
	jsB.CreateObjectStore(c, jetstream.ObjectStoreConfig{Bucket: "bobj"})
	jsA.CreateStream(c, jetstream.StreamConfig{Name: "AS", Subjects: []string{"as"}})
	sl := jsA.StreamNames(c)
	if got := names(t, sl.Name(), sl.Err); len(got) != 1 || got[0] != "AS" {
		t.Fatalf("A's streams: %v", got)
	}
	kl := jsA.KeyValueStoreNames(c)
	if got := names(t, kl.Name(), kl.Error); len(got) != 0 {
		t.Fatalf("A's KV: %v", got)
	}
	ol := jsA.ObjectStoreNames(c)
	if got := names(t, ol.Name(), ol.Error); len(got) != 0 {
		t.Fatalf("A's object stores: %v", got)
	}
	if err := jsA.DeleteStream(c, "BS"); err == nil {
		t.Fatal("A deleted B's stream")
	}
	if _, err := jsA.KeyValue(c, "bkv"); err == nil {
		t.Fatal("A opened B's KV")
	}
	// Raw API with B's name, and a JS API request aimed at B's subject space.
	if m, err := ncA.Request("$JS.API.STREAM.DELETE.BS", nil, 2*time.Second); err != nil || !strings.Contains(string(m.Data), "not found") {
		t.Fatalf("raw delete from A: %v %s", err, m.Data)
	}
	if _, err := jsB.Stream(c, "BS"); err != nil {
		t.Fatalf("B's stream gone: %v", err)
	}
	sl = jsB.StreamNames(c)
	if got := names(t, sl.Name(), sl.Err); len(got) != 3 {
		t.Fatalf("B's streams: %v", got)
	}

	// Even a genuine operator-signed JWT sent by a project user to the
	// system's claims subject goes nowhere: it stays in the user's account.
	_, disabledA, _ := e.op.AccountJWT(Account{ProjectID: "a", Limits: defaultTestLimits, Disabled: true})
	if _, err := ncB.Request("$SYS.REQ.ACCOUNT."+pubA+".CLAIMS.UPDATE", []byte(disabledA), 300*time.Millisecond); err == nil {
		t.Fatal("a project user reached the system claims handler")
	}
	if err := ncA.Flush(); err != nil || !ncA.IsConnected() {
		t.Fatalf("A was disabled from B: %v", err)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func TestLimitsLive(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	u := e.user(UserSpec{ProjectID: "p"})
	nc, _ := e.connect(u)
	js := newJS(t, nc)
	c := ctx(t)
	if _, err := js.CreateStream(c, jetstream.StreamConfig{Name: "S1", Subjects: []string{"s1"}}); err != nil {
		t.Fatal(err)
	}
	lim := defaultTestLimits
	lim.JSMaxStreams, lim.MaxConnections, lim.MaxPayload = 2, 2, 1024
	e.apply(Account{ProjectID: "p", Limits: lim})

	if _, err := js.CreateStream(c, jetstream.StreamConfig{Name: "S2", Subjects: []string{"s2"}}); err != nil {
		t.Fatal(err)
	}
	_, err := js.CreateStream(c, jetstream.StreamConfig{Name: "S3", Subjects: []string{"s3"}})
	if err == nil || !strings.Contains(err.Error(), "maximum number of streams reached") {
		t.Fatalf("third stream: %v", err)
	}
	// KV buckets are streams too.
	if _, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "kv"}); err == nil {
		t.Fatal("KV bucket created beyond the stream limit")
	}

	nc2, w2 := e.connect(u)
	e.mustRefuse(u, "maximum account active connections")

	// Payload: nats-server tells the client the account's max payload in
	// INFO, so nats.go refuses locally with its normal error; a client that
	// ignores it is cut off by the server (Maximum Payload Violation).
	if mp := nc2.MaxPayload(); mp != 1024 {
		t.Fatalf("client max payload %d, want 1024", mp)
	}
	if err := nc2.Publish("big", make([]byte, 2000)); err != nats.ErrMaxPayload {
		t.Fatalf("oversized publish: %v", err)
	}
	_ = w2
	if err := nc.Publish("small", make([]byte, 500)); err != nil || nc.Flush() != nil {
		t.Fatal("payload under the limit failed")
	}
}

func TestJetStreamReservation(t *testing.T) {
	e := newEnv(t)
	mem, disk := e.srv.JetStreamTotals()
	if mem != testServerMem || disk != testServerDisk {
		t.Fatalf("totals %d %d", mem, disk)
	}
	big := defaultTestLimits
	big.JSMaxMemory = 40 << 20 // two of these overcommit the 64 MB server
	e.apply(Account{ProjectID: "x", Limits: big})
	e.apply(Account{ProjectID: "y", Limits: big})
	ncX, _ := e.connect(e.user(UserSpec{ProjectID: "x"}))
	ncY, _ := e.connect(e.user(UserSpec{ProjectID: "y"}))
	c := ctx(t)
	if _, err := newJS(t, ncX).CreateStream(c, jetstream.StreamConfig{Name: "M", Subjects: []string{"m"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	// nats-server refuses to enable JetStream for the account whose
	// reservation does not fit; the client sees "JetStream not enabled".
	_, err := newJS(t, ncY).CreateStream(c, jetstream.StreamConfig{Name: "M", Subjects: []string{"m"}, Storage: jetstream.MemoryStorage})
	if err == nil || !(errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)) {
		t.Fatalf("overcommitted account got JetStream or an unexpected error: %v", err)
	}
	t.Logf("over-quota account: %v", err)
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	u := e.user(UserSpec{ProjectID: "p", PubAllow: []string{"a.>"}, SubDeny: []string{"secret.>"}})
	nc, w := e.connect(u)
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p"}))

	watch, _ := free.SubscribeSync(">")
	free.Flush()
	nc.Publish("b", []byte("x"))
	nc.Publish("a.ok", []byte("y"))
	nc.Flush()
	if m, err := watch.NextMsg(2 * time.Second); err != nil || m.Subject != "a.ok" {
		t.Fatalf("first message seen: %v %v", m, err)
	}
	eventually(t, 2*time.Second, "publish permission violation", func() bool {
		err := w.lastErr()
		return err != nil && strings.Contains(err.Error(), "Permissions Violation for Publish to \"b\"")
	})

	deniedSub, _ := nc.SubscribeSync("secret.x")
	wild, _ := nc.SubscribeSync(">")
	nc.Flush()
	eventually(t, 2*time.Second, "subscribe permission violation", func() bool {
		err := w.lastErr()
		return err != nil && strings.Contains(err.Error(), "Permissions Violation for Subscription to \"secret.x\"")
	})
	free.Publish("secret.x", []byte("s"))
	free.Publish("public", []byte("p"))
	free.Flush()
	if m, err := wild.NextMsg(2 * time.Second); err != nil || m.Subject != "public" {
		t.Fatalf("wildcard subscriber got %v %v", m, err)
	}
	if m, err := wild.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("denied subject delivered: %s", m.Subject)
	}
	if _, err := deniedSub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatal("denied subscription received")
	}
}

func TestRevocation(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	bad, good := e.user(UserSpec{ProjectID: "p"}), e.user(UserSpec{ProjectID: "p"})
	_, wb := e.connect(bad)
	ncg, wg := e.connect(good)

	start := time.Now()
	e.apply(Account{ProjectID: "p", Limits: defaultTestLimits, Revocations: map[string]time.Time{bad.PublicKey: time.Now()}})
	lat := waitClosed(t, wb, start, time.Second)
	t.Logf("revoke -> closed: %v", lat)
	e.mustRefuse(bad, "authorization violation")
	select {
	case <-wg.closed:
		t.Fatal("unrevoked connection was closed")
	default:
	}
	if err := ncg.Flush(); err != nil {
		t.Fatalf("unrevoked connection broken: %v", err)
	}
	if _, _, err := e.dial(e.srv.ClientURL(), good); err != nil {
		t.Fatalf("unrevoked credential refused: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	// JWT expiry has one-second resolution; 2 s out is 1–2 s from now.
	u := e.user(UserSpec{ProjectID: "p", Expires: time.Now().Add(2 * time.Second)})
	_, w := e.connect(u)
	exp := time.Unix(must2(jwt.DecodeUserClaims(u.JWT)).Expires, 0)
	select {
	case <-w.closed:
		if time.Now().Before(exp.Add(-50 * time.Millisecond)) {
			t.Fatalf("closed before expiry")
		}
	case <-time.After(time.Until(exp) + 1500*time.Millisecond):
		t.Fatal("not closed at expiry")
	}
	for time.Now().Unix() <= exp.Unix() {
		// The validator treats the expiry second itself as still valid.
		time.Sleep(50 * time.Millisecond)
	}
	e.mustRefuse(u, "")
}

func must2(c *jwt.UserClaims, err error) *jwt.UserClaims {
	if err != nil {
		panic(err)
	}
	return c
}

func TestDisableEnable(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	u := e.user(UserSpec{ProjectID: "p"})
	nc, w1 := e.connect(u)
	_, w2 := e.connect(u)
	c := ctx(t)
	js := newJS(t, nc)
	js.CreateStream(c, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}})
	if _, err := js.Publish(c, "s", []byte("kept")); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	e.apply(Account{ProjectID: "p", Limits: defaultTestLimits, Disabled: true})
	waitClosed(t, w1, start, time.Second)
	waitClosed(t, w2, start, time.Second)
	e.mustRefuse(u, "maximum account active connections")

	e.apply(Account{ProjectID: "p", Limits: defaultTestLimits})
	nc3, _ := e.connect(u)
	m, err := lastMsg(ctx(t), newJS(t, nc3), "S", "s")
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("data after enable: %v", err)
	}
}

func TestDeleteAccount(t *testing.T) {
	e := newEnv(t)
	pub := e.project("p")
	keep := e.project("q")
	u := e.user(UserSpec{ProjectID: "p"})
	nc, w := e.connect(u)
	c := ctx(t)
	js := newJS(t, nc)
	js.CreateStream(c, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}})
	js.Publish(c, "s", []byte("x"))
	kv, _ := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "b"})
	kv.Put(c, "k", []byte("v"))
	mem, _ := js.CreateStream(c, jetstream.StreamConfig{Name: "M", Subjects: []string{"m"}, Storage: jetstream.MemoryStorage})
	_ = mem
	ncq, _ := e.connect(e.user(UserSpec{ProjectID: "q"}))
	newJS(t, ncq).CreateStream(c, jetstream.StreamConfig{Name: "Q", Subjects: []string{"q"}})

	if _, err := os.Stat(e.srv.jsAccountDir(pub)); err != nil {
		t.Fatalf("no JetStream dir before delete: %v", err)
	}
	dirs, _ := e.srv.StoredAccounts()
	if len(dirs) != 2 {
		t.Fatalf("account dirs %v", dirs)
	}
	start := time.Now()
	e.remove(pub) // the project row goes, then the server follows
	waitClosed(t, w, start, time.Second)
	if err := e.srv.SyncAccount(pub); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := os.Stat(e.srv.jsAccountDir(pub)); !os.IsNotExist(err) {
		t.Fatalf("JetStream dir still there: %v", err)
	}
	e.mustRefuse(u, "")
	// A credential issued after the delete does not resurrect it either.
	e.mustRefuse(e.user(UserSpec{ProjectID: "p"}), "")
	dirs, _ = e.srv.StoredAccounts()
	if len(dirs) != 1 || dirs[0] != keep {
		t.Fatalf("account dirs after delete %v", dirs)
	}
	if _, err := os.Stat(e.srv.jsAccountDir(pub)); !os.IsNotExist(err) {
		t.Fatalf("JetStream dir came back: %v", err)
	}
	// After a restart the account is unknown to the source and stays gone.
	e.srv.Shutdown()
	e.start()
	e.mustRefuse(u, "")
	if _, err := os.Stat(e.srv.jsAccountDir(pub)); !os.IsNotExist(err) {
		t.Fatalf("JetStream dir back after restart: %v", err)
	}
}

func TestOrphanRemoval(t *testing.T) {
	e := newEnv(t)
	pub := e.project("orphan")
	nc, _ := e.connect(e.user(UserSpec{ProjectID: "orphan"}))
	newJS(t, nc).CreateStream(ctx(t), jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}})
	nc.Close()
	e.srv.Shutdown()
	e.src.del(pub) // crash: row gone, data still on disk
	e.start()
	dirs, err := e.srv.StoredAccounts()
	if err != nil || len(dirs) != 1 || dirs[0] != pub {
		t.Fatalf("dirs %v %v", dirs, err)
	}
	if err := e.srv.RemoveOrphan(pub); err != nil {
		t.Fatal(err)
	}
	if dirs, _ := e.srv.StoredAccounts(); len(dirs) != 0 {
		t.Fatalf("dirs after removal %v", dirs)
	}
}

func TestRestart(t *testing.T) {
	e := newEnv(t)
	pub := e.project("p")
	u := e.user(UserSpec{ProjectID: "p"})
	nc, _ := e.connect(u)
	c := ctx(t)
	js := newJS(t, nc)
	js.CreateStream(c, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}})
	js.Publish(c, "s", []byte("persist"))
	kv, _ := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "b"})
	kv.Put(c, "k", []byte("v"))
	obs, _ := js.CreateObjectStore(c, jetstream.ObjectStoreConfig{Bucket: "o"})
	obs.PutBytes(c, "f", []byte("file"))
	// A revocation must survive too (it lives in the JWT in the source).
	gone := e.user(UserSpec{ProjectID: "p"})
	e.apply(Account{ProjectID: "p", Limits: defaultTestLimits, Revocations: map[string]time.Time{gone.PublicKey: time.Now()}})
	nojs := e.project("nojs")
	e.connect(e.user(UserSpec{ProjectID: "nojs"}))
	if !e.srv.IsLoaded(nojs) {
		t.Fatal("nojs not loaded while connected")
	}
	nc.Close()

	oldURL := e.srv.ClientURL()
	e.srv.Shutdown()
	e.srv.Shutdown() // idempotent
	e.start()
	// nats-server itself loads (fetches) every account that has JetStream
	// data on disk at start, to recover its streams; others stay lazy.
	if got := e.srv.LoadedAccounts(); len(got) != 1 || got[0] != pub {
		t.Fatalf("loaded after restart %v, want only %s", got, pub)
	}
	t.Logf("restart %s -> %s", oldURL, e.srv.ClientURL())
	nc, _ = e.connect(u)
	e.connect(e.user(UserSpec{ProjectID: "nojs"}))
	if got := e.srv.LoadedAccounts(); len(got) != 2 {
		t.Fatalf("loaded %v", got)
	}
	js = newJS(t, nc)
	c = ctx(t)
	if m, err := lastMsg(c, js, "S", "s"); err != nil || string(m.Data) != "persist" {
		t.Fatalf("stream: %v", err)
	}
	kv, err := js.KeyValue(c, "b")
	if err != nil {
		t.Fatal(err)
	}
	if ent, err := kv.Get(c, "k"); err != nil || string(ent.Value()) != "v" {
		t.Fatalf("kv: %v", err)
	}
	obs, err = js.ObjectStore(c, "o")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := obs.GetBytes(c, "f"); err != nil || string(b) != "file" {
		t.Fatalf("object: %v", err)
	}
	e.mustRefuse(gone, "")
}

func TestWebsocket(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	url := e.srv.WebsocketURL()
	if !strings.HasPrefix(url, "ws://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("websocket url %q", url)
	}
	nc, _, err := e.dial(url, e.user(UserSpec{ProjectID: "p"}))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := e.connect(e.user(UserSpec{ProjectID: "p"}))
	sub, _ := plain.SubscribeSync("ws")
	plain.Flush()
	nc.Publish("ws", []byte("over websocket"))
	nc.Flush()
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "over websocket" {
		t.Fatalf("ws publish: %v", err)
	}
	if !strings.HasPrefix(e.srv.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(e.srv.ClientURL(), ":4222") {
		t.Fatalf("client url %s", e.srv.ClientURL())
	}
}

func TestSystemUserNotIssuable(t *testing.T) {
	e := newEnv(t)
	// The system account is served by the operator, not the source (the
	// source has never seen it): its user reaches the server's $SYS API.
	ujwt, useed := e.op.systemUser()
	sys, err := nats.Connect(e.srv.ClientURL(), nats.UserJWTAndSeed(ujwt, string(useed)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("system user: %v", err)
	}
	defer sys.Close()
	if m, err := sys.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second); err != nil || !strings.Contains(string(m.Data), `"statsz"`) {
		t.Fatalf("system account ping: %v", err)
	}
	// Issuing for a "project" named like the system account gives a derived
	// account key, and that user gets no system traffic.
	sysPub := e.op.SystemAccountPublicKey()
	p, _ := e.op.AccountPublicKey(sysPub, "")
	if p == sysPub {
		t.Fatal("derived key collides with system account")
	}
	e.apply(Account{ProjectID: sysPub, Limits: defaultTestLimits})
	impostor, _ := e.connect(e.user(UserSpec{ProjectID: sysPub, Name: "impostor"}))
	if _, err := impostor.Request("$SYS.REQ.SERVER.PING", nil, 500*time.Millisecond); err == nil {
		t.Fatal("a user of a project named like the system account reached $SYS")
	}
}

func lastMsg(c context.Context, js jetstream.JetStream, stream, subj string) (*jetstream.RawStreamMsg, error) {
	st, err := js.Stream(c, stream)
	if err != nil {
		return nil, err
	}
	return st.GetLastMsgForSubject(c, subj)
}

func TestLoggerAdapter(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t)
	e.srv.Shutdown()
	e.cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.start()
	out := buf.String()
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, "starting nats-server") || strings.Contains(out, "level=DEBUG") {
		t.Fatalf("log output:\n%s", out)
	}
	// One record per event: the banners are folded into one line each,
	// with their values as attributes; no ASCII art, no rulers.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, `msg="NATS:  `) || strings.Contains(line, "---") || strings.Contains(line, `msg="NATS: "`) {
			t.Fatalf("banner line not folded: %s\n%s", line, out)
		}
	}
	for _, want := range []string{`msg="NATS: starting nats-server" version=`, `msg="NATS: JetStream" `, "max_memory=", "store_directory="} {
		if !strings.Contains(out, want) {
			t.Fatalf("log output lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A JWT that does not decode, or that is another account's, is refused by
// the push with the server's own error, whether the account is loaded or
// not.
func TestPushRefusesBadJWT(t *testing.T) {
	e := newEnv(t)
	pub := e.project("p")
	_, otherJWT, err := e.op.AccountJWT(Account{ProjectID: "q", Limits: defaultTestLimits})
	if err != nil {
		t.Fatal(err)
	}
	unloaded, _, err := e.op.AccountJWT(Account{ProjectID: "r", Limits: defaultTestLimits})
	if err != nil {
		t.Fatal(err)
	}
	e.connect(e.user(UserSpec{ProjectID: "p", Name: "u"}))
	for _, target := range []string{pub, unloaded} {
		for _, token := range []string{"not a jwt", otherJWT} {
			err := e.srv.pushLocked(target, token)
			if err == nil || !strings.Contains(err.Error(), "jwt update resulted in error") {
				t.Errorf("push of a bad JWT to %s (loaded %v): %v", target[:8], e.srv.IsLoaded(target), err)
			}
		}
	}
}

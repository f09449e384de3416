package pb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A member creates a project, issues a credential and uses core NATS,
// JetStream, KV and Object Store with it.
func TestIssuedCredentialUsesEverything(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Nia")
	pid := u.createProject(u.MyGroup, "everything")["id"].(string)
	cred := u.issue(pid, map[string]any{"name": "app"})
	if !strings.HasPrefix(cred["public_key"].(string), "U") || !strings.Contains(cred["creds"].(string), "BEGIN USER NKEY SEED") {
		t.Fatalf("issued credential = %v", cred)
	}
	nc := mustConnect(t, inst.NATSURL, cred)

	// pub/sub and request/reply
	sub, _ := nc.SubscribeSync("greet.>")
	nc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo:"), m.Data...)) })
	nc.Publish("greet.world", []byte("hi"))
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("pub/sub: %v %v", m, err)
	}
	if m, err := nc.Request("svc.echo", []byte("ping"), 2*time.Second); err != nil || string(m.Data) != "echo:ping" {
		t.Fatalf("request/reply: %v %v", m, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "orders.1", []byte("one")); err != nil {
		t.Fatalf("js publish: %v", err)
	}
	if msg, err := stream.GetMsg(ctx, 1); err != nil || string(msg.Data) != "one" {
		t.Fatalf("stream get: %v %v", msg, err)
	}

	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "config", MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("create kv: %v", err)
	}
	kv.Put(ctx, "color", []byte("blue"))
	if e, err := kv.Get(ctx, "color"); err != nil || string(e.Value()) != "blue" {
		t.Fatalf("kv get: %v %v", e, err)
	}

	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "files", MaxBytes: 4 << 20})
	if err != nil {
		t.Fatalf("create object store: %v", err)
	}
	blob := make([]byte, 300<<10)
	rand.Read(blob)
	if _, err := obs.PutBytes(ctx, "blob.bin", blob); err != nil {
		t.Fatalf("object put: %v", err)
	}
	if got, err := obs.GetBytes(ctx, "blob.bin"); err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("object get: %d bytes, %v", len(got), err)
	}

	// The stats route sees this connection and the streams.
	stats := u.must(200, "GET", "/api/pocketbus/projects/"+pid+"/stats", nil)
	jsStats := stats["jetstream"].(map[string]any)
	if stats["connections"].(float64) < 1 || stats["in_msgs"].(float64) < 1 || jsStats["streams"].(float64) != 3 || jsStats["storage"].(float64) < 300<<10 {
		t.Fatalf("stats = %v", stats)
	}
}

// Nothing published in one project is seen in another.
func TestProjectsAreIsolated(t *testing.T) {
	inst := shared(t)
	a, b := signUp(t, inst, "Ida"), signUp(t, inst, "Ivo")
	pa := a.createProject(a.MyGroup, "a")["id"].(string)
	pb := b.createProject(b.MyGroup, "b")["id"].(string)
	ncA := mustConnect(t, inst.NATSURL, a.issue(pa, nil))
	ncB := mustConnect(t, inst.NATSURL, b.issue(pb, nil))

	everything, _ := ncA.SubscribeSync(">")
	sysSub, err := ncA.SubscribeSync("$SYS.>")
	ncA.Flush()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	jsB, _ := jetstream.New(ncB)
	if _, err := jsB.CreateStream(ctx, jetstream.StreamConfig{Name: "SECRET", Subjects: []string{"secret.>"}, MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := jsB.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "secrets", MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := jsB.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "vault", MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	ncB.Publish("secret.plan", []byte("b only"))
	ncB.Publish("chat", []byte("b only"))
	ncB.Flush()

	if m, err := everything.NextMsg(500 * time.Millisecond); err == nil {
		t.Fatalf("project A saw %q on %q from project B", m.Data, m.Subject)
	}
	if err == nil {
		if m, err := sysSub.NextMsg(100 * time.Millisecond); err == nil {
			t.Fatalf("project A received system traffic on %s", m.Subject)
		}
	}

	jsA, _ := jetstream.New(ncA)
	names := jsA.StreamNames(ctx)
	for n := range names.Name() {
		t.Fatalf("project A lists stream %q", n)
	}
	if _, err := jsA.Stream(ctx, "SECRET"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("project A looked up B's stream: %v", err)
	}
	if _, err := jsA.KeyValue(ctx, "secrets"); err == nil {
		t.Fatal("project A opened B's KV bucket")
	}
	if _, err := jsA.ObjectStore(ctx, "vault"); err == nil {
		t.Fatal("project A opened B's object store")
	}
	// Asking B's JetStream API directly from A reaches nothing.
	if m, err := ncA.Request("$JS.API.STREAM.INFO.SECRET", nil, time.Second); err == nil && !strings.Contains(string(m.Data), "not found") {
		t.Fatalf("$JS.API from A answered about B's stream: %s", m.Data)
	}
	// A system-account request from a project credential is refused or unanswered.
	// (The servers' answer would carry "statsz"; inside a project nothing answers.)
	if m, err := ncA.Request("$SYS.REQ.SERVER.PING", nil, 500*time.Millisecond); err == nil {
		t.Fatalf("a project credential got an answer from the system account: %s", m.Data)
	}
}

// Limits set by a superuser apply live; members cannot set them.
func TestLimitsApplyLive(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Lou")
	su := superuser(t, inst)
	pid := u.createProject(u.MyGroup, "limits")["id"].(string)
	cred := u.issue(pid, nil)
	nc := mustConnect(t, inst.NATSURL, cred)

	u.fieldErr("js_max_streams", "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"js_max_streams": 1})
	su.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"js_max_streams": 1, "max_connections": 2, "max_payload": 2048})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ONE", Subjects: []string{"one"}, MaxBytes: 1 << 20}); err != nil {
		t.Fatalf("first stream: %v", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TWO", Subjects: []string{"two"}, MaxBytes: 1 << 20}); err == nil || !strings.Contains(err.Error(), "maximum number of streams") {
		t.Fatalf("second stream over js_max_streams=1: %v", err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "kv"}); err == nil {
		t.Fatal("a KV bucket is a stream too and must count against js_max_streams")
	}

	nc2 := mustConnect(t, inst.NATSURL, cred)
	if nc3, err := connect(t, inst.NATSURL, cred); err == nil {
		nc3.Close()
		t.Fatal("a third connection was accepted with max_connections=2")
	} else if !strings.Contains(strings.ToLower(err.Error()), "maximum account active connections") {
		t.Fatalf("third connection refused with an unexpected error: %v", err)
	}
	if max := nc2.MaxPayload(); max != 2048 {
		t.Fatalf("max payload told to a new connection = %d, want 2048", max)
	}
	if err := nc2.Publish("x", make([]byte, 4096)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("publishing over max_payload: %v", err)
	}
}

// pub_allow / sub_deny hold on the server.
func TestCredentialPermissions(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Per")
	pid := u.createProject(u.MyGroup, "perms")["id"].(string)
	full := mustConnect(t, inst.NATSURL, u.issue(pid, nil))
	violations := make(chan error, 10)
	limited := mustConnect(t, inst.NATSURL, u.issue(pid, map[string]any{
		"pub_allow": []string{"a.>"}, "sub_deny": []string{"secret.>"},
	}), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))

	seen, _ := full.SubscribeSync(">")
	full.Flush()
	limited.Publish("a.ok", []byte("1"))
	limited.Publish("b.forbidden", []byte("2"))
	limited.Flush()
	if m, err := seen.NextMsg(2 * time.Second); err != nil || m.Subject != "a.ok" {
		t.Fatalf("allowed publish: %v %v", m, err)
	}
	if m, err := seen.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("denied publish delivered on %s", m.Subject)
	}
	select {
	case err := <-violations:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("error = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no permissions violation reported for publishing outside pub_allow")
	}

	if _, err := limited.SubscribeSync("secret.keys"); err == nil {
		limited.Flush()
		select {
		case err := <-violations:
			if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("error = %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("subscribing to a sub_deny subject raised no violation")
		}
	}

	// Malformed subjects and expiries are refused, naming the field.
	u.fieldErr("pub_allow", "POST", "/api/pocketbus/projects/"+pid+"/credentials", map[string]any{"name": "x", "pub_allow": []string{"a.>.b"}})
	u.fieldErr("sub_deny", "POST", "/api/pocketbus/projects/"+pid+"/credentials", map[string]any{"name": "x", "sub_deny": []string{"a..b"}})
	u.fieldErr("name", "POST", "/api/pocketbus/projects/"+pid+"/credentials", map[string]any{"name": ""})
	u.fieldErr("expires", "POST", "/api/pocketbus/projects/"+pid+"/credentials", map[string]any{"name": "x", "expires": "tomorrow"})
	u.fieldErr("expires", "POST", "/api/pocketbus/projects/"+pid+"/credentials", map[string]any{"name": "x", "expires": "2001-01-01T00:00:00Z"})
	if n := len(u.list("credentials", "project='"+pid+"'")); n != 2 {
		t.Fatalf("%d credential records after refused issues, want 2", n)
	}
}

// Another tenant's project ids get nothing from the Pocketbus routes.
func TestRoutesRefuseOtherTenants(t *testing.T) {
	inst := shared(t)
	owner, stranger := signUp(t, inst, "Ros"), signUp(t, inst, "Sam")
	pid := owner.createProject(owner.MyGroup, "mine")["id"].(string)
	cred := owner.issue(pid, nil)
	anon := anonymous(t, inst)
	routes := []struct{ method, path string }{
		{"POST", "/api/pocketbus/projects/" + pid + "/credentials"},
		{"POST", "/api/pocketbus/credentials/" + cred["id"].(string) + "/revoke"},
		{"POST", "/api/pocketbus/projects/" + pid + "/token"},
		{"GET", "/api/pocketbus/projects/" + pid + "/stats"},
		{"POST", "/api/pocketbus/groups/" + owner.MyGroup + "/members"},
		{"POST", "/api/pocketbus/groups/" + owner.MyGroup + "/invites"},
		{"DELETE", "/api/pocketbus/groups/" + owner.MyGroup + "/members/" + owner.ID},
		{"POST", "/api/pocketbus/groups/" + owner.MyGroup + "/owner"},
	}
	for _, r := range routes {
		body := map[string]any{"name": "x", "email": stranger.Email, "user": stranger.ID}
		anon.must(401, r.method, r.path, body)
		if st, out := stranger.do(r.method, r.path, body); st != 404 && st != 403 {
			t.Fatalf("stranger %s %s: %d %v", r.method, r.path, st, out)
		}
	}
	if n := len(stranger.list("credentials", "")); n != 0 {
		t.Fatalf("a stranger lists %d credentials", n)
	}
	stranger.must(404, "GET", "/api/collections/credentials/records/"+cred["id"].(string), nil)
	// The credential still works: the stranger's revoke did nothing.
	mustConnect(t, inst.NATSURL, cred)
}

// The web app's token connects over WebSocket through the HTTP port.
func TestWebTokenOverSameOriginWebSocket(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Web")
	pid := u.createProject(u.MyGroup, "web")["id"].(string)
	tok := u.must(200, "POST", "/api/pocketbus/projects/"+pid+"/token", nil)
	exp, err := time.Parse(time.RFC3339, tok["expires"].(string))
	if err != nil || time.Until(exp) > time.Hour+time.Second || time.Until(exp) < 50*time.Minute {
		t.Fatalf("token expires %v (%v)", tok["expires"], err)
	}
	// ws_url is the app's own origin + /nats (SPEC §8), not the listener.
	wsURL := strings.Replace(inst.URL, "http://", "ws://", 1) + "/nats"
	if tok["ws_url"] != wsURL || inst.WSURL != wsURL {
		t.Fatalf("ws_url = %v (info: %v), want %v", tok["ws_url"], inst.WSURL, wsURL)
	}
	nc, err := nats.Connect(wsURL, nats.UserJWTAndSeed(tok["jwt"].(string), tok["seed"].(string)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect through /nats: %v", err)
	}
	defer nc.Close()
	tcp := mustConnect(t, inst.NATSURL, u.issue(pid, nil))
	sub, _ := nc.SubscribeSync("from.tcp")
	nc.Flush()
	tcp.Publish("from.tcp", []byte("hello browser"))
	if m, err := sub.NextMsg(2 * time.Second); err != nil || string(m.Data) != "hello browser" {
		t.Fatalf("message over the proxied WebSocket: %v %v", m, err)
	}
}

// The group page's stats come in one request: every project of the group,
// members only.
func TestGroupStatsInOneRequest(t *testing.T) {
	inst := shared(t)
	owner, stranger := signUp(t, inst, "Gst"), signUp(t, inst, "Nos")
	gid := owner.createGroup("Stats")
	a := owner.createProject(gid, "a")["id"].(string)
	b := owner.createProject(gid, "b")["id"].(string)
	mustConnect(t, inst.NATSURL, owner.issue(a, nil))
	stats := owner.must(200, "GET", "/api/pocketbus/groups/"+gid+"/stats", nil)["projects"].(map[string]any)
	if len(stats) != 2 || stats[a].(map[string]any)["connections"] != 1.0 || stats[b].(map[string]any)["connections"] != 0.0 {
		t.Fatalf("group stats = %v", stats)
	}
	stranger.must(404, "GET", "/api/pocketbus/groups/"+gid+"/stats", nil)
	anonymous(t, inst).must(401, "GET", "/api/pocketbus/groups/"+gid+"/stats", nil)
}

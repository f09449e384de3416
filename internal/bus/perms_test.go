package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// nothing fails if sub receives a message within d.
func nothing(t *testing.T, sub *nats.Subscription, d time.Duration, what string) {
	t.Helper()
	if m, err := sub.NextMsg(d); err == nil {
		t.Fatalf("%s: received %q on %s", what, m.Data, m.Subject)
	}
}

func shortCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	t.Cleanup(cancel)
	return c
}

func violation(t *testing.T, w *closeWatch, kind, subject string) {
	t.Helper()
	violationText(t, w, fmt.Sprintf("Permissions Violation for %s to %q", kind, subject))
}

func violationText(t *testing.T, w *closeWatch, want string) {
	t.Helper()
	eventually(t, 2*time.Second, want, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, err := range w.errs {
			if strings.Contains(err.Error(), want) {
				return true
			}
		}
		return false
	})
}

// A credential limited to app.> used to be able to publish anywhere: it
// subscribed to its own subject, published there with any reply subject and
// answered itself through the response permission every restricted
// credential got. Without allow_responses that is gone.
func TestReplyEscapeClosed(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	shutdown, _ := free.SubscribeSync("admin.shutdown")
	free.Flush()
	c := ctx(t)
	freeJS := newJS(t, free)
	if _, err := freeJS.CreateStream(c, jetstream.StreamConfig{Name: "VICTIM", Subjects: []string{"victim.>"}}); err != nil {
		t.Fatal(err)
	}

	nc, w := e.connect(e.user(UserSpec{ProjectID: "p", Name: "app", PubAllow: []string{"app.>"}}))
	loop, _ := nc.SubscribeSync("app.loop")
	nc.Flush()
	nc.PublishMsg(&nats.Msg{Subject: "app.loop", Reply: "admin.shutdown", Data: []byte("req")})
	m, err := loop.NextMsg(2 * time.Second)
	if err != nil {
		t.Fatalf("own message not received: %v", err)
	}
	m.Respond([]byte("boom"))
	nc.Flush()
	nothing(t, shutdown, 300*time.Millisecond, "reply escape to admin.shutdown")
	violation(t, w, "Publish", "admin.shutdown")

	// A JetStream API request as the reply subject. The stream surviving
	// proves little here: without allow_responses the answer is a publish
	// outside app.> (and into the $JS.> this credential is denied), refused
	// whatever nats-server does with the reply subject. What this pins is
	// nats-server's own refusal of a client publish carrying a $JS. reply
	// (isReservedReply), the violation below; TestAllowResponses checks
	// the stream survives where the response permission would let the
	// answer through.
	nc.PublishMsg(&nats.Msg{Subject: "app.loop", Reply: "$JS.API.STREAM.DELETE.VICTIM", Data: []byte("req")})
	if m, err := loop.NextMsg(300 * time.Millisecond); err == nil {
		m.Respond(nil)
	}
	nc.Flush()
	violationText(t, w, `Permissions Violation for Publish with Reply of "$JS.API.STREAM.DELETE.VICTIM"`)
	time.Sleep(100 * time.Millisecond)
	if _, err := freeJS.Stream(c, "VICTIM"); err != nil {
		t.Fatalf("stream VICTIM: %v", err)
	}
}

// allow_responses is what a service needs to answer requests outside its
// pub lists; without it the answer is refused.
func TestAllowResponses(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	requester, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "req", SubAllow: []string{"_INBOX.>"}, PubAllow: []string{"svc.>"}}))
	for _, allow := range []bool{true, false} {
		svc, w := e.connect(e.user(UserSpec{ProjectID: "p", Name: "svc", PubAllow: []string{"svc.events.>"}, SubAllow: []string{"svc.>"}, AllowResponses: allow}))
		subj := fmt.Sprintf("svc.echo.%v", allow)
		svc.Subscribe(subj, func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
		svc.Flush()
		m, err := requester.Request(subj, []byte("q"), 500*time.Millisecond)
		if allow && (err != nil || string(m.Data) != "re:q") {
			t.Fatalf("with allow_responses: %v", err)
		}
		if !allow {
			if err == nil {
				t.Fatalf("without allow_responses the service answered %q", m.Data)
			}
			violationText(t, w, `Permissions Violation for Publish to "_INBOX.`)
		}
		svc.Close()
	}
	// What the doc says allow_responses means: a credential that subscribes
	// to what it publishes reaches any subject once per message...
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	shutdown, _ := free.SubscribeSync("admin.shutdown")
	free.Flush()
	self, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "self", PubAllow: []string{"app.>"}, AllowResponses: true}))
	own, _ := self.SubscribeSync("app.own")
	self.Flush()
	self.PublishMsg(&nats.Msg{Subject: "app.own", Reply: "admin.shutdown"})
	if m, err := own.NextMsg(2 * time.Second); err != nil {
		t.Fatal(err)
	} else {
		m.Respond([]byte("documented"))
	}
	if m, err := shutdown.NextMsg(2 * time.Second); err != nil || string(m.Data) != "documented" {
		t.Fatalf("allow_responses self-reply: %v", err)
	}
	// ...but a JetStream API subject is no reply target.
	c := ctx(t)
	freeJS := newJS(t, free)
	if _, err := freeJS.CreateStream(c, jetstream.StreamConfig{Name: "VICTIM", Subjects: []string{"victim.>"}}); err != nil {
		t.Fatal(err)
	}
	nc, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "app", PubAllow: []string{"app.>"}, AllowResponses: true}))
	loop, _ := nc.SubscribeSync("app.loop")
	nc.Flush()
	nc.PublishMsg(&nats.Msg{Subject: "app.loop", Reply: "$JS.API.STREAM.DELETE.VICTIM"})
	if m, err := loop.NextMsg(300 * time.Millisecond); err == nil {
		m.Respond(nil)
	}
	nc.Flush()
	time.Sleep(100 * time.Millisecond)
	if _, err := freeJS.Stream(c, "VICTIM"); err != nil {
		t.Fatalf("stream VICTIM: %v", err)
	}
}

// pub_deny alone with allow_responses: nats-server would turn the missing
// pub allow list into an empty one, so IssueUser writes ">" explicitly.
func TestPubDenyWithResponsesStillPublishes(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	all, _ := free.SubscribeSync(">")
	free.Flush()
	u := e.user(UserSpec{ProjectID: "p", Name: "d", PubDeny: []string{"admin.>"}, AllowResponses: true})
	if uc := must2(jwt.DecodeUserClaims(u.JWT)); len(uc.Pub.Allow) != 1 || uc.Pub.Allow[0] != ">" || uc.Resp == nil {
		t.Fatalf("claims: %+v", uc.Permissions)
	}
	nc, w := e.connect(u)
	nc.Publish("admin.x", []byte("denied"))
	nc.Publish("app.x", []byte("ok"))
	nc.Flush()
	if m, err := all.NextMsg(2 * time.Second); err != nil || m.Subject != "app.x" {
		t.Fatalf("first message: %v %v", m, err)
	}
	violation(t, w, "Publish", "admin.x")
	// And it answers a request to a subject it may not publish to.
	nc.Subscribe("admin.svc", func(m *nats.Msg) { m.Respond([]byte("pong")) })
	nc.Flush()
	if m, err := free.Request("admin.svc", nil, time.Second); err != nil || string(m.Data) != "pong" {
		t.Fatalf("request: %v", err)
	}
}

// Without jetstream, a credential's deny lists hold against JetStream:
// nothing can copy, mirror, republish or read data around them.
func TestDenyListsCoverJetStream(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	freeJS := newJS(t, free)
	c := ctx(t)

	sd, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "sd", SubDeny: []string{"secret.>"}}))
	sdJS := newJS(t, sd)
	if _, err := sdJS.CreateStream(shortCtx(t), jetstream.StreamConfig{Name: "MINE", Subjects: []string{"secret.>"}}); err == nil {
		t.Fatal("sub_deny secret.> created a stream over secret.>")
	}
	if _, err := freeJS.Stream(c, "MINE"); err == nil {
		t.Fatal("stream MINE exists")
	}
	if _, err := freeJS.CreateStream(c, jetstream.StreamConfig{Name: "SECRET", Subjects: []string{"secret.>"}, AllowDirect: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := freeJS.Publish(c, "secret.1", []byte("classified")); err != nil {
		t.Fatal(err)
	}
	leaks := func(m *nats.Msg, err error) bool { return err == nil && len(m.Data) > 0 }
	for _, req := range []struct{ subj, body string }{
		{"$JS.API.DIRECT.GET.SECRET", `{"last_by_subj":"secret.1"}`},
		{"$JS.API.STREAM.MSG.GET.SECRET", `{"last_by_subj":"secret.1"}`},
		{"$JS.API.CONSUMER.CREATE.SECRET", `{"stream_name":"SECRET","config":{"deliver_subject":"mine","ack_policy":"none"}}`},
		{"$JS.API.STREAM.CREATE.COPY", `{"name":"COPY","subjects":["copy.>"],"sources":[{"name":"SECRET"}]}`},
		{"$JS.API.STREAM.CREATE.MIRROR", `{"name":"MIRROR","mirror":{"name":"SECRET"}}`},
	} {
		if m, err := sd.Request(req.subj, []byte(req.body), 300*time.Millisecond); leaks(m, err) {
			t.Fatalf("%s answered: %s", req.subj, m.Data)
		}
	}
	if _, err := sdJS.Stream(shortCtx(t), "SECRET"); err == nil {
		t.Fatal("sub_deny credential reached the stream")
	}
	sl := freeJS.StreamNames(c)
	if got := names(t, sl.Name(), sl.Err); len(got) != 1 {
		t.Fatalf("streams %v", got)
	}

	// pub_deny admin.>: no stream that republishes onto admin.
	adminWatch, _ := free.SubscribeSync("admin.>")
	inWatch, _ := free.SubscribeSync("in.>")
	free.Flush()
	pd, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "pd", PubDeny: []string{"admin.>"}}))
	pdJS := newJS(t, pd)
	_, err := pdJS.CreateStream(shortCtx(t), jetstream.StreamConfig{Name: "RP", Subjects: []string{"in.>"},
		RePublish: &jetstream.RePublish{Source: ">", Destination: "admin.{{wildcard(1)}}"}})
	if err == nil {
		t.Fatal("pub_deny admin.> created a stream republishing onto admin.>")
	}
	pd.Publish("in.x", []byte("payload"))
	pd.Flush()
	if m, err := inWatch.NextMsg(2 * time.Second); err != nil || m.Subject != "in.x" {
		t.Fatalf("pub_deny credential could not publish elsewhere: %v", err)
	}
	nothing(t, adminWatch, 300*time.Millisecond, "republish")
}

// With jetstream, a restricted credential uses streams and KV; its plain
// publishes stay within its list.
func TestJetStreamRestricted(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	watch, _ := free.SubscribeSync("admin.>")
	free.Flush()
	spec := UserSpec{ProjectID: "p", Name: "js", PubAllow: []string{"orders.>"}, SubAllow: []string{"_INBOX.>", "orders.>"}}

	plain, _ := e.connect(e.user(spec))
	if _, err := newJS(t, plain).CreateStream(shortCtx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err == nil {
		t.Fatal("created a stream without jetstream")
	}

	spec.JetStream = true
	nc, w := e.connect(e.user(spec))
	js := newJS(t, nc)
	c := ctx(t)
	st, err := js.CreateStream(c, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "orders.1", []byte("o1")); err != nil {
		t.Fatal(err)
	}
	cons, err := st.CreateOrUpdateConsumer(c, jetstream.ConsumerConfig{Durable: "work", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if string(m.Data()) != "o1" {
			t.Fatalf("fetched %q", m.Data())
		}
		if err := m.DoubleAck(c); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	kv, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(c, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if ent, err := kv.Get(c, "k"); err != nil || string(ent.Value()) != "v" {
		t.Fatalf("kv get: %v", err)
	}
	obs, err := js.CreateObjectStore(c, jetstream.ObjectStoreConfig{Bucket: "files"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(c, "f", []byte("file")); err != nil {
		t.Fatal(err)
	}
	if b, err := obs.GetBytes(c, "f"); err != nil || string(b) != "file" {
		t.Fatalf("object get: %v", err)
	}
	nc.Publish("admin.x", nil)
	nc.Flush()
	nothing(t, watch, 200*time.Millisecond, "plain publish outside pub_allow")
	violation(t, w, "Publish", "admin.x")
}

// A JWT too long for a NATS CONNECT is refused at issue time; the longest
// one accepted really connects.
func TestJWTSizeLimit(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	subjects := func(n, size int) []string {
		var out []string
		for i := range n {
			s := fmt.Sprintf("s%d.", i)
			out = append(out, s+strings.Repeat("x", size-len(s)))
		}
		return out
	}
	_, err := e.op.IssueUser(UserSpec{ProjectID: "p", PubAllow: subjects(2, 20), SubAllow: subjects(40, 100)})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "sub_allow" || !strings.Contains(fe.Message, fmt.Sprint(MaxUserJWTLen)) {
		t.Fatalf("oversized credential: %v", err)
	}
	// Grow one subject until the next byte would be refused.
	base := subjects(20, 100)
	var best IssuedUser
	lo, hi := 1, maxSubjectLen
	for lo <= hi {
		mid := (lo + hi) / 2
		u, err := e.op.IssueUser(UserSpec{ProjectID: "p", Name: "big", SubAllow: append(base, "t.>", "u."+strings.Repeat("y", mid))})
		if err == nil {
			best, lo = u, mid+1
		} else {
			hi = mid - 1
		}
	}
	if len(best.JWT) < MaxUserJWTLen-5 || len(best.JWT) > MaxUserJWTLen {
		t.Fatalf("largest accepted JWT is %d bytes, limit %d", len(best.JWT), MaxUserJWTLen)
	}
	nc, _ := e.connect(best, nats.Name(strings.Repeat("n", 200)))
	sub, _ := nc.SubscribeSync("t.>")
	nc.Publish("t.x", []byte("hi"))
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("largest accepted JWT: %d bytes, connects with a 200-byte client name", len(best.JWT))

	// Why the limit exists: a JWT signed past it does not get through the
	// server's default max control line.
	akp, _ := e.op.accountKey("p", "")
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	seed, _ := ukp.Seed()
	uc := jwt.NewUserClaims(upub)
	uc.Sub.Allow.Add(subjects(28, 100)...)
	token, _ := uc.Encode(akp)
	if len(token) < 3900 {
		t.Fatalf("test JWT only %d bytes", len(token))
	}
	if _, _, err := e.dial(e.srv.ClientURL(), IssuedUser{JWT: token, Seed: string(seed)}); err == nil || !strings.Contains(err.Error(), "maximum control line") {
		t.Fatalf("a %d-byte JWT: %v", len(token), err)
	}
}

func TestCredentialsThatAllowNothing(t *testing.T) {
	op, err := LoadOrCreateOperator(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		field string
		spec  UserSpec
	}{
		{"pub_deny", UserSpec{PubAllow: []string{"a.>"}, PubDeny: []string{">"}}},
		{"pub_deny", UserSpec{PubAllow: []string{"a.>"}, PubDeny: []string{"a.>"}}},
		{"pub_deny", UserSpec{PubAllow: []string{"a.b", "a.*.c"}, PubDeny: []string{"x", "a.*", "a.>"}}},
		{"sub_deny", UserSpec{SubAllow: []string{"a.*", "b.> q"}, SubDeny: []string{"a.>", "b.>", "*"}}},
		{"sub_deny", UserSpec{SubAllow: []string{"b.> q"}, SubDeny: []string{">"}}},
		{"pub_deny", UserSpec{PubDeny: []string{">"}, SubDeny: []string{">"}}},
		{"pub_deny", UserSpec{PubDeny: []string{">"}, SubDeny: []string{">"}, AllowResponses: true}},
		{"pub_deny", UserSpec{PubAllow: []string{"a.>"}, PubDeny: []string{"$JS.>"}, JetStream: true}},
	}
	for _, r := range refused {
		r.spec.ProjectID = "p"
		_, err := op.IssueUser(r.spec)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != r.field {
			t.Errorf("%+v: got %v, want a %s error", r.spec, err, r.field)
		}
	}
	for _, ok := range []UserSpec{
		{PubAllow: []string{"a.>"}, PubDeny: []string{"a.b"}},
		{PubAllow: []string{"a.>"}, PubDeny: []string{"a.*"}}, // a.b.c stays
		{SubAllow: []string{"jobs.> workers"}, SubDeny: []string{"jobs.> others"}},
		{PubDeny: []string{">"}},
		{SubDeny: []string{">"}},
		{PubDeny: []string{">"}, AllowResponses: true},
	} {
		ok.ProjectID = "p"
		if _, err := op.IssueUser(ok); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
}

// The two legitimate one-way credentials work on a real server.
func TestOneWayCredentials(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	seen, _ := free.SubscribeSync("x.>")
	free.Flush()

	subOnly, ws := e.connect(e.user(UserSpec{ProjectID: "p", Name: "sub-only", PubDeny: []string{">"}}))
	got, _ := subOnly.SubscribeSync("y.>")
	subOnly.Publish("x.1", []byte("no"))
	subOnly.Flush()
	free.Publish("y.1", []byte("to sub-only"))
	if m, err := got.NextMsg(2 * time.Second); err != nil || string(m.Data) != "to sub-only" {
		t.Fatalf("subscribe-only credential did not receive: %v", err)
	}
	violation(t, ws, "Publish", "x.1")
	nothing(t, seen, 200*time.Millisecond, "publish by a subscribe-only credential")

	pubOnly, wp := e.connect(e.user(UserSpec{ProjectID: "p", Name: "pub-only", SubDeny: []string{">"}}))
	pubOnly.SubscribeSync("y.>")
	pubOnly.Publish("x.2", []byte("from pub-only"))
	pubOnly.Flush()
	if m, err := seen.NextMsg(2 * time.Second); err != nil || string(m.Data) != "from pub-only" {
		t.Fatalf("publish-only credential did not publish: %v", err)
	}
	violation(t, wp, "Subscription", "y.>")
}

func TestQueuePermission(t *testing.T) {
	e := newEnv(t)
	e.project("p")
	free, _ := e.connect(e.user(UserSpec{ProjectID: "p", Name: "free"}))
	nc, w := e.connect(e.user(UserSpec{ProjectID: "p", Name: "worker", SubAllow: []string{"jobs.> workers"}}))
	q, err := nc.QueueSubscribeSync("jobs.x", "workers")
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := nc.SubscribeSync("jobs.x")
	other, _ := nc.QueueSubscribeSync("jobs.x", "others")
	nc.Flush()
	violation(t, w, "Subscription", "jobs.x")
	free.Publish("jobs.x", []byte("job"))
	free.Flush()
	if m, err := q.NextMsg(2 * time.Second); err != nil || string(m.Data) != "job" {
		t.Fatalf("queue subscriber: %v", err)
	}
	nothing(t, plain, 200*time.Millisecond, "plain subscription outside the queue permission")
	nothing(t, other, 50*time.Millisecond, "another queue group")
}

// covers agrees with nats-server's own subset match.
func TestCovers(t *testing.T) {
	subjects := []string{"a", "b", "a.b", "a.c", "a.*", "a.>", ">", "*", "*.b", "*.*", "*.>", "a.b.c", "a.*.c", "a.b.>", "a.*.>", "b.>", "*.*.*", "a.b.c.d"}
	for _, d := range subjects {
		for _, s := range subjects {
			if got, want := covers(d, s), server.SubjectMatchesFilter(s, d); got != want {
				t.Errorf("covers(%q, %q) = %v, nats-server says %v", d, s, got, want)
			}
		}
	}
	if !covers("jobs.>", "jobs.x workers") || covers("jobs.> workers", "jobs.x workers") {
		t.Error("queue handling")
	}
}

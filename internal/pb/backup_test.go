package pb_test

// Backups that a person can restore (SPEC §8): a consistent JetStream copy,
// and after a restore the credential rules hold.

import (
	"archive/zip"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// waitRestarted waits until the instance answers again on a new NATS port
// (the restore re-executes the process; its NATS port is picked anew).
func (i *instance) waitRestarted(t *testing.T, oldNATS string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(i.URL + "/api/pocketbus/info")
		if err == nil {
			var raw map[string]any
			json.NewDecoder(resp.Body).Decode(&raw)
			resp.Body.Close()
			if n, ok := raw["nats"].(map[string]any); ok && resp.StatusCode == 200 && n["url"] != oldNATS {
				i.NATSURL, i.WSURL = n["url"].(string), n["ws_url"].(string)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the instance did not come back after the restore: %s", i.logs())
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	inst := startInstance(t, "", "--nats-max-memory", "1G", "--nats-max-disk", "10G")
	su := superuser(t, inst)
	u := signUp(t, inst, "Bak")
	pid := u.createProject(u.MyGroup, "backed-up")["id"].(string)
	kept, revokedLater, writer := u.issue(pid, nil), u.issue(pid, nil), u.issue(pid, nil)

	// State at the backup: 5 messages, a KV key, a second project untouched.
	nc := mustConnect(t, inst.NATSURL, writer)
	js := lcJS(t, nc)
	ctx := lcCtx(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := js.Publish(ctx, "orders.new", []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "config", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	kv.PutString(ctx, "color", "blue")

	// The backup pauses JetStream while it copies the store. A client's
	// connection outlives it: what it had acknowledged before is in the
	// backup (checked after the restore) and a publish right after the
	// backup is acknowledged (JetStream comes back). Nothing is published
	// during the pause.
	su.must(204, "POST", "/api/backups", map[string]any{"name": "b1.zip"})
	if _, err := js.Publish(ctx, "orders.new", []byte("after-backup-1")); err != nil {
		t.Fatalf("JetStream did not come back after the backup: %v", err)
	}

	// The archive: the store and the seeds, not the journal.
	z, err := zip.OpenReader(filepath.Join(inst.dir, "backups", "b1.zip"))
	if err != nil {
		t.Fatal(err)
	}
	var store, journal, seeds bool
	for _, f := range z.File {
		store = store || strings.HasPrefix(f.Name, "nats/jetstream/")
		journal = journal || strings.HasPrefix(f.Name, "nats-journal")
		seeds = seeds || strings.HasPrefix(f.Name, "nats-operator/")
	}
	z.Close()
	if !store || journal || !seeds {
		t.Fatalf("backup contents: store %v, journal %v, seeds %v", store, journal, seeds)
	}

	// After the backup: more messages, a deletion (a sequence gap), a new
	// KV value, a revocation, a new credential.
	for i := 0; i < 3; i++ {
		js.Publish(ctx, "orders.new", []byte("later"))
	}
	stream, _ := js.Stream(ctx, "ORDERS")
	if err := stream.DeleteMsg(ctx, 2); err != nil {
		t.Fatal(err)
	}
	kv.PutString(ctx, "color", "red")
	u.must(200, "POST", "/api/pocketbus/credentials/"+revokedLater["id"].(string)+"/revoke", nil)
	issuedLater := u.issue(pid, nil)
	mustConnect(t, inst.NATSURL, issuedLater)
	nc.Close()

	old := inst.NATSURL
	su.must(204, "POST", "/api/backups/b1.zip/restore", nil)
	inst.waitRestarted(t, old)

	// Every stream as it was when the backup began.
	nc = mustConnect(t, inst.NATSURL, kept)
	js = lcJS(t, nc)
	// Accounts that loaded at start are re-signed by the journal catch-up:
	// see retryNoResponders.
	stream, err = retryNoResponders(t, func() (jetstream.Stream, error) { return js.Stream(lcCtx(t), "ORDERS") })
	if err != nil {
		t.Fatalf("stream after restore: %v", err)
	}
	st := stream.CachedInfo().State
	if st.Msgs != 5 || st.LastSeq != 5 || st.NumDeleted != 0 {
		t.Fatalf("stream after restore: %d messages, last seq %d, %d deleted; want 5, 5, 0", st.Msgs, st.LastSeq, st.NumDeleted)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		m, err := retryNoResponders(t, func() (*jetstream.RawStreamMsg, error) { return stream.GetMsg(lcCtx(t), seq) })
		if err != nil || string(m.Data) != string([]byte{byte('0' + seq)}) {
			t.Fatalf("message %d after restore: %v", seq, err)
		}
	}
	kv, err = retryNoResponders(t, func() (jetstream.KeyValue, error) { return js.KeyValue(lcCtx(t), "config") })
	if err != nil {
		t.Fatal(err)
	}
	if e, err := retryNoResponders(t, func() (jetstream.KeyValueEntry, error) { return kv.Get(lcCtx(t), "color") }); err != nil || string(e.Value()) != "blue" {
		t.Fatalf("KV after restore: %v", err)
	}
	// The credential rules of SPEC §8.
	lcRefused(t, inst.NATSURL, revokedLater, "a credential revoked after the backup")
	lcRefused(t, inst.NATSURL, issuedLater, "a credential issued after the backup (the restored database does not list it)")
	rec := u.must(200, "GET", "/api/collections/credentials/records/"+revokedLater["id"].(string), nil)
	if rec["revoked"] == "" {
		t.Fatalf("the restored record of a credential revoked after the backup does not say so: %v", rec)
	}
	mustConnect(t, inst.NATSURL, u.issue(pid, nil)) // issuing works again

	// The journal gone too (a restore on a new machine): nothing says what
	// was issued after the backup, so every project is rotated.
	inst.stop()
	if err := os.RemoveAll(filepath.Join(inst.dir, "nats-journal")); err != nil {
		t.Fatal(err)
	}
	if err := inst.start(); err != nil {
		t.Fatal(err)
	}
	lcRefused(t, inst.NATSURL, kept, "a credential from before a restart that lost the journal")
	mustConnect(t, inst.NATSURL, u.issue(pid, nil))
	if p := u.must(200, "GET", "/api/collections/projects/records/"+pid, nil); p["revoked_before"] == "" {
		t.Fatalf("the project was not rotated: %v", p)
	}
}

// A restore that fails (here: a file that is not a zip) starts NATS again
// on the current data. With ports picked at random it listens elsewhere
// than before, and everything that points at it must follow: the info
// route, /api/health and the /nats proxy, which used to keep relaying to
// the stopped server's WebSocket port.
func TestFailedRestoreStartsNATSAgain(t *testing.T) {
	inst := startInstance(t, "")
	su := superuser(t, inst)
	u := signUp(t, inst, "Frs")
	pid := u.createProject(u.MyGroup, "survives")["id"].(string)
	cred := u.issue(pid, nil)
	mustConnect(t, inst.NATSURL, cred)

	if err := os.MkdirAll(filepath.Join(inst.dir, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inst.dir, "backups", "broken.zip"), []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := inst.NATSURL
	su.must(204, "POST", "/api/backups/broken.zip/restore", nil)
	inst.waitRestarted(t, old) // NATS on a new port, in the same process

	if resp, err := http.Get(inst.URL + "/api/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/health after the failed restore: %v %v", resp, err)
	}
	mustConnect(t, inst.NATSURL, cred) // the data and the credential are as they were
	tok := u.must(200, "POST", "/api/pocketbus/projects/"+pid+"/token", nil)
	nc, err := nats.Connect(tok["ws_url"].(string), nats.UserJWTAndSeed(tok["jwt"].(string), tok["seed"].(string)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect through /nats after NATS started again: %v", err)
	}
	nc.Close()
	// One process (PocketBase's banner once), NATS started twice: the
	// restore failed and did not re-execute.
	if out := inst.logs(); strings.Count(out, "REST API:") != 1 || strings.Count(out, "NATS listening on") != 2 {
		t.Fatalf("the restore did not fail as the test means it to: %s", out)
	}
}

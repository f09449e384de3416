package pb_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pocketbus/pocketbus/internal/proc"
)

// startExternal runs an in-process nats-server from conf, a config that
// includes what `pocketbus nats operator` printed, and waits until it
// takes clients.
func startExternal(t *testing.T, conf string) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the printed config does not load in nats-server: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ext, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ext.Start()
	if !ext.ReadyForConnections(10 * time.Second) {
		t.Fatal("external nats-server not ready")
	}
	return ext
}

// An external nats-server configured only with `pocketbus nats operator`,
// with Pocketbus as its control plane (serve --nats-url): projects' accounts
// are pushed there, credentials connect there, revoke and delete act there,
// and a restart of Pocketbus pushes accounts it may have missed.
func TestExternalNATSServer(t *testing.T) {
	dir := t.TempDir()
	// The cluster is set up first: --init makes the operator of the new
	// data dir (without it, `nats operator` refuses a dir that has none).
	out, err := exec.Command(binPath, "nats", "operator", "--init", "--dir", dir, "--resolver-dir", filepath.Join(dir, "ext-jwt")).Output()
	if err != nil {
		t.Fatalf("nats operator: %v", err)
	}
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ext.conf")
	wsPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("listen: 127.0.0.1:%d\njetstream: {store_dir: %q}\nwebsocket: {listen: \"127.0.0.1:%d\", no_tls: true}\n",
		port, filepath.Join(dir, "ext-js"), wsPort)
	if err := os.WriteFile(conf, append([]byte(head), out...), 0o600); err != nil {
		t.Fatal(err)
	}
	ext := startExternal(t, conf)
	defer func() { ext.Shutdown() }()

	wsURL := fmt.Sprintf("ws://127.0.0.1:%d", wsPort)
	inst := startInstance(t, dir, "--nats-url", ext.ClientURL(), "--nats-ws-url", wsURL, "--nats-max-disk", "10G", "--nats-max-memory", "1G")
	if inst.NATSURL != ext.ClientURL() {
		t.Fatalf("info reports NATS at %s, want the cluster %s", inst.NATSURL, ext.ClientURL())
	}
	u := signUp(t, inst, "Ext")
	project := u.createProject(u.MyGroup, "external")
	pid, accountPub := project["id"].(string), project["account"].(string)
	cred := u.issue(pid, nil)
	nc := mustConnect(t, ext.ClientURL(), cred)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cfg", MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("KV on the external server: %v", err)
	}
	kv.Put(ctx, "k", []byte("v"))
	stats := u.must(200, "GET", "/api/pocketbus/projects/"+pid+"/stats", nil)
	if stats["connections"].(float64) != 1 || stats["jetstream"].(map[string]any)["streams"].(float64) != 1 {
		t.Fatalf("stats from the cluster = %v", stats)
	}

	// The web app's token reaches the cluster through /nats on the HTTP
	// port: ws_url is the app's own origin + /nats, not the cluster's
	// WebSocket URL (which clients of the app may not reach).
	tok := u.must(200, "POST", "/api/pocketbus/projects/"+pid+"/token", nil)
	if want := strings.Replace(inst.URL, "http://", "ws://", 1) + "/nats"; tok["ws_url"] != want {
		t.Fatalf("token ws_url = %v, want %s", tok["ws_url"], want)
	}
	browser, err := nats.Connect(strings.Replace(inst.URL, "http://", "ws://", 1)+"/nats",
		nats.UserJWTAndSeed(tok["jwt"].(string), tok["seed"].(string)), nats.NoReconnect())
	if err != nil {
		t.Fatalf("web token through /nats to the cluster: %v", err)
	}
	bkv, err := jetstream.New(browser)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := bkv.KeyValue(ctx, "cfg"); err != nil {
		t.Fatalf("KV through /nats: %v", err)
	} else if e, err := b.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("KV value through /nats: %v", err)
	}
	browser.Close()

	// Revoking closes the connection on the external server.
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	start := time.Now()
	u.must(200, "POST", "/api/pocketbus/credentials/"+cred["id"].(string)+"/revoke", nil)
	select {
	case <-closed:
		if d := time.Since(start); d > time.Second {
			t.Fatalf("revoked connection closed after %s", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("revoked connection stayed open on the external server")
	}

	// A restart of Pocketbus pushes again what the cluster may have missed:
	// here the server comes back with an empty resolver while Pocketbus is down.
	inst.stop()
	ext.Shutdown()
	ext.WaitForShutdown()
	if err := os.RemoveAll(filepath.Join(dir, "ext-jwt")); err != nil {
		t.Fatal(err)
	}
	ext = startExternal(t, conf)
	if err := inst.start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the account pushed again after restart", func() bool {
		_, err := os.Stat(filepath.Join(dir, "ext-jwt", accountPub+".jwt"))
		return err == nil
	})
	fresh := u.issue(pid, nil)
	mustConnect(t, ext.ClientURL(), fresh).Close()

	// Deleting the project removes its streams and account from the cluster.
	u.must(204, "DELETE", "/api/collections/projects/records/"+pid, nil)
	if _, err := connect(t, ext.ClientURL(), fresh); err == nil {
		t.Fatal("a deleted project's credential still connects to the cluster")
	}
	if a, err := ext.LookupAccount(accountPub); err == nil && a.JetStreamUsage().Streams != 0 {
		t.Fatal("the deleted project's streams are still on the cluster")
	}
}

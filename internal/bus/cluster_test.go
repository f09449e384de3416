package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startCluster runs a three-node JetStream cluster configured only from
// Operator.ServerConfig (what `pocketbus nats operator` prints), as an
// operator would run it next to Pocketbus.
func startCluster(t *testing.T, op *Operator) (urls string, nodes []*server.Server) {
	t.Helper()
	// Route ports are picked up front: every node lists all three routes,
	// as a static cluster config does. (nats-server binds its route listener
	// only once JetStream is up, so a seed's kernel-picked port cannot be
	// read before the others start.)
	ports := make([]int, 3)
	var routes []string
	for i := range ports {
		ports[i] = freeTCPPort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	for i := range 3 {
		dir := t.TempDir()
		conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:-1
jetstream: { store_dir: %q, max_memory_store: 256MB, max_file_store: 1GB }
cluster: { name: pb, listen: 127.0.0.1:%d, routes: [%s] }
%s`, i, filepath.Join(dir, "js"), ports[i], strings.Join(routes, ","), op.ServerConfig(filepath.Join(dir, "jwt")))
		path := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("the printed config does not load: %v", err)
		}
		opts.NoSigs, opts.NoLog = true, true
		ns, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		nodes = append(nodes, ns)
	}
	// A clustered JetStream server is ready only once the cluster has a
	// quorum, so readiness is awaited after all three are started.
	var clientURLs []string
	for i, ns := range nodes {
		if !ns.ReadyForConnections(30 * time.Second) {
			t.Fatalf("cluster node n%d not ready", i)
		}
		clientURLs = append(clientURLs, ns.ClientURL())
	}
	eventually(t, 20*time.Second, "a full mesh of routes", func() bool {
		for _, ns := range nodes {
			rz, err := ns.Routez(nil)
			if err != nil {
				return false
			}
			peers := map[string]bool{}
			for _, r := range rz.Routes {
				peers[r.RemoteID] = true
			}
			if len(peers) != len(nodes)-1 {
				return false
			}
		}
		return true
	})
	return strings.Join(clientURLs, ","), nodes
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The control plane pushes accounts to an external cluster, where projects
// get replicated JetStream; revoking, disabling and deleting work there too.
func TestClusterControlPlane(t *testing.T) {
	op, err := LoadOrCreateOperator(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	urls, nodes := startCluster(t, op)
	src := &mapSource{m: map[string]string{}}
	cl, err := ConnectCluster(urls, "", op, src)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Shutdown()

	limits := Limits{MaxConnections: -1, MaxPayload: -1, JSMaxMemory: 16 << 20, JSMaxDisk: 64 << 20, JSMaxStreams: 10, JSMaxConsumers: 10}
	// A salted project: deleting it needs the salt back from the cluster.
	salt := NewAccountSalt()
	sync := func(a Account) string {
		t.Helper()
		pub, token, err := op.AccountJWT(a)
		if err != nil {
			t.Fatal(err)
		}
		src.put(pub, token)
		if err := cl.SyncAccount(pub); err != nil {
			t.Fatalf("syncing the account: %v", err)
		}
		return pub
	}
	pub := sync(Account{ProjectID: "cluster1", Salt: salt, Limits: limits})
	if stored, err := cl.StoredAccounts(); err != nil || len(stored) != 1 || stored[0] != pub {
		t.Fatalf("stored accounts = %v, %v", stored, err)
	}
	user, _ := op.IssueUser(UserSpec{ProjectID: "cluster1", Salt: salt, Name: "u"})
	other, _ := op.IssueUser(UserSpec{ProjectID: "cluster1", Salt: salt, Name: "other"})
	var nc *nats.Conn
	// Every node's resolver has the account as soon as the push returns.
	for _, ns := range nodes {
		c, err := nats.Connect(ns.ClientURL(), nats.UserJWTAndSeed(user.JWT, user.Seed), nats.NoReconnect())
		if err != nil {
			t.Fatalf("connect to %s: %v", ns.Name(), err)
		}
		nc = c
		defer c.Close()
	}

	js, _ := jetstream.New(nc)
	// Electing JetStream leaders on a fresh cluster takes a few seconds.
	c, cancelAll := context.WithTimeout(context.Background(), time.Minute)
	defer cancelAll()
	var stream jetstream.Stream
	deadline := time.Now().Add(15 * time.Second)
	for {
		attempt, cancel := context.WithTimeout(c, 2*time.Second)
		stream, err = js.CreateStream(attempt, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3, MaxBytes: 1 << 20})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating a replicated stream: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := js.Publish(c, "r3.a", []byte("replicated")); err != nil {
		t.Fatal(err)
	}
	if info, _ := stream.Info(c); info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream is not replicated: %+v", info.Cluster)
	}
	st, err := cl.AccountStats(pub)
	if err != nil || st.Connections != 3 || st.JetStream.Streams != 1 {
		t.Fatalf("cluster stats = %+v, %v", st, err)
	}

	// Revoking one user closes its connections and leaves the other.
	oc, _, err := (&env{t: t, op: op}).dial(urls, other)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	start := time.Now()
	sync(Account{ProjectID: "cluster1", Salt: salt, Limits: limits, Revocations: map[string]time.Time{user.PublicKey: time.Now()}})
	select {
	case <-closed:
		if d := time.Since(start); d > time.Second {
			t.Fatalf("revoked connection closed after %s", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("revoked connection stayed open")
	}
	if !oc.IsConnected() {
		t.Fatal("the other credential was disconnected")
	}

	// Disabled, then deleted: the streams go from every node, and nobody connects.
	sync(Account{ProjectID: "cluster1", Salt: salt, Limits: limits, Disabled: true})
	eventually(t, 2*time.Second, "disable closes connections", func() bool { return oc.IsClosed() })
	src.del(pub)
	if err := cl.SyncAccount(pub); err != nil {
		t.Fatalf("delete: %v", err)
	}
	for _, ns := range nodes {
		if acc, err := ns.LookupAccount(pub); err == nil {
			if u := acc.JetStreamUsage(); u.Streams != 0 {
				t.Fatalf("%s still holds %d streams of the deleted account", ns.Name(), u.Streams)
			}
		}
	}
	if stored, err := cl.StoredAccounts(); err != nil || len(stored) != 0 {
		t.Fatalf("stored accounts after delete = %v, %v", stored, err)
	}
	fresh, _ := op.IssueUser(UserSpec{ProjectID: "cluster1", Salt: salt, Name: "late"})
	if c, err := nats.Connect(urls, nats.UserJWTAndSeed(fresh.JWT, fresh.Seed), nats.NoReconnect()); err == nil {
		c.Close()
		t.Fatal("a deleted account still accepts connections")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(err.Error(), "Authorization") && !strings.Contains(err.Error(), "maximum account") {
		t.Fatalf("refused with an unexpected error: %v", err)
	}
	// The system account cannot be deleted through this path.
	if err := cl.DeleteAccount(op.SystemAccountPublicKey()); err == nil {
		t.Fatal("deleting the system account was accepted")
	}
	if err := cl.SyncAccount(op.SystemAccountPublicKey()); err == nil {
		t.Fatal("syncing the system account was accepted")
	}
	// Syncing a deleted account again is harmless.
	if err := cl.SyncAccount(pub); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

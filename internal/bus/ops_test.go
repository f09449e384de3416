package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A listener that cannot bind fails Start at once with nats-server's own
// message, instead of a 30 s wait for readiness.
func TestStartFailsFastOnHeldPorts(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	e := newEnv(t)
	e.srv.Shutdown()
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"client port", func(c *Config) { c.Listen = addr }, "address already in use"},
		{"websocket port", func(c *Config) { c.WSListen = addr }, "websocket"},
		{"monitor port", func(c *Config) { c.MonitorListen = addr }, "monitor"},
		{"store", func(c *Config) { c.StoreDir = filepath.Join(e.opDir, "operator.seed", "store") }, "JetStream"},
	} {
		cfg := e.cfg
		cfg.StoreDir = t.TempDir()
		c.mod(&cfg)
		start := time.Now()
		srv, err := Start(cfg, e.op)
		took := time.Since(start)
		if err == nil {
			srv.Shutdown()
			t.Fatalf("%s: Start succeeded", c.name)
		}
		if !strings.Contains(err.Error(), c.want) || took > 5*time.Second {
			t.Fatalf("%s: after %s: %v (want it to mention %q within 5 s)", c.name, took, err, c.want)
		}
		t.Logf("%s: failed after %s: %v", c.name, took.Round(time.Millisecond), err)
	}
}

// A refused client is one warning with its address, account, user and why;
// nats-server's bare "authentication error" line is not at error level.
func TestAuthFailureLog(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t)
	e.srv.Shutdown()
	e.cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.start()
	pub := e.project("authlog")
	u := e.user(UserSpec{ProjectID: "authlog", Name: "laptop"})
	e.apply(Account{ProjectID: "authlog", Limits: defaultTestLimits, Revocations: map[string]time.Time{u.PublicKey: time.Now().Add(time.Second)}})
	e.mustRefuse(u, "")
	var line string
	eventually(t, 5*time.Second, "the authentication failure in the log", func() bool {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, "client authentication failed") {
				line = l
				return true
			}
		}
		return false
	})
	for _, want := range []string{"level=WARN", "remote=127.0.0.1", "account=" + pub, "user=" + u.PublicKey, "credential=laptop", "project=authlog", `reason="credential revoked"`} {
		if !strings.Contains(line, want) {
			t.Fatalf("auth failure line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(buf.String(), "level=ERROR") {
		t.Fatalf("a client's failure logged as an error:\n%s", buf.String())
	}
}

// TLS on the client port: a client that trusts the CA connects, a plain
// one is refused; the WebSocket listener is wss and its proxy target
// trusts exactly the server's certificate.
func TestTLSListeners(t *testing.T) {
	dir := t.TempDir()
	caPEM, certFile, keyFile := writeTestCert(t, dir, "127.0.0.1")
	e := newEnv(t)
	e.srv.Shutdown()
	e.cfg.TLSCert, e.cfg.TLSKey = certFile, keyFile
	e.start()
	if !strings.HasPrefix(e.srv.ClientURL(), "tls://") || !strings.HasPrefix(e.srv.WebsocketURL(), "wss://") {
		t.Fatalf("URLs %s %s", e.srv.ClientURL(), e.srv.WebsocketURL())
	}
	e.project("tls")
	u := e.user(UserSpec{ProjectID: "tls", Name: "tls"})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	plainURL := strings.Replace(e.srv.ClientURL(), "tls://", "nats://", 1)
	nc, _, err := e.dial(plainURL, u, nats.Secure(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	nc.Close()
	if nc, _, err := e.dial(plainURL, u); err == nil {
		nc.Close()
		t.Fatal("a plain client connected to a TLS server")
	}
	target, tc := e.srv.WebsocketProxyTarget()
	if !strings.HasPrefix(target, "wss://127.0.0.1:") || tc == nil {
		t.Fatalf("proxy target %s %v", target, tc)
	}
	host := strings.TrimPrefix(target, "wss://")
	conn, err := tls.Dial("tcp", host, tc)
	if err != nil {
		t.Fatalf("pinned TLS to the WebSocket listener: %v", err)
	}
	conn.Close()
	// The pinned config refuses another certificate.
	other := httpsTestServer(t)
	if conn, err := tls.Dial("tcp", other, tc); err == nil {
		conn.Close()
		t.Fatal("the pinned config accepted another certificate")
	}
}

// SystemUserCreds answer $SYS.REQ.SERVER.PING; LoadOperator never creates.
func TestSystemUserCreds(t *testing.T) {
	e := newEnv(t)
	creds, _, err := e.op.SystemUserCreds("ops", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sys.creds")
	os.WriteFile(path, []byte(creds), 0o600)
	nc, err := nats.Connect(e.srv.ClientURL(), nats.UserCredentials(path))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("$SYS.REQ.SERVER.PING", nil, 2*time.Second); err != nil {
		t.Fatalf("server ping with the system credential: %v", err)
	}
	empty := t.TempDir()
	if _, err := LoadOperator(empty, ""); err == nil {
		t.Fatal("LoadOperator made an operator")
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("LoadOperator wrote %v", entries)
	}
	if op, err := LoadOperator(e.opDir, ""); err != nil || op.PublicKey() != e.op.PublicKey() {
		t.Fatalf("LoadOperator of the existing operator: %v", err)
	}
}

// writeTestCert writes a self-signed CA and a server certificate for host.
func writeTestCert(t *testing.T, dir, host string) (caPEM []byte, certFile, keyFile string) {
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
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		leaf.IPAddresses = []net.IP{ip}
	} else {
		leaf.DNSNames = []string{host}
	}
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

// httpsTestServer is a TLS listener with another self-signed certificate.
func httpsTestServer(t *testing.T) string {
	t.Helper()
	_, certFile, keyFile := writeTestCert(t, t.TempDir(), "127.0.0.1")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return l.Addr().String()
}

package bus

import (
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// The derived account key's cached public key and signatures must be the
// nkeys key pair's own, and the creds text jwt.FormatUserConfig's.
func TestDerivedKeyAndCredsMatchTheLibraries(t *testing.T) {
	op, err := LoadOrCreateOperator(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := op.accountKey("p1", "")
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	plain, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := kp.PublicKey()
	want, _ := plain.PublicKey()
	if got != want {
		t.Fatalf("public key %s, nkeys says %s", got, want)
	}
	sig, _ := kp.Sign([]byte("nonce"))
	if err := plain.Verify([]byte("nonce"), sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}

	u, err := op.IssueUser(UserSpec{ProjectID: "p1", Name: "x", PubAllow: []string{"a.>"}})
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(u.JWT) // verifies the signature
	if err != nil {
		t.Fatal(err)
	}
	if uc.Issuer != want || uc.Subject != u.PublicKey {
		t.Fatalf("issuer %s subject %s", uc.Issuer, uc.Subject)
	}
	lib, err := jwt.FormatUserConfig(u.JWT, []byte(u.Seed))
	if err != nil {
		t.Fatal(err)
	}
	if u.Creds != string(lib) {
		t.Fatalf("creds differ from jwt.FormatUserConfig:\n%s\n---\n%s", u.Creds, lib)
	}
}

package bus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
)

func TestOperatorPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "op")
	a, err := LoadOrCreateOperator(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateOperator(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicKey() != b.PublicKey() || a.SystemAccountPublicKey() != b.SystemAccountPublicKey() {
		t.Fatal("operator keys changed between loads")
	}
	pa, _ := a.AccountPublicKey("proj1", "")
	pb, _ := b.AccountPublicKey("proj1", "")
	pc, _ := b.AccountPublicKey("proj2", "")
	if pa != pb || !strings.HasPrefix(pa, "A") || pa == pc {
		t.Fatalf("derived account keys: %s %s %s", pa, pb, pc)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", st.Mode().Perm())
	}
	for _, f := range []string{operatorSeedFile, systemSeedFile, masterKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", f, st.Mode().Perm())
		}
	}
	oc, err := jwt.DecodeOperatorClaims(a.JWT())
	if err != nil || oc.SystemAccount != a.SystemAccountPublicKey() || oc.Subject != a.PublicKey() {
		t.Fatalf("operator jwt: %v %+v", err, oc)
	}
	// A half-present identity must not be papered over with a new one.
	os.Remove(filepath.Join(dir, masterKeyFile))
	if _, err := LoadOrCreateOperator(dir, ""); err == nil {
		t.Fatal("incomplete operator dir accepted")
	}
}

func TestOperatorEncrypted(t *testing.T) {
	dir := t.TempDir()
	key := strings.Repeat("k", 32)
	a, err := LoadOrCreateOperator(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, operatorSeedFile))
	// (Not "contains SO": random base64 ciphertext does, now and then.)
	seed, _ := a.opKP.Seed()
	if !strings.HasPrefix(string(raw), encPrefix) || strings.Contains(string(raw), string(seed)) {
		t.Fatalf("seed stored in clear: %q", raw)
	}
	b, err := LoadOrCreateOperator(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicKey() != b.PublicKey() {
		t.Fatal("encrypted round trip changed the operator")
	}
	pa, _ := a.AccountPublicKey("p", "")
	pb, _ := b.AccountPublicKey("p", "")
	if pa != pb {
		t.Fatal("master secret changed")
	}
	_, err = LoadOrCreateOperator(dir, strings.Repeat("x", 32))
	if !errors.Is(err, ErrWrongEncryptionKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := LoadOrCreateOperator(dir, ""); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("missing key: %v", err)
	}
	// The failed opens must not have replaced anything.
	c, err := LoadOrCreateOperator(dir, key)
	if err != nil || c.PublicKey() != a.PublicKey() {
		t.Fatalf("operator changed after failed opens: %v", err)
	}
}

func TestOperatorPlainThenEncrypted(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateOperator(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("z", 32)
	b, err := LoadOrCreateOperator(dir, key)
	if err != nil || b.PublicKey() != a.PublicKey() {
		t.Fatalf("upgrade to encrypted: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, masterKeyFile))
	if !strings.HasPrefix(string(raw), encPrefix) {
		t.Fatal("plain file not encrypted after opening with a key")
	}
}

func TestValidateSubjects(t *testing.T) {
	good := []string{"a", "a.b", "a.*", "a.>", ">", "*", "a.*.c", "_INBOX.>", "$KV.b.>", "ünï.cödé"}
	for _, f := range []string{"pub_allow", "pub_deny", "sub_allow", "sub_deny"} {
		if err := ValidateSubjects(f, good); err != nil {
			t.Fatal(err)
		}
	}
	// Queue permissions are for subscriptions only.
	queues := []string{"jobs.> workers", "jobs.* w.*"}
	for _, f := range []string{"sub_allow", "sub_deny"} {
		if err := ValidateSubjects(f, queues); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"pub_allow", "pub_deny"} {
		var fe *FieldError
		if err := ValidateSubjects(f, queues[:1]); !errors.As(err, &fe) || fe.Field != f || !strings.Contains(fe.Message, "sub_allow") {
			t.Errorf("%s with a queue: %v", f, err)
		}
	}
	bad := []string{"", " ", "a  b", "a b c", " a", "a ", "a.>.b", "a..b", ".a", "a.", "a*", "a.b>", "\ta", "a\tb", "a\nb",
		"a.> b..c", "a.> >.b", "\xff", strings.Repeat("x", 513)}
	for _, f := range []string{"pub_allow", "sub_deny"} {
		for _, b := range append(bad, map[string]string{"pub_allow": "a b", "sub_deny": "a.b c>"}[f]) {
			err := ValidateSubjects(f, []string{"ok", b})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != f || !strings.Contains(fe.Message, fmt.Sprintf("%q", b)) {
				t.Errorf("%s %q: got %v", f, b, err)
			}
		}
	}
	if _, err := (&Operator{}).IssueUser(UserSpec{ProjectID: "p", PubAllow: []string{"a..b"}}); err == nil {
		t.Fatal("IssueUser accepted a bad subject")
	}
}

func TestIssueUserClaims(t *testing.T) {
	op, err := LoadOrCreateOperator(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	u, err := op.IssueUser(UserSpec{ProjectID: "p", Name: "n", PubAllow: []string{"a.>"}, Expires: exp, AllowResponses: true})
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(u.JWT)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := op.AccountPublicKey("p", "")
	if uc.Issuer != acc || uc.Subject != u.PublicKey || uc.Expires != exp.Unix() || uc.Resp == nil {
		t.Fatalf("claims: %+v", uc)
	}
	if !strings.Contains(u.Creds, u.JWT) || !strings.Contains(u.Creds, u.Seed) {
		t.Fatal("creds text lacks jwt or seed")
	}
}

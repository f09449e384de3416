package bus

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
)

// Projects created before salts (salt "") keep the key the old derivation
// gave them: pinned with a vector computed by the code before salts existed.
func TestAccountKeyUnsaltedVector(t *testing.T) {
	o := &Operator{master: []byte("0123456789abcdef0123456789abcdef")}
	got, err := o.AccountPublicKey("proj1", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "AB7PSLPTNT7YKF5TNJ4UZRT7ZMRZKMBPWUJPE5ZH4WU2DEPQSRBSD27X"; got != want {
		t.Fatalf("unsalted key of proj1 = %s, want %s", got, want)
	}
}

func TestAccountKeySalted(t *testing.T) {
	op, err := LoadOrCreateOperator(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := NewAccountSalt(), NewAccountSalt()
	if a == b || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) {
		t.Fatalf("salts %q %q", a, b)
	}
	plain := mustPub(t, op, "p")
	ka, _ := op.AccountPublicKey("p", a)
	kb, _ := op.AccountPublicKey("p", b)
	ka2, _ := op.AccountPublicKey("p", a)
	if ka == kb || ka == plain || kb == plain || ka != ka2 {
		t.Fatalf("keys: plain %s, a %s, b %s, a again %s", plain, ka, kb, ka2)
	}
	for _, bad := range []string{"ABCD", "a/b", "g", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"} {
		_, err := op.AccountPublicKey("p", bad)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "salt" {
			t.Errorf("salt %q: %v", bad, err)
		}
	}
	// The JWT names the project and carries the salt (for the cluster).
	pub, token, err := op.AccountJWT(Account{ProjectID: "p", Salt: a, Limits: defaultTestLimits})
	if err != nil || pub != ka {
		t.Fatalf("AccountJWT: %s %v", pub, err)
	}
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil || ac.Name != "p" || accountSalt(ac) != a {
		t.Fatalf("claims name %q salt %q: %v", ac.Name, accountSalt(ac), err)
	}
	// Users are signed by the salted key.
	u, err := op.IssueUser(UserSpec{ProjectID: "p", Salt: a, Name: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if uc, err := jwt.DecodeUserClaims(u.JWT); err != nil || uc.Issuer != ka {
		t.Fatalf("user issuer: %v", err)
	}
}

// A project deleted and another created with the same id: the old
// project's credential never reaches the new account.
func TestSaltedAccountNotReused(t *testing.T) {
	e := newEnv(t)
	saltA, saltB := NewAccountSalt(), NewAccountSalt()
	pubA := e.apply(Account{ProjectID: "same", Salt: saltA, Limits: defaultTestLimits})
	old := e.user(UserSpec{ProjectID: "same", Salt: saltA, Name: "old"})
	_, w := e.connect(old)

	start := time.Now()
	e.remove(pubA)
	waitClosed(t, w, start, time.Second)

	pubB := e.apply(Account{ProjectID: "same", Salt: saltB, Limits: defaultTestLimits})
	if pubA == pubB {
		t.Fatal("same id, new salt, same account key")
	}
	e.mustRefuse(old, "")
	nc, _ := e.connect(e.user(UserSpec{ProjectID: "same", Salt: saltB, Name: "new"}))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Even while both accounts exist, a credential of one is a user of that
	// account only: salt A's credential signed for B's id does not verify
	// as B's.
	e.apply(Account{ProjectID: "same", Salt: saltA, Limits: defaultTestLimits})
	ncOld, _ := e.connect(old)
	sub, _ := nc.SubscribeSync("x")
	nc.Flush()
	ncOld.Publish("x", []byte("from A"))
	ncOld.Flush()
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("B received %q from A's credential", m.Data)
	}
}

// Web tokens with one WebKey share a user key: one revocation entry closes
// and refuses all of them, and a token issued after it connects.
func TestWebKeyRevocation(t *testing.T) {
	e := newEnv(t)
	salt := NewAccountSalt()
	acct := Account{ProjectID: "p", Salt: salt, Limits: defaultTestLimits}
	e.apply(acct)
	web := func(key string) IssuedUser {
		return e.user(UserSpec{ProjectID: "p", Salt: salt, Name: "web", WebKey: key, Expires: time.Now().Add(time.Hour)})
	}
	t1, t2, other := web("member-1"), web("member-1"), web("member-2")
	want, err := e.op.DerivedUserPublicKey("p", salt, "member-1")
	if err != nil {
		t.Fatal(err)
	}
	if t1.PublicKey != want || t2.PublicKey != want || other.PublicKey == want {
		t.Fatalf("keys %s %s %s, derived %s", t1.PublicKey, t2.PublicKey, other.PublicKey, want)
	}
	if k, _ := e.op.DerivedUserPublicKey("p", NewAccountSalt(), "member-1"); k == want {
		t.Fatal("web key independent of the account")
	}
	_, w1 := e.connect(t1)
	_, w2 := e.connect(t2)
	ncOther, wOther := e.connect(other)

	revokedAt := time.Now()
	acct.Revocations = map[string]time.Time{want: revokedAt}
	start := time.Now()
	e.apply(acct)
	waitClosed(t, w1, start, time.Second)
	waitClosed(t, w2, start, time.Second)
	e.mustRefuse(t1, "authorization violation")
	e.mustRefuse(t2, "authorization violation")
	select {
	case <-wOther.closed:
		t.Fatal("another member's web token was closed")
	default:
	}
	if err := ncOther.Flush(); err != nil {
		t.Fatal(err)
	}
	// JWT times have one-second resolution: a token issued in a later
	// second than the revocation is newer than it.
	for time.Now().Unix() <= revokedAt.Unix() {
		time.Sleep(20 * time.Millisecond)
	}
	fresh := web("member-1")
	if fresh.PublicKey != want {
		t.Fatal("fresh token has another key")
	}
	e.connect(fresh)
}

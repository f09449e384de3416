package pb

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// A project's revocation list is bounded: expired entries leave the account
// JWT when it is re-signed, and past tenancy.MaxRevocations live entries a
// revoke is refused with a 400 instead of producing an account JWT NATS
// cannot take in one message. (The end-to-end revocation tests are in
// lifecycle_test.go.)
func TestRevocationListIsBounded(t *testing.T) {
	app, hub := newTestApp(t)
	u := newUser(t, app, "bounded@pocketbus.test")
	p := newProject(t, app, u.GetString("mygroup"), "bounded")

	// MaxRevocations-1 live revocation rows and as many of expired credentials.
	now := time.Now().UTC()
	var expiredKey string
	err := app.RunInTransaction(func(tx core.App) error {
		for i := 0; i < 2*(tenancy.MaxRevocations-1); i++ {
			kp, _ := nkeys.CreateUser()
			pub, _ := kp.PublicKey()
			at, expires := now, ""
			if i%2 == 1 {
				at, expires, expiredKey = now.Add(-2*time.Hour), now.Add(-time.Hour).Format(types.DefaultDateLayout), pub
			}
			if _, err := tx.DB().NewQuery(`INSERT INTO revocations (id, project, public_key, revoked_at, expires, created)
				VALUES ({:id}, {:p}, {:k}, {:at}, {:exp}, {:at})`).Bind(dbx.Params{
				"id": fmt.Sprintf("r%014d", i), "p": p.Id, "k": pub, "at": at.Format(types.DefaultDateLayout), "exp": expires,
			}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Set("description", "re-sign") // any save re-signs the account from the rows
	if err := app.Save(p); err != nil {
		t.Fatalf("saving a project with %d live revocations: %v", tenancy.MaxRevocations-1, err)
	}
	p, _ = app.FindRecordById(tenancy.Projects, p.Id)
	ac, err := jwt.DecodeAccountClaims(p.GetString("account_jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ac.Revocations) != tenancy.MaxRevocations-1 {
		t.Fatalf("account JWT revokes %d keys, want the %d live ones", len(ac.Revocations), tenancy.MaxRevocations-1)
	}
	if _, kept := ac.Revocations[expiredKey]; kept {
		t.Fatal("an expired credential's revocation was signed into the account")
	}

	actor := tenancy.Actor{Superuser: true}
	issue := func(name string) *core.Record {
		t.Helper()
		issued, err := hub.Tenancy.IssueCredential(app, actor, p, tenancy.IssueRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		cred, err := app.FindRecordById(tenancy.Credentials, issued.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	// The last one that fits.
	if _, err := hub.Tenancy.RevokeCredential(app, actor, issue("last").Id); err != nil {
		t.Fatalf("revocation %d: %v", tenancy.MaxRevocations, err)
	}
	p, _ = app.FindRecordById(tenancy.Projects, p.Id)
	size := len(p.GetString("account_jwt"))
	t.Logf("account JWT with %d revocations: %d bytes", tenancy.MaxRevocations, size)
	if size >= 1<<20 {
		t.Fatalf("account JWT of %d bytes does not fit one NATS message", size)
	}
	// One more is refused, saying why, and nothing changes.
	over := issue("over")
	_, err = hub.Tenancy.RevokeCredential(app, actor, over.Id)
	if apiErr, ok := err.(*router.ApiError); !ok || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("revocation over the bound: %v", err)
	}
	over, _ = app.FindRecordById(tenancy.Credentials, over.Id)
	if !over.GetDateTime("revoked").IsZero() {
		t.Fatal("a refused revoke marked the credential revoked")
	}
	if err := app.Delete(over); err == nil {
		t.Fatal("deleting a credential whose key cannot be revoked succeeded")
	}
}

// Rotating is the way out of a full revocation list (the 400 says so): a
// project at tenancy.MaxRevocations live revocations still rotates, by the
// route and by the start-up catch-up after a restore without the journal,
// and the "*" entry replaces every key revoked before it in the account
// JWT, so revoking works again afterwards.
func TestRotationAtTheRevocationCap(t *testing.T) {
	app, hub := newTestApp(t)
	u := newUser(t, app, "cap@pocketbus.test")
	p := newProject(t, app, u.GetString("mygroup"), "full")
	q := newProject(t, app, u.GetString("mygroup"), "full-too")

	before := time.Now().UTC().Add(-time.Minute)
	err := app.RunInTransaction(func(tx core.App) error {
		for i := 0; i < 2*tenancy.MaxRevocations; i++ {
			project := p.Id
			if i%2 == 1 {
				project = q.Id
			}
			kp, _ := nkeys.CreateUser()
			pub, _ := kp.PublicKey()
			if _, err := tx.DB().NewQuery(`INSERT INTO revocations (id, project, public_key, revoked_at, expires, created)
				VALUES ({:id}, {:p}, {:k}, {:at}, '', {:at})`).Bind(dbx.Params{
				"id": fmt.Sprintf("c%014d", i), "p": project, "k": pub, "at": before.Format(types.DefaultDateLayout),
			}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	revocations := func(p *core.Record) jwt.RevocationList {
		t.Helper()
		p, _ = app.FindRecordById(tenancy.Projects, p.Id)
		ac, err := jwt.DecodeAccountClaims(p.GetString("account_jwt"))
		if err != nil {
			t.Fatal(err)
		}
		return ac.Revocations
	}
	p.Set("description", "re-sign")
	if err := app.Save(p); err != nil {
		t.Fatal(err)
	}
	if n := len(revocations(p)); n != tenancy.MaxRevocations {
		t.Fatalf("account JWT revokes %d keys, want %d", n, tenancy.MaxRevocations)
	}
	actor := tenancy.Actor{Superuser: true}
	issue := func(name string) *core.Record {
		t.Helper()
		p, _ := app.FindRecordById(tenancy.Projects, p.Id) // as the route loads it: after a rotation, issuing waits for the next second
		issued, err := hub.Tenancy.IssueCredential(app, actor, p, tenancy.IssueRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		cred, _ := app.FindRecordById(tenancy.Credentials, issued.ID)
		return cred
	}
	if _, err := hub.Tenancy.RevokeCredential(app, actor, issue("over").Id); err == nil {
		t.Fatal("a revocation over the cap was accepted")
	}

	if _, err := hub.Tenancy.Rotate(app, actor, p.Id); err != nil {
		t.Fatalf("rotating a project at the revocation cap: %v", err)
	}
	revs := revocations(p)
	if _, ok := revs[jwt.All]; !ok || len(revs) != 1 {
		t.Fatalf("after the rotation the account JWT revokes %d entries (\"*\" in it: %v), want the \"*\" one only", len(revs), ok)
	}
	cred := issue("after")
	if _, err := hub.Tenancy.RevokeCredential(app, actor, cred.Id); err != nil {
		t.Fatalf("revoking after the rotation: %v", err)
	}
	revs = revocations(p)
	if _, ok := revs[cred.GetString("public_key")]; !ok || len(revs) != 2 {
		t.Fatalf("after one more revoke the account JWT revokes %d entries (the new key in it: %v), want \"*\" and the new key", len(revs), ok)
	}

	// A restore without the journal: the start rotates every project,
	// the full one included, and does not fail the start.
	if _, err := app.DB().NewQuery("INSERT OR REPLACE INTO _pocketbus_meta (key, value) VALUES ('journal_id', 'another')").Execute(); err != nil {
		t.Fatal(err)
	}
	j, err := tenancy.OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	hub.Tenancy.SetJournal(j)
	defer hub.Tenancy.SetJournal(nil)
	caught, err := hub.Tenancy.CatchUpJournal(app)
	if err != nil || caught.Rotated != 2 {
		t.Fatalf("the catch-up after a restore without the journal: %+v, %v; want 2 projects rotated", caught, err)
	}
	if revs := revocations(q); len(revs) != 1 {
		t.Fatalf("the full project's account JWT revokes %d entries after the catch-up, want the \"*\" one", len(revs))
	}
}

// A project created with the id of a deleted one (only Go code can choose
// ids) never gets the deleted one's account: the key is derived from a
// fresh random salt too (finding 2 of the tenant-trust issue).
func TestAccountKeyNeverReused(t *testing.T) {
	app, hub := newTestApp(t)
	u := newUser(t, app, "reuse@pocketbus.test")
	first := newProject(t, app, u.GetString("mygroup"), "first")
	id, account := first.Id, first.GetString("account")
	issued, err := hub.Tenancy.IssueCredential(app, tenancy.Actor{Superuser: true}, first, tenancy.IssueRequest{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(first); err != nil {
		t.Fatal(err)
	}
	projects, _ := app.FindCollectionByNameOrId(tenancy.Projects)
	again := core.NewRecord(projects)
	again.Id = id
	again.Set("name", "again")
	again.Set("group", u.GetString("mygroup"))
	if err := app.Save(again); err != nil {
		t.Fatal(err)
	}
	if again.GetString("account") == account {
		t.Fatalf("project %s got its deleted predecessor's account %s", id, account)
	}
	uc, err := jwt.DecodeUserClaims(issued.JWT)
	if err != nil {
		t.Fatal(err)
	}
	if uc.IssuerAccount == again.GetString("account") || uc.Issuer == again.GetString("account") {
		t.Fatal("the old credential was signed by the new project's account")
	}
}

func newUser(t *testing.T, app core.App, email string) *core.Record {
	t.Helper()
	users, _ := app.FindCollectionByNameOrId(tenancy.Users)
	u := core.NewRecord(users)
	u.SetEmail(email)
	u.SetPassword("password123")
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	u, _ = app.FindRecordById(tenancy.Users, u.Id)
	return u
}

func newProject(t *testing.T, app core.App, group, name string) *core.Record {
	t.Helper()
	projects, _ := app.FindCollectionByNameOrId(tenancy.Projects)
	p := core.NewRecord(projects)
	p.Set("name", name)
	p.Set("group", group)
	for f, v := range map[string]int64{"max_connections": -1, "max_payload": 1 << 20, "js_max_memory": 1 << 20, "js_max_disk": 1 << 20, "js_max_streams": 10, "js_max_consumers": 10} {
		p.Set(f, v)
	}
	if err := app.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A fault in the middle of provisioning (after the account is signed and the
// row written, before the transaction commits) leaves no project: the row is
// the account, so there is nothing on the NATS side to undo. A kill -9 at
// any point is the same case (TestCrashRightAfterCreate runs it for real).
func TestProvisioningFaultLeavesNothing(t *testing.T) {
	app, _ := newTestApp(t)
	users, _ := app.FindCollectionByNameOrId(tenancy.Users)
	u := core.NewRecord(users)
	u.SetEmail("fault@pocketbus.test")
	u.SetPassword("password123")
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	u, _ = app.FindRecordById(tenancy.Users, u.Id)
	var signed string
	app.OnRecordCreate(tenancy.Projects).BindFunc(func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil { // the INSERT, inside OnProjectCreate's transaction
			return err
		}
		signed = e.Record.GetString("account_jwt")
		return errors.New("injected: crash after the account was written")
	})
	projects, _ := app.FindCollectionByNameOrId(tenancy.Projects)
	p := core.NewRecord(projects)
	p.Set("name", "faulty")
	p.Set("group", u.GetString("mygroup"))
	if err := app.Save(p); err == nil {
		t.Fatal("the project was created despite the fault")
	}
	if signed == "" {
		t.Fatal("the fault was not injected after the account was signed")
	}
	if n, err := app.CountRecords(tenancy.Projects); err != nil || n != 0 {
		t.Fatalf("projects left behind: %d (%v)", n, err)
	}
	if _, err := (tenancy.AccountSource{App: app}).AccountJWT(p.GetString("account")); err == nil {
		t.Fatal("the resolver still serves the account of a project that was never created")
	}
}

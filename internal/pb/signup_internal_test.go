package pb

import (
	"errors"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// newTestApp is a PocketBase app with Pocketbus's collections and hooks on a
// fresh data dir, without the NATS server (nothing here needs it).
func newTestApp(t *testing.T) (*tests.TestApp, *Hub) {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	hub := Bind(app, &Config{})
	if hub.Tenancy.Operator, err = bus.LoadOrCreateOperator(t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	return app, hub
}

func TestSignUpIsAtomic(t *testing.T) {
	app, _ := newTestApp(t)
	app.OnRecordCreate("groups").BindFunc(func(e *core.RecordEvent) error {
		return errors.New("injected: the personal group cannot be created")
	})
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	u := core.NewRecord(users)
	u.SetEmail("atomic@pocketbus.test")
	u.SetPassword("password123")
	if err := app.Save(u); err == nil {
		t.Fatal("the user was created although their personal group could not be")
	}
	for _, c := range []string{"users", "groups"} {
		if n, err := app.CountRecords(c); err != nil || n != 0 {
			t.Fatalf("%s left behind: %d (%v)", c, n, err)
		}
	}
}

func TestUserCreatedByGoCodeGetsPersonalGroup(t *testing.T) {
	app, _ := newTestApp(t)
	users, _ := app.FindCollectionByNameOrId("users")
	u := core.NewRecord(users)
	u.SetEmail("go@pocketbus.test")
	u.SetPassword("password123")
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	u, _ = app.FindRecordById("users", u.Id)
	g, err := app.FindRecordById("groups", u.GetString("mygroup"))
	if err != nil || g.GetString("owner") != u.Id || !g.GetBool("personal") {
		t.Fatalf("personal group = %v, %v", g, err)
	}
}

// The emails users get link into the web app, not the admin dashboard.
func TestEmailLinksEndInTheApp(t *testing.T) {
	app, _ := newTestApp(t)
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"/reset/confirm/":  users.ResetPasswordTemplate.Body,
		"/verify/confirm/": users.VerificationTemplate.Body,
		"/email/confirm/":  users.ConfirmEmailChangeTemplate.Body,
	} {
		if !strings.Contains(body, "{APP_URL}"+name+"{TOKEN}") || strings.Contains(body, "/_/#/") {
			t.Fatalf("email template links to %q? %s", name, body)
		}
	}
	if got := app.Settings().Meta.AppName; got != "Pocketbus" {
		t.Fatalf("app name %q", got)
	}
}

package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// accountJWTMaxChars bounds projects.account_jwt. PocketBase's default text
// limit (5,000 characters) was hit by an account with ~45 revocations, after
// which every revoke of that project failed with a 400. An account JWT is
// pushed to NATS as one message, so 1 MiB (the default max payload) is its
// natural ceiling; tenancy.MaxRevocations keeps it well below that.
const accountJWTMaxChars = 1 << 20

func init() {
	m.Register(func(app core.App) error {
		projects, err := app.FindCollectionByNameOrId("projects")
		if err != nil {
			return err
		}
		f, ok := projects.Fields.GetByName("account_jwt").(*core.TextField)
		if !ok {
			return nil
		}
		f.Max = accountJWTMaxChars
		return app.Save(projects)
	}, func(app core.App) error {
		projects, err := app.FindCollectionByNameOrId("projects")
		if err != nil {
			return err
		}
		if f, ok := projects.Fields.GetByName("account_jwt").(*core.TextField); ok {
			f.Max = 0
			return app.Save(projects)
		}
		return nil
	})
}

package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// _pocketbus_meta holds facts about the database itself: which credential
// journal it was written with and the last journal entry it has seen
// (internal/tenancy/journal.go). A plain table, not a collection: nothing in
// it is for the API.
func init() {
	m.Register(func(app core.App) error {
		_, err := app.DB().NewQuery("CREATE TABLE IF NOT EXISTS _pocketbus_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").Execute()
		return err
	}, func(app core.App) error {
		_, err := app.DB().NewQuery("DROP TABLE IF EXISTS _pocketbus_meta").Execute()
		return err
	})
}

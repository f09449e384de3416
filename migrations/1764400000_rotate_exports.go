package migrations

// Rotation and sharing between projects (SPEC §3): projects.revoked_before
// shows when the project's credentials were last rotated (every credential
// and web token issued before it is refused), and exports rows are the
// subjects a project shares with another project of its group.

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

func init() {
	m.Register(func(app core.App) error {
		projects, err := app.FindCollectionByNameOrId("projects")
		if err != nil {
			return err
		}
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		// A copy of the project's "*" revocation row, for display; set by
		// every rotation: the rotate route, the start-up rotation of every
		// project after a restore without the credential journal, and a
		// rotation re-applied from the journal.
		projects.Fields.Add(&core.DateField{Name: "revoked_before"})
		if err := app.Save(projects); err != nil {
			return err
		}

		exports := core.NewBaseCollection("exports")
		exports.Fields.Add(
			// The exporting project, and the project of the same group it
			// shares with; a share ends with either.
			&core.RelationField{Name: "project", Required: true, CollectionId: projects.Id, MaxSelect: 1, CascadeDelete: true},
			&core.RelationField{Name: "to", Required: true, CollectionId: projects.Id, MaxSelect: 1, CascadeDelete: true},
			&core.TextField{Name: "subject", Required: true, Max: 256},
			&core.SelectField{Name: "type", Required: true, MaxSelect: 1, Values: []string{"stream", "service"}},
			&core.RelationField{Name: "created_by", CollectionId: users.Id, MaxSelect: 1},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		exports.AddIndex("idx_exports_share", true, "project, `to`, subject, type", "")
		exports.AddIndex("idx_exports_to", false, "`to`", "")
		exports.ListRule = types.Pointer(ruleMemberOfProject)
		exports.ViewRule = types.Pointer(ruleMemberOfProject)
		return app.Save(exports)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId("exports"); err == nil {
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		projects, err := app.FindCollectionByNameOrId("projects")
		if err != nil {
			return err
		}
		projects.Fields.RemoveByName("revoked_before")
		return app.Save(projects)
	})
}

package migrations

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The emails users get end inside the web app, never on the admin
// dashboard: the password reset, verification and email change links point
// to the app's own pages (/reset/confirm/{token}, /verify/confirm/{token},
// /email/confirm/{token}). PocketBase's placeholder app name becomes
// Pocketbus (superusers may change both in the dashboard).
func init() {
	m.Register(func(app core.App) error {
		s := app.Settings()
		if s.Meta.AppName == "Acme" {
			s.Meta.AppName = "Pocketbus"
			if err := app.Save(s); err != nil {
				return err
			}
		}
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		relink := func(body, from, to string) string { return strings.ReplaceAll(body, from, to) }
		users.ResetPasswordTemplate.Body = relink(users.ResetPasswordTemplate.Body, "/_/#/auth/confirm-password-reset/", "/reset/confirm/")
		users.VerificationTemplate.Body = relink(users.VerificationTemplate.Body, "/_/#/auth/confirm-verification/", "/verify/confirm/")
		users.ConfirmEmailChangeTemplate.Body = relink(users.ConfirmEmailChangeTemplate.Body, "/_/#/auth/confirm-email-change/", "/email/confirm/")
		return app.Save(users)
	}, nil)
}

// Package migrations creates Pocketbus's collections: users (extended),
// groups, projects and credentials. The access rules live here, next to the
// fields they guard; the rules that a rule string cannot express (forced
// owners, read-only fields, cascades into NATS) are hooks in internal/tenancy.
package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Rules, written once so that groups, projects and credentials agree on what
// "member" means: the signed-in user's groups relation contains the group.
const (
	ruleSignedIn      = `@request.auth.id != "" && @request.auth.collectionName = "users"`
	ruleGroupMember   = ruleSignedIn + ` && @request.auth.groups.id ?= id`
	ruleGroupOwner    = ruleSignedIn + ` && owner = @request.auth.id`
	ruleProjectMember = ruleSignedIn + ` && @request.auth.groups.id ?= group`
	ruleProjectOwner  = ruleSignedIn + ` && group.owner = @request.auth.id`
	ruleCredMember    = ruleSignedIn + ` && @request.auth.groups.id ?= project.group`
	// Users see themselves and the members of groups they share.
	ruleUserVisible = `@request.auth.id != "" && (id = @request.auth.id || groups.id ?= @request.auth.groups.id)`
)

func init() {
	m.Register(up, down)
}

func up(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}

	groups := core.NewBaseCollection("groups")
	groups.Fields.Add(
		&core.TextField{Name: "name", Required: true, Min: 1, Max: 64, Presentable: true},
		&core.RelationField{Name: "owner", Required: true, CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true},
		&core.BoolField{Name: "personal"},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	groups.AddIndex("idx_groups_owner", false, "owner", "")
	if err := app.Save(groups); err != nil {
		return err
	}

	users.Fields.Add(
		&core.RelationField{Name: "mygroup", CollectionId: groups.Id, MaxSelect: 1},
		&core.RelationField{Name: "groups", CollectionId: groups.Id, MaxSelect: 999999},
	)
	users.ListRule = types.Pointer(ruleUserVisible)
	users.ViewRule = types.Pointer(ruleUserVisible)
	if err := app.Save(users); err != nil {
		return err
	}

	groups.ListRule = types.Pointer(ruleGroupMember)
	groups.ViewRule = types.Pointer(ruleGroupMember)
	groups.CreateRule = types.Pointer(ruleSignedIn)
	groups.UpdateRule = types.Pointer(ruleGroupOwner)
	groups.DeleteRule = types.Pointer(ruleGroupOwner)
	if err := app.Save(groups); err != nil {
		return err
	}

	projects := core.NewBaseCollection("projects")
	minusOne := types.Pointer(-1.0)
	projects.Fields.Add(
		&core.TextField{Name: "name", Required: true, Min: 1, Max: 64, Presentable: true},
		&core.RelationField{Name: "group", Required: true, CollectionId: groups.Id, MaxSelect: 1, CascadeDelete: true},
		&core.TextField{Name: "description", Max: 2000},
		&core.TextField{Name: "account", Max: 56},
		// The signed account JWT: the single source of truth the embedded
		// NATS resolver reads, written in the same row as the limits it encodes.
		&core.TextField{Name: "account_jwt", Hidden: true},
		// Revoked user keys of this project (user public key -> {at, expires}),
		// kept here so that deleting a credential record keeps its key revoked.
		&core.JSONField{Name: "revocations", Hidden: true, MaxSize: 8 << 20},
		&core.BoolField{Name: "disabled"},
		&core.NumberField{Name: "max_connections", OnlyInt: true, Min: minusOne},
		&core.NumberField{Name: "max_payload", OnlyInt: true, Min: minusOne},
		&core.NumberField{Name: "js_max_memory", OnlyInt: true, Min: minusOne},
		&core.NumberField{Name: "js_max_disk", OnlyInt: true, Min: minusOne},
		&core.NumberField{Name: "js_max_streams", OnlyInt: true, Min: minusOne},
		&core.NumberField{Name: "js_max_consumers", OnlyInt: true, Min: minusOne},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	projects.AddIndex("idx_projects_group", false, "`group`", "")
	projects.AddIndex("idx_projects_account", true, "account", "account != ''")
	projects.ListRule = types.Pointer(ruleProjectMember)
	projects.ViewRule = types.Pointer(ruleProjectMember)
	// Membership of the target group is checked by a hook, so that a wrong
	// group gets a 400 naming the field rather than a bare rule failure.
	projects.CreateRule = types.Pointer(ruleSignedIn)
	projects.UpdateRule = types.Pointer(ruleProjectMember)
	projects.DeleteRule = types.Pointer(ruleProjectOwner)
	if err := app.Save(projects); err != nil {
		return err
	}

	credentials := core.NewBaseCollection("credentials")
	credentials.Fields.Add(
		&core.RelationField{Name: "project", Required: true, CollectionId: projects.Id, MaxSelect: 1, CascadeDelete: true},
		&core.TextField{Name: "name", Required: true, Min: 1, Max: 64, Presentable: true},
		&core.TextField{Name: "public_key", Max: 56},
		&core.JSONField{Name: "pub_allow", MaxSize: 64 << 10},
		&core.JSONField{Name: "pub_deny", MaxSize: 64 << 10},
		&core.JSONField{Name: "sub_allow", MaxSize: 64 << 10},
		&core.JSONField{Name: "sub_deny", MaxSize: 64 << 10},
		&core.DateField{Name: "expires"},
		&core.DateField{Name: "revoked"},
		&core.RelationField{Name: "created_by", CollectionId: users.Id, MaxSelect: 1},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	credentials.AddIndex("idx_credentials_project", false, "project", "")
	credentials.AddIndex("idx_credentials_public_key", true, "public_key", "public_key != ''")
	credentials.ListRule = types.Pointer(ruleCredMember)
	credentials.ViewRule = types.Pointer(ruleCredMember)
	// Created only through POST /api/pocketbus/projects/{id}/credentials,
	// because the seed is returned once; deleted by the group owner.
	credentials.DeleteRule = types.Pointer(ruleSignedIn + ` && project.group.owner = @request.auth.id`)
	return app.Save(credentials)
}

func down(app core.App) error {
	for _, name := range []string{"credentials", "projects"} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		if err := app.Delete(c); err != nil {
			return err
		}
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	users.Fields.RemoveByName("mygroup")
	users.Fields.RemoveByName("groups")
	if err := app.Save(users); err != nil {
		return err
	}
	groups, err := app.FindCollectionByNameOrId("groups")
	if err != nil {
		return err
	}
	return app.Delete(groups)
}

package tenancy

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// Exports share a subject of one project with another project of the same
// group (SPEC §3): an export in the exporter's account JWT, an import of it
// in the importer's. One exports row per share; both accounts are re-signed
// from the rows in the transaction that changes them, and a share is left
// out of both JWTs while either project is disabled, so it ends within a
// second of a delete (the rows cascade), a disable or the share's own
// deletion. Ownership transfers do not touch shares: they belong to the
// projects, which stay in the group.

// ExportRequest is the body of POST /api/pocketbus/projects/{id}/exports.
type ExportRequest struct {
	Subject string `json:"subject"`
	Type    string `json:"type"` // "stream" or "service"
	To      string `json:"to"`   // the importing project, same group
}

// Export is a share as the routes answer it.
type Export struct {
	ID      string `json:"id"`
	Project string `json:"project"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Type    string `json:"type"`
}

// checkExportSubject applies the namespace rules of shared subjects: a
// valid NATS subject that names something of the project's own (at least
// one literal token before any wildcard, so never "everything"), outside
// the system namespaces ($JS, $KV, $O, $SYS, … and the inboxes that carry
// other clients' replies).
func checkExportSubject(s string) error {
	if err := bus.ValidateSubjects("subject", []string{s}); err != nil {
		return fieldError("subject", "invalid_subject", err.Error())
	}
	if strings.HasPrefix(s, "$") || strings.HasPrefix(s, "_INBOX") || strings.HasPrefix(s, "_R_") {
		return fieldError("subject", "reserved", "subjects starting with $, _INBOX or _R_ belong to NATS and cannot be shared")
	}
	first, _, _ := strings.Cut(s, ".")
	if first == "*" || first == ">" {
		return fieldError("subject", "too_wide", "a shared subject starts with a literal token, e.g. orders.> (not * or >)")
	}
	if strings.Contains(s, " ") {
		return fieldError("subject", "invalid_subject", "a shared subject has no queue group")
	}
	return nil
}

// CreateExport shares req.Subject of project projectID with project req.To
// of the same group; only the group owner may. Another group's project is
// "not found".
func (t *Tenancy) CreateExport(app core.App, actor Actor, projectID string, req ExportRequest) (*Export, error) {
	req.Subject = strings.TrimSpace(req.Subject)
	if req.Subject == "" {
		return nil, fieldError("subject", "required", "subject is required")
	}
	if err := checkExportSubject(req.Subject); err != nil {
		return nil, err
	}
	if req.Type != "stream" && req.Type != "service" {
		return nil, fieldError("type", "invalid", `type is "stream" or "service"`)
	}
	if req.To == "" {
		return nil, fieldError("to", "required", "to is required: the project to share with")
	}
	var out *Export
	err := t.Run(app, actor, func(tx core.App) error {
		from, err := projectFor(tx, actor, projectID)
		if err != nil {
			return err
		}
		if err := requireOwnerActor(tx, actor, from.GetString("group")); err != nil {
			return err
		}
		to, err := tx.FindRecordById(Projects, req.To)
		if err != nil || to.GetString("group") != from.GetString("group") {
			return notFound("no project " + req.To + " in this group")
		}
		if to.Id == from.Id {
			return fieldError("to", "same_project", "a project shares with another project, not itself")
		}
		var n int
		if err := tx.DB().NewQuery("SELECT COUNT(*) FROM exports WHERE project = {:p} AND [[to]] = {:t} AND subject = {:s} AND type = {:k}").
			Bind(dbx.Params{"p": from.Id, "t": to.Id, "s": req.Subject, "k": req.Type}).Row(&n); err != nil {
			return err
		}
		if n > 0 {
			return fieldError("subject", "not_unique", "this subject is already shared with that project")
		}
		collection, err := tx.FindCachedCollectionByNameOrId(Exports)
		if err != nil {
			return err
		}
		e := core.NewRecord(collection)
		e.Set("project", from.Id)
		e.Set("to", to.Id)
		e.Set("subject", req.Subject)
		e.Set("type", req.Type)
		if actor.UserID != "" {
			e.Set("created_by", actor.UserID)
		}
		if err := tx.Save(e); err != nil {
			return err
		}
		for _, id := range []string{from.Id, to.Id} {
			if err := t.resign(tx, id); err != nil {
				return err
			}
		}
		out = &Export{ID: e.Id, Project: from.Id, To: to.Id, Subject: req.Subject, Type: req.Type}
		return t.record(tx, Event{Group: from.GetString("group"), Project: from.Id, Action: "export.created", Target: e.Id,
			Data: map[string]any{"subject": req.Subject, "type": req.Type, "to": to.Id}})
	})
	return out, err
}

// DeleteExport ends a share; only the group owner may.
func (t *Tenancy) DeleteExport(app core.App, actor Actor, exportID string) error {
	return t.Run(app, actor, func(tx core.App) error {
		e, err := tx.FindRecordById(Exports, exportID)
		if err != nil {
			return notFound("export not found")
		}
		from, err := projectFor(tx, actor, e.GetString("project"))
		if err != nil {
			return notFound("export not found")
		}
		if err := requireOwnerActor(tx, actor, from.GetString("group")); err != nil {
			return err
		}
		if err := tx.Delete(e); err != nil { // OnExportDelete re-signs both
			return err
		}
		return t.record(tx, Event{Group: from.GetString("group"), Project: from.Id, Action: "export.deleted", Target: e.Id,
			Data: map[string]any{"subject": e.GetString("subject"), "type": e.GetString("type"), "to": e.GetString("to")}})
	})
}

// OnExportDelete re-signs both projects of a share that ends, however it
// ends: its route, or the cascade of either project's deletion (the
// deleted one is gone already and is skipped).
func (t *Tenancy) OnExportDelete(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if err := e.Next(); err != nil {
			return err
		}
		for _, id := range []string{e.Record.GetString("project"), e.Record.GetString("to")} {
			if _, err := tx.FindRecordById(Projects, id); err != nil {
				continue
			}
			if err := t.resign(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// OnExportWriteRequest keeps shares to their routes (both accounts are
// re-signed there).
func (t *Tenancy) OnExportWriteRequest(e *core.RecordRequestEvent) error {
	return forbidden("exports are made and ended with /api/pocketbus/projects/{id}/exports and /api/pocketbus/exports/{id}")
}

// sharesOf reads the project's live shares from the rows as tx sees them:
// none while the project is disabled, and none with a disabled partner.
func sharesOf(tx core.App, p *core.Record) (exports, imports []bus.Share, err error) {
	if p.GetBool("disabled") || p.Id == "" {
		return nil, nil, nil
	}
	var rows []struct {
		Subject string `db:"subject"`
		Type    string `db:"type"`
		Account string `db:"account"`
	}
	err = tx.DB().NewQuery(`SELECT e.subject, e.type, t.account FROM exports e JOIN projects t ON t.id = e.[[to]]
		WHERE e.project = {:p} AND t.disabled = FALSE AND t.account != ''`).Bind(dbx.Params{"p": p.Id}).All(&rows)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		exports = append(exports, bus.Share{Subject: r.Subject, Service: r.Type == "service", Account: r.Account})
	}
	rows = rows[:0]
	err = tx.DB().NewQuery(`SELECT e.subject, e.type, x.account FROM exports e JOIN projects x ON x.id = e.project
		WHERE e.[[to]] = {:p} AND x.disabled = FALSE AND x.account != ''`).Bind(dbx.Params{"p": p.Id}).All(&rows)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		imports = append(imports, bus.Share{Subject: r.Subject, Service: r.Type == "service", Account: r.Account})
	}
	return exports, imports, nil
}

// sharePartners lists the projects the project shares with, either way.
func sharePartners(tx core.App, projectID string) ([]string, error) {
	var ids []string
	err := tx.DB().NewQuery(`SELECT [[to]] FROM exports WHERE project = {:p} UNION SELECT project FROM exports WHERE [[to]] = {:p}`).
		Bind(dbx.Params{"p": projectID}).Column(&ids)
	return ids, err
}

// resignPartners re-signs every project the project shares with (after it
// was disabled or enabled: the shares leave or rejoin both JWTs).
func (t *Tenancy) resignPartners(tx core.App, projectID string) error {
	ids, err := sharePartners(tx, projectID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.resign(tx, id); err != nil {
			return fmt.Errorf("re-signing project %s that shares with %s: %w", id, projectID, err)
		}
	}
	return nil
}

package tenancy

import (
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Rotate revokes, in one action, every credential and web token of the
// project issued before now (SPEC §3): a "*" revocations row (jwt.All), the
// account re-signed from it, connections closed after the commit. What is
// issued afterwards works. It is also the answer when a backup is restored
// without the credential journal: rotating every project refuses whatever
// the restored database does not know.
func (t *Tenancy) Rotate(app core.App, actor Actor, projectID string) (time.Time, error) {
	var at time.Time
	err := t.Run(app, actor, func(tx core.App) error {
		p, err := projectFor(tx, actor, projectID)
		if err != nil {
			return err
		}
		if err := requireOwnerActor(tx, actor, p.GetString("group")); err != nil {
			return err
		}
		if at, err = t.rotateInTx(tx, p, "rotated"); err != nil {
			return err
		}
		return nil
	})
	return at.UTC(), err
}

// rotateInTx writes the "*" revocation of a project at now and its
// revoked_before copy, re-signs it and records why.
func (t *Tenancy) rotateInTx(tx core.App, p *core.Record, reason string) (time.Time, error) {
	at := time.Now()
	if err := t.revokeKey(tx, p.Id, jwt.All, at, time.Time{}); err != nil {
		return at, err
	}
	if _, err := tx.DB().NewQuery("UPDATE projects SET revoked_before = {:at} WHERE id = {:id}").
		Bind(dbx.Params{"at": dbDate(at), "id": p.Id}).Execute(); err != nil {
		return at, err
	}
	if err := t.resign(tx, p.Id); err != nil {
		return at, err
	}
	return at, t.record(tx, Event{Group: p.GetString("group"), Project: p.Id, Action: "project.rotated", Target: p.Id,
		Data: map[string]any{"revoked_before": at.UTC(), "reason": reason}})
}

// waitPastRotation returns once a credential signed now would be issued
// after the project's last rotation. JWT times are whole seconds and a
// revocation covers every credential issued at or before its second, so a
// credential issued in the second of a rotation would be refused at once:
// the issue waits for the next second instead (at most one second, only
// right after a rotation). The transaction that records the credential
// checks again (a rotation may land meanwhile).
func waitPastRotation(p *core.Record) {
	rotated := p.GetDateTime("revoked_before")
	if rotated.IsZero() {
		return
	}
	if next := rotated.Time().Truncate(time.Second).Add(time.Second); time.Now().Before(next) {
		time.Sleep(time.Until(next))
	}
}

package tenancy

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// LimitFields are the project fields only superusers set; members read them.
var LimitFields = []string{"max_connections", "max_payload", "js_max_memory", "js_max_disk", "js_max_streams", "js_max_consumers"}

// serverSetProjectFields are written by the server alone.
var serverSetProjectFields = []string{"account", "account_jwt", "revocations"}

// DefaultLimits are what a new project gets unless a superuser says otherwise:
// small enough that many projects fit in one server's JetStream totals,
// large enough to use streams, KV and object stores at once.
var DefaultLimits = bus.Limits{
	MaxConnections: 1000,
	MaxPayload:     1 << 20,
	JSMaxMemory:    16 << 20,
	JSMaxDisk:      256 << 20,
	JSMaxStreams:   100,
	JSMaxConsumers: 1000,
}

// OnProjectCreateRequest applies the defaults for limits the request did not
// set, and refuses limits or server-set fields from anyone but a superuser.
func (t *Tenancy) OnProjectCreateRequest(e *core.RecordRequestEvent) error {
	info, err := e.RequestInfo()
	if err != nil {
		return err
	}
	superuser := e.HasSuperuserAuth()
	if !superuser && !IsMember(AuthUser(e.RequestEvent), e.Record.GetString("group")) {
		// The same answer whether the group exists or not.
		return fieldError("group", "not_member", "you are not a member of that group")
	}
	for _, f := range serverSetProjectFields {
		if _, sent := info.Body[f]; sent {
			return fieldError(f, "read_only", f+" is set by the server")
		}
	}
	defaults := limitsMap(t.Defaults)
	for _, f := range LimitFields {
		if _, sent := info.Body[f]; sent && !superuser {
			return fieldError(f, "superuser_only", f+" is set by superusers only")
		}
		if _, sent := info.Body[f]; !sent {
			e.Record.Set(f, defaults[f])
		}
	}
	if e.Record.GetBool("disabled") && !superuser {
		group, err := e.App.FindRecordById(Groups, e.Record.GetString("group"))
		if err != nil || group.GetString("owner") != e.Auth.Id {
			return fieldError("disabled", "owner_only", "only the group owner disables a project")
		}
	}
	return e.Next()
}

// OnProjectUpdateRequest: members rename and describe; the group owner also
// sets disabled; superusers also set limits; nobody moves a project.
func (t *Tenancy) OnProjectUpdateRequest(e *core.RecordRequestEvent) error {
	changed := func(f string) bool { return !sameValue(e.Record.Get(f), e.Record.Original().Get(f)) }
	if changed("group") {
		return fieldError("group", "read_only", "a project cannot move to another group")
	}
	for _, f := range serverSetProjectFields {
		if changed(f) {
			return fieldError(f, "read_only", f+" is set by the server")
		}
	}
	if e.HasSuperuserAuth() {
		return e.Next()
	}
	for _, f := range LimitFields {
		if changed(f) {
			return fieldError(f, "superuser_only", f+" is set by superusers only")
		}
	}
	if changed("disabled") {
		group, err := e.App.FindRecordById(Groups, e.Record.GetString("group"))
		if err != nil || group.GetString("owner") != e.Auth.Id {
			return forbidden("only the group owner enables or disables a project")
		}
	}
	return e.Next()
}

// OnProjectSave runs on every create and update of a project, however it is
// saved: it admits JetStream quotas against the server's totals and writes
// the project's account (derived key + signed JWT) into the same row, inside
// one transaction. The row is what the NATS resolver reads, so when the
// create returns the account already exists.
func (t *Tenancy) OnProjectSave(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		if e.Record.Id == "" {
			// The account key is derived from the id, so the id is fixed first.
			e.Record.Id = security.RandomStringWithAlphabet(15, "abcdefghijklmnopqrstuvwxyz0123456789")
		}
		if err := t.admitQuota(tx, e.Record); err != nil {
			return err
		}
		if err := t.signAccount(e.Record); err != nil {
			return err
		}
		return e.Next()
	})
}

// OnProjectCommitted pushes the project's account JWT to the data plane
// after a create or update commits: an external cluster learns of new
// accounts this way, and limits, disabled and revocations apply live (the
// embedded server applies it only to accounts it has loaded).
//
// Concurrent updates of one project commit in order but their after-commit
// hooks race, and nats-server applies whatever claims arrive last: pushing
// the event's own JWT let an older one (say, without the latest revocation)
// overwrite a newer one, so a revoked key could connect again. Instead each
// push reads the committed JWT under a per-account lock: the last push then
// always carries the latest commit.
func (t *Tenancy) OnProjectCommitted(e *core.RecordEvent) error {
	if p, _ := t.dataPlane(); p != nil {
		pub := e.Record.GetString("account")
		unlock := t.lockAccount(pub)
		token, err := AccountSource{App: e.App}.AccountJWT(pub)
		if err == nil {
			err = p.UpdateAccount(pub, token)
		} else if errors.Is(err, bus.ErrAccountNotFound) {
			err = nil // deleted (or re-keyed) meanwhile: nothing to push
		}
		unlock()
		if err != nil {
			e.App.Logger().Error("pushing account update", "project", e.Record.Id, "error", err)
		}
	}
	return e.Next()
}

// OnProjectDeleted closes the account's connections and removes its
// JetStream data, after the delete committed. Should this fail or the
// process die first, start-up reconciliation removes the orphan.
func (t *Tenancy) OnProjectDeleted(e *core.RecordEvent) error {
	if p, _ := t.dataPlane(); p != nil {
		pub := e.Record.GetString("account")
		unlock := t.lockAccount(pub)
		err := p.DeleteAccount(pub)
		unlock()
		if err != nil {
			e.App.Logger().Error("deleting account", "project", e.Record.Id, "error", err)
		}
	}
	return e.Next()
}

// lockAccount serialises the pushes of one account (striped locks, so the
// memory does not grow with the number of projects).
func (t *Tenancy) lockAccount(pub string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(pub))
	mu := &t.pushLocks[h.Sum32()%uint32(len(t.pushLocks))]
	mu.Lock()
	return mu.Unlock
}

// ProjectLimits reads a project's limits.
func ProjectLimits(p *core.Record) bus.Limits {
	return bus.Limits{
		MaxConnections: int64(p.GetInt("max_connections")),
		MaxPayload:     int64(p.GetInt("max_payload")),
		JSMaxMemory:    int64(p.GetInt("js_max_memory")),
		JSMaxDisk:      int64(p.GetInt("js_max_disk")),
		JSMaxStreams:   int64(p.GetInt("js_max_streams")),
		JSMaxConsumers: int64(p.GetInt("js_max_consumers")),
	}
}

func limitsMap(l bus.Limits) map[string]int64 {
	return map[string]int64{
		"max_connections":  l.MaxConnections,
		"max_payload":      l.MaxPayload,
		"js_max_memory":    l.JSMaxMemory,
		"js_max_disk":      l.JSMaxDisk,
		"js_max_streams":   l.JSMaxStreams,
		"js_max_consumers": l.JSMaxConsumers,
	}
}

// revocation is one revoked user key of a project. Expires (unix seconds, 0
// = never) lets the entry be dropped once the credential could not connect
// anyway, so the account JWT does not grow without bound.
type revocation struct {
	At      int64 `json:"at"`
	Expires int64 `json:"expires,omitempty"`
}

func projectRevocations(p *core.Record) (map[string]revocation, error) {
	revs := map[string]revocation{}
	raw := p.GetString("revocations")
	if raw == "" || raw == "null" {
		return revs, nil
	}
	if err := json.Unmarshal([]byte(raw), &revs); err != nil {
		return nil, fmt.Errorf("project %s revocations: %w", p.Id, err)
	}
	return revs, nil
}

// signAccount derives the project's account and signs its JWT from the
// record's limits, state and revocations, dropping revocations of keys that
// have expired anyway.
func (t *Tenancy) signAccount(p *core.Record) error {
	revs, err := projectRevocations(p)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	account := bus.Account{
		ProjectID:   p.Id,
		Limits:      ProjectLimits(p),
		Disabled:    p.GetBool("disabled"),
		Revocations: make(map[string]time.Time, len(revs)),
	}
	for key, r := range revs {
		if r.Expires != 0 && r.Expires < now {
			delete(revs, key)
			continue
		}
		account.Revocations[key] = time.Unix(r.At, 0)
	}
	pub, token, err := t.Operator.AccountJWT(account)
	if err != nil {
		return fmt.Errorf("signing account of project %s: %w", p.Id, err)
	}
	p.Set("revocations", revs)
	p.Set("account", pub)
	p.Set("account_jwt", token)
	return nil
}

// quotaTable holds one row: the sum of every project's JetStream memory and
// disk reservation. admitQuota reads and updates it inside the transaction
// that writes the project row, so it is exact and costs the same at 100k
// projects as at 10 (a SUM over projects on every save grew linearly: ~6 ms
// per create at 10k projects). RecountQuota rebuilds it from the projects
// table at every start, which also heals any write made while no data plane
// was attached (CLI commands, where admission is off).
const quotaTable = "_pocketbus_quota"

type reservation struct {
	Memory int64 `db:"memory"`
	Disk   int64 `db:"disk"`
}

// RecountQuota (re)creates the totals of every project's reservations.
func RecountQuota(app core.App) error {
	return app.RunInTransaction(func(tx core.App) error {
		if _, err := tx.DB().NewQuery("CREATE TABLE IF NOT EXISTS " + quotaTable +
			" (id INTEGER PRIMARY KEY CHECK (id = 1), memory INTEGER NOT NULL, disk INTEGER NOT NULL)").Execute(); err != nil {
			return err
		}
		_, err := tx.DB().NewQuery("INSERT OR REPLACE INTO " + quotaTable + ` (id, memory, disk)
			SELECT 1, COALESCE(SUM(MAX(js_max_memory, 0)), 0), COALESCE(SUM(MAX(js_max_disk, 0)), 0) FROM projects`).Execute()
		return err
	})
}

// committedReservation is what the project's stored row reserves (zero for
// a project not yet inserted).
func committedReservation(tx core.App, id string) (reservation, error) {
	var r reservation
	err := tx.DB().NewQuery("SELECT MAX(js_max_memory, 0) AS memory, MAX(js_max_disk, 0) AS disk FROM projects WHERE id = {:id}").
		Bind(dbx.Params{"id": id}).One(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return reservation{}, nil
	}
	return r, err
}

func addReserved(tx core.App, memory, disk int64) error {
	if memory == 0 && disk == 0 {
		return nil
	}
	_, err := tx.DB().NewQuery("UPDATE " + quotaTable + " SET memory = memory + {:m}, disk = disk + {:d} WHERE id = 1").
		Bind(dbx.Params{"m": memory, "d": disk}).Execute()
	return err
}

// admitQuota refuses JetStream reservations the server cannot hold: the sum
// of every project's memory and disk quota must fit the server's totals.
// nats-server would otherwise refuse JetStream for the account silently, at
// its first connection. An admitted change is added to the totals in the
// same transaction.
func (t *Tenancy) admitQuota(tx core.App, p *core.Record) error {
	_, totals := t.dataPlane()
	if totals == nil {
		return nil
	}
	maxMemory, maxDisk := totals()
	var sum reservation
	err := tx.DB().NewQuery("SELECT memory, disk FROM " + quotaTable + " WHERE id = 1").One(&sum)
	if err != nil {
		// Not counted yet (data plane attached without a start-up recount).
		if err := RecountQuota(tx); err != nil {
			return err
		}
		if err := tx.DB().NewQuery("SELECT memory, disk FROM " + quotaTable + " WHERE id = 1").One(&sum); err != nil {
			return err
		}
	}
	cur, err := committedReservation(tx, p.Id)
	if err != nil {
		return err
	}
	others := reservation{Memory: sum.Memory - cur.Memory, Disk: sum.Disk - cur.Disk}
	limits := ProjectLimits(p)
	if limits.JSMaxMemory > 0 && others.Memory+limits.JSMaxMemory > maxMemory {
		return fieldError("js_max_memory", "over_capacity", fmt.Sprintf(
			"the server cannot admit %d bytes of JetStream memory: %d of its %d are reserved by other projects",
			limits.JSMaxMemory, others.Memory, maxMemory))
	}
	if limits.JSMaxDisk > 0 && others.Disk+limits.JSMaxDisk > maxDisk {
		return fieldError("js_max_disk", "over_capacity", fmt.Sprintf(
			"the server cannot admit %d bytes of JetStream disk: %d of its %d are reserved by other projects",
			limits.JSMaxDisk, others.Disk, maxDisk))
	}
	return addReserved(tx, max(limits.JSMaxMemory, 0)-cur.Memory, max(limits.JSMaxDisk, 0)-cur.Disk)
}

// OnProjectDelete releases the project's reservation in the transaction that
// deletes it (cascaded deletes of a group's projects come through here too).
func (t *Tenancy) OnProjectDelete(e *core.RecordEvent) error {
	if _, totals := t.dataPlane(); totals == nil {
		return e.Next()
	}
	return inTransaction(e, func(tx core.App) error {
		cur, err := committedReservation(tx, e.Record.Id)
		if err != nil {
			return err
		}
		if err := e.Next(); err != nil {
			return err
		}
		return addReserved(tx, -cur.Memory, -cur.Disk)
	})
}

// ProjectForMember loads a project the signed-in user may see: a project in
// another tenant's group is "not found", never "forbidden", so ids leak nothing.
func ProjectForMember(e *core.RequestEvent, id string) (*core.Record, error) {
	p, err := e.App.FindRecordById(Projects, id)
	if err != nil {
		return nil, notFound("project not found")
	}
	if e.HasSuperuserAuth() || IsMember(AuthUser(e), p.GetString("group")) {
		return p, nil
	}
	return nil, notFound("project not found")
}

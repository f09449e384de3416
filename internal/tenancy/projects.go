package tenancy

import (
	"fmt"
	"math"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// LimitFields are the project fields only superusers set; members read them.
var LimitFields = []string{"max_connections", "max_payload", "js_max_memory", "js_max_disk", "js_max_streams", "js_max_consumers"}

// serverSetProjectFields are written by the server alone.
var serverSetProjectFields = []string{"account", "account_jwt", "account_salt", "revoked_before"}

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
// set, refuses limits or server-set fields from anyone but a superuser, and
// re-checks membership of the group inside the creating transaction.
func (t *Tenancy) OnProjectCreateRequest(e *core.RecordRequestEvent) error {
	info, err := e.RequestInfo()
	if err != nil {
		return err
	}
	superuser := e.HasSuperuserAuth()
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
	return t.guard(e, func(tx core.App) error {
		if superuser {
			return nil
		}
		groupID := e.Record.GetString("group")
		if ok, err := IsMember(tx, e.Auth.Id, groupID); err != nil {
			return err
		} else if !ok {
			// The same answer whether the group exists or not.
			return fieldError("group", "not_member", "you are not a member of that group")
		}
		if e.Record.GetBool("disabled") {
			group, err := tx.FindRecordById(Groups, groupID)
			if err != nil || group.GetString("owner") != e.Auth.Id {
				return fieldError("disabled", "owner_only", "only the group owner disables a project")
			}
		}
		return nil
	})
}

// OnProjectUpdateRequest: members rename and describe; the group owner also
// sets disabled; superusers also set limits; nobody moves a project. Who may
// is checked again inside the saving transaction.
func (t *Tenancy) OnProjectUpdateRequest(e *core.RecordRequestEvent) error {
	if changed(e.Record, "group") {
		return fieldError("group", "read_only", "a project cannot move to another group")
	}
	for _, f := range serverSetProjectFields {
		if changed(e.Record, f) {
			return fieldError(f, "read_only", f+" is set by the server")
		}
	}
	if err := superuserOnly(e, LimitFields); err != nil {
		return err
	}
	return t.guard(e, func(tx core.App) error {
		if e.HasSuperuserAuth() {
			return nil
		}
		groupID := e.Record.GetString("group")
		if ok, err := IsMember(tx, e.Auth.Id, groupID); err != nil {
			return err
		} else if !ok {
			return notFound("project not found")
		}
		if changed(e.Record, "disabled") {
			group, err := tx.FindRecordById(Groups, groupID)
			if err != nil || group.GetString("owner") != e.Auth.Id {
				return forbidden("only the group owner enables or disables a project")
			}
		}
		return nil
	})
}

// OnProjectDeleteRequest re-checks, inside the deleting transaction, that
// the caller still owns the project's group.
func (t *Tenancy) OnProjectDeleteRequest(e *core.RecordRequestEvent) error {
	return t.guard(e, func(tx core.App) error { return requireOwner(tx, e.RequestEvent, e.Record.GetString("group")) })
}

// OnProjectCreate provisions the project's account in the transaction that
// inserts it: a fresh salt makes its key (never one a deleted project had),
// the fair-share limits of its group and the server's JetStream totals are
// admitted, and the signed account JWT goes into the same row, which is what
// the NATS resolver reads. When the create returns, the account exists.
// Where a project's account is made: here, signAccount and
// bus.Operator.AccountJWT.
func (t *Tenancy) OnProjectCreate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		p := e.Record
		if p.Id == "" {
			p.Id = core.GenerateDefaultRandomId()
		}
		p.Set("account_salt", bus.NewAccountSalt())
		if err := checkProjectName(tx, p); err != nil {
			return err
		}
		if err := t.admitProjectCount(tx, p.GetString("group")); err != nil {
			return err
		}
		if err := t.signAccount(tx, p); err != nil {
			return err
		}
		if err := e.Next(); err != nil {
			return err
		}
		if err := t.admitQuota(tx, p.GetString("group"), nil, quotaOf(p)); err != nil {
			return err
		}
		t.syncAfterCommit(tx, p.GetString("account"))
		return t.record(tx, Event{Group: p.GetString("group"), Project: p.Id, Action: "project.created", Target: p.Id,
			Data: map[string]any{"name": p.GetString("name")}})
	})
}

// OnProjectUpdate writes only the fields this save changed (PocketBase
// otherwise writes back the whole record it loaded, undoing a disable or a
// limit change that committed meanwhile), then admits and re-signs from
// the row as committed in this transaction, and records what changed.
func (t *Tenancy) OnProjectUpdate(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		before, err := tx.FindRecordById(Projects, e.Record.Id)
		if err != nil {
			return err
		}
		e.Record.IgnoreUnchangedFields(true)
		if changed(e.Record, "name") {
			if err := checkProjectName(tx, e.Record); err != nil {
				return err
			}
		}
		if err := e.Next(); err != nil {
			return err
		}
		after, err := tx.FindRecordById(Projects, e.Record.Id)
		if err != nil {
			return err
		}
		was := quotaOf(before)
		if err := t.admitQuota(tx, after.GetString("group"), &was, quotaOf(after)); err != nil {
			return err
		}
		if err := t.resign(tx, after.Id); err != nil {
			return err
		}
		if before.GetBool("disabled") != after.GetBool("disabled") {
			// Shares leave (or rejoin) the partners' JWTs too.
			if err := t.resignPartners(tx, after.Id); err != nil {
				return err
			}
		}
		return t.recordProjectChanges(tx, before, after)
	})
}

func (t *Tenancy) recordProjectChanges(tx core.App, before, after *core.Record) error {
	ev := Event{Group: after.GetString("group"), Project: after.Id, Target: after.Id}
	if before.GetBool("disabled") != after.GetBool("disabled") {
		ev.Action = map[bool]string{true: "project.disabled", false: "project.enabled"}[after.GetBool("disabled")]
		if err := t.record(tx, ev); err != nil {
			return err
		}
	}
	if d := diff(before, after, LimitFields...); len(d) > 0 {
		ev.Action, ev.Data = "project.limits_changed", d
		if err := t.record(tx, ev); err != nil {
			return err
		}
	}
	if d := diff(before, after, "name", "description"); len(d) > 0 {
		ev.Action, ev.Data = "project.updated", d
		if err := t.record(tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// OnProjectDelete releases the project's reservation and records the
// deletion in the deleting transaction (cascaded deletes of a group's
// projects come through here too); after the commit the data plane deletes
// the account and its JetStream data (the Source no longer has it).
func (t *Tenancy) OnProjectDelete(e *core.RecordEvent) error {
	return inTransaction(e, func(tx core.App) error {
		before, err := tx.FindRecordById(Projects, e.Record.Id)
		if err != nil {
			return err
		}
		if err := e.Next(); err != nil {
			return err
		}
		was := quotaOf(before)
		if err := addUse(tx, before.GetString("group"), &was, nil); err != nil {
			return err
		}
		t.syncAfterCommit(tx, before.GetString("account"))
		return t.record(tx, Event{Group: before.GetString("group"), Project: before.Id, Action: "project.deleted", Target: before.Id,
			Data: map[string]any{"name": before.GetString("name"), "account": before.GetString("account")}})
	})
}

// checkProjectName keeps project names unique within a group, ignoring
// case (the unique index is the backstop; this is the readable 400).
func checkProjectName(tx core.App, p *core.Record) error {
	var n int
	err := tx.DB().NewQuery("SELECT COUNT(*) FROM projects WHERE [[group]] = {:g} AND name = {:n} COLLATE NOCASE AND id != {:id}").
		Bind(dbx.Params{"g": p.GetString("group"), "n": p.GetString("name"), "id": p.Id}).Row(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return fieldError("name", "not_unique", fmt.Sprintf("this group already has a project named %q", p.GetString("name")))
	}
	return nil
}

// admitProjectCount refuses a project beyond the group's max_projects.
func (t *Tenancy) admitProjectCount(tx core.App, groupID string) error {
	group, err := tx.FindRecordById(Groups, groupID)
	if err != nil {
		return fieldError("group", "not_found", "no such group")
	}
	limit := group.GetInt("max_projects")
	if limit < 0 {
		return nil
	}
	var n int
	if err := tx.DB().NewQuery("SELECT COUNT(*) FROM projects WHERE [[group]] = {:g}").Bind(dbx.Params{"g": groupID}).Row(&n); err != nil {
		return err
	}
	if n >= limit {
		return fieldError("group", "max_projects", fmt.Sprintf(
			"this group has %d projects, its limit (max_projects %d, set by a superuser)", n, limit))
	}
	return nil
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

// quotaTable holds one row: the sum of every project's JetStream memory and
// disk reservation; groupQuotaTable one row per group: the same sums over
// the group's projects and how many of them are unlimited. admitQuota reads
// and updates both inside the transaction that writes the project row, so
// they are exact and a create costs the same at 100k projects (in the
// server, or in one group) as at 10 (a SUM over the projects on every save
// grew linearly: ~110 ms per create with 100k projects in the group).
// RecountQuota rebuilds both from the projects table at every start, which
// also heals any write made while no data plane was attached (CLI commands,
// where admission is off).
const (
	quotaTable      = "_pocketbus_quota"
	groupQuotaTable = "_pocketbus_group_quota"
)

// jsQuota is a project's JetStream memory and disk quota as stored (-1 =
// unlimited).
type jsQuota struct{ Memory, Disk int64 }

func quotaOf(p *core.Record) jsQuota {
	return jsQuota{Memory: int64(p.GetInt("js_max_memory")), Disk: int64(p.GetInt("js_max_disk"))}
}

// reservation is what a project reserves of the server's JetStream: an
// unlimited quota reserves nothing against the server totals, as
// nats-server counts it (a group's share counts it as everything).
type reservation struct {
	Memory int64 `db:"memory"`
	Disk   int64 `db:"disk"`
}

func (q jsQuota) reserved() reservation {
	return reservation{Memory: max(q.Memory, 0), Disk: max(q.Disk, 0)}
}

func (r reservation) minus(o reservation) reservation {
	return reservation{Memory: r.Memory - o.Memory, Disk: r.Disk - o.Disk}
}

// raises reports whether quota b asks for more than a (unlimited is more
// than any number).
func raises(a, b int64) bool {
	rank := func(x int64) int64 {
		if x < 0 {
			return math.MaxInt64
		}
		return x
	}
	return rank(b) > rank(a)
}

// RecountQuota (re)creates the running totals from the projects table.
func RecountQuota(app core.App) error {
	return app.RunInTransaction(func(tx core.App) error {
		for _, q := range []string{
			"CREATE TABLE IF NOT EXISTS " + quotaTable + " (id INTEGER PRIMARY KEY CHECK (id = 1), memory INTEGER NOT NULL, disk INTEGER NOT NULL)",
			"INSERT OR REPLACE INTO " + quotaTable + ` (id, memory, disk)
				SELECT 1, COALESCE(SUM(MAX(js_max_memory, 0)), 0), COALESCE(SUM(MAX(js_max_disk, 0)), 0) FROM projects`,
			"CREATE TABLE IF NOT EXISTS " + groupQuotaTable + ` (group_id TEXT PRIMARY KEY,
				memory INTEGER NOT NULL DEFAULT 0, disk INTEGER NOT NULL DEFAULT 0,
				unlimited_memory INTEGER NOT NULL DEFAULT 0, unlimited_disk INTEGER NOT NULL DEFAULT 0)`,
			"DELETE FROM " + groupQuotaTable,
			"INSERT INTO " + groupQuotaTable + ` (group_id, memory, disk, unlimited_memory, unlimited_disk)
				SELECT [[group]], SUM(MAX(js_max_memory, 0)), SUM(MAX(js_max_disk, 0)), SUM(js_max_memory < 0), SUM(js_max_disk < 0)
				FROM projects GROUP BY [[group]]`,
		} {
			if _, err := tx.DB().NewQuery(q).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReservedJetStream is the JetStream memory and disk every project reserves
// of the server's totals (unlimited ones reserve nothing), as counted by
// RecountQuota at start and kept up to date by every project write since.
func ReservedJetStream(app core.App) (memory, disk int64, err error) {
	var sum reservation
	err = app.DB().NewQuery("SELECT memory, disk FROM " + quotaTable + " WHERE id = 1").One(&sum)
	return sum.Memory, sum.Disk, err
}

// addUse moves a project's quota from before to after (nil: no project) in
// both running totals.
func addUse(tx core.App, groupID string, before, after *jsQuota) error {
	var b, a jsQuota
	var bu, au [2]int64
	if before != nil {
		b = *before
		bu = [2]int64{b2i(b.Memory < 0), b2i(b.Disk < 0)}
	}
	if after != nil {
		a = *after
		au = [2]int64{b2i(a.Memory < 0), b2i(a.Disk < 0)}
	}
	d := a.reserved().minus(b.reserved())
	if d.Memory != 0 || d.Disk != 0 {
		if _, err := tx.DB().NewQuery("UPDATE " + quotaTable + " SET memory = memory + {:m}, disk = disk + {:d} WHERE id = 1").
			Bind(dbx.Params{"m": d.Memory, "d": d.Disk}).Execute(); err != nil {
			return ignoreUncounted(err)
		}
	}
	if d.Memory == 0 && d.Disk == 0 && au == bu {
		return nil
	}
	if _, err := tx.DB().NewQuery("INSERT INTO " + groupQuotaTable + " (group_id) VALUES ({:g}) ON CONFLICT (group_id) DO NOTHING").
		Bind(dbx.Params{"g": groupID}).Execute(); err != nil {
		return ignoreUncounted(err)
	}
	_, err := tx.DB().NewQuery("UPDATE " + groupQuotaTable + ` SET memory = memory + {:m}, disk = disk + {:d},
		unlimited_memory = unlimited_memory + {:um}, unlimited_disk = unlimited_disk + {:ud} WHERE group_id = {:g}`).
		Bind(dbx.Params{"m": d.Memory, "d": d.Disk, "um": au[0] - bu[0], "ud": au[1] - bu[1], "g": groupID}).Execute()
	return ignoreUncounted(err)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ignoreUncounted: totals that were never counted (a CLI command before
// the first serve) are counted by the start-up recount, this row included.
func ignoreUncounted(err error) error {
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return nil
	}
	return err
}

// admitQuota is called after a project row was written in tx, with its
// quota before (nil: a new project) and now. It keeps the running totals
// and refuses (and so rolls back) a raise beyond the server's JetStream
// totals (nats-server would otherwise refuse JetStream for the account
// silently, at its first connection) or beyond the group's share of them
// (one group cannot take the server).
func (t *Tenancy) admitQuota(tx core.App, groupID string, before *jsQuota, after jsQuota) error {
	_, totals := t.dataPlane()
	if totals == nil {
		return nil
	}
	var sum reservation
	if err := tx.DB().NewQuery("SELECT memory, disk FROM " + quotaTable + " WHERE id = 1").One(&sum); err != nil {
		// Not counted yet (data plane attached without a start-up recount):
		// the recount counts this row already.
		if err := RecountQuota(tx); err != nil {
			return err
		}
		before = &after
	} else if err := addUse(tx, groupID, before, &after); err != nil {
		return err
	}
	var was jsQuota
	if before != nil {
		was = *before
	}
	maxMemory, maxDisk := totals()
	if err := tx.DB().NewQuery("SELECT memory, disk FROM " + quotaTable + " WHERE id = 1").One(&sum); err != nil {
		return err
	}
	if raises(was.Memory, after.Memory) && after.Memory >= 0 && sum.Memory > maxMemory {
		return fieldError("js_max_memory", "over_capacity", fmt.Sprintf(
			"the server cannot admit %s of JetStream memory: %s of its %s are reserved by other projects",
			size(after.Memory), size(sum.Memory-after.Memory), size(maxMemory)))
	}
	if raises(was.Disk, after.Disk) && after.Disk >= 0 && sum.Disk > maxDisk {
		return fieldError("js_max_disk", "over_capacity", fmt.Sprintf(
			"the server cannot admit %s of JetStream disk: %s of its %s are reserved by other projects",
			size(after.Disk), size(sum.Disk-after.Disk), size(maxDisk)))
	}
	return t.admitGroupShare(tx, groupID, was, after, maxMemory, maxDisk)
}

// admitGroupShare refuses a raise that takes the group's projects past
// js_share percent of either server total; an unlimited quota counts as the
// whole total. Lowering is always allowed.
func (t *Tenancy) admitGroupShare(tx core.App, groupID string, before, after jsQuota, maxMemory, maxDisk int64) error {
	raisedMemory, raisedDisk := raises(before.Memory, after.Memory), raises(before.Disk, after.Disk)
	if !raisedMemory && !raisedDisk {
		return nil
	}
	group, err := tx.FindRecordById(Groups, groupID)
	if err != nil {
		return err
	}
	var use struct {
		reservation
		UnlimitedMemory int64 `db:"unlimited_memory"`
		UnlimitedDisk   int64 `db:"unlimited_disk"`
	}
	if err := tx.DB().NewQuery("SELECT memory, disk, unlimited_memory, unlimited_disk FROM " + groupQuotaTable + " WHERE group_id = {:g}").
		Bind(dbx.Params{"g": groupID}).One(&use); err != nil {
		return err
	}
	share := int64(group.GetInt("js_share"))
	check := func(field, what string, used, unlimited, total int64, raised bool) error {
		allowed := total/100*share + total%100*share/100 // total*share/100 without overflow
		if unlimited > 0 {
			used = math.MaxInt64 // an unlimited quota takes the whole total
		}
		if raised && used > allowed {
			return fieldError(field, "group_share", fmt.Sprintf(
				"group %q may reserve %d%% of the server's JetStream %s (%s, js_share set by a superuser); its projects would reserve %s",
				group.GetString("name"), share, what, size(allowed), size(used)))
		}
		return nil
	}
	if err := check("js_max_memory", "memory", use.Memory, use.UnlimitedMemory, maxMemory, raisedMemory); err != nil {
		return err
	}
	return check("js_max_disk", "disk", use.Disk, use.UnlimitedDisk, maxDisk, raisedDisk)
}

func size(n int64) string {
	if n < 0 || n == math.MaxInt64 {
		return "unlimited"
	}
	return humanize.IBytes(uint64(n))
}

// ProjectForMember loads a project the signed-in user may see: a project in
// another tenant's group is "not found", never "forbidden", so ids leak nothing.
func ProjectForMember(e *core.RequestEvent, app core.App, id string) (*core.Record, error) {
	return projectFor(app, ActorOf(e), id)
}

// GroupForMember answers 404 unless the signed-in user is a member of the
// group (superusers pass).
func GroupForMember(e *core.RequestEvent, app core.App, id string) error {
	if _, err := app.FindRecordById(Groups, id); err != nil {
		return notFound("group not found")
	}
	if e.HasSuperuserAuth() {
		return nil
	}
	user := AuthUser(e)
	if user == nil {
		return notFound("group not found")
	}
	if ok, err := IsMember(app, user.Id, id); err != nil {
		return err
	} else if !ok {
		return notFound("group not found")
	}
	return nil
}

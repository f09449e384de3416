package pb_test

import (
	"fmt"
	"testing"
)

// TestQuotaTotalsFollowCreatesDeletesAndRestarts checks the running totals
// that JetStream admission reads: creates reserve, deleting a project or its
// whole group releases, and a restart recounts to the same answer.
func TestQuotaTotalsFollowCreatesDeletesAndRestarts(t *testing.T) {
	dir := t.TempDir()
	// Room for exactly four projects at the default 256 MiB disk each.
	inst := startInstance(t, dir, "--nats-max-memory", "1GiB", "--nats-max-disk", "1GiB")
	alice := signUp(t, inst, "Alice")
	su := superuser(t, inst)
	unlimited(t, su, alice) // this test is about the server's totals, not a group's share
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, alice.createProject(alice.MyGroup, fmt.Sprintf("p%d", i))["id"].(string))
	}
	full := func(c *client, group string) {
		t.Helper()
		c.fieldErr("js_max_disk", "POST", "/api/collections/projects/records", map[string]any{"name": "over", "group": group})
	}
	full(alice, alice.MyGroup)

	alice.must(204, "DELETE", "/api/collections/projects/records/"+ids[0], nil)
	alice.createProject(alice.MyGroup, "again")
	full(alice, alice.MyGroup)

	// A group's projects go with it (cascade) and release their quota too.
	alice.must(204, "DELETE", "/api/collections/projects/records/"+ids[1], nil)
	shared := alice.createGroup("shared")
	unlimitGroup(t, su, shared)
	alice.createProject(shared, "in-group")
	full(alice, alice.MyGroup)
	alice.must(204, "DELETE", "/api/collections/groups/records/"+shared, nil)
	alice.createProject(alice.MyGroup, "after-group")
	full(alice, alice.MyGroup)

	// A superuser lowering a project's quota frees the difference.
	su.must(200, "PATCH", "/api/collections/projects/records/"+ids[2], map[string]any{"js_max_disk": 0})
	alice.createProject(alice.MyGroup, "after-lowering")
	full(alice, alice.MyGroup)

	inst.stop()
	if err := inst.start(); err != nil {
		t.Fatal(err)
	}
	full(alice, alice.MyGroup)
	alice.must(204, "DELETE", "/api/collections/projects/records/"+ids[3], nil)
	alice.createProject(alice.MyGroup, "after-restart")
	full(alice, alice.MyGroup)
}

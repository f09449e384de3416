package pb_test

// SPEC §7, tried as its adversaries: a hostile tenant, concurrent writers,
// a crash. Each test here is one finding of the tenant-trust issue; the race
// tests run enough rounds to have failed on the code before the fix (the
// note of the change gives the numbers).

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// unlimited lifts the fair-share limits of a user and their personal group
// (superuser-set), for tests that create more than a tenant normally may.
func unlimited(t *testing.T, su *client, users ...*client) {
	t.Helper()
	for _, u := range users {
		su.must(200, "PATCH", "/api/collections/users/records/"+u.ID, map[string]any{"max_groups": -1})
		su.must(200, "PATCH", "/api/collections/groups/records/"+u.MyGroup, map[string]any{"max_projects": -1, "js_share": 100})
	}
}

// unlimitGroup lifts a group's fair-share limits.
func unlimitGroup(t *testing.T, su *client, gid string) {
	t.Helper()
	su.must(200, "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"max_projects": -1, "js_share": 100})
}

// accountClaims decodes a project's account JWT as the database holds it.
func accountClaims(t *testing.T, su *client, pid string) *jwt.AccountClaims {
	t.Helper()
	p := su.must(200, "GET", "/api/collections/projects/records/"+pid, nil)
	ac, err := jwt.DecodeAccountClaims(p["account_jwt"].(string))
	if err != nil {
		t.Fatalf("project %s account_jwt: %v", pid, err)
	}
	return ac
}

// renamers runs n goroutines that PATCH the project's description until
// stop is closed: the concurrent writer whose whole-record saves used to
// carry stale state back.
func renamers(c *client, pid string, n int) (stop func() int) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var saves atomic.Int64
	for w := 0; w < n; w++ {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if st, _, _ := c.call("PATCH", "/api/collections/projects/records/"+pid, map[string]any{"description": fmt.Sprintf("w%d-%d", w, i)}); st == 200 {
					saves.Add(1)
				}
			}
		})
	}
	return func() int { close(done); wg.Wait(); return int(saves.Load()) }
}

// settle is how long a test waits after an acknowledged change for renames
// that loaded the record before it to have saved: a lost update shows after.
const settle = 15 * time.Millisecond

// Findings 1, 4 and 13: a revoke, a disable and a superuser's limit change
// each survive four members renaming the project as fast as they can.
func TestNoLostUpdatesUnderConcurrentRenames(t *testing.T) {
	inst := shared(t)
	alice, bob := signUp(t, inst, "Alice"), signUp(t, inst, "Bob")
	su := superuser(t, inst)
	gid := alice.createGroup("Renames")
	alice.invite(gid, bob)
	pid := bob.createProject(gid, "busy")["id"].(string)
	const rounds = 200

	t.Run("revoke", func(t *testing.T) {
		creds := make([]map[string]any, rounds)
		for i := range creds {
			creds[i] = bob.issue(pid, map[string]any{"name": fmt.Sprintf("c%d", i)})
		}
		stop := renamers(bob, pid, 4)
		for _, c := range creds {
			alice.must(200, "POST", "/api/pocketbus/credentials/"+c["id"].(string)+"/revoke", nil)
			time.Sleep(settle / 3)
		}
		saves := stop()
		ac := accountClaims(t, su, pid)
		lost := 0
		for _, c := range creds {
			if _, ok := ac.Revocations[c["public_key"].(string)]; !ok {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("%d of %d acknowledged revocations missing from the account JWT after %d concurrent renames", lost, rounds, saves)
		}
		if saves == 0 {
			t.Fatal("no rename was saved: there was no concurrent writer")
		}
		for i, c := range creds {
			if nc, err := connect(t, inst.NATSURL, c); err == nil {
				nc.Close()
				t.Fatalf("revoked credential %d connects", i)
			}
		}
		t.Logf("%d revocations against %d concurrent renames: none lost", rounds, saves)
	})

	t.Run("disable", func(t *testing.T) {
		cred := bob.issue(pid, nil)
		stop := renamers(bob, pid, 4)
		lost := 0
		for i := 0; i < rounds; i++ {
			want := i%2 == 0
			alice.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"disabled": want})
			time.Sleep(settle)
			got := su.must(200, "GET", "/api/collections/projects/records/"+pid, nil)
			ac, err := jwt.DecodeAccountClaims(got["account_jwt"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if got["disabled"] != want || (ac.Limits.Conn == 0) != want {
				lost++
			}
			if want && i%20 == 0 {
				if nc, err := connect(t, inst.NATSURL, cred); err == nil {
					nc.Close()
					t.Fatalf("round %d: a credential of the disabled project connects", i)
				}
			}
		}
		saves := stop()
		if lost > 0 {
			t.Fatalf("%d of %d acknowledged disable/enable changes lost to %d concurrent renames", lost, rounds, saves)
		}
		if saves == 0 {
			t.Fatal("no rename was saved: there was no concurrent writer")
		}
		t.Logf("%d disable/enable changes against %d concurrent renames: none lost", rounds, saves)
	})

	t.Run("limits", func(t *testing.T) {
		stop := renamers(bob, pid, 4)
		lost := 0
		for i := 0; i < rounds; i++ {
			want := float64(4096 + i)
			su.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"max_payload": want})
			time.Sleep(settle)
			got := su.must(200, "GET", "/api/collections/projects/records/"+pid, nil)
			ac, _ := jwt.DecodeAccountClaims(got["account_jwt"].(string))
			if got["max_payload"] != want || ac == nil || ac.Limits.Payload != int64(want) {
				lost++
			}
		}
		saves := stop()
		if lost > 0 {
			t.Fatalf("%d of %d acknowledged limit changes lost to %d concurrent renames", lost, rounds, saves)
		}
		if saves == 0 {
			t.Fatal("no rename was saved: there was no concurrent writer")
		}
		// NATS enforces the last one.
		nc := mustConnect(t, inst.NATSURL, bob.issue(pid, nil))
		nc.Flush() // the server tells a client its account's limits in an INFO right after the connect
		if got := nc.MaxPayload(); got != int64(4096+rounds-1) {
			t.Fatalf("NATS max payload %d, want %d", got, 4096+rounds-1)
		}
		t.Logf("%d limit changes against %d concurrent renames: none lost", rounds, saves)
	})
}

// memberships returns the user's groups as the memberships rows and as the
// users.groups copy, sorted.
func memberships(t *testing.T, su *client, userID string) (rows, copy []string) {
	t.Helper()
	for _, m := range su.list("memberships", "user='"+userID+"'") {
		rows = append(rows, m["group"].(string))
	}
	u := su.must(200, "GET", "/api/collections/users/records/"+userID, nil)
	for _, g := range u["groups"].([]any) {
		copy = append(copy, g.(string))
	}
	sort.Strings(rows)
	sort.Strings(copy)
	return rows, copy
}

// go2 runs f and g at once (after a common start) and waits for both.
func go2(f, g func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { <-start; f() })
	wg.Go(func() { <-start; g() })
	close(start)
	wg.Wait()
}

// Finding 13: one user joining and leaving several groups at once, each
// membership one row: none lost, none left over, the users.groups copy
// always equal to the rows.
func TestConcurrentJoinsAndRemovals(t *testing.T) {
	inst := shared(t)
	su := superuser(t, inst)
	const groups, rounds = 4, 200
	owners := make([]*client, groups)
	gids := make([]string, groups)
	for i := range owners {
		owners[i] = signUp(t, inst, fmt.Sprintf("Owner%d", i))
		gids[i] = owners[i].createGroup(fmt.Sprintf("G%d", i))
	}
	u := signUp(t, inst, "Joiner")
	lost, leftover := 0, 0
	for r := 0; r < rounds; r++ {
		tokens := make([]string, groups)
		for i := range owners {
			tokens[i] = owners[i].must(200, "POST", "/api/pocketbus/groups/"+gids[i]+"/invites", map[string]any{})["token"].(string)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range tokens {
			wg.Go(func() {
				<-start
				u.call("POST", "/api/pocketbus/invites/"+tokens[i]+"/accept", nil)
			})
		}
		// The user's own profile save races the joins too.
		wg.Go(func() {
			<-start
			u.call("PATCH", "/api/collections/users/records/"+u.ID, map[string]any{"name": fmt.Sprintf("Joiner %d", r)})
		})
		close(start)
		wg.Wait()
		rows, copy := memberships(t, su, u.ID)
		want := append(slices.Clone(gids), u.MyGroup)
		sort.Strings(want)
		if !slices.Equal(rows, want) || !slices.Equal(copy, want) {
			lost++
			t.Logf("round %d after joins: rows %v, users.groups %v, want %v", r, rows, copy, want)
		}

		start = make(chan struct{})
		for i := range owners {
			wg.Go(func() {
				<-start
				owners[i].call("DELETE", "/api/pocketbus/groups/"+gids[i]+"/members/"+u.ID, nil)
			})
		}
		wg.Go(func() {
			<-start
			u.call("PATCH", "/api/collections/users/records/"+u.ID, map[string]any{"name": "Joiner"})
		})
		close(start)
		wg.Wait()
		rows, copy = memberships(t, su, u.ID)
		if !slices.Equal(rows, []string{u.MyGroup}) || !slices.Equal(copy, []string{u.MyGroup}) {
			leftover++
			t.Logf("round %d after removals: rows %v, users.groups %v", r, rows, copy)
		}
	}
	if lost+leftover > 0 {
		t.Fatalf("%d rounds lost a join, %d kept a removed membership, of %d", lost, leftover, rounds)
	}
}

// Finding 7: a transfer to B racing B's leave never leaves an owner who is
// not a member.
func TestTransferRacingLeave(t *testing.T) {
	inst := shared(t)
	su := superuser(t, inst)
	a, b := signUp(t, inst, "Tia"), signUp(t, inst, "Leo")
	unlimited(t, su, a, b)
	const rounds = 200
	outcomes := map[string]int{}
	for r := 0; r < rounds; r++ {
		gid := a.createGroup(fmt.Sprintf("T%d", r))
		a.invite(gid, b)
		var transfer, leave int
		go2(func() {
			transfer, _, _ = a.call("POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": b.ID})
		}, func() {
			leave, _, _ = b.call("DELETE", "/api/pocketbus/groups/"+gid+"/members/"+b.ID, nil)
		})
		outcomes[fmt.Sprintf("transfer %d, leave %d", transfer, leave)]++
		g := su.must(200, "GET", "/api/collections/groups/records/"+gid, nil)
		owner := g["owner"].(string)
		if n := len(su.list("memberships", "group='"+gid+"' && user='"+owner+"'")); n != 1 {
			t.Fatalf("round %d (transfer %d, leave %d): owner %s is not a member", r, transfer, leave, owner)
		}
		if transfer == 200 && leave == 204 {
			t.Fatalf("round %d: both the transfer and the new owner's leave succeeded", r)
		}
		// Clean up: whoever owns it deletes it.
		for _, c := range []*client{a, b} {
			if c.ID == owner {
				c.must(204, "DELETE", "/api/collections/groups/records/"+gid, nil)
			}
		}
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
}

// Finding 8: a join racing the group's deletion never leaves the joiner a
// member of (or holding the id of) a deleted group.
func TestJoinRacingGroupDelete(t *testing.T) {
	inst := shared(t)
	su := superuser(t, inst)
	a, b := signUp(t, inst, "Gus"), signUp(t, inst, "Ida")
	unlimited(t, su, a)
	const rounds = 200
	outcomes := map[string]int{}
	for r := 0; r < rounds; r++ {
		gid := a.createGroup(fmt.Sprintf("D%d", r))
		token := a.must(200, "POST", "/api/pocketbus/groups/"+gid+"/invites", map[string]any{})["token"].(string)
		var accept, del int
		go2(func() {
			accept, _, _ = b.call("POST", "/api/pocketbus/invites/"+token+"/accept", nil)
		}, func() {
			del, _, _ = a.call("DELETE", "/api/collections/groups/records/"+gid, nil)
		})
		outcomes[fmt.Sprintf("accept %d, delete %d", accept, del)]++
		if del != 204 {
			t.Fatalf("round %d: delete answered %d", r, del)
		}
		rows, copy := memberships(t, su, b.ID)
		if slices.Contains(rows, gid) || slices.Contains(copy, gid) {
			t.Fatalf("round %d (accept %d): the joiner keeps deleted group %s: rows %v, users.groups %v", r, accept, gid, rows, copy)
		}
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
}

// The invite flow: made by the owner only, shown once, used up, expired,
// deleted; accepting twice or concurrently counts each joiner once.
func TestInvites(t *testing.T) {
	inst := shared(t)
	owner, member, eve := signUp(t, inst, "Ivy"), signUp(t, inst, "Ike"), signUp(t, inst, "Eve")
	gid := owner.createGroup("Invited")
	invites := "/api/pocketbus/groups/" + gid + "/invites"

	anonymous(t, inst).must(401, "POST", invites, map[string]any{})
	eve.must(404, "POST", invites, map[string]any{})
	owner.fieldErr("group", "POST", "/api/pocketbus/groups/"+owner.MyGroup+"/invites", map[string]any{})
	owner.fieldErr("max_uses", "POST", invites, map[string]any{"max_uses": 0})
	owner.fieldErr("max_uses", "POST", invites, map[string]any{"max_uses": "3"})
	owner.fieldErr("expires", "POST", invites, map[string]any{"expires": "tomorrow"})
	owner.fieldErr("expires", "POST", invites, map[string]any{"expires": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	owner.fieldErr("nope", "POST", invites, map[string]any{"nope": 1})

	inv := owner.must(200, "POST", invites, map[string]any{})
	token := inv["token"].(string)
	if !strings.HasSuffix(inv["url"].(string), "/join/"+token) || inv["max_uses"] != 1.0 {
		t.Fatalf("invite = %v", inv)
	}
	if exp, _ := time.Parse(time.RFC3339, inv["expires"].(string)); time.Until(exp) < 6*24*time.Hour || time.Until(exp) > 8*24*time.Hour {
		t.Fatalf("default expiry %v, want ~7 days", inv["expires"])
	}
	// The token is shown once: the record keeps only a hash.
	rec := owner.must(200, "GET", "/api/collections/invites/records/"+inv["id"].(string), nil)
	if _, leaked := rec["token_hash"]; leaked || strings.Contains(fmt.Sprint(rec), token) {
		t.Fatalf("invite record exposes the token: %v", rec)
	}
	eve.must(404, "GET", "/api/collections/invites/records/"+inv["id"].(string), nil)

	anonymous(t, inst).must(401, "GET", "/api/pocketbus/invites/"+token, nil)
	view := member.must(200, "GET", "/api/pocketbus/invites/"+token, nil)
	if view["group"].(map[string]any)["name"] != "Invited" || view["invited_by"] != "Ivy" {
		t.Fatalf("invite view = %v", view)
	}
	member.must(404, "GET", "/api/pocketbus/invites/"+token+"x", nil)
	member.must(200, "POST", "/api/pocketbus/invites/"+token+"/accept", nil)
	member.must(200, "GET", "/api/collections/groups/records/"+gid, nil)
	// Used up: a second person gets 404, and so does the member accepting
	// again (a used-up link is not found for anyone), who stays a member.
	eve.must(404, "GET", "/api/pocketbus/invites/"+token, nil)
	eve.must(404, "POST", "/api/pocketbus/invites/"+token+"/accept", nil)
	eve.must(404, "GET", "/api/collections/groups/records/"+gid, nil)
	member.must(404, "POST", "/api/pocketbus/invites/"+token+"/accept", nil)
	member.must(200, "GET", "/api/collections/groups/records/"+gid, nil)

	// Accepting as an existing member uses nothing up.
	two := owner.must(200, "POST", invites, map[string]any{"max_uses": 2})
	member.must(200, "POST", "/api/pocketbus/invites/"+two["token"].(string)+"/accept", nil)
	if got := owner.must(200, "GET", "/api/collections/invites/records/"+two["id"].(string), nil); got["uses"] != 0.0 {
		t.Fatalf("a member's accept used the invite: %v", got)
	}

	// Deleted: the link stops working. Only the owner deletes.
	member.must(404, "DELETE", "/api/pocketbus/invites/"+two["id"].(string), nil)
	owner.must(204, "DELETE", "/api/pocketbus/invites/"+two["id"].(string), nil)
	eve.must(404, "POST", "/api/pocketbus/invites/"+two["token"].(string)+"/accept", nil)

	// Expired.
	soon := owner.must(200, "POST", invites, map[string]any{"expires": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)})
	time.Sleep(2 * time.Second)
	eve.must(404, "POST", "/api/pocketbus/invites/"+soon["token"].(string)+"/accept", nil)

	// Ten people accept a three-use link at once: exactly three join.
	three := owner.must(200, "POST", invites, map[string]any{"max_uses": 3})
	people := make([]*client, 10)
	for i := range people {
		people[i] = signUp(t, inst, fmt.Sprintf("P%d", i))
	}
	var wg sync.WaitGroup
	var joined atomic.Int64
	start := make(chan struct{})
	for _, p := range people {
		wg.Go(func() {
			<-start
			if st, _, _ := p.call("POST", "/api/pocketbus/invites/"+three["token"].(string)+"/accept", nil); st == 200 {
				joined.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	members := owner.list("memberships", "group='"+gid+"'")
	if joined.Load() != 3 || len(members) != 2+3 {
		t.Fatalf("a 3-use invite: %d accepts answered 200, %d members (want 3 and 5)", joined.Load(), len(members))
	}

	// The retired add-by-email route says so.
	owner.must(410, "POST", "/api/pocketbus/groups/"+gid+"/members", map[string]any{"email": eve.Email})
}

// Finding 9: nobody is added without consent, and nothing tells whether an
// email is registered; membership rows cannot be written through the API.
func TestNoJoinWithoutConsent(t *testing.T) {
	inst := shared(t)
	attacker, victim := signUp(t, inst, "Mal"), signUp(t, inst, "Vee")
	su := superuser(t, inst)
	for _, email := range []string{victim.Email, "nobody-" + randomHex(4) + "@pocketbus.test"} {
		attacker.must(410, "POST", "/api/pocketbus/groups/"+attacker.MyGroup+"/members", map[string]any{"email": email})
	}
	for _, c := range []*client{attacker, su} {
		if st, _ := c.do("POST", "/api/collections/memberships/records", map[string]any{"user": victim.ID, "group": attacker.MyGroup}); st < 400 {
			t.Fatalf("records-API membership create answered %d", st)
		}
	}
	if rows, _ := memberships(t, su, victim.ID); !slices.Equal(rows, []string{victim.MyGroup}) {
		t.Fatalf("the victim was added somewhere: %v", rows)
	}
	attacker.must(404, "GET", "/api/collections/users/records/"+victim.ID, nil)
}

// Finding 10 and SPEC §7 Privacy: co-members see name and avatar only; a
// user's groups, mygroup and hidden email are theirs; sorting or filtering
// by them is refused.
func TestPrivacyOfCoMembers(t *testing.T) {
	inst := shared(t)
	alice, bob := signUp(t, inst, "Ann"), signUp(t, inst, "Bea")
	gid := alice.createGroup("Private")
	alice.invite(gid, bob)
	other := bob.createGroup("Bob's other")

	seen := alice.must(200, "GET", "/api/collections/users/records/"+bob.ID, nil)
	for _, f := range []string{"groups", "mygroup", "email", "max_groups", "verified", "emailVisibility"} {
		if _, ok := seen[f]; ok {
			t.Fatalf("a co-member sees %q: %v", f, seen)
		}
	}
	if seen["name"] != "Bea" {
		t.Fatalf("a co-member does not see the name: %v", seen)
	}
	for _, u := range alice.list("users", "") {
		if _, ok := u["groups"]; ok && u["id"] != alice.ID {
			t.Fatalf("users list shows another user's groups: %v", u)
		}
	}
	me := bob.must(200, "GET", "/api/collections/users/records/"+bob.ID, nil)
	if !contains(me["groups"], other) || me["mygroup"] != bob.MyGroup || me["email"] != bob.Email {
		t.Fatalf("a user does not see their own groups and email: %v", me)
	}
	for _, q := range []string{"sort=email", "sort=-email", "sort=groups", "sort=created", "sort=name,email"} {
		alice.fieldErr("sort", "GET", "/api/collections/users/records?"+q, nil)
	}
	for _, f := range []string{"email ~ 'b'", "groups ?~ '" + other + "'", "mygroup != ''", "name = 'x' || email > 'a'", "(emailVisibility = false)", "memberships_via_user.group ?= '" + other + "'"} {
		alice.fieldErr("filter", "GET", "/api/collections/users/records?filter="+url.QueryEscape(f), nil)
	}
	alice.must(200, "GET", "/api/collections/users/records?sort=-name,id&filter="+url.QueryEscape("name != ''"), nil)
	// Expanding the hidden relations is refused.
	alice.fieldErr("expand", "GET", "/api/collections/users/records/"+bob.ID+"?expand=groups,mygroup", nil)
	alice.fieldErr("expand", "GET", "/api/collections/users/records?expand=mygroup", nil)
}

// Finding 2 and SPEC §7 "Ids are the server's": no client-chosen ids.
func TestClientChosenIDsRefused(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Ida")
	su := superuser(t, inst)
	id := "reuse" + randomHex(5)
	u.fieldErr("id", "POST", "/api/collections/groups/records", map[string]any{"id": id, "name": "x"})
	u.fieldErr("id", "POST", "/api/collections/projects/records", map[string]any{"id": id, "name": "x", "group": u.MyGroup})
	su.fieldErr("id", "POST", "/api/collections/projects/records", map[string]any{"id": id, "name": "x", "group": u.MyGroup})
	anonymous(t, inst).fieldErr("id", "POST", "/api/collections/users/records", map[string]any{
		"id": id, "email": "id-" + randomHex(3) + "@pocketbus.test", "password": "password123", "passwordConfirm": "password123"})
	// Without the id these bodies are refused too (a missing field, or a
	// create that only a route makes: 403): the refusal must name the id.
	for _, c := range []string{"credentials", "invites", "memberships", "events", "revocations"} {
		st, out := su.do("POST", "/api/collections/"+c+"/records", map[string]any{"id": id})
		if st < 400 || st > 499 {
			t.Fatalf("superuser create of %s with an id: %d", c, st)
		}
		if data, _ := out["data"].(map[string]any); data["id"] == nil {
			t.Fatalf("superuser create of %s with an id: %d without id in data: %v", c, st, out)
		}
	}
	su.must(404, "GET", "/api/collections/projects/records/"+id, nil)
	su.must(404, "GET", "/api/collections/groups/records/"+id, nil)
}

// webConn connects with a web token of the project, as the web app does.
func webConn(t *testing.T, inst *instance, c *client, pid string) *lcConn {
	t.Helper()
	tok := c.must(200, "POST", "/api/pocketbus/projects/"+pid+"/token", nil)
	lc := &lcConn{closed: make(chan time.Time, 1)}
	nc, err := nats.Connect(inst.NATSURL, nats.UserJWTAndSeed(tok["jwt"].(string), tok["seed"].(string)), nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { lc.closed <- time.Now() }))
	if err != nil {
		uc, _ := jwt.DecodeUserClaims(tok["jwt"].(string))
		t.Fatalf("web token connect: %v (user %s, iat %d, account %s)", err, uc.Subject, uc.IssuedAt, uc.Issuer)
	}
	t.Cleanup(nc.Close)
	lc.Conn = nc
	return lc
}

// webRefused asserts a fresh web-token-style connection with tok is refused.
func webRefused(t *testing.T, inst *instance, tok map[string]any, what string) {
	t.Helper()
	nc, err := nats.Connect(inst.NATSURL, nats.UserJWTAndSeed(tok["jwt"].(string), tok["seed"].(string)), nats.NoReconnect())
	if err == nil {
		nc.Close()
		t.Fatalf("%s: connected", what)
	}
}

// Finding 6: removing a member (or a member leaving) closes their web-token
// connections within a second and revokes the credentials they created,
// unless the remover keeps them.
func TestRemovalEndsNATSAccess(t *testing.T) {
	inst := shared(t)
	owner, carol, dave := signUp(t, inst, "Olive"), signUp(t, inst, "Carol"), signUp(t, inst, "Dave")
	gid := owner.createGroup("Access")
	owner.invite(gid, carol)
	owner.invite(gid, dave)
	p1 := carol.createProject(gid, "one")["id"].(string)
	p2 := owner.createProject(gid, "two")["id"].(string)
	carolCreds := []map[string]any{carol.issue(p1, nil), carol.issue(p2, nil)}
	ownerCred := owner.issue(p1, nil)
	daveCred := dave.issue(p2, nil)
	carolWeb := []*lcConn{webConn(t, inst, carol, p1), webConn(t, inst, carol, p2)}
	carolTok := carol.must(200, "POST", "/api/pocketbus/projects/"+p1+"/token", nil)
	carolConns := []*lcConn{lcDial(t, inst.NATSURL, carolCreds[0]), lcDial(t, inst.NATSURL, carolCreds[1])}
	ownerConn := lcDial(t, inst.NATSURL, ownerCred)

	start := time.Now()
	owner.must(204, "DELETE", "/api/pocketbus/groups/"+gid+"/members/"+carol.ID, nil)
	for i, c := range append(carolWeb, carolConns...) {
		d := c.closedWithin(t, start, closeBound, fmt.Sprintf("removed member's connection %d", i))
		t.Logf("removed member's connection %d closed after %v", i, d)
	}
	webRefused(t, inst, carolTok, "a web token of the removed member")
	for _, c := range carolCreds {
		lcRefused(t, inst.NATSURL, c, "a credential the removed member created")
		rec := owner.must(200, "GET", "/api/collections/credentials/records/"+c["id"].(string), nil)
		if rec["revoked"] == "" || rec["created_by"] != carol.ID {
			t.Fatalf("the removed member's credential record: %v", rec)
		}
	}
	carol.must(404, "POST", "/api/pocketbus/projects/"+p1+"/token", nil)
	carol.must(404, "POST", "/api/pocketbus/projects/"+p1+"/credentials", map[string]any{"name": "after"})
	ownerConn.alive(t, "the owner's connection after removing a member")

	// Kept credentials stay (listed with their creator); the web token goes.
	daveWeb := webConn(t, inst, dave, p2)
	daveConn := lcDial(t, inst.NATSURL, daveCred)
	owner.fieldErr("keep_credentials", "DELETE", "/api/pocketbus/groups/"+gid+"/members/"+dave.ID+"?keep_credentials=maybe", nil)
	start = time.Now()
	owner.must(204, "DELETE", "/api/pocketbus/groups/"+gid+"/members/"+dave.ID+"?keep_credentials=true", nil)
	daveWeb.closedWithin(t, start, closeBound, "web token of a member removed with keep_credentials")
	daveConn.alive(t, "a kept credential")
	if rec := owner.must(200, "GET", "/api/collections/credentials/records/"+daveCred["id"].(string), nil); rec["revoked"] != "" || rec["created_by"] != dave.ID {
		t.Fatalf("kept credential record: %v", rec)
	}

	// Leaving is the same (web token closed, credentials revoked and
	// closed); rejoining later works with new tokens and credentials.
	owner.invite(gid, carol)
	again := webConn(t, inst, carol, p1)
	again.alive(t, "a rejoined member's new web token")
	againCred := carol.issue(p1, nil)
	againConn := lcDial(t, inst.NATSURL, againCred)
	againConn.alive(t, "a rejoined member's new credential")
	start = time.Now()
	carol.must(204, "DELETE", "/api/pocketbus/groups/"+gid+"/members/"+carol.ID, nil)
	again.closedWithin(t, start, closeBound, "web token of a member who left")
	againConn.closedWithin(t, start, closeBound, "credential of a member who left")
	lcRefused(t, inst.NATSURL, againCred, "a credential of a member who left")
	if rec := owner.must(200, "GET", "/api/collections/credentials/records/"+againCred["id"].(string), nil); rec["revoked"] == "" {
		t.Fatalf("the credential of a member who left is not revoked: %v", rec)
	}
}

// Findings 3, 11, 12: what a credential's options grant, on the wire.
func TestCredentialOptionsHold(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Opt")
	pid := u.createProject(u.MyGroup, "opts")["id"].(string)
	issue := "/api/pocketbus/projects/" + pid + "/credentials"
	full := mustConnect(t, inst.NATSURL, u.issue(pid, nil))
	js := lcJS(t, full)
	if _, err := js.CreateStream(lcCtx(t), jetstreamConfig("VICTIM", "victim.>")); err != nil {
		t.Fatal(err)
	}

	// Finding 3: pub_allow ["app.>"] cannot reply its way out.
	app := lcDial(t, inst.NATSURL, u.issue(pid, map[string]any{"pub_allow": []string{"app.>"}}))
	watch, _ := full.SubscribeSync("admin.>")
	full.Flush()
	var repliedMu sync.Mutex
	replied := map[string]int{} // reply subject → replies the handler tried
	loop, _ := app.Subscribe("app.loop", func(m *nats.Msg) {
		m.Respond([]byte("pwned"))
		repliedMu.Lock()
		replied[m.Reply]++
		repliedMu.Unlock()
	})
	defer loop.Unsubscribe()
	app.Flush()
	app.PublishMsg(&nats.Msg{Subject: "app.loop", Reply: "admin.shutdown", Data: []byte("x")})
	app.PublishMsg(&nats.Msg{Subject: "app.loop", Reply: "$JS.API.STREAM.DELETE.VICTIM", Data: []byte("x")})
	app.Flush()
	// Each escape was tried: the handler replied to admin.shutdown (and the
	// server refused that reply), and either replied to the JetStream API
	// too or nats-server refused the publish that named it as the reply.
	waitFor(t, 3*time.Second, "the handler's replies", func() bool {
		repliedMu.Lock()
		defer repliedMu.Unlock()
		return replied["admin.shutdown"] == 1 && app.told(`publish to "admin.shutdown"`) &&
			(replied["$JS.API.STREAM.DELETE.VICTIM"] == 1 || app.told(`publish with reply of "$js.api.stream.delete.victim"`))
	})
	if m, err := watch.NextMsg(500 * time.Millisecond); err == nil {
		t.Fatalf("a pub_allow app.> credential published to %s through a reply", m.Subject)
	}
	if _, err := js.Stream(lcCtx(t), "VICTIM"); err != nil {
		t.Fatalf("the stream did not survive a reply aimed at its delete API: %v", err)
	}
	// With allow_responses it may answer requests.
	svc := mustConnect(t, inst.NATSURL, u.issue(pid, map[string]any{"pub_allow": []string{"app.>"}, "allow_responses": true}))
	svc.Subscribe("svc.time", func(m *nats.Msg) { m.Respond([]byte("now")) })
	svc.Flush()
	if m, err := full.Request("svc.time", nil, 2*time.Second); err != nil || string(m.Data) != "now" {
		t.Fatalf("allow_responses service: %v %v", m, err)
	}

	// Finding 11: deny lists cover JetStream unless jetstream is asked for.
	denied := mustConnect(t, inst.NATSURL, u.issue(pid, map[string]any{"sub_deny": []string{"secret.>"}}))
	// A denied JetStream API request is never answered: wait briefly, each
	// request with its own deadline (a shared one would be used up by the
	// first and fail the second before it reached the server).
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if _, err := lcJS(t, denied).CreateStream(short(), jetstreamConfig("STEAL", "secret.>")); err == nil {
		t.Fatal("a sub_deny secret.> credential created a stream over secret.>")
	}
	if _, err := lcJS(t, denied).Stream(short(), "VICTIM"); err == nil {
		t.Fatal("a credential with lists and no jetstream reads stream info")
	}
	if _, err := js.Stream(lcCtx(t), "STEAL"); err == nil {
		t.Fatal("the stream over secret.> exists")
	}
	withJS := mustConnect(t, inst.NATSURL, u.issue(pid, map[string]any{
		"pub_allow": []string{"orders.>"}, "sub_allow": []string{"_INBOX.>", "orders.>"}, "jetstream": true}))
	if _, err := lcJS(t, withJS).CreateStream(lcCtx(t), jetstreamConfig("ORDERS", "orders.>")); err != nil {
		t.Fatalf("a credential with jetstream: true: %v", err)
	}

	// Finding 12: credentials that cannot work are refused at issue time.
	long := make([]string, 90)
	for i := range long {
		long[i] = fmt.Sprintf("tenant.%02d.orders.created.eu-west.region", i)
	}
	u.fieldErr("sub_allow", "POST", issue, map[string]any{"name": "big", "sub_allow": long})
	u.fieldErr("pub_deny", "POST", issue, map[string]any{"name": "none", "pub_allow": []string{"a.>"}, "pub_deny": []string{">"}})
	u.fieldErr("pub_deny", "POST", issue, map[string]any{"name": "none", "pub_deny": []string{">"}, "sub_deny": []string{">"}})
	u.fieldErr("allow_responses", "POST", issue, map[string]any{"name": "x", "allow_responses": "yes"})
	// A subscribe-only credential is fine, and a queue permission too.
	mustConnect(t, inst.NATSURL, u.issue(pid, map[string]any{"pub_deny": []string{">"}}))
	// nats.go reports a refused subscription asynchronously: a message
	// through the queue subscription shows it was allowed.
	q := lcDial(t, inst.NATSURL, u.issue(pid, map[string]any{"sub_allow": []string{"jobs.> workers"}}))
	qsub, err := q.QueueSubscribeSync("jobs.x", "workers")
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Flush(); err != nil {
		t.Fatalf("queue subscribe allowed by sub_allow: %v", err)
	}
	if err := full.Publish("jobs.x", []byte("job")); err != nil {
		t.Fatal(err)
	}
	if m, err := qsub.NextMsg(3 * time.Second); err != nil || string(m.Data) != "job" {
		t.Fatalf("queue subscription allowed by sub_allow received nothing: %v (last error %v)", err, q.LastError())
	}
	if q.told("permissions violation") {
		t.Fatalf("queue subscribe allowed by sub_allow: %v", q.LastError())
	}
}

// Finding 5: one new user cannot take the server, one group cannot exceed
// its share or project count, one user cannot own unbounded groups; auth
// and create routes are rate-limited.
func TestFairShare(t *testing.T) {
	inst := startInstance(t, "", "--nats-max-memory", "160MiB", "--nats-max-disk", "10GiB")
	su := superuser(t, inst)
	greedy, other := signUp(t, inst, "Greedy"), signUp(t, inst, "Other")

	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	msgs := sync.Map{}
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			<-start
			st, body, _ := greedy.call("POST", "/api/collections/projects/records", map[string]any{"name": fmt.Sprintf("p%d", i), "group": greedy.MyGroup})
			if st == 200 {
				ok.Add(1)
			} else if body != nil {
				msgs.Store(fmt.Sprint(body["message"]), true)
			}
		})
	}
	close(start)
	wg.Wait()
	// 10% of 160 MiB is 16 MiB: one project at the default 16 MiB.
	if ok.Load() != 1 {
		t.Fatalf("50 concurrent creates by one new user: %d succeeded, want 1 (the group's 10%% share)", ok.Load())
	}
	var said []string
	msgs.Range(func(k, _ any) bool { said = append(said, k.(string)); return true })
	if len(said) == 0 || !strings.Contains(said[0], "js_share") {
		t.Fatalf("refusals do not say which limit: %v", said)
	}
	for _, m := range said { // the Map's order is random: every one says it
		if !strings.Contains(m, "js_share") {
			t.Fatalf("a refusal does not say which limit: %q (all: %v)", m, said)
		}
	}
	mine := other.createProject(other.MyGroup, "mine")["id"].(string)
	// An unlimited quota takes the whole total: refused under a 10% share.
	out0 := su.fieldErr("js_max_memory", "PATCH", "/api/collections/projects/records/"+mine, map[string]any{"js_max_memory": -1})
	if !strings.Contains(out0["message"].(string), "js_share") {
		t.Fatalf("unlimited quota under a share: %v", out0)
	}

	// The project count of a group.
	su.must(200, "PATCH", "/api/collections/groups/records/"+other.MyGroup, map[string]any{"js_share": 100, "max_projects": 3})
	other.createProject(other.MyGroup, "two")
	other.createProject(other.MyGroup, "three")
	out := other.fieldErr("group", "POST", "/api/collections/projects/records", map[string]any{"name": "four", "group": other.MyGroup})
	if !strings.Contains(out["message"].(string), "max_projects") {
		t.Fatalf("max_projects refusal: %v", out)
	}
	other.fieldErr("max_projects", "PATCH", "/api/collections/groups/records/"+other.MyGroup, map[string]any{"max_projects": 100})
	other.fieldErr("js_share", "PATCH", "/api/collections/groups/records/"+other.MyGroup, map[string]any{"js_share": 50})

	// Groups one user owns (the personal one counts).
	for i := 1; i < 5; i++ {
		greedy.createGroup(fmt.Sprintf("g%d", i))
		if i == 1 {
			greedy.fieldErr("name", "POST", "/api/collections/groups/records", map[string]any{"name": "G1"}) // names are per owner, any case
		}
	}
	out = greedy.fieldErr("owner", "POST", "/api/collections/groups/records", map[string]any{"name": "g5"})
	if !strings.Contains(out["message"].(string), "max_groups") {
		t.Fatalf("max_groups refusal: %v", out)
	}
	greedy.fieldErr("max_groups", "PATCH", "/api/collections/users/records/"+greedy.ID, map[string]any{"max_groups": 100})
}

// Rate limits are on by default (PocketBase's limiter): a burst of sign-in
// attempts or creates from one address gets 429s. The server runs without
// the tests' --rate-limits=false and without POCKETBUS_RATE_LIMITS.
func TestRateLimitsOnByDefault(t *testing.T) {
	if v, ok := os.LookupEnv("POCKETBUS_RATE_LIMITS"); ok {
		t.Setenv("POCKETBUS_RATE_LIMITS", v) // restored after the test
		os.Unsetenv("POCKETBUS_RATE_LIMITS")
	}
	inst, err := prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	inst.args = slices.DeleteFunc(inst.args, func(a string) bool { return a == noRateLimits })
	if slices.ContainsFunc(inst.args, func(a string) bool { return strings.HasPrefix(a, "--rate-limits") }) {
		t.Fatalf("serve %v sets the rate limits", inst.args)
	}
	err = inst.start()
	t.Cleanup(inst.stop)
	if err != nil {
		t.Fatal(err)
	}
	u := signUp(t, inst, "Rate")
	anon := anonymous(t, inst)
	limited := 0
	for i := 0; i < 10; i++ {
		if st, _, _ := anon.call("POST", "/api/collections/users/auth-with-password", map[string]any{"identity": u.Email, "password": "wrong"}); st == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("10 quick sign-in attempts were never rate-limited")
	}
	limited = 0
	for i := 0; i < 40; i++ {
		if st, _, _ := u.call("POST", "/api/pocketbus/projects/nope/credentials", map[string]any{"name": "x"}); st == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("40 quick issue calls were never rate-limited")
	}
}

// SPEC §7 Audit: every change writes an event in its transaction; members
// read their group's trail, nobody writes it.
func TestAuditTrail(t *testing.T) {
	inst := shared(t)
	owner, member, eve := signUp(t, inst, "Aud"), signUp(t, inst, "Mem"), signUp(t, inst, "Eva")
	su := superuser(t, inst)
	gid := owner.createGroup("Audited")
	owner.invite(gid, member)
	owner.must(200, "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"name": "Audited 2"})
	pid := member.createProject(gid, "audited")["id"].(string)
	member.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"description": "d"})
	owner.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"disabled": true})
	owner.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"disabled": false})
	su.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"max_payload": 2048})
	cred := member.issue(pid, nil)
	member.must(200, "POST", "/api/pocketbus/credentials/"+cred["id"].(string)+"/revoke", nil)
	inv := owner.must(200, "POST", "/api/pocketbus/groups/"+gid+"/invites", map[string]any{})
	owner.must(204, "DELETE", "/api/pocketbus/invites/"+inv["id"].(string), nil)
	owner.must(200, "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": member.ID})
	member.must(204, "DELETE", "/api/pocketbus/groups/"+gid+"/members/"+owner.ID, nil)

	events := member.list("events", "group='"+gid+"'")
	var actions []string
	for _, e := range events {
		actions = append(actions, e["action"].(string))
	}
	want := []string{"group.created", "invite.created", "member.joined", "group.renamed", "project.created", "project.updated",
		"project.disabled", "project.enabled", "project.limits_changed", "credential.issued", "credential.revoked",
		"invite.created", "invite.deleted", "group.owner_transferred", "member.removed"}
	for _, a := range want {
		if !slices.Contains(actions, a) {
			t.Fatalf("no %q event; the trail has %v", a, actions)
		}
	}
	for _, e := range events {
		switch e["action"] {
		case "project.limits_changed":
			if e["actor"] != "" || !strings.Contains(fmt.Sprint(e["data"]), "superuser") {
				t.Fatalf("a superuser's change is not marked as such: %v", e)
			}
		case "credential.revoked", "project.updated":
			if e["actor"] != member.ID {
				t.Fatalf("event actor %v, want the member: %v", e["actor"], e)
			}
		case "project.disabled":
			if e["actor"] != owner.ID {
				t.Fatalf("event actor %v, want the owner: %v", e["actor"], e)
			}
		}
	}
	// The owner who left no longer reads it; strangers never did.
	if n := len(owner.list("events", "group='"+gid+"'")); n != 0 {
		t.Fatalf("a former member reads %d events", n)
	}
	if n := len(eve.list("events", "group='"+gid+"'")); n != 0 {
		t.Fatalf("a stranger reads %d events", n)
	}
	// Read-only, for superusers too.
	id := events[0]["id"].(string)
	for _, c := range []*client{member, su} {
		c.must(403, "PATCH", "/api/collections/events/records/"+id, map[string]any{"action": "x"})
		c.must(403, "DELETE", "/api/collections/events/records/"+id, nil)
		if st, _ := c.do("POST", "/api/collections/events/records", map[string]any{"action": "forged", "group": gid}); st != 403 {
			t.Fatalf("event create answered %d", st)
		}
	}
}

// jetstreamConfig is a small memory stream.
func jetstreamConfig(name, subject string) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.MemoryStorage, MaxBytes: 1 << 20}
}

// Finding 14: an account whose first load raced a revoke, disable or delete
// does not keep the old claims. Each round starts connections (the first
// load of a fresh account) at the same moment as the change.
func TestNoStaleAccountAfterLazyLoad(t *testing.T) {
	inst := startInstance(t, "", "--nats-max-memory", "8G", "--nats-max-disk", "100G")
	u := signUp(t, inst, "Lazy")
	unlimited(t, superuser(t, inst), u)
	const n = 120 // 2-9 of 120 rounds were stale before the fix (e7051ec)
	for _, op := range []string{"revoke", "disable", "delete"} {
		t.Run(op, func(t *testing.T) {
			type round struct {
				pid  string
				cred map[string]any
				conn atomic.Pointer[nats.Conn]
				done time.Time
			}
			rounds := make([]*round, n)
			for i := range rounds {
				pid := u.createProject(u.MyGroup, fmt.Sprintf("%s-%d", op, i))["id"].(string)
				rounds[i] = &round{pid: pid, cred: u.issue(pid, nil)}
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, r := range rounds {
				wg.Go(func() {
					<-start
					if nc, err := connect(t, inst.NATSURL, r.cred); err == nil {
						r.conn.Store(nc)
					}
				})
				wg.Go(func() {
					<-start
					var st int
					switch op {
					case "revoke":
						st, _, _ = u.call("POST", "/api/pocketbus/credentials/"+r.cred["id"].(string)+"/revoke", nil)
					case "disable":
						st, _, _ = u.call("PATCH", "/api/collections/projects/records/"+r.pid, map[string]any{"disabled": true})
					case "delete":
						st, _, _ = u.call("DELETE", "/api/collections/projects/records/"+r.pid, nil)
					}
					if st/100 == 2 {
						r.done = time.Now()
					}
				})
			}
			close(start)
			wg.Wait()
			time.Sleep(closeBound)
			stale := 0
			for i, r := range rounds {
				if r.done.IsZero() {
					t.Fatalf("round %d: the %s failed", i, op)
				}
				if nc := r.conn.Load(); nc != nil {
					if !nc.IsClosed() {
						stale++
						t.Logf("round %d: a connection made while the account loaded is open %v after the %s", i, time.Since(r.done), op)
					}
					nc.Close()
				}
				if nc, err := connect(t, inst.NATSURL, r.cred); err == nil {
					nc.Close()
					stale++
					t.Logf("round %d: the credential connects %v after the %s", i, time.Since(r.done), op)
				}
			}
			if stale > 0 {
				t.Fatalf("%d stale accesses in %d rounds of %s racing the account's first load", stale, n, op)
			}
		})
	}
}

// Deleting one's account ends NATS access in the groups one was a member
// of, as leaving does.
func TestAccountDeletionEndsNATSAccess(t *testing.T) {
	inst := shared(t)
	owner, gone := signUp(t, inst, "Own"), signUp(t, inst, "Gone")
	gid := owner.createGroup("Stays")
	owner.invite(gid, gone)
	pid := owner.createProject(gid, "kept")["id"].(string)
	cred := gone.issue(pid, nil)
	web := webConn(t, inst, gone, pid)
	conn := lcDial(t, inst.NATSURL, cred)
	start := time.Now()
	gone.must(204, "DELETE", "/api/collections/users/records/"+gone.ID, nil)
	web.closedWithin(t, start, closeBound, "web token of a deleted account")
	conn.closedWithin(t, start, closeBound, "credential of a deleted account")
	lcRefused(t, inst.NATSURL, cred, "a credential of a deleted account")
	if n := len(owner.list("events", "group='"+gid+"' && action='member.left'")); n != 1 {
		t.Fatalf("%d member.left events", n)
	}
}

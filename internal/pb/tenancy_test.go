package pb_test

import (
	"strings"
	"testing"
)

func TestSignUpCreatesPersonalGroup(t *testing.T) {
	inst := shared(t)
	alice := signUp(t, inst, "Alice")
	if alice.MyGroup == "" {
		t.Fatal("sign-up response has no mygroup")
	}
	me := alice.must(200, "GET", "/api/collections/users/records/"+alice.ID, nil)
	groups, _ := me["groups"].([]any)
	if len(groups) != 1 || groups[0] != alice.MyGroup {
		t.Fatalf("groups = %v, want [%s]", me["groups"], alice.MyGroup)
	}
	g := alice.must(200, "GET", "/api/collections/groups/records/"+alice.MyGroup, nil)
	if g["owner"] != alice.ID || g["personal"] != true || g["name"] != "Alice" {
		t.Fatalf("personal group = %v", g)
	}
	if got := alice.list("groups", ""); len(got) != 1 {
		t.Fatalf("a new user lists %d groups, want 1", len(got))
	}
}

func TestGroupRules(t *testing.T) {
	inst := shared(t)
	owner, member, stranger := signUp(t, inst, "Owner"), signUp(t, inst, "Member"), signUp(t, inst, "Stranger")
	anon := anonymous(t, inst)

	// Create: the owner is the creator whatever the body says.
	owner.fieldErr("owner", "POST", "/api/collections/groups/records", map[string]any{"name": "x", "owner": stranger.ID})
	owner.fieldErr("personal", "POST", "/api/collections/groups/records", map[string]any{"name": "x", "personal": true})
	owner.fieldErr("name", "POST", "/api/collections/groups/records", map[string]any{"name": ""})
	owner.fieldErr("name", "POST", "/api/collections/groups/records", map[string]any{"name": strings.Repeat("n", 65)})
	if st, _ := anon.do("POST", "/api/collections/groups/records", map[string]any{"name": "anon"}); st != 400 && st != 401 && st != 403 {
		t.Fatalf("anonymous group create: %d", st)
	}
	gid := owner.createGroup("Team")
	g := owner.must(200, "GET", "/api/collections/groups/records/"+gid, nil)
	if g["owner"] != owner.ID || g["personal"] != false {
		t.Fatalf("new group = %v", g)
	}
	if !contains(owner.must(200, "GET", "/api/collections/users/records/"+owner.ID, nil)["groups"], gid) {
		t.Fatal("the creator is not a member of the new group")
	}

	// Non-members and anonymous users see nothing.
	for _, c := range []*client{stranger, anon} {
		if items := c.list("groups", ""); containsID(items, gid) {
			t.Fatal("a non-member lists the group")
		}
		c.must(404, "GET", "/api/collections/groups/records/"+gid, nil)
		c.must(404, "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"name": "stolen"})
		c.must(404, "DELETE", "/api/collections/groups/records/"+gid, nil)
	}

	// Members see it; only the owner renames or deletes.
	owner.invite(gid, member)
	if !containsID(member.list("groups", ""), gid) {
		t.Fatal("a member does not list the group")
	}
	member.must(200, "GET", "/api/collections/groups/records/"+gid, nil)
	if st, _ := member.do("PATCH", "/api/collections/groups/records/"+gid, map[string]any{"name": "mine"}); st < 400 || st > 499 {
		t.Fatalf("member rename: %d", st)
	}
	if st, _ := member.do("DELETE", "/api/collections/groups/records/"+gid, nil); st < 400 || st > 499 {
		t.Fatalf("member delete: %d", st)
	}
	owner.must(200, "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"name": "Renamed"})
	owner.fieldErr("name", "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"name": strings.Repeat("n", 65)})
	owner.fieldErr("owner", "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"owner": member.ID})
	owner.fieldErr("personal", "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"personal": true})
	g = owner.must(200, "GET", "/api/collections/groups/records/"+gid, nil)
	if g["name"] != "Renamed" || g["owner"] != owner.ID || g["personal"] != false {
		t.Fatalf("group after refused updates = %v", g)
	}

	// A personal group cannot be deleted; a shared one can, by its owner.
	owner.fieldErr("personal", "DELETE", "/api/collections/groups/records/"+owner.MyGroup, nil)
	owner.must(204, "DELETE", "/api/collections/groups/records/"+gid, nil)
	if contains(member.must(200, "GET", "/api/collections/users/records/"+member.ID, nil)["groups"], gid) {
		t.Fatal("a deleted group stays in its members' groups")
	}

	// Superusers see every group.
	if !containsID(superuser(t, inst).list("groups", "id='"+owner.MyGroup+"'"), owner.MyGroup) {
		t.Fatal("superuser does not see a user's group")
	}
}

func TestMembershipRoutes(t *testing.T) {
	inst := shared(t)
	owner, member, other := signUp(t, inst, "Olga"), signUp(t, inst, "Mia"), signUp(t, inst, "Otto")
	gid := owner.createGroup("Crew")
	members := "/api/pocketbus/groups/" + gid + "/members"
	owner.invite(gid, member)

	// Removing: never the owner; a member removes only themself.
	anonymous(t, inst).must(401, "DELETE", members+"/"+member.ID, nil)
	owner.fieldErr("userId", "DELETE", members+"/"+owner.ID, nil)
	member.must(403, "DELETE", members+"/"+owner.ID, nil)
	other.must(404, "DELETE", members+"/"+member.ID, nil) // not a member: the group does not exist for them
	owner.must(404, "DELETE", members+"/"+other.ID, nil)  // not a member

	// Transfer: to members only.
	owner.fieldErr("user", "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": other.ID})
	owner.fieldErr("user", "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": ""})
	owner.fieldErr("body", "POST", "/api/pocketbus/groups/"+gid+"/owner", `{"user":`)
	member.must(403, "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": member.ID})
	other.must(404, "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": other.ID})
	owner.fieldErr("user", "POST", "/api/pocketbus/groups/"+owner.MyGroup+"/owner", map[string]any{"user": member.ID})
	owner.must(200, "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": member.ID})
	if g := member.must(200, "GET", "/api/collections/groups/records/"+gid, nil); g["owner"] != member.ID {
		t.Fatalf("owner after transfer = %v", g["owner"])
	}
	// The old owner is now a plain member and can leave; the new one cannot.
	member.fieldErr("userId", "DELETE", members+"/"+member.ID, nil)
	owner.must(204, "DELETE", members+"/"+owner.ID, nil)
	owner.must(404, "GET", "/api/collections/groups/records/"+gid, nil)
	if containsID(owner.list("groups", ""), gid) {
		t.Fatal("a member who left still lists the group")
	}
}

func TestUsersCannotRewriteMembership(t *testing.T) {
	inst := shared(t)
	alice, bob := signUp(t, inst, "Ann"), signUp(t, inst, "Ben")
	alice.fieldErr("mygroup", "PATCH", "/api/collections/users/records/"+alice.ID, map[string]any{"mygroup": bob.MyGroup})
	alice.fieldErr("groups", "PATCH", "/api/collections/users/records/"+alice.ID, map[string]any{"groups": []string{alice.MyGroup, bob.MyGroup}})
	alice.fieldErr("groups", "PATCH", "/api/collections/users/records/"+alice.ID, map[string]any{"groups+": bob.MyGroup})
	c := anonymous(t, inst)
	c.fieldErr("groups", "POST", "/api/collections/users/records", map[string]any{
		"email": "evil-" + randomHex(3) + "@pocketbus.test", "password": "password123", "passwordConfirm": "password123", "groups": []string{bob.MyGroup},
	})
	me := alice.must(200, "GET", "/api/collections/users/records/"+alice.ID, nil)
	if me["mygroup"] != alice.MyGroup || len(me["groups"].([]any)) != 1 {
		t.Fatalf("membership changed: %v", me)
	}
	bob.must(404, "GET", "/api/collections/groups/records/"+alice.MyGroup, nil)
	// Renaming oneself is still fine.
	alice.must(200, "PATCH", "/api/collections/users/records/"+alice.ID, map[string]any{"name": "Ann B"})
}

func TestUsersSeeOnlyGroupmates(t *testing.T) {
	inst := shared(t)
	a, b, c := signUp(t, inst, "Uma"), signUp(t, inst, "Vic"), signUp(t, inst, "Wes")
	c.must(404, "GET", "/api/collections/users/records/"+a.ID, nil)
	if containsID(c.list("users", ""), a.ID) {
		t.Fatal("a stranger lists another user")
	}
	gid := a.createGroup("Pair")
	a.invite(gid, b)
	b.must(200, "GET", "/api/collections/users/records/"+a.ID, nil)
	if got := b.list("users", ""); !containsID(got, a.ID) || containsID(got, c.ID) {
		t.Fatalf("groupmate listing = %v", ids(got))
	}
}

func TestProjectRules(t *testing.T) {
	inst := shared(t)
	owner, member, stranger := signUp(t, inst, "Pam"), signUp(t, inst, "Pat"), signUp(t, inst, "Pip")
	su := superuser(t, inst)
	gid := owner.createGroup("Projects")
	owner.invite(gid, member)

	// Create: members only, into their own groups, with server defaults.
	stranger.fieldErr("group", "POST", "/api/collections/projects/records", map[string]any{"name": "x", "group": gid})
	member.fieldErr("name", "POST", "/api/collections/projects/records", map[string]any{"name": "", "group": gid})
	member.fieldErr("name", "POST", "/api/collections/projects/records", map[string]any{"name": strings.Repeat("p", 65), "group": gid})
	member.fieldErr("js_max_disk", "POST", "/api/collections/projects/records", map[string]any{"name": "x", "group": gid, "js_max_disk": 1})
	member.fieldErr("account", "POST", "/api/collections/projects/records", map[string]any{"name": "x", "group": gid, "account": "AXXX"})
	member.fieldErr("disabled", "POST", "/api/collections/projects/records", map[string]any{"name": "x", "group": gid, "disabled": true})
	member.must(404, "POST", "/api/pocketbus/projects/nope/credentials", map[string]any{"name": "x"})
	p := member.createProject(gid, "Alpha")
	pid := p["id"].(string)
	member.fieldErr("body", "POST", "/api/pocketbus/projects/"+pid+"/credentials", `{"name": `)
	member.fieldErr("pub_allow", "POST", "/api/pocketbus/projects/"+pid+"/credentials", map[string]any{"name": "x", "pub_allow": "a.>"})
	if acc, _ := p["account"].(string); !strings.HasPrefix(acc, "A") || len(acc) != 56 {
		t.Fatalf("account = %q", p["account"])
	}
	if _, leaked := p["account_jwt"]; leaked {
		t.Fatal("the account JWT is exposed")
	}
	if p["js_max_streams"].(float64) <= 0 || p["max_payload"].(float64) <= 0 {
		t.Fatalf("new project has no default limits: %v", p)
	}
	if n := len(stranger.list("projects", "")); n != 0 {
		t.Fatalf("a stranger lists %d projects", n)
	}
	stranger.must(404, "GET", "/api/collections/projects/records/"+pid, nil)
	anonymous(t, inst).must(404, "GET", "/api/collections/projects/records/"+pid, nil)

	// Update: members rename; group is fixed; limits are for superusers;
	// disabled is the owner's.
	member.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"name": "Beta", "description": "d"})
	member.fieldErr("group", "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"group": member.MyGroup})
	member.fieldErr("js_max_streams", "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"js_max_streams": 1000000})
	member.fieldErr("max_connections", "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"max_connections": -1})
	member.fieldErr("account", "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"account": "AXXX"})
	member.must(403, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"disabled": true})
	stranger.must(404, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"name": "mine"})
	got := member.must(200, "GET", "/api/collections/projects/records/"+pid, nil)
	if got["name"] != "Beta" || got["group"] != gid || got["disabled"] != false || got["js_max_streams"] != p["js_max_streams"] || got["account"] != p["account"] {
		t.Fatalf("project after refused updates = %v", got)
	}
	owner.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"disabled": true})
	owner.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"disabled": false})
	su.must(200, "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"js_max_streams": 7})

	// More JetStream than the server has is refused, saying so.
	out := su.fieldErr("js_max_disk", "PATCH", "/api/collections/projects/records/"+pid, map[string]any{"js_max_disk": int64(1) << 50})
	if msg := out["message"].(string); !strings.Contains(msg, "cannot admit") {
		t.Fatalf("over-capacity message = %q", msg)
	}
	su.fieldErr("js_max_memory", "POST", "/api/collections/projects/records", map[string]any{"name": "huge", "group": gid, "js_max_memory": int64(1) << 50})

	// Delete: the group owner only.
	if st, _ := member.do("DELETE", "/api/collections/projects/records/"+pid, nil); st != 404 && st != 403 {
		t.Fatalf("member delete: %d", st)
	}
	owner.must(204, "DELETE", "/api/collections/projects/records/"+pid, nil)
	owner.must(404, "GET", "/api/collections/projects/records/"+pid, nil)

	// Deleting a group deletes its projects.
	p2 := owner.createProject(gid, "Gamma")["id"].(string)
	owner.must(204, "DELETE", "/api/collections/groups/records/"+gid, nil)
	su.must(404, "GET", "/api/collections/projects/records/"+p2, nil)
}

func TestCredentialsOnlyThroughIssueRoute(t *testing.T) {
	inst := shared(t)
	u := signUp(t, inst, "Cid")
	pid := u.createProject(u.MyGroup, "c")["id"].(string)
	u.must(403, "POST", "/api/collections/credentials/records", map[string]any{"project": pid, "name": "x"})
	superuser(t, inst).fieldErr("project", "POST", "/api/collections/credentials/records", map[string]any{"project": pid, "name": "x"})
	cred := u.issue(pid, map[string]any{"name": "kept"})
	rec := u.must(200, "GET", "/api/collections/credentials/records/"+cred["id"].(string), nil)
	for _, secret := range []string{"seed", "creds", "jwt"} {
		if _, ok := rec[secret]; ok {
			t.Fatalf("credential record exposes %q", secret)
		}
	}
	if rec["public_key"] != cred["public_key"] || rec["created_by"] != u.ID {
		t.Fatalf("credential record = %v", rec)
	}
}

func TestSPAAndAPIFallbacks(t *testing.T) {
	inst := shared(t)
	c := anonymous(t, inst)
	st, body := c.doRaw("GET", "/groups/abc/projects/def", nil)
	if st != 200 || !strings.Contains(string(body), "<html") {
		t.Fatalf("deep link: %d %.80s", st, body)
	}
	st, body = c.doRaw("GET", "/api/does-not-exist", nil)
	if st != 404 || !strings.Contains(string(body), `"status":404`) {
		t.Fatalf("unknown API path: %d %.80s", st, body)
	}
	if st, _ := c.doRaw("GET", "/_/", nil); st != 200 {
		t.Fatalf("dashboard: %d", st)
	}
	info := c.must(200, "GET", "/api/pocketbus/info", nil)
	if m, _ := info["mailer"].(map[string]any); m == nil || m["configured"] != false {
		t.Fatalf("info.mailer = %v, want configured false on a server without SMTP", info["mailer"])
	}
	if !strings.HasPrefix(info["operator"].(string), "O") || info["nats"].(map[string]any)["url"] != inst.NATSURL {
		t.Fatalf("info = %v", info)
	}
}

func contains(list any, id string) bool {
	items, _ := list.([]any)
	for _, it := range items {
		if it == id {
			return true
		}
	}
	return false
}

func containsID(recs []map[string]any, id string) bool {
	for _, r := range recs {
		if r["id"] == id {
			return true
		}
	}
	return false
}

func ids(recs []map[string]any) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = r["id"]
	}
	return out
}

// A user who owns a group others are in cannot be deleted until they hand
// it over; their personal group goes with them.
func TestUserDeletionKeepsSharedGroupsOwned(t *testing.T) {
	inst := shared(t)
	owner, member := signUp(t, inst, "Del"), signUp(t, inst, "Kept")
	gid := owner.createGroup("Shared")
	owner.invite(gid, member)

	out := owner.fieldErr("id", "DELETE", "/api/collections/users/records/"+owner.ID, nil)
	if !strings.Contains(out["message"].(string), "Shared") {
		t.Fatalf("refusal does not name the group: %v", out["message"])
	}
	owner.must(200, "POST", "/api/pocketbus/groups/"+gid+"/owner", map[string]any{"user": member.ID})
	owner.must(204, "DELETE", "/api/collections/users/records/"+owner.ID, nil)

	su := superuser(t, inst)
	su.must(404, "GET", "/api/collections/groups/records/"+owner.MyGroup, nil)
	if g := member.must(200, "GET", "/api/collections/groups/records/"+gid, nil); g["owner"] != member.ID {
		t.Fatalf("shared group after its old owner left = %v", g)
	}
	// A non-owner member's update of the group is PocketBase's 404.
	stranger := signUp(t, inst, "Nob")
	member.invite(gid, stranger)
	stranger.must(404, "PATCH", "/api/collections/groups/records/"+gid, map[string]any{"name": "mine"})
}

package bus

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
)

// The embedded server loads accounts lazily: a first connect makes
// nats-server call the resolver's Fetch, which reads the account JWT from
// the Source; nats-server then builds the account from it (enabling its
// JetStream, which creates its directory) and registers it. Claim updates
// reach registered accounts only, and SyncAccount skips accounts that are
// not registered (they are read from the Source when they load). That
// leaves a race, measured before this guard as 7 of 40 deleted projects'
// credentials still connecting seconds after the delete, revoked
// credentials and disabled projects accepted, deleted accounts' JetStream
// directories recreated:
//
//	Fetch reads JWT v1 -> commit v2 -> SyncAccount: "not loaded", skip
//	-> account registers with v1, and stays so until restart.
//
// The load guard closes it. Events for one account:
//
//	M  Fetch marks the account as loading, before it reads
//	R  Fetch reads the Source
//	E  Fetch returns; the entry records the JWT it returned
//	G  nats-server applies what a Fetch returned: it registers the account
//	   with it or, when a concurrent first load registered it already,
//	   applies it to the registered account
//	C  a change commits in the Source
//	S  SyncAccount (or DeleteAccount): under the account's
//	   lock, marks an existing entry for a check, then pushes if loaded
//	W  the watcher checks an entry once the account is registered and no
//	   Fetch of it is between M and E: if an S touched the entry or its
//	   Fetches returned different JWTs, it reads the Source under the
//	   account's lock; if a JWT a Fetch returned differs from it (or the
//	   account is gone) the entry is stale, and W forces the Source's
//	   state onto the account (its claims, or a tombstone's and the
//	   removal of the JetStream directory)
//
// Every interleaving:
//
//  1. C before R: the Fetch read the committed state; nothing is stale.
//     (R is after M, so this includes every C before M.)
//  2. R before C, S before G: S sees the entry (M < R < C < S) and marks
//     it; the account is not registered, S skips. After G, W finds the
//     account registered on its next tick and the fetched JWT different
//     from the Source, and forces the Source's state: stale for at most
//     one tick (watchTick) plus the check.
//  3. R before C, S after G: S pushes the new state itself; W also finds
//     the entry stale and forces it again.
//  4. Concurrent first loads (F1 read v1 before C, F2 read v2 after):
//     nats-server may register with v2 and apply v1 after it (fetchAccount
//     finds the account registered and calls updateAccountWithClaimJWT),
//     and the registering fetch writes its own JWT into the account's
//     claimJWT after registering: the server can hold v1's claims while
//     reporting (Accountz) and comparing (a push of v2 is "same claims",
//     skipped) v2. Neither what the server reports nor a plain push can be
//     trusted then. So W waits until no Fetch is between M and E, and a
//     stale entry is forced again and again, 10 ms after the last time,
//     then at doubling intervals up to forceEvery, until loadSettle after
//     the last E: a late G is undone within forceEvery. Forcing applies
//     the claims with Server.UpdateAccountClaims, which has no "same
//     claims" shortcut. Two Fetches are enough for a late G, even when
//     they returned the same JWT (the second G applies it over a push).
//     With one Fetch there is no late G: nats-server applies its claims
//     before it registers the account, and W looks only at registered
//     accounts. So an entry with one Fetch is forced once; from then on
//     the account holds what was forced, and syncs push what follows
//     (as in 3.). Forcing again would only repeat the window below.
//  5. W and S hold the account's lock while they read the Source and push,
//     so whichever runs last applies the latest commit.
//  6. A Fetch that starts while W checks changes the entry, so W checks it
//     again on the next tick.
//  7. Fetch finds nothing (deleted account, or a stranger's account key):
//     no G follows; the entry goes at E unless another Fetch is under way
//     or has returned a JWT.
//  8. C after the entry is dropped: the account is registered and every G
//     of that load has happened (below), so S finds it registered and its
//     push applies.
//
// What is left: a G more than loadSettle after its E (nats-server builds
// and registers an account in well under a millisecond, tens of
// milliseconds under load with thousands of accounts), or an account that
// registers more than loadTimeout after its M. Either would keep stale
// claims until the next change or restart.
//
// One goroutine watches every loading account (10k accounts may load at
// once after a restart). Per tick an unregistered entry costs an IsLoaded
// (~0.15 µs). A registered one is compared with the Source only if a sync
// touched it or its Fetches returned different JWTs: otherwise nothing can
// have overtaken what it fetched, since callers sync after every commit. A
// stale one (rare: a change raced the load) costs a Source read and a
// forced apply: once after a single Fetch, else at most every forceEvery
// until it settles.
//
// Every apply of claims, pushed or forced, costs the account's clients
// something too: nats-server empties the account's service imports, the
// JetStream API's among them, and adds them back a moment later
// (updateAccountClaimsWithRefresh), so a JetStream request landing in
// between gets "no responders". Measured on v2.15.3: 17 of 13,089
// back-to-back GetMsg calls during 200 revocation pushes, 5 ms apart. Forcing
// a load with one Fetch once, not until it settles, is why: after a
// restore, whose journal catch-up re-signs accounts that loaded at start,
// repeated forcing re-applied the claims 22 times in 2 s
// (TestLoadGuardForcesOnceAfterOneFetch).
const (
	watchTick   = 10 * time.Millisecond
	forceEvery  = 100 * time.Millisecond
	loadSettle  = 2 * time.Second
	loadTimeout = 30 * time.Second
)

// loadGuard tracks accounts from their first Fetch until they settle.
type loadGuard struct {
	mu      sync.Mutex
	entries map[string]*loadEntry
	wake    chan struct{} // a new entry while the watcher sleeps
}

type loadEntry struct {
	reading int       // Fetches between M and E
	fetches int       // Fetches that returned a JWT (each may be followed by a G)
	fetched []string  // distinct JWTs the Fetches returned
	last    time.Time // last M or E
	gen     uint64    // bumped on every M, E and S, so a check can tell it is outdated
	touched bool      // an S ran since the first M
	checked bool      // compared with the Source since the last change
	stale   bool      // a fetched JWT differed from the Source: forced until settled
	next    time.Time // when a stale entry is forced again
	every   time.Duration
}

func newLoadGuard() *loadGuard {
	return &loadGuard{entries: map[string]*loadEntry{}, wake: make(chan struct{}, 1)}
}

// begin is M: Fetch calls it before it reads the Source.
func (g *loadGuard) begin(pub string) {
	g.mu.Lock()
	e := g.entries[pub]
	if e == nil {
		e = &loadEntry{}
		g.entries[pub] = e
	}
	e.reading++
	e.last = time.Now()
	e.gen++
	e.checked = false
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// end is E: the Fetch returned token (err != nil: nothing).
func (g *loadGuard) end(pub, token string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[pub]
	if e == nil { // cannot happen (entries with a Fetch under way are kept); never panic in a connect
		return
	}
	e.reading--
	e.last = time.Now()
	e.gen++
	e.checked = false
	if err == nil {
		e.fetches++
		if !slices.Contains(e.fetched, token) {
			e.fetched = append(e.fetched, token)
		}
	}
	if e.reading == 0 && len(e.fetched) == 0 {
		delete(g.entries, pub) // nothing was returned: nothing will register
	}
}

// touch is S's mark: a change was committed, so an entry of the account is
// checked again. Called under the account's lock, before S looks at
// IsLoaded.
func (g *loadGuard) touch(pub string) {
	g.mu.Lock()
	if e := g.entries[pub]; e != nil {
		e.gen++
		e.touched = true
		e.checked = false
	}
	g.mu.Unlock()
}

type loadSnapshot struct {
	pub     string
	gen     uint64
	reading bool
	fetched []string
	last    time.Time
	touched bool
	checked bool
	stale   bool
	next    time.Time
}

func (g *loadGuard) snapshot() []loadSnapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]loadSnapshot, 0, len(g.entries))
	for pub, e := range g.entries {
		sn := loadSnapshot{pub: pub, gen: e.gen, reading: e.reading > 0, last: e.last,
			touched: e.touched, checked: e.checked, stale: e.stale, next: e.next}
		if !e.checked || e.stale {
			sn.fetched = slices.Clone(e.fetched)
		}
		out = append(out, sn)
	}
	return out
}

// returned lists the accounts a Fetch returned a JWT for that no Fetch is
// reading now: each is registered, or being built to be (its G pending).
func (g *loadGuard) returned() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for pub, e := range g.entries {
		if e.reading == 0 && len(e.fetched) > 0 {
			out = append(out, pub)
		}
	}
	return out
}

// drop removes an entry unless it changed since the snapshot at gen.
func (g *loadGuard) drop(pub string, gen uint64) {
	g.mu.Lock()
	if e := g.entries[pub]; e != nil && e.gen == gen {
		delete(g.entries, pub)
	}
	g.mu.Unlock()
}

// settled records a check made from the snapshot at gen: whether the entry
// is stale and, if so, when it is forced again. forced is the JWT a stale
// check forced onto the account.
func (g *loadGuard) settled(pub string, gen uint64, stale bool, forced string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[pub]
	if e == nil {
		return
	}
	if e.gen == gen {
		e.checked = true
	}
	if !stale {
		return
	}
	if e.gen == gen && e.fetches == 1 {
		// One Fetch, registered: no late G can undo the force (4. above).
		e.fetched, e.stale = []string{forced}, false
		return
	}
	if !e.stale {
		e.stale, e.every = true, watchTick
	} else {
		e.every = min(2*e.every, forceEvery)
	}
	e.next = now.Add(e.every)
}

func (g *loadGuard) empty() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries) == 0
}

// watchLoads is the watcher (W); it returns when stop closes.
func (s *Server) watchLoads(stop <-chan struct{}) {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for {
		if s.loads.empty() {
			select {
			case <-stop:
				return
			case <-s.loads.wake:
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := time.Now()
		for _, e := range s.loads.snapshot() {
			if e.reading {
				continue // a Fetch is under way: its result is not known yet
			}
			if !s.IsLoaded(e.pub) {
				if now.Sub(e.last) > loadTimeout {
					s.loads.drop(e.pub, e.gen)
				}
				continue
			}
			if !e.checked && !e.touched && len(e.fetched) == 1 {
				// One JWT fetched and no change synced since the first M:
				// what registered is what the Source held after any commit
				// that preceded it (every commit is followed by a sync,
				// which would have touched the entry). No read needed,
				// which matters after a restart, when every account with
				// JetStream data loads at once.
				s.loads.settled(e.pub, e.gen, false, "", now)
				continue
			}
			if !e.checked || (e.stale && !now.Before(e.next)) {
				stale, forced, err := s.settleLoad(e)
				if err != nil {
					s.ns.Errorf("Pocketbus: settling freshly loaded account %s: %v", e.pub, err)
					continue // again on the next tick
				}
				s.loads.settled(e.pub, e.gen, stale, forced, now)
				continue // dropped at the earliest on the next tick, after this settled
			}
			if now.Sub(e.last) > loadSettle {
				s.loads.drop(e.pub, e.gen)
			}
		}
	}
}

// settleLoad compares what the Fetches of a registered account returned
// with the Source; if any differs (or the entry was stale already), it
// forces the Source's state onto the account. It reports whether the entry
// is stale and the JWT it forced.
func (s *Server) settleLoad(e loadSnapshot) (stale bool, forced string, err error) {
	defer s.locks.lock(e.pub)()
	token, err := s.src.AccountJWT(e.pub)
	gone := errors.Is(err, ErrAccountNotFound)
	if err != nil && !gone {
		return false, "", err
	}
	stale = e.stale
	for _, f := range e.fetched {
		if gone || f != token {
			stale = true
		}
	}
	if !stale {
		return false, "", nil
	}
	if gone {
		if token, err = s.op.tombstoneJWT(e.pub); err != nil {
			return true, "", err
		}
	}
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return true, "", fmt.Errorf("bus: account jwt: %w", err)
	}
	if ac.Subject != e.pub {
		return true, "", fmt.Errorf("bus: account jwt is for %s, not %s", ac.Subject, e.pub)
	}
	acc, err := s.ns.LookupAccount(e.pub) // registered: no fetch
	if err != nil {
		return true, "", err
	}
	// Directly, not through $SYS...CLAIMS.UPDATE: the server's claim JWT
	// may not be what it holds (see 4. above), and a push it takes for the
	// same claims is skipped.
	s.ns.UpdateAccountClaims(acc, ac)
	s.forced.Add(1)
	if gone {
		return true, token, s.removeJetStreamDir(e.pub)
	}
	return true, token, nil
}

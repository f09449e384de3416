package bus

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// pauseWait bounds how long PauseJetStream waits for accounts that are
// loading as it begins (see there).
const pauseWait = 3 * time.Second

// PauseJetStream makes the JetStream store on disk consistent for a backup
// that copies its files: every account's JetStream is stopped (streams and
// consumers flushed and closed, as nats-server does when an account loses
// JetStream), no account is synced, and no new account loads, until resume
// turns JetStream back on from each account's current claims. While paused,
// JetStream requests fail and nothing is acknowledged, so the copy holds
// exactly what was acknowledged before the pause, with no half-written
// blocks and no deleted-sequence gaps. Core NATS keeps running.
//
// Nothing here may fetch an account: Fetch waits for the pause, which this
// goroutine holds. LookupAccount fetches an account that is not registered,
// and nats-server enables a new account's JetStream (Jsz lists it) before
// it registers it; re-applying claims looks up the exporters of the
// account's imports, fetching those not loaded. So the pause first waits
// (up to pauseWait) until every account whose Fetch returned before it is
// registered (their JetStream would otherwise start after the listing),
// looks up only registered accounts, and resume lets Fetch run again before
// it re-applies claims.
func (s *Server) PauseJetStream() (resume func() error, err error) {
	// Stripes first: a sync or the load watcher may fetch (an import's
	// exporter) while it holds a stripe, and a Fetch never takes a stripe.
	unlockAll := s.locks.lockAll()
	s.paused.Lock()
	var paused []*server.Account
	resume = func() error {
		// Fetches may run again (re-applying claims may need one); syncs
		// wait until every paused account has its claims back.
		s.paused.Unlock()
		defer unlockAll()
		var errs []error
		for _, acc := range paused {
			token, err := s.src.AccountJWT(acc.Name)
			if errors.Is(err, ErrAccountNotFound) {
				continue // deleted meanwhile: its pending sync removes it
			}
			if err == nil {
				var ac *jwt.AccountClaims
				if ac, err = jwt.DecodeAccountClaims(token); err == nil {
					// Re-applies the JetStream limits, which recovers the
					// account's streams from disk.
					s.ns.UpdateAccountClaims(acc, ac)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("account %s: %w", acc.Name, err))
			}
		}
		return errors.Join(errs...)
	}
	accounts, err := s.jetStreamAccountsSettled(time.Now().Add(pauseWait))
	if err != nil {
		return nil, errors.Join(err, resume())
	}
	for _, pub := range accounts {
		acc, err := s.ns.LookupAccount(pub) // registered (checked above): no fetch
		if err != nil || !acc.JetStreamEnabled() {
			continue
		}
		if err := acc.DisableJetStream(); err != nil {
			return nil, errors.Join(fmt.Errorf("bus: pausing JetStream of %s: %w", pub, err), resume())
		}
		paused = append(paused, acc)
	}
	return resume, nil
}

// jetStreamAccountsSettled lists the project accounts with JetStream once
// no load is between its Fetch and its registration, polling until
// deadline. Called under the pause, so no Fetch is under way: an account
// a Fetch returned that is not registered yet is building (its JetStream
// may be on already) or will never register (its JWT was refused, or its
// build waits on a Fetch of an import's exporter, which waits for the
// pause and enables JetStream only after it). The latter are given up on at
// deadline; an account with JetStream that is still not registered then is
// an error, since pausing it would need a fetch.
func (s *Server) jetStreamAccountsSettled(deadline time.Time) ([]string, error) {
	for {
		var loading, accounts []string
		for _, pub := range s.loads.returned() {
			if !s.IsLoaded(pub) {
				loading = append(loading, pub)
			}
		}
		jsz, err := s.ns.Jsz(&server.JSzOptions{Accounts: true})
		if err != nil {
			return nil, fmt.Errorf("bus: listing JetStream accounts: %w", err)
		}
		var building []string
		for _, d := range jsz.AccountDetails {
			// Id is the account's key; Name is its JWT's name (the project
			// id) when it has one.
			if d.Id == s.op.SystemAccountPublicKey() {
				continue
			}
			if !s.IsLoaded(d.Id) {
				building = append(building, d.Id)
				continue
			}
			accounts = append(accounts, d.Id)
		}
		if len(loading) == 0 && len(building) == 0 {
			return accounts, nil
		}
		if time.Now().After(deadline) {
			if len(building) > 0 {
				slices.Sort(building)
				return nil, fmt.Errorf("bus: pausing JetStream: accounts %v have JetStream but are still not registered after %v", building, pauseWait)
			}
			return accounts, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// StoreDir is where the embedded server keeps JetStream data.
func (s *Server) StoreDir() string { return s.storeDir }

package bus

import (
	"errors"
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// PauseJetStream makes the JetStream store on disk consistent for a backup
// that copies its files: every account's JetStream is stopped (streams and
// consumers flushed and closed, as nats-server does when an account loses
// JetStream), no account is synced, and no new account loads, until resume
// turns JetStream back on from each account's current claims. While paused,
// JetStream requests fail and nothing is acknowledged, so the copy holds
// exactly what was acknowledged before the pause, with no half-written
// blocks and no deleted-sequence gaps. Core NATS keeps running.
func (s *Server) PauseJetStream() (resume func() error, err error) {
	s.paused.Lock()
	unlockAll := s.locks.lockAll()
	release := func() { unlockAll(); s.paused.Unlock() }
	jsz, err := s.ns.Jsz(&server.JSzOptions{Accounts: true})
	if err != nil {
		release()
		return nil, fmt.Errorf("bus: listing JetStream accounts: %w", err)
	}
	var paused []*server.Account
	resume = func() error {
		defer release()
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
	for _, d := range jsz.AccountDetails {
		if d.Name == s.op.SystemAccountPublicKey() {
			continue
		}
		acc, err := s.ns.LookupAccount(d.Name) // loaded: no fetch
		if err != nil || !acc.JetStreamEnabled() {
			continue
		}
		if err := acc.DisableJetStream(); err != nil {
			return nil, errors.Join(fmt.Errorf("bus: pausing JetStream of %s: %w", d.Name, err), resume())
		}
		paused = append(paused, acc)
	}
	return resume, nil
}

// StoreDir is where the embedded server keeps JetStream data.
func (s *Server) StoreDir() string { return s.storeDir }

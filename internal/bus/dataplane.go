package bus

import (
	"hash/fnv"
	"sync"
)

// DataPlane is where the projects' accounts live and their clients connect:
// the embedded *Server, or an external NATS cluster (*Cluster) that
// Pocketbus controls as its operator.
type DataPlane interface {
	AccountPublisher
	// ClientURL is the URL (or comma-separated URLs) NATS clients use.
	ClientURL() string
	// AccountStats reports an account's connections, traffic and JetStream use.
	AccountStats(pub string) (Stats, error)
	// StoredAccounts lists the project accounts the data plane keeps state
	// for, so start-up can find accounts that no project owns any more.
	StoredAccounts() ([]string, error)
	// RemoveOrphan removes an account no project owns, with its data.
	RemoveOrphan(pub string) error
	// Shutdown stops the embedded server, or disconnects from the cluster.
	Shutdown()
}

// AccountPublisher applies account changes to the data plane.
type AccountPublisher interface {
	// SyncAccount makes the data plane agree with what the Source holds
	// for the account now: its current JWT applied (limits, disabled,
	// revocations), or, when the Source no longer knows it, the account
	// deleted with its JetStream data. Call it after every commit that
	// changes an account, including deletes; it reads the committed state
	// itself and serialises per account, so concurrent calls cannot apply
	// an older JWT last. Idempotent.
	SyncAccount(pub string) error
	// DeleteAccount closes the account's connections, deletes its JetStream
	// data and makes it unusable, whatever the Source says. Prefer
	// SyncAccount after the delete commits.
	DeleteAccount(pub string) error
}

// accountLocks serialise the pushes of one account: the last push then
// always carries the latest commit. Striped, so memory does not grow with
// the number of accounts: a stripe is shared by about 1/64 of all
// accounts, so a slow sync or settle of one account (a Source read, a push
// waiting up to 5 s for its answer) holds up syncs of every other account
// on its stripe, and PauseJetStream holds all of them.
type accountLocks [64]sync.Mutex

// lockAll takes every stripe, in order: nothing syncs any account until
// unlock.
func (l *accountLocks) lockAll() (unlock func()) {
	for i := range l {
		l[i].Lock()
	}
	return func() {
		for i := range l {
			l[i].Unlock()
		}
	}
}

func (l *accountLocks) lock(pub string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(pub))
	mu := &l[h.Sum32()%uint32(len(l))]
	mu.Lock()
	return mu.Unlock
}

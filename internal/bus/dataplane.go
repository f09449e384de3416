package bus

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

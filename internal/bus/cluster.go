package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is the data plane when it is an external NATS server or cluster
// whose every node trusts this operator with a full resolver (see `pocketbus
// nats operator`). Pocketbus then is only the control plane: it pushes
// account JWTs with $SYS.REQ.CLAIMS.UPDATE and removes accounts with
// $SYS.REQ.CLAIMS.DELETE, as the system account. The full resolvers keep the
// JWTs and share them among themselves; clustering is NATS's own.
type Cluster struct {
	op    *Operator
	src   AccountSource
	urls  string
	sys   *nats.Conn
	locks accountLocks
	// servers is how many servers answered a ping at connect: a request to
	// all of them is complete once that many have replied.
	servers int
}

var _ DataPlane = (*Cluster)(nil)

// ConnectCluster connects to the cluster as the system account: with the
// given .creds file, or, when it is empty, as a system user minted from the
// operator's own system account (the cluster trusts this operator). src is
// what SyncAccount reads the accounts' committed state from.
func ConnectCluster(urls, systemCredsFile string, op *Operator, src AccountSource) (*Cluster, error) {
	if src == nil {
		return nil, errors.New("bus: ConnectCluster needs an AccountSource")
	}
	auth := nats.UserCredentials(systemCredsFile)
	if systemCredsFile == "" {
		ujwt, useed := op.systemUser()
		auth = nats.UserJWTAndSeed(ujwt, string(useed))
	}
	nc, err := nats.Connect(urls, auth, nats.Name("pocketbus-control-plane"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("bus: connecting to the NATS cluster at %s: %w", urls, err)
	}
	c := &Cluster{op: op, src: src, urls: urls, sys: nc}
	pings, err := c.gatherFor("$SYS.REQ.SERVER.PING", nil, 0, time.Second)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if len(pings) == 0 {
		nc.Close()
		return nil, fmt.Errorf("bus: no NATS server at %s answered the system account (is it configured with `pocketbus nats operator`?)", urls)
	}
	c.servers = len(pings)
	return c, nil
}

// ClientURL is where clients connect: the URLs Pocketbus was given.
func (c *Cluster) ClientURL() string { return c.urls }

// Shutdown disconnects the control plane; the cluster keeps running.
func (c *Cluster) Shutdown() { c.sys.Close() }

// StoredAccounts lists the accounts the cluster's resolvers hold, except the
// system account.
func (c *Cluster) StoredAccounts() ([]string, error) {
	replies, err := c.gather("$SYS.REQ.CLAIMS.LIST", nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range replies {
		var resp struct {
			Data []string `json:"data"`
		}
		if err := json.Unmarshal(r, &resp); err != nil {
			return nil, fmt.Errorf("bus: claims list reply: %w", err)
		}
		for _, pub := range resp.Data {
			if pub != c.op.SystemAccountPublicKey() && !seen[pub] {
				seen[pub] = true
				out = append(out, pub)
			}
		}
	}
	return out, nil
}

// RemoveOrphan deletes an account no project owns.
func (c *Cluster) RemoveOrphan(pub string) error { return c.DeleteAccount(pub) }

// SyncAccount pushes the account's committed JWT to every resolver of the
// cluster, or deletes the account there when the Source no longer knows it
// (see DeleteAccount). The cluster's resolvers are full: every account is
// pushed, loaded or not.
func (c *Cluster) SyncAccount(pub string) error {
	if pub == c.op.SystemAccountPublicKey() {
		return errors.New("bus: refusing to sync the system account")
	}
	defer c.locks.lock(pub)()
	token, err := c.src.AccountJWT(pub)
	switch {
	case err == nil:
		return c.push(pub, token)
	case errors.Is(err, ErrAccountNotFound):
		return c.deleteLocked(pub)
	default:
		return fmt.Errorf("bus: reading account %s: %w", pub, err)
	}
}

// push sends a JWT to every full resolver. Any resolver's error fails the
// call; at least one must confirm.
func (c *Cluster) push(pub, token string) error {
	return c.gatherClaimsReply("$SYS.REQ.CLAIMS.UPDATE", []byte(token), pub)
}

// DeleteAccount empties the account's JetStream (streams are replicated, so
// they are deleted through the JetStream API, which removes every replica),
// closes its connections with a tombstone JWT and then deletes the JWT from
// every resolver, whatever the Source holds.
func (c *Cluster) DeleteAccount(pub string) error {
	if pub == c.op.SystemAccountPublicKey() {
		return errors.New("bus: refusing to delete the system account")
	}
	defer c.locks.lock(pub)()
	return c.deleteLocked(pub)
}

func (c *Cluster) deleteLocked(pub string) error {
	if err := c.deleteStreams(pub); err != nil {
		return err
	}
	tomb, err := c.op.tombstoneJWT(pub)
	if err != nil {
		return err
	}
	if err := c.push(pub, tomb); err != nil {
		return err
	}
	del := jwt.NewGenericClaims(c.op.PublicKey())
	del.Data["accounts"] = []string{pub}
	token, err := del.Encode(c.op.opKP)
	if err != nil {
		return err
	}
	return c.gatherClaimsReply("$SYS.REQ.CLAIMS.DELETE", []byte(token), "")
}

// deleteStreams connects as a short-lived user of the account and deletes
// every stream. The account's key is derived from its project id and salt,
// the name and a tag in the JWT the cluster holds; an account that does not
// derive from this operator is left alone.
func (c *Cluster) deleteStreams(pub string) error {
	msg, err := c.sys.Request(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP", pub), nil, 2*time.Second)
	if err != nil || len(msg.Data) == 0 {
		return nil // the cluster does not know it: nothing to delete
	}
	ac, err := jwt.DecodeAccountClaims(string(msg.Data))
	if err != nil {
		return nil
	}
	salt := accountSalt(ac)
	if derived, err := c.op.AccountPublicKey(ac.Name, salt); err != nil || derived != pub {
		return fmt.Errorf("bus: account %s is not a Pocketbus project account", pub)
	}
	if ac.Limits.Conn == 0 {
		// A disabled project: let exactly one connection in, ours.
		ac.Limits.Conn = 1
		token, err := ac.Encode(c.op.opKP)
		if err != nil {
			return err
		}
		if err := c.push(pub, token); err != nil {
			return err
		}
	}
	u, err := c.op.IssueUser(UserSpec{ProjectID: ac.Name, Salt: salt, Name: "pocketbus-delete", Expires: time.Now().Add(time.Minute)})
	if err != nil {
		return err
	}
	nc, err := nats.Connect(c.urls, nats.UserJWTAndSeed(u.JWT, u.Seed), nats.NoReconnect())
	if err != nil {
		return fmt.Errorf("bus: connecting to delete streams of %s: %w", pub, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) &&
		!errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return fmt.Errorf("bus: listing streams of %s: %w", pub, err)
	}
	for _, n := range streams {
		if err := js.DeleteStream(ctx, n); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("bus: deleting stream %s of %s: %w", n, pub, err)
		}
	}
	return nil
}

// gatherClaimsReply sends a claims request and reads every resolver's answer
// that arrives within a short window.
func (c *Cluster) gatherClaimsReply(subject string, payload []byte, pub string) error {
	replies, err := c.gather(subject, payload)
	if err != nil {
		return err
	}
	if len(replies) == 0 {
		return fmt.Errorf("bus: no NATS resolver answered %s (is the cluster configured with `pocketbus nats operator`?)", subject)
	}
	for _, r := range replies {
		var resp server.ServerAPIClaimUpdateResponse
		if err := json.Unmarshal(r, &resp); err != nil {
			return fmt.Errorf("bus: %s reply: %w", subject, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("bus: %s %s: %s", subject, pub, resp.Error.Description)
		}
	}
	return nil
}

// gather sends a request that every server answers and returns the replies:
// as soon as all known servers have answered, or after two seconds with
// whatever came (a node may be down; full resolvers catch up among themselves).
func (c *Cluster) gather(subject string, payload []byte) ([][]byte, error) {
	return c.gatherFor(subject, payload, c.servers, 2*time.Second)
}

// gatherFor collects replies until want have arrived (0: until none has
// come for a short while after the first) or wait passes.
func (c *Cluster) gatherFor(subject string, payload []byte, want int, wait time.Duration) ([][]byte, error) {
	inbox := nats.NewInbox()
	sub, err := c.sys.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := c.sys.PublishRequest(subject, inbox, payload); err != nil {
		return nil, err
	}
	var out [][]byte
	deadline := time.Now().Add(wait)
	next := wait
	for {
		m, err := sub.NextMsg(next)
		if err != nil {
			break
		}
		out = append(out, m.Data)
		if want > 0 && len(out) >= want {
			break
		}
		next = time.Until(deadline)
		if want == 0 {
			// After the first answer the others follow within milliseconds.
			next = min(250*time.Millisecond, next)
		}
		if next <= 0 {
			break
		}
	}
	return out, nil
}

// AccountStats sums connections and traffic over the servers, and takes the
// largest JetStream usage any server reports (with replicas, each holds a
// copy; the figure is per replica).
func (c *Cluster) AccountStats(pub string) (Stats, error) {
	var st Stats
	req, _ := json.Marshal(server.AccountStatzOptions{Accounts: []string{pub}})
	replies, err := c.gatherFor("$SYS.REQ.ACCOUNT.PING.STATZ", req, 0, time.Second)
	if err != nil {
		return st, err
	}
	for _, r := range replies {
		var resp struct {
			Data *server.AccountStatz `json:"data"`
		}
		if json.Unmarshal(r, &resp) != nil || resp.Data == nil {
			continue
		}
		for _, a := range resp.Data.Accounts {
			if a.Account != pub {
				continue
			}
			st.Connections += a.Conns
			st.InMsgs += a.Received.Msgs
			st.InBytes += a.Received.Bytes
			st.OutMsgs += a.Sent.Msgs
			st.OutBytes += a.Sent.Bytes
		}
	}
	jsReq, _ := json.Marshal(server.JSzOptions{Streams: true, Consumer: true})
	replies, err = c.gatherFor(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.JSZ", pub), jsReq, 0, time.Second)
	if err != nil {
		return st, err
	}
	for _, r := range replies {
		var resp struct {
			Data *server.AccountDetail `json:"data"`
		}
		if json.Unmarshal(r, &resp) != nil || resp.Data == nil {
			continue
		}
		d := resp.Data
		consumers := 0
		for _, s := range d.Streams {
			consumers += s.State.Consumers
		}
		st.JetStream.Memory = max(st.JetStream.Memory, d.Memory)
		st.JetStream.Storage = max(st.JetStream.Storage, d.Store)
		st.JetStream.Streams = max(st.JetStream.Streams, len(d.Streams))
		st.JetStream.Consumers = max(st.JetStream.Consumers, consumers)
	}
	return st, nil
}

// ServerConfig is the nats-server configuration block that makes a server
// (or every node of a cluster) trust this operator, with a full resolver
// that keeps the account JWTs Pocketbus pushes in resolverDir.
func (o *Operator) ServerConfig(resolverDir string) string {
	return fmt.Sprintf(`operator: %s
system_account: %s
resolver: {
  type: full
  dir: %q
  allow_delete: true
  interval: "2m"
  limit: 1000000
}
resolver_preload: {
  %s: %s
}
`, o.JWT(), o.SystemAccountPublicKey(), resolverDir, o.SystemAccountPublicKey(), o.SystemAccountJWT())
}

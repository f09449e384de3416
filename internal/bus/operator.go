package bus

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Limits of a project's account; -1 means unlimited, 0 means none (for
// JetStream memory/disk 0 = that storage off).
type Limits struct {
	MaxConnections, MaxPayload, JSMaxMemory, JSMaxDisk, JSMaxStreams, JSMaxConsumers int64
}

// Operator is the operator identity plus the system account.
type Operator struct {
	opKP     nkeys.KeyPair
	opPub    string
	sysKP    nkeys.KeyPair
	sysPub   string
	master   []byte
	opJWT    string
	sysJWT   string
	sysUser  string // system user JWT, minted once per process
	sysUSeed []byte
}

const (
	operatorSeedFile = "operator.seed"
	systemSeedFile   = "system_account.seed"
	masterKeyFile    = "master.key"
	// encPrefix marks an AES-GCM encrypted file so a missing or wrong key is
	// reported instead of the ciphertext being parsed as a seed.
	encPrefix = "pocketbus-aes256gcm:"
)

// ErrWrongEncryptionKey is returned when the stored seeds cannot be decrypted.
var ErrWrongEncryptionKey = errors.New("bus: cannot decrypt operator files: wrong encryption key")

// LoadOrCreateOperator loads the operator from dir or creates it on first use.
func LoadOrCreateOperator(dir string, encryptionKey string) (*Operator, error) {
	var gcm cipher.AEAD
	if encryptionKey != "" {
		if len(encryptionKey) != 32 {
			return nil, fmt.Errorf("bus: encryption key must be 32 characters, got %d", len(encryptionKey))
		}
		block, err := aes.NewCipher([]byte(encryptionKey))
		if err != nil {
			return nil, err
		}
		if gcm, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bus: operator dir: %w", err)
	}
	_ = os.Chmod(dir, 0o700)

	files := []string{operatorSeedFile, systemSeedFile, masterKeyFile}
	present := 0
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			present++
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bus: %w", err)
		}
	}
	switch present {
	case 0:
		if err := createOperatorFiles(dir, gcm); err != nil {
			return nil, err
		}
	case len(files):
	default:
		// Never replace half an identity: a new operator would orphan every
		// credential ever issued. A human has to look at this.
		return nil, fmt.Errorf("bus: operator dir %s is incomplete (need %s); refusing to create a new operator over it", dir, strings.Join(files, ", "))
	}

	var secrets [3][]byte
	for i, f := range files {
		b, err := readSecret(filepath.Join(dir, f), gcm)
		if err != nil {
			return nil, err
		}
		secrets[i] = b
	}
	opKP, err := nkeys.FromSeed(secrets[0])
	if err != nil {
		return nil, fmt.Errorf("bus: operator seed: %w", err)
	}
	sysKP, err := nkeys.FromSeed(secrets[1])
	if err != nil {
		return nil, fmt.Errorf("bus: system account seed: %w", err)
	}
	if p, _ := opKP.PublicKey(); !nkeys.IsValidPublicOperatorKey(p) {
		return nil, errors.New("bus: operator seed is not an operator key")
	}
	if p, _ := sysKP.PublicKey(); !nkeys.IsValidPublicAccountKey(p) {
		return nil, errors.New("bus: system account seed is not an account key")
	}
	if len(secrets[2]) < 32 {
		return nil, errors.New("bus: master key too short")
	}
	o := &Operator{opKP: opKP, sysKP: sysKP, master: secrets[2]}
	o.opPub, _ = opKP.PublicKey()
	o.sysPub, _ = sysKP.PublicKey()
	if err := o.signStatic(); err != nil {
		return nil, err
	}
	return o, nil
}

func createOperatorFiles(dir string, gcm cipher.AEAD) error {
	opKP, err := nkeys.CreateOperator()
	if err != nil {
		return err
	}
	sysKP, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	opSeed, _ := opKP.Seed()
	sysSeed, _ := sysKP.Seed()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		return err
	}
	// The master key is stored base64 so the plain file is printable like the seeds.
	masterText := []byte(base64.StdEncoding.EncodeToString(master))
	// Master last: its presence marks a complete identity.
	for _, f := range []struct {
		name string
		data []byte
	}{{operatorSeedFile, opSeed}, {systemSeedFile, sysSeed}, {masterKeyFile, masterText}} {
		if err := writeSecret(filepath.Join(dir, f.name), f.data, gcm); err != nil {
			return err
		}
	}
	return nil
}

func writeSecret(path string, data []byte, gcm cipher.AEAD) error {
	out := data
	if gcm != nil {
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		sealed := gcm.Seal(nonce, nonce, data, []byte(filepath.Base(path)))
		out = []byte(encPrefix + base64.StdEncoding.EncodeToString(sealed) + "\n")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return fmt.Errorf("bus: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bus: write %s: %w", path, err)
	}
	return nil
}

func readSecret(path string, gcm cipher.AEAD) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	text := strings.TrimSpace(string(raw))
	isMaster := filepath.Base(path) == masterKeyFile
	decodeMaster := func(b []byte) ([]byte, error) {
		if !isMaster {
			return b, nil
		}
		return base64.StdEncoding.DecodeString(string(b))
	}
	if !strings.HasPrefix(text, encPrefix) {
		if gcm != nil {
			// Plain files with a key configured: encrypt them in place, so
			// turning on --encryptionEnv later protects an existing install.
			if err := writeSecret(path, []byte(text), gcm); err != nil {
				return nil, err
			}
		}
		return decodeMaster([]byte(text))
	}
	if gcm == nil {
		return nil, fmt.Errorf("bus: %s is encrypted but no encryption key was given", path)
	}
	sealed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(text, encPrefix))
	if err != nil || len(sealed) < gcm.NonceSize() {
		return nil, fmt.Errorf("bus: %s: corrupt encrypted file", path)
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(filepath.Base(path)))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrWrongEncryptionKey, path)
	}
	return decodeMaster(plain)
}

// signStatic mints the operator JWT, the system account JWT and the in-process
// system user; they are re-signed per process, the keys are what persists.
func (o *Operator) signStatic() error {
	oc := jwt.NewOperatorClaims(o.opPub)
	oc.Name = "pocketbus"
	oc.SystemAccount = o.sysPub
	var err error
	if o.opJWT, err = oc.Encode(o.opKP); err != nil {
		return fmt.Errorf("bus: sign operator: %w", err)
	}
	ac := jwt.NewAccountClaims(o.sysPub)
	ac.Name = "SYS"
	if o.sysJWT, err = ac.Encode(o.opKP); err != nil {
		return fmt.Errorf("bus: sign system account: %w", err)
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "pocketbus-system"
	if o.sysUser, err = uc.Encode(o.sysKP); err != nil {
		return fmt.Errorf("bus: sign system user: %w", err)
	}
	o.sysUSeed, _ = ukp.Seed()
	return nil
}

func (o *Operator) PublicKey() string              { return o.opPub }
func (o *Operator) JWT() string                    { return o.opJWT }
func (o *Operator) SystemAccountPublicKey() string { return o.sysPub }
func (o *Operator) SystemAccountJWT() string       { return o.sysJWT }

func (o *Operator) systemUser() (string, []byte) { return o.sysUser, o.sysUSeed }

// accountKey derives the project's account key pair from the master secret,
// so the key is never stored and re-provisioning is idempotent.
//
// The salt makes the key unique to one project's life: ids are the
// server's, but a project created later with a deleted project's id must
// never get the deleted one's account, or credentials issued for the old
// project would connect into the new one (SPEC §7). Projects created before
// salts existed have salt "" and keep the old derivation, so their
// credentials keep working.
func (o *Operator) accountKey(projectID, salt string) (*derivedKey, error) {
	if projectID == "" {
		return nil, &FieldError{Field: "project", Message: "empty project id"}
	}
	if err := validateSalt(salt); err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, o.master)
	if salt == "" {
		m.Write([]byte("pocketbus/account/" + projectID))
	} else {
		m.Write([]byte("pocketbus/account/v2/" + projectID + "/" + salt))
	}
	return derivedKeyPair(nkeys.PrefixByteAccount, m.Sum(nil))
}

// derivedKeyPair makes a key pair of the given kind from a 32-byte seed.
func derivedKeyPair(prefix nkeys.PrefixByte, raw []byte) (*derivedKey, error) {
	kp, err := nkeys.FromRawSeed(prefix, raw)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(raw)
	pub, err := nkeys.Encode(prefix, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &derivedKey{KeyPair: kp, pub: string(pub), priv: priv}, nil
}

// maxSaltLen bounds a salt; NewAccountSalt makes 32 characters.
const maxSaltLen = 64

// validateSalt accepts "" (a project from before salts) or lowercase hex:
// no "/" keeps "projectID/salt" unambiguous, and lowercase survives the
// account JWT's tag list (which lowercases) that carries it to a cluster.
func validateSalt(salt string) error {
	if len(salt) > maxSaltLen {
		return &FieldError{Field: "salt", Message: fmt.Sprintf("longer than %d characters", maxSaltLen)}
	}
	for _, c := range salt {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return &FieldError{Field: "salt", Message: "must be lowercase hex (see NewAccountSalt)"}
		}
	}
	return nil
}

// NewAccountSalt returns a fresh random salt for a new project's account
// key: 16 bytes from crypto/rand, as 32 hex characters.
func NewAccountSalt() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("bus: crypto/rand: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// derivedKey is an account key pair whose public and private ed25519 keys
// are computed once: nkeys recomputes them from the seed (a scalar
// multiplication each) on every PublicKey and Sign, and signing a user JWT
// calls both. Seed, Verify and the rest are the nkeys key pair's own.
type derivedKey struct {
	nkeys.KeyPair
	pub  string
	priv ed25519.PrivateKey
}

func (k *derivedKey) PublicKey() (string, error)        { return k.pub, nil }
func (k *derivedKey) Sign(input []byte) ([]byte, error) { return ed25519.Sign(k.priv, input), nil }

// formatCreds is jwt.FormatUserConfig for a user JWT this process has just
// signed: the same text, without decoding and verifying the JWT and
// re-deriving the seed's public key first (~11% of server CPU per issue).
func formatCreds(userJWT string, seed []byte) (string, error) {
	decorated, err := jwt.DecorateSeed(seed)
	if err != nil {
		return "", err
	}
	return "-----BEGIN NATS USER JWT-----\n" + userJWT + "\n------END NATS USER JWT------\n\n" + string(decorated), nil
}

// AccountPublicKey returns the derived account public key of the project
// with this id and salt ("" for projects from before salts).
func (o *Operator) AccountPublicKey(projectID, salt string) (string, error) {
	kp, err := o.accountKey(projectID, salt)
	if err != nil {
		return "", err
	}
	return kp.pub, nil
}

// Account describes the desired state of a project's account.
type Account struct {
	ProjectID   string // account name = project id
	Salt        string // the project's random account-key salt (NewAccountSalt); "" = a project from before salts
	Limits      Limits
	Disabled    bool                 // all connections closed, new ones refused, data kept
	Revocations map[string]time.Time // user public key (or jwt.All) -> revoked at
	// Subjects shared with other projects' accounts (see Share).
	Exports, Imports []Share
}

// AccountJWT signs the project's account JWT with the operator key directly.
// No account signing keys: a signing-key change makes nats-server scan every
// loaded account under its lock.
func (o *Operator) AccountJWT(a Account) (pub, token string, err error) {
	pub, err = o.AccountPublicKey(a.ProjectID, a.Salt)
	if err != nil {
		return "", "", err
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = a.ProjectID
	if a.Salt != "" {
		// The cluster data plane re-derives the key of an account it knows
		// only from the cluster (to empty its JetStream on delete). The salt
		// is not secret; the master key is.
		ac.Tags.Add(saltTagPrefix + a.Salt)
	}
	l := a.Limits
	ac.Limits.Conn = l.MaxConnections
	ac.Limits.Payload = l.MaxPayload
	if l.JSMaxMemory != 0 || l.JSMaxDisk != 0 {
		ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
			MemoryStorage: l.JSMaxMemory,
			DiskStorage:   l.JSMaxDisk,
			Streams:       l.JSMaxStreams,
			Consumer:      l.JSMaxConsumers,
		}
	}
	if a.Disabled {
		// Conn=0 makes nats-server close every client connection when the
		// claims are applied and refuse new ones, while the account (and its
		// JetStream) stays loaded, so nothing is lost.
		ac.Limits.Conn = 0
		ac.Limits.LeafNodeConn = 0
	}
	for k, t := range a.Revocations {
		ac.RevokeAt(k, t)
	}
	applyShares(ac, a)
	token, err = ac.Encode(o.opKP)
	if err != nil {
		return "", "", fmt.Errorf("bus: sign account: %w", err)
	}
	return pub, token, nil
}

// saltTagPrefix marks the account JWT tag that carries the key's salt.
const saltTagPrefix = "pocketbus-salt:"

// accountSalt reads the salt back from an account JWT's tags ("" if none).
func accountSalt(ac *jwt.AccountClaims) string {
	for _, t := range ac.Tags {
		if s, ok := strings.CutPrefix(t, saltTagPrefix); ok {
			return s
		}
	}
	return ""
}

// tombstoneJWT is what a deleted account turns into while still loaded: no
// connections, every user revoked, JetStream off.
func (o *Operator) tombstoneJWT(pub string) (string, error) {
	ac := jwt.NewAccountClaims(pub)
	ac.Name = "deleted"
	ac.Limits.Conn = 0
	ac.Limits.LeafNodeConn = 0
	ac.RevokeAt(jwt.All, time.Now().Add(time.Hour))
	return ac.Encode(o.opKP)
}

// UserSpec describes a credential to issue.
//
// Empty lists grant the whole account (JetStream, KV and Object Store
// included). A credential with any list is restricted: it gets the
// JetStream API only with JetStream, and replies to messages it receives
// outside its pub lists only with AllowResponses (see IssueUser).
type UserSpec struct {
	ProjectID                            string
	Salt                                 string // the project's account salt (Account.Salt)
	Name                                 string
	PubAllow, PubDeny, SubAllow, SubDeny []string  // sub lists may hold "subject queue"
	Expires                              time.Time // zero = never
	// AllowResponses lets a restricted credential publish one reply to the
	// reply subject of each message it receives (nats' allow_responses),
	// whatever its pub lists say: services need it to answer requesters'
	// inboxes, consumers to ack without the JetStream API. It also lets the
	// credential reply to its own messages, so a credential that may
	// publish to a subject it subscribes to can reach any subject once per
	// message (but the JetStream API: nats-server refuses $JS.* reply
	// subjects from clients): it does not confine publishing.
	AllowResponses bool
	// JetStream gives a restricted credential the JetStream API (and so KV
	// and Object Store). The API reads and writes every stream of the
	// account, so the lists do not confine such a credential's data.
	// Without it no stream, mirror, source, republish or get can carry data
	// around the lists. The caller decides the default.
	JetStream bool
	// WebKey, when set, derives the user key from the account and this key
	// instead of making a random one: every credential issued with the same
	// WebKey (e.g. one member's web tokens in one project) shares one user
	// key, so one revocation entry (RevokeAt(key, now)) ends all of them,
	// while those issued a second later connect again.
	WebKey string
}

// IssuedUser is a freshly minted credential; Seed and Creds are secret.
type IssuedUser struct{ PublicKey, JWT, Seed, Creds string }

// webUserKey derives the user key of a web key in an account.
func (o *Operator) webUserKey(accountPub, webKey string) (*derivedKey, error) {
	if webKey == "" {
		return nil, &FieldError{Field: "web_key", Message: "empty web key"}
	}
	m := hmac.New(sha256.New, o.master)
	// The account key has a fixed length and no "/": this is unambiguous.
	m.Write([]byte("pocketbus/user/v1/" + accountPub + "/" + webKey))
	return derivedKeyPair(nkeys.PrefixByteUser, m.Sum(nil))
}

// DerivedUserPublicKey is the user key that every credential issued with
// this WebKey gets, to revoke them all with one entry.
func (o *Operator) DerivedUserPublicKey(projectID, salt, webKey string) (string, error) {
	apub, err := o.AccountPublicKey(projectID, salt)
	if err != nil {
		return "", err
	}
	k, err := o.webUserKey(apub, webKey)
	if err != nil {
		return "", err
	}
	return k.pub, nil
}

// IssueUser mints a user nkey (random, or derived from WebKey) and a JWT
// signed by the project's account key.
//
// Restricted credentials (any list non-empty) get, besides their lists:
//   - JetStream: pub allow gains the JetStream subjects (API, acks, flow
//     control, snapshots, $KV.>, $O.>) when pub_allow is restricted;
//     replies come to the client's inbox, which a restricted sub_allow must
//     list itself ("_INBOX.>" or its custom prefix: adding it silently would
//     let the credential read every other requester's replies).
//   - no JetStream: pub deny "$JS.>" and sub deny "$JS.EVENT.>".
//   - AllowResponses: the response permission (one reply per received
//     message); with no pub_allow, an explicit ">" (see permissionsFor).
//
// Refused, as *FieldError naming the field: malformed subjects, a past
// Expires, lists that allow nothing, jetstream with pub_deny covering the
// API, and a JWT longer than MaxUserJWTLen.
func (o *Operator) IssueUser(u UserSpec) (IssuedUser, error) {
	for _, f := range []struct {
		name string
		subs []string
	}{{"pub_allow", u.PubAllow}, {"pub_deny", u.PubDeny}, {"sub_allow", u.SubAllow}, {"sub_deny", u.SubDeny}} {
		if err := ValidateSubjects(f.name, f.subs); err != nil {
			return IssuedUser{}, err
		}
	}
	if !u.Expires.IsZero() && !u.Expires.After(time.Now()) {
		return IssuedUser{}, &FieldError{Field: "expires", Message: "must be in the future"}
	}
	perms, err := permissionsFor(u)
	if err != nil {
		return IssuedUser{}, err
	}
	akp, err := o.accountKey(u.ProjectID, u.Salt)
	if err != nil {
		return IssuedUser{}, err
	}
	var ukp nkeys.KeyPair
	if u.WebKey != "" {
		if ukp, err = o.webUserKey(akp.pub, u.WebKey); err != nil {
			return IssuedUser{}, err
		}
	} else if ukp, err = nkeys.CreateUser(); err != nil {
		return IssuedUser{}, err
	}
	upub, _ := ukp.PublicKey()
	useed, _ := ukp.Seed()
	uc := jwt.NewUserClaims(upub)
	uc.Name = u.Name
	uc.Permissions = perms
	if !u.Expires.IsZero() {
		uc.Expires = u.Expires.Unix()
	}
	token, err := uc.Encode(akp)
	if err != nil {
		return IssuedUser{}, fmt.Errorf("bus: sign user: %w", err)
	}
	if len(token) > MaxUserJWTLen {
		return IssuedUser{}, &FieldError{Field: longestListField(u), Message: fmt.Sprintf(
			"the credential would be a %d-byte JWT; a NATS client can present at most %d bytes when it connects: use fewer or shorter subjects",
			len(token), MaxUserJWTLen)}
	}
	creds, err := formatCreds(token, useed)
	if err != nil {
		return IssuedUser{}, err
	}
	return IssuedUser{PublicKey: upub, JWT: token, Seed: string(useed), Creds: creds}, nil
}

package bus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// ErrNoOperator is returned by LoadOperator for a directory without one.
var ErrNoOperator = errors.New("bus: no Pocketbus operator")

// LoadOperator loads the operator kept in dir and, unlike
// LoadOrCreateOperator, never creates one: tools that print what an
// existing install trusts must not invent a new identity for a mistyped
// directory.
func LoadOperator(dir, encryptionKey string) (*Operator, error) {
	for _, f := range []string{operatorSeedFile, systemSeedFile, masterKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return LoadOrCreateOperator(dir, encryptionKey)
		}
	}
	return nil, fmt.Errorf("%w in %s", ErrNoOperator, dir)
}

// SystemUserCreds mints a user of the system account (a .creds text) for
// operators' own tools, e.g. `nats server ping`. It is a secret with full
// control of every server that trusts this operator; it cannot be revoked
// before it expires (expires 0: never), so keep lifetimes short.
func (o *Operator) SystemUserCreds(name string, expires time.Duration) (creds, userPub string, err error) {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return "", "", err
	}
	userPub, _ = ukp.PublicKey()
	seed, _ := ukp.Seed()
	uc := jwt.NewUserClaims(userPub)
	uc.Name = name
	if expires > 0 {
		uc.Expires = time.Now().Add(expires).Unix()
	}
	token, err := uc.Encode(o.sysKP)
	if err != nil {
		return "", "", fmt.Errorf("bus: sign system user: %w", err)
	}
	b, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		return "", "", err
	}
	return string(b), userPub, nil
}

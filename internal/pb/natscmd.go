package pb

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/spf13/cobra"

	"github.com/pocketbus/pocketbus/internal/bus"
)

// skipBootstrap marks commands that do not open the database, and so
// their subcommands: they only read the operator files under --dir (see
// App.execute and App.skipBootstrap).
const skipBootstrap = "pocketbus/skip-bootstrap"

// newNATSCommand is `pocketbus nats ...`: what operators of NATS need from
// this Pocketbus. The commands read the operator under --dir and never
// create one (but `nats operator --init`), so a mistyped --dir is an error
// instead of a new, unrelated operator. They work while serve runs.
func newNATSCommand(app *pocketbase.PocketBase) *cobra.Command {
	cmd := &cobra.Command{Use: "nats", Short: "NATS operator tools",
		Annotations: map[string]string{skipBootstrap: "true"}}

	loadOperator := func(c *cobra.Command, create bool) (*bus.Operator, error) {
		if f := c.Flags().Lookup("dir"); f == nil || !f.Changed {
			return nil, errors.New("--dir is required: the data dir of the Pocketbus whose operator to use")
		}
		dir, key := operatorDir(app), os.Getenv(app.EncryptionEnv())
		if create {
			return bus.LoadOrCreateOperator(dir, key)
		}
		op, err := bus.LoadOperator(dir, key)
		if errors.Is(err, bus.ErrNoOperator) {
			return nil, fmt.Errorf("no Pocketbus operator in %s: is --dir the data dir of a Pocketbus that has run? (`nats operator --init` creates one for a new install)", dir)
		}
		return op, err
	}

	var resolverDir string
	var initOp bool
	operator := &cobra.Command{
		Use:   "operator",
		Short: "Prints the operator JWT, the system account JWT and a nats-server config snippet",
		Long: "Prints nats-server configuration (operator JWT, system account, a full resolver, the system account preloaded)\n" +
			"for a NATS server or cluster run by this Pocketbus: include it in every node's config, then run\n" +
			"`pocketbus serve --nats-url nats://...`. Needs --dir; refuses a dir without an operator unless --init.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, args []string) error {
			op, err := loadOperator(c, initOp)
			if err != nil {
				return err
			}
			// The whole output is valid nats-server configuration: the
			// operator JWT is the "operator" value and the system account
			// JWT is preloaded, so it can be included as it is.
			fmt.Fprintf(c.OutOrStdout(), "# nats-server configuration for a server or cluster run by this Pocketbus;\n"+
				"# include it in each node's config, then: pocketbus serve --nats-url nats://...\n"+
				"# Operator:       %s\n# System account: %s\n%s",
				op.PublicKey(), op.SystemAccountPublicKey(), op.ServerConfig(resolverDir))
			return nil
		},
	}
	operator.Flags().StringVar(&resolverDir, "resolver-dir", "./jwt", "where each nats-server keeps the account JWTs Pocketbus pushes")
	operator.Flags().BoolVar(&initOp, "init", false, "create the operator if --dir has none yet (a new install whose NATS cluster is set up first)")

	var expires time.Duration
	var name string
	sysCreds := &cobra.Command{
		Use:   "sys-creds",
		Short: "Prints a system-account user credential (.creds) for `nats server ...` commands: a secret",
		Long: "Prints a NATS .creds file for a new user of the system account, for operators' own tools, e.g.\n" +
			"  pocketbus nats sys-creds --dir pb_data > sys.creds && nats --creds sys.creds server ping\n" +
			"It is a SECRET with full control of every NATS server that trusts this Pocketbus: keep it like a root\n" +
			"password. It cannot be revoked before it expires (--expires, default 24h; 0 = never), so keep it short.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, args []string) error {
			if expires < 0 {
				return fmt.Errorf("--expires: %s is negative", expires)
			}
			op, err := loadOperator(c, false)
			if err != nil {
				return err
			}
			creds, pub, err := op.SystemUserCreds(name, expires)
			if err != nil {
				return err
			}
			until := "never expires"
			if expires > 0 {
				until = "expires " + time.Now().Add(expires).UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(c.ErrOrStderr(), "# System-account credential %s (%s, %s): a secret; anyone holding it controls the NATS servers.\n", pub, name, until)
			fmt.Fprint(c.OutOrStdout(), creds)
			return nil
		},
	}
	sysCreds.Flags().DurationVar(&expires, "expires", 24*time.Hour, "lifetime of the credential; 0 = never expires (it cannot be revoked)")
	sysCreds.Flags().StringVar(&name, "name", "pocketbus-operator", "the user's name, shown in nats-server's connection lists")

	cmd.AddCommand(operator, sysCreds)
	return cmd
}

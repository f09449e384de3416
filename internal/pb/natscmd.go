package pb

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newNATSCommand is `pocketbus nats operator`: what an external nats-server
// (or every node of a cluster) needs to trust this Pocketbus.
func newNATSCommand(h *Hub) *cobra.Command {
	cmd := &cobra.Command{Use: "nats", Short: "NATS operator tools"}
	var resolverDir string
	operator := &cobra.Command{
		Use:   "operator",
		Short: "Prints the operator JWT, the system account JWT and a nats-server config snippet",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			op := h.Tenancy.Operator
			if op == nil {
				return fmt.Errorf("the operator is not loaded")
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
	cmd.AddCommand(operator)
	return cmd
}

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
			out := c.OutOrStdout()
			fmt.Fprintf(out, "# Operator %s\n# operator JWT:\n%s\n\n", op.PublicKey(), op.JWT())
			fmt.Fprintf(out, "# System account %s\n# system account JWT:\n%s\n\n", op.SystemAccountPublicKey(), op.SystemAccountJWT())
			fmt.Fprintf(out, "# nats-server configuration for a server or cluster run by this Pocketbus\n"+
				"# (then: pocketbus serve --nats-url nats://...):\n%s", op.ServerConfig(resolverDir))
			return nil
		},
	}
	operator.Flags().StringVar(&resolverDir, "resolver-dir", "./jwt", "where each nats-server keeps the account JWTs Pocketbus pushes")
	cmd.AddCommand(operator)
	return cmd
}

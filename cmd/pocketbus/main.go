// Command pocketbus is PocketBase and nats-server in one binary: users,
// groups and projects in PocketBase, one NATS account per project.
package main

import (
	"os"

	"github.com/pocketbus/pocketbus/internal/pb"
)

func main() {
	// Start prints its error to stderr; every failure exits non-zero.
	if err := pb.New().Start(); err != nil {
		os.Exit(1)
	}
}

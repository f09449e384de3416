// Command pocketbus is PocketBase and nats-server in one binary: users,
// groups and projects in PocketBase, one NATS account per project.
package main

import (
	"log"

	"github.com/pocketbus/pocketbus/internal/pb"
)

func main() {
	if err := pb.New().Start(); err != nil {
		log.Fatal(err)
	}
}

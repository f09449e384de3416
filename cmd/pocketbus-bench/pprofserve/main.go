// Command pprofserve is `pocketbus` plus net/http/pprof on the address in
// POCKETBUS_BENCH_PPROF_ADDR. It exists only for `pocketbus-bench -pprof`,
// so that profiles of the server process can be taken without putting a
// profiling endpoint into the product.
package main

import (
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"

	"github.com/pocketbus/pocketbus/internal/pb"
)

func main() {
	if addr := os.Getenv("POCKETBUS_BENCH_PPROF_ADDR"); addr != "" {
		go func() { log.Println(http.ListenAndServe(addr, nil)) }()
	}
	if err := pb.New().Start(); err != nil {
		log.Fatal(err)
	}
}

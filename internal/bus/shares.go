package bus

import (
	"fmt"
	"sort"

	"github.com/nats-io/jwt/v2"
)

// Share is one subject a project shares with another project of its group
// (SPEC §3 exports): on the exporting account it is an export, on the
// importing one an import of the exporter's subject under the same name. A
// stream share delivers messages published in the exporter to subscribers
// in the importer; a service share lets the importer's clients send
// requests that the exporter's clients answer.
//
// Exports are public in the JWT sense (no activation token): only the
// operator signs account JWTs, so only the imports Pocketbus writes exist.
type Share struct {
	Subject string
	Service bool
	// Account is the other side: the importing account on an export, the
	// exporting account on an import.
	Account string
}

// applyShares writes a's exports and imports into its claims, in a stable
// order (the same rows sign to the same JWT).
func applyShares(ac *jwt.AccountClaims, a Account) {
	kind := func(s Share) jwt.ExportType {
		if s.Service {
			return jwt.Service
		}
		return jwt.Stream
	}
	seen := map[string]bool{}
	exports := append([]Share(nil), a.Exports...)
	sort.Slice(exports, func(i, j int) bool { return exports[i].Subject < exports[j].Subject })
	for _, s := range exports {
		key := fmt.Sprintf("%s/%d", s.Subject, kind(s))
		if seen[key] { // one export serves every importer
			continue
		}
		seen[key] = true
		ac.Exports.Add(&jwt.Export{Name: s.Subject, Subject: jwt.Subject(s.Subject), Type: kind(s)})
	}
	imports := append([]Share(nil), a.Imports...)
	sort.Slice(imports, func(i, j int) bool {
		if imports[i].Account != imports[j].Account {
			return imports[i].Account < imports[j].Account
		}
		return imports[i].Subject < imports[j].Subject
	})
	for _, s := range imports {
		ac.Imports.Add(&jwt.Import{Name: s.Subject, Account: s.Account, Subject: jwt.Subject(s.Subject), Type: kind(s)})
	}
}

package main

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pocketbus/pocketbus/internal/bus"
	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// seedProjects bulk-inserts n projects into the group of a STOPPED server's
// data dir: every row is what OnProjectCreate would have written (default
// limits, derived account key, account JWT signed by the data dir's own
// operator), inserted with one prepared statement in one transaction. This
// takes seconds for 100k, where 100k REST creates would take minutes; the
// REST path itself is what the provisioning figure measures.
func seedProjects(dataDir, group string, n int) ([]string, error) {
	op, err := bus.LoadOrCreateOperator(filepath.Join(dataDir, "nats-operator"), "")
	if err != nil {
		return nil, err
	}
	// Data dirs of binaries from before salted account keys (measured with
	// -pocketbus-bin) have no account_salt column: their keys are derived
	// with salt "", which is what bus keeps for them.
	salted, err := hasColumn(filepath.Join(dataDir, "data.db"), "projects", "account_salt")
	if err != nil {
		return nil, err
	}
	saltCol, saltVal := "", ""
	if salted {
		saltCol, saltVal = "account_salt, ", "?, "
	}
	type row struct{ id, salt, pub, token string }
	rows := make([]row, n)
	ids := make(chan int, 1024)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				id, salt := randomID(), ""
				if salted {
					salt = bus.NewAccountSalt()
				}
				pub, token, err := op.AccountJWT(bus.Account{ProjectID: id, Salt: salt, Limits: tenancy.DefaultLimits})
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				rows[i] = row{id, salt, pub, token}
			}
		}()
	}
	for i := 0; i < n; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}

	db, err := core.DefaultDBConnect(filepath.Join(dataDir, "data.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.DB().Begin()
	if err != nil {
		return nil, err
	}
	stmt, err := tx.Prepare("INSERT INTO projects (id, name, `group`, description, account, account_jwt, " + saltCol + "disabled," +
		" max_connections, max_payload, js_max_memory, js_max_disk, js_max_streams, js_max_consumers, created, updated)" +
		" VALUES (?, ?, ?, '', ?, ?, " + saltVal + "FALSE, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	now := types.NowDateTime().String()
	l := tenancy.DefaultLimits
	out := make([]string, n)
	for i, r := range rows {
		args := []any{r.id, "seed-" + r.id, group, r.pub, r.token}
		if salted {
			args = append(args, r.salt)
		}
		args = append(args, l.MaxConnections, l.MaxPayload, l.JSMaxMemory, l.JSMaxDisk, l.JSMaxStreams, l.JSMaxConsumers, now, now)
		if _, err := stmt.Exec(args...); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("insert seeded project: %w", err)
		}
		out[i] = r.id
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomID is a PocketBase-style 15 character id.
func randomID() string {
	b := make([]byte, 15)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// hasColumn reports whether table has column in the SQLite database at path.
func hasColumn(path, table, column string) (bool, error) {
	db, err := core.DefaultDBConnect(path)
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	err = db.NewQuery("SELECT COUNT(*) FROM pragma_table_info({:t}) WHERE name = {:c}").Bind(map[string]any{"t": table, "c": column}).Row(&n)
	return n > 0, err
}

// projectIDs lists up to n seeded project ids of a stopped or running data dir.
func projectIDs(dataDir string, n int) ([]seeded, error) {
	db, err := core.DefaultDBConnect(filepath.Join(dataDir, "data.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []seeded
	err = db.NewQuery(fmt.Sprintf("SELECT id, account_salt FROM projects WHERE name LIKE 'seed-%%' LIMIT %d", n)).All(&out)
	return out, err
}

// seeded is a seeded project's id and account salt, enough to mint its
// credentials with the data dir's operator.
type seeded struct {
	ID   string `db:"id"`
	Salt string `db:"account_salt"`
}

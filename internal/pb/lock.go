package pb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gofrs/flock"
)

// LockFile is the name of the lock file that `serve` holds in its data dir
// and in its JetStream store (and `migrate` in the data dir) while it runs.
const LockFile = "pocketbus.lock"

var (
	heldMu sync.Mutex
	// held keeps the locks (and so their open files) alive until the
	// process exits: a collected *flock.Flock would close its file and
	// release the lock.
	held []*flock.Flock
)

// lockDir takes the exclusive lock on dir's lock file for the rest of the
// process (gofrs/flock: flock(2) on Unix, LockFileEx on Windows), creating
// dir if needed. The lock goes with the process, however it ends, so a
// crash never leaves a stale lock behind. The file holds the holder's pid,
// for the error a second process gets, which names the locked path.
func lockDir(dir, flag string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	path := filepath.Join(dir, LockFile)
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o644))
	ok, err := fl.TryLock()
	if err != nil {
		return "", fmt.Errorf("%s %s: cannot lock %s: %w", flag, dir, path, err)
	}
	if !ok {
		holder := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = " (pid " + pid + ")"
			}
		}
		return "", fmt.Errorf("%s %s is in use: another pocketbus%s holds the lock %s; one process per data dir and NATS store",
			flag, dir, holder, path)
	}
	// Best effort: the pid is only for the message above.
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	heldMu.Lock()
	held = append(held, fl)
	heldMu.Unlock()
	return path, nil
}

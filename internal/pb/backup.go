package pb

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pocketbus/pocketbus/internal/bus"
	"github.com/pocketbus/pocketbus/internal/tenancy"
)

// Backups (SPEC §8). PocketBase zips the data dir while the app runs and
// restores by swapping it and re-executing the process. Around that:
//   - create: JetStream is paused (bus.Server.PauseJetStream) while the zip
//     is written, so the copy of the store is consistent: what was
//     acknowledged before it, nothing half-written;
//   - the credential journal (tenancy.JournalDir) is neither backed up nor
//     restored: it outlives the restore and, at the next start, re-applies
//     the revocations (and revokes the keys) the restored database lost;
//   - restore: NATS stops before the swap, so nothing writes into the
//     restored store; if the restore fails, NATS starts again.
func (h *Hub) bindBackups(app core.App) {
	app.OnBackupCreate().BindFunc(func(e *core.BackupEvent) error {
		// The lock files belong to the running process (a stale pid in a
		// backup; the restored process takes its own).
		e.Exclude = append(e.Exclude, tenancy.JournalDir, LockFile)
		if os.Getenv(e.App.EncryptionEnv()) == "" {
			e.App.Logger().Warn("backup holds the NATS operator and system account seeds unencrypted; start serve with --encryptionEnv to encrypt them",
				"backup", e.Name, "seeds", operatorDir(e.App))
		}
		plane := h.Plane()
		srv, ok := plane.(*bus.Server)
		if !ok {
			if plane != nil {
				e.App.Logger().Info("backup holds the database only: JetStream data lives on the external NATS cluster", "backup", e.Name)
			}
			return e.Next()
		}
		if !within(e.App.DataDir(), srv.StoreDir()) {
			return fmt.Errorf("the JetStream store %s is outside the data dir %s, so a backup cannot hold it; keep --nats-store under --dir", srv.StoreDir(), e.App.DataDir())
		}
		if rel, err := filepath.Rel(abs(e.App.DataDir()), abs(srv.StoreDir())); err == nil && rel != "." {
			// The store's own lock (Exclude takes paths relative to the data dir).
			e.Exclude = append(e.Exclude, filepath.ToSlash(filepath.Join(rel, LockFile)))
		}
		resume, err := srv.PauseJetStream()
		if err != nil {
			return err
		}
		err = e.Next()
		if rerr := resume(); rerr != nil {
			e.App.Logger().Error("resuming JetStream after a backup", "error", rerr)
		}
		return err
	})

	app.OnBackupRestore().BindFunc(func(e *core.BackupEvent) error {
		// The held --dir lock stays where it is (not moved aside with the
		// old data, nor replaced by a backup's copy).
		e.Exclude = append(e.Exclude, tenancy.JournalDir, LockFile)
		plane := h.Plane()
		if plane == nil {
			return e.Next()
		}
		if srv, ok := plane.(*bus.Server); ok && !within(e.App.DataDir(), srv.StoreDir()) {
			return fmt.Errorf("the JetStream store %s is outside the data dir %s; a restore cannot replace it", srv.StoreDir(), e.App.DataDir())
		}
		// Nothing may write into the store the restore puts in place; on
		// success the process re-executes and starts NATS on it.
		plane.Shutdown()
		if err := e.Next(); err != nil {
			e.App.Logger().Error("restore failed; starting NATS again on the current data", "error", err)
			if serr := h.startDataPlane(e.App); serr != nil {
				return fmt.Errorf("%w (and NATS did not start again: %v)", err, serr)
			}
			return err
		}
		return nil
	})
}

// openJournal opens the credential journal for this serve.
func (h *Hub) openJournal(app core.App) error {
	j, err := tenancy.OpenJournal(app.DataDir())
	if err != nil {
		return err
	}
	h.Tenancy.SetJournal(j)
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		err := e.Next()
		j.Close()
		return err
	})
	return nil
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

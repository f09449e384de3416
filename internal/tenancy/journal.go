package tenancy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// The credential journal is an append-only file of every user key issued
// and revoked, kept where backups neither take nor restore it (SPEC §8).
// Restoring a backup rolls the database back; the journal does not roll
// back, so at the next start the server re-applies what the database lost:
// a key revoked after the backup is revoked again, and a key issued after it
// (which the restored database does not list, so nobody could revoke it) is
// revoked. The database records the journal's id and the last entry it has
// seen (in the same transaction as each entry), which also covers a crash
// between an entry and its commit.
//
// When the journal is gone or is another one (a restore on a new machine),
// nothing says what was issued after the backup: every project is rotated
// instead (all credentials issued before the start are refused).

// JournalDir is the journal's directory under the data dir; backups skip it.
const JournalDir = "nats-journal"

const journalFile = "credentials.jsonl"

// Journal appends credential facts to one file.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	id   string
	seq  int64
	path string
}

type journalEntry struct {
	Seq     int64     `json:"seq"`
	Op      string    `json:"op"` // "issued" or "revoked"
	Project string    `json:"project"`
	Key     string    `json:"key"` // user public key, or "*" (rotation)
	At      time.Time `json:"at"`
	Expires time.Time `json:"expires,omitzero"`
}

type journalHeader struct {
	Journal string `json:"journal"`
}

// OpenJournal opens (or starts) the journal under dataDir.
func OpenJournal(dataDir string) (*Journal, error) {
	dir := filepath.Join(dataDir, JournalDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("credential journal: %w", err)
	}
	j := &Journal{path: filepath.Join(dir, journalFile)}
	_, err := os.Stat(j.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		j.id = hex.EncodeToString(raw)
		header, _ := json.Marshal(journalHeader{Journal: j.id})
		if err := os.WriteFile(j.path, append(header, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("credential journal: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("credential journal: %w", err)
	default:
		if j.id, j.seq, err = journalTail(j.path); err != nil {
			return nil, err
		}
		if err := dropCutLine(j.path); err != nil {
			return nil, err
		}
	}
	if j.f, err = os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("credential journal: %w", err)
	}
	return j, nil
}

// dropCutLine truncates the journal just after its last '\n' (the header's
// at least), dropping what a crash left of a line it cut short: an entry
// appended after those bytes would share their line, and every read skips
// that line whole.
func dropCutLine(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("credential journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("credential journal: %w", err)
	}
	buf := make([]byte, 4<<10)
	for end := st.Size(); end > 0; {
		from := max(end-int64(len(buf)), 0)
		chunk := buf[:end-from]
		if _, err := f.ReadAt(chunk, from); err != nil {
			return fmt.Errorf("credential journal: %w", err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			if keep := from + int64(i) + 1; keep < st.Size() {
				if err := f.Truncate(keep); err != nil {
					return fmt.Errorf("credential journal: %w", err)
				}
			}
			return nil
		}
		end = from
	}
	return fmt.Errorf("credential journal %s: no header", path)
}

// A start reads only the journal's header and its tail (journalTail); the
// whole journal is read only when the database is behind it (after a
// restore or a crash between an entry and its commit), one entry at a time
// (scanJournal). Reading it whole at every start cost 2.4 s and 894 MB of
// allocations at 1M entries (152 MB).

// tailWindow is how much of the journal's end journalTail reads: many
// entries (~150 bytes each), so the last complete one is in it.
const tailWindow = 64 << 10

// journalTail reads the journal's id and the sequence of its last complete
// entry (a line cut short by a crash is ignored).
func journalTail(path string) (id string, seq int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("credential journal: %w", err)
	}
	defer f.Close()
	header, err := bufio.NewReader(f).ReadBytes('\n')
	var h journalHeader
	if err != nil || json.Unmarshal(header, &h) != nil || h.Journal == "" {
		return "", 0, fmt.Errorf("credential journal %s: no header", path)
	}
	st, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("credential journal: %w", err)
	}
	from := max(int64(len(header)), st.Size()-tailWindow)
	tail := make([]byte, st.Size()-from)
	if _, err := f.ReadAt(tail, from); err != nil && !errors.Is(err, io.EOF) {
		return "", 0, fmt.Errorf("credential journal: %w", err)
	}
	lines := bytes.Split(tail, []byte("\n"))
	if from > int64(len(header)) {
		lines = lines[1:] // the window starts inside a line
	}
	for i := len(lines) - 1; i >= 0; i-- {
		var e journalEntry
		if json.Unmarshal(lines[i], &e) == nil && e.Seq > 0 {
			return h.Journal, e.Seq, nil
		}
	}
	if from > int64(len(header)) {
		// No complete entry at the end of a long journal: not written by
		// this code. Read it all rather than guess.
		err := scanJournal(path, func(e journalEntry) error { seq = e.Seq; return nil })
		return h.Journal, seq, err
	}
	return h.Journal, 0, nil
}

// scanJournal calls fn with every complete entry in order (a line cut short
// by a crash is skipped).
func scanJournal(path string, fn func(journalEntry) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("credential journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // the header (journalTail checks it)
		}
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Seq > 0 {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("credential journal %s: %w", path, err)
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// SetJournal makes t record issued and revoked keys in j (nil: none, e.g.
// in CLI commands that issue nothing).
func (t *Tenancy) SetJournal(j *Journal) {
	t.mu.Lock()
	t.journal = j
	t.mu.Unlock()
}

// journalIn appends an entry and records its sequence in tx, inside the
// transaction that makes the fact. Written before the commit: if the
// transaction then fails, the entry stays in the journal but is not
// re-applied, since the next entry's transaction records a later sequence
// and a catch-up reads only what follows the recorded one. That is
// harmless: nobody got the seed of a key whose issue failed, and a revoke
// that failed was answered with an error. Only when it is the journal's
// last entry (or a crash came before the commit) does the next start
// re-apply it, revoking the key: the safe direction.
func (t *Tenancy) journalIn(tx core.App, op, project, key string, at, expires time.Time) error {
	t.mu.RLock()
	j := t.journal
	t.mu.RUnlock()
	if j == nil {
		return nil
	}
	seq, err := j.append(op, project, key, at, expires)
	if err != nil {
		return err
	}
	return setMeta(tx, "journal_seq", fmt.Sprint(seq))
}

// append writes the next entry and returns its sequence.
func (j *Journal) append(op, project, key string, at, expires time.Time) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e := journalEntry{Seq: j.seq + 1, Op: op, Project: project, Key: key, At: at.UTC(), Expires: expires.UTC()}
	line, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return 0, fmt.Errorf("credential journal: %w", err)
	}
	j.seq = e.Seq
	return e.Seq, nil
}

// metaTable holds a few facts about the database itself.
const metaTable = "_pocketbus_meta"

func setMeta(tx core.App, key, value string) error {
	_, err := tx.DB().NewQuery("INSERT OR REPLACE INTO " + metaTable + " (key, value) VALUES ({:k}, {:v})").
		Bind(dbx.Params{"k": key, "v": value}).Execute()
	return err
}

func getMeta(app core.App, key string) string {
	var v string
	app.DB().NewQuery("SELECT value FROM " + metaTable + " WHERE key = {:k}").Bind(dbx.Params{"k": key}).Row(&v)
	return v
}

// JournalCatchUp is what CatchUpJournal did.
type JournalCatchUp struct {
	Replayed int // journal entries the database had not seen
	Rotated  int // projects rotated because the journal does not cover the database
}

// CatchUpJournal brings the database up to the journal at start (see the
// top of this file).
func (t *Tenancy) CatchUpJournal(app core.App) (JournalCatchUp, error) {
	var out JournalCatchUp
	t.mu.RLock()
	j := t.journal
	t.mu.RUnlock()
	if j == nil {
		return out, nil
	}
	// Not under j.mu for the whole catch-up: rotating journals new entries.
	dbID := getMeta(app, "journal_id")
	var dbSeq int64
	fmt.Sscan(getMeta(app, "journal_seq"), &dbSeq)
	var n int
	if err := app.DB().NewQuery("SELECT COUNT(*) FROM credentials").Row(&n); err != nil {
		return out, err
	}
	err := t.Run(app, Actor{}, func(tx core.App) error {
		switch {
		case dbID == "" && (n == 0 || dbSeq == 0):
			// A new database, or one from before the journal: it takes this
			// journal (below) and nothing is re-applied.
		case dbID == j.id:
			j.mu.Lock()
			upTo := j.seq
			j.mu.Unlock()
			if dbSeq >= upTo {
				break // the usual start: nothing to read
			}
			// Up to upTo: routes are not served at a start, but they are
			// when a failed restore starts NATS again. An entry whose
			// transaction has not committed yet then reads as "issued, not
			// listed" and its key is revoked: the safe direction, for a
			// credential issued in that moment.
			// Each project is re-signed once, from all its re-applied rows,
			// after the scan.
			var changed []string
			seen := map[string]bool{}
			err := scanJournal(j.path, func(e journalEntry) error {
				if e.Seq <= dbSeq || e.Seq > upTo {
					return nil
				}
				out.Replayed++
				project, err := t.replay(tx, e)
				if project != "" && !seen[project] {
					seen[project] = true
					changed = append(changed, project)
				}
				return err
			})
			if err != nil {
				return err
			}
			for _, id := range changed {
				if err := t.resign(tx, id); err != nil {
					return err
				}
			}
		default:
			var ids []string
			if err := tx.DB().NewQuery("SELECT id FROM projects").Column(&ids); err != nil {
				return err
			}
			for _, id := range ids {
				p, err := tx.FindRecordById(Projects, id)
				if err != nil {
					return err
				}
				if _, err := t.rotateInTx(tx, p, "restored without its credential journal"); err != nil {
					return err
				}
				out.Rotated++
			}
		}
		if err := setMeta(tx, "journal_id", j.id); err != nil {
			return err
		}
		j.mu.Lock()
		seq := j.seq
		j.mu.Unlock()
		return setMeta(tx, "journal_seq", fmt.Sprint(seq))
	})
	return out, err
}

// replay re-applies one entry the database lost: a revocation is made
// again; an issued key the database does not list is revoked. It returns
// the project whose revocations it changed (""; none), which the caller
// re-signs.
func (t *Tenancy) replay(tx core.App, e journalEntry) (string, error) {
	p, err := tx.FindRecordById(Projects, e.Project)
	if err != nil {
		return "", nil // the project is not in this database: neither is its account
	}
	var listed int
	if err := tx.DB().NewQuery("SELECT COUNT(*) FROM credentials WHERE project = {:p} AND public_key = {:k}").
		Bind(dbx.Params{"p": p.Id, "k": e.Key}).Row(&listed); err != nil {
		return "", err
	}
	switch {
	case e.Op == "revoked":
	case e.Op == "issued" && listed == 0:
	default:
		return "", nil
	}
	if err := upsertRevocation(tx, p.Id, e.Key, e.At, e.Expires); err != nil {
		return "", err
	}
	if e.Key == "*" {
		if _, err := tx.DB().NewQuery("UPDATE projects SET revoked_before = {:at} WHERE id = {:id} AND revoked_before < {:at}").
			Bind(dbx.Params{"at": dbDate(e.At), "id": p.Id}).Execute(); err != nil {
			return "", err
		}
	}
	if _, err := tx.DB().NewQuery("UPDATE credentials SET revoked = {:at} WHERE project = {:p} AND public_key = {:k} AND revoked = ''").
		Bind(dbx.Params{"at": dbDate(e.At), "p": p.Id, "k": e.Key}).Execute(); err != nil {
		return "", err
	}
	return p.Id, t.record(tx, Event{Group: p.GetString("group"), Project: p.Id, Action: "credential.revoked", Target: e.Key,
		Data: map[string]any{"public_key": e.Key, "reason": "re-applied from the credential journal after a restore (" + e.Op + " at " + e.At.Format(time.RFC3339) + ")"}})
}

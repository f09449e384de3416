package tenancy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeJournal writes a journal with entries 1..n and then tail (e.g. a
// line a crash cut short).
func writeJournal(t *testing.T, n int, tail string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, JournalDir), 0o700); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	h, _ := json.Marshal(journalHeader{Journal: "j1"})
	b.Write(append(h, '\n'))
	for i := 1; i <= n; i++ {
		l, _ := json.Marshal(journalEntry{Seq: int64(i), Op: "issued", Project: "p", Key: "U" + strings.Repeat("X", 55), At: time.Unix(int64(i), 0).UTC()})
		b.Write(append(l, '\n'))
	}
	b.WriteString(tail)
	if err := os.WriteFile(filepath.Join(dir, JournalDir, journalFile), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A start reads the journal's end only; what it finds must be what reading
// it whole finds, whatever a crash left at the end.
func TestJournalTailMatchesAFullRead(t *testing.T) {
	cut := `{"seq":999999,"op":"iss` // a line cut short by kill -9
	for _, c := range []struct {
		name string
		n    int
		tail string
	}{
		{"header only", 0, ""},
		{"header and a cut line", 0, cut},
		{"a few entries", 3, ""},
		{"a few entries and a cut line", 3, cut},
		{"longer than the tail window", 5000, ""},
		{"longer than the tail window and a cut line", 5000, cut},
		{"a window boundary inside the last line", 1, strings.Repeat(" ", tailWindow)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeJournal(t, c.n, c.tail)
			j, err := OpenJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			var last int64
			if err := scanJournal(j.path, func(e journalEntry) error { last = e.Seq; return nil }); err != nil {
				t.Fatal(err)
			}
			if j.id != "j1" || j.seq != int64(c.n) || last != int64(c.n) {
				t.Fatalf("OpenJournal: id %q seq %d; a full read: seq %d; want j1, %d", j.id, j.seq, last, c.n)
			}
		})
	}
}

func TestJournalWithoutHeaderRefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, JournalDir), 0o700)
	os.WriteFile(filepath.Join(dir, JournalDir, journalFile), []byte(`{"seq":1}`+"\n"), 0o600)
	if _, err := OpenJournal(dir); err == nil || !strings.Contains(err.Error(), "no header") {
		t.Fatalf("a journal without its header: %v", err)
	}
}

// An entry appended after a line a crash cut short is read back: the cut
// bytes go when the journal is opened, so the entry starts a line of its own.
func TestJournalAppendsAfterACutLine(t *testing.T) {
	dir := writeJournal(t, 3, `{"seq":4,"op":"iss`)
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := j.append("revoked", "p", "UNEW", time.Unix(100, 0), time.Time{})
	j.Close()
	if err != nil || seq != 4 {
		t.Fatalf("append: seq %d, %v; want 4", seq, err)
	}
	j, err = OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var last journalEntry
	if err := scanJournal(j.path, func(e journalEntry) error { last = e; return nil }); err != nil {
		t.Fatal(err)
	}
	if j.seq != 4 || last.Seq != 4 || last.Key != "UNEW" {
		t.Fatalf("reopened: tail seq %d, a full read's last entry %+v; want the appended one, seq 4", j.seq, last)
	}
}

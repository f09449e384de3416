package tenancy

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkOpenJournal is a start's cost of the credential journal with
// POCKETBUS_JOURNAL_ENTRIES entries (default 1,000,000, ~152 MB): the
// journal grows by one entry per credential issued or revoked and is never
// compacted.
//
//	go test -run '^$' -bench OpenJournal -benchmem ./internal/tenancy/
func BenchmarkOpenJournal(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("POCKETBUS_JOURNAL_ENTRIES")); err == nil {
		n = v
	}
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, JournalDir), 0o700); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, JournalDir, journalFile))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	h, _ := json.Marshal(journalHeader{Journal: "bench"})
	w.Write(append(h, '\n'))
	at := time.Now().UTC()
	for i := 1; i <= n; i++ {
		l, _ := json.Marshal(journalEntry{Seq: int64(i), Op: "issued", Project: "p0000000000000x", Key: "UAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", At: at})
		w.Write(append(l, '\n'))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	f.Close()
	b.ReportMetric(float64(st.Size())/(1<<20), "MB-journal")
	b.ResetTimer()
	for b.Loop() {
		j, err := OpenJournal(dir)
		if err != nil {
			b.Fatal(err)
		}
		if j.seq != int64(n) {
			b.Fatalf("seq %d, want %d", j.seq, n)
		}
		j.Close()
	}
}

package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

func TestOpenLockedByAnother(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "crier.db")
	first, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("second Open of a held state file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error %v is not ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "state dir "+dir+" ") || !strings.Contains(msg, "another crier") {
		t.Errorf("error %q should name the state dir and say another crier holds it", msg)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("waited %v for a 100ms lock timeout", waited)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	again.Close()
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(filepath.Join(dir, "crier.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != filepath.Join(dir, "crier.db") {
		t.Errorf("Path = %s", s.Path())
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask can only take bits away.
		if perm := fi.Mode().Perm(); perm&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, perm, want)
		}
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crier.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, u64(schemaVersion+1)) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "upgrade crier") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema = %v; want an error saying to upgrade", err)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	if _, err := s.Ingest("a", crier.FeedState{}, []crier.Item{item("g:1", "l:1"), item("g:2", "|", "t:2")}, toNotifier("po")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveFeedState("b", crier.FeedState{Failures: 1}); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Enqueue(delivery("mail", "x"))
	if err := s.Bury("mail", es[0].ID, "bad address"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.FileSize <= 0 || st.SeenKeys != 4 || st.Feeds != 2 || st.Outbox != 2 || st.Dead != 1 {
		t.Errorf("Stats = %+v; want 4 seen keys, 2 feeds, 2 queued, 1 dead", st)
	}
}

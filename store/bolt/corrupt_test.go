package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	bbolt "go.etcd.io/bbolt"
)

// corruptible builds a state file with enough in it for branch pages,
// nested buckets, inline buckets and overflow pages, and returns its path
// and bytes.
func corruptible(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crier.db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for f := range 4 {
		feed := fmt.Sprintf("feed-%d", f)
		var items []crier.Item
		for i := range 60 * (f + 1) * (f + 1) {
			items = append(items, item(fmt.Sprintf("g:%s-%04d", feed, i)))
		}
		// Only the first feed queues its items: branch pages are then
		// all of seen keys, which TestRepair damages.
		plan := toNotifier("phone")
		if f > 0 {
			plan = nil
		}
		if _, err := s.Ingest(feed, crier.FeedState{URL: "https://example.org/" + feed, Title: feed}, items, plan); err != nil {
			t.Fatal(err)
		}
	}
	big := delivery("phone", string(make([]byte, 10_000))) // an overflow page
	if _, err := s.Enqueue(big, delivery("log", "small")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// readEverything reads what the daemon and the tools read; errors are
// fine (a damaged value), panics are not.
func readEverything(s *Store) {
	_, _ = s.Stats()
	_, _ = s.FeedStates()
	_, _ = s.Outbox()
	_, _ = s.DeadLetters()
	_, _ = s.Recent(50)
	for f := range 4 {
		_, _ = s.Seen(fmt.Sprintf("feed-%d", f), "g:x")
	}
}

// pagesOf finds the reachable pages of the file's current tree by type.
func pagesOf(t *testing.T, path string) (pageSize int, byType map[uint16][]uint64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := openPages(f)
	if err != nil {
		t.Fatal(err)
	}
	m := pf.metas[0]
	reached, err := pf.walk(m, checker{})
	if err != nil {
		t.Fatalf("the fixture is corrupt: %v", err)
	}
	byType = map[uint16][]uint64{}
	for id := range reached {
		p, err := pf.page(m, id)
		if err != nil {
			continue // an overflow page's tail
		}
		byType[order.Uint16(p[8:])] = append(byType[order.Uint16(p[8:])], id)
	}
	for _, ids := range byType {
		slices.Sort(ids)
	}
	if len(byType[branchPage]) == 0 || len(byType[leafPage]) < 4 {
		t.Fatalf("fixture lacks branch or leaf pages: %v", byType)
	}
	return int(m.pageSize), byType
}

// A damaged state file is reported as corrupt, naming the file; bbolt never
// gets to read (and panic on) it.
func TestOpenCorruptFile(t *testing.T) {
	t.Parallel()
	path, orig := corruptible(t)
	ps, pages := pagesOf(t, path)
	leaf, branch := pages[leafPage][0], pages[branchPage][0]
	// Two reachable leaves side by side: the first claiming an overflow
	// page makes the second referenced twice.
	var twin uint64
	for i, id := range pages[leafPage][1:] {
		if pages[leafPage][i] == id-1 {
			twin = id - 1
			break
		}
	}
	if twin == 0 {
		t.Fatalf("fixture has no two adjacent leaves: %v", pages[leafPage])
	}
	// The root bucket's page is the lowest-level one every read goes through.
	f, _ := os.Open(path)
	pf, _ := openPages(f)
	root := pf.metas[0].root
	// bbolt writes transaction n's meta to page n%2: flipping the newest
	// makes it fall back on the one before.
	newestMeta := int(pf.metas[0].txid%2) * ps
	f.Close()

	flip := func(b []byte, at int, mask byte) { b[at] ^= mask }
	cases := []struct {
		name    string
		damage  func(b []byte) []byte
		corrupt bool // false: bbolt recovers by itself
	}{
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }, true},
		{"truncated inside the first page", func(b []byte) []byte { return b[:100] }, true},
		{"both meta pages flipped", func(b []byte) []byte { flip(b, 16+20, 0xff); flip(b, ps+16+20, 0xff); return b }, true},
		{"newest meta page flipped", func(b []byte) []byte { flip(b, newestMeta+16+20, 0xff); return b }, false},
		{"root page zeroed", func(b []byte) []byte { clear(b[int(root)*ps : int(root+1)*ps]); return b }, true},
		{"branch child pointer past the end", func(b []byte) []byte {
			order.PutUint64(b[int(branch)*ps+pageHeaderSize+8:], 1<<40)
			return b
		}, true},
		{"leaf element pointing past its page", func(b []byte) []byte {
			order.PutUint32(b[int(leaf)*ps+pageHeaderSize+4:], uint32(ps*4))
			return b
		}, true},
		{"leaf page claims another id", func(b []byte) []byte { flip(b, int(leaf)*ps, 0x01); return b }, true},
		{"branch page type flipped", func(b []byte) []byte { flip(b, int(branch)*ps+8, 0x10); return b }, true},
		{"leaf overflowing into the next leaf", func(b []byte) []byte {
			order.PutUint32(b[int(twin)*ps+12:], 1)
			return b
		}, true},
		{"branch with no elements", func(b []byte) []byte {
			order.PutUint16(b[int(branch)*ps+10:], 0)
			return b
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "crier.db")
			if err := os.WriteFile(p, tc.damage(append([]byte(nil), orig...)), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(p, Options{NoSync: true})
			if !tc.corrupt {
				if err != nil {
					t.Fatalf("Open: %v, want bbolt to fall back on the other meta page", err)
				}
				readEverything(s)
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("a damaged file opened")
			}
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Path != p {
				t.Errorf("Open: %v, want a CorruptError naming %s", err, p)
			}
		})
	}
}

// Random damage anywhere in the file either is reported as corrupt or
// leaves a file every read of which returns (maybe with an error): no
// panic, no fault. A miss here kills the test binary.
func TestOpenRandomlyDamagedFile(t *testing.T) {
	t.Parallel()
	path, orig := corruptible(t)
	pageSize, _ := pagesOf(t, path)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	rounds := 120
	if testing.Short() {
		rounds = 50
	}
	corrupt := 0
	for i := range rounds {
		b := append([]byte(nil), orig...)
		for range 1 + rng.IntN(8) {
			at := rng.IntN(len(b))
			if i%2 == 0 {
				// Mostly data; every other round aims at the headers and
				// element tables at the start of a page.
				at = (at/pageSize)*pageSize + rng.IntN(128)
			}
			b[at] ^= byte(1 + rng.IntN(255))
		}
		if i%10 == 0 {
			b = b[:rng.IntN(len(b))]
		}
		p := filepath.Join(dir, fmt.Sprintf("crier-%d.db", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(p, Options{NoSync: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("round %d: Open: %v, want ErrCorrupt", i, err)
			}
			corrupt++
			// Whatever Repair salvages, crier can open. (Every fourth:
			// a repair costs fsyncs.)
			if corrupt%4 != 0 {
				continue
			}
			if _, err := Repair(p, time.Now()); err == nil {
				if s, err := Open(p, Options{NoSync: true}); err != nil {
					t.Errorf("round %d: Open after Repair: %v", i, err)
				} else {
					readEverything(s)
					s.Close()
				}
			} else if !errors.Is(err, ErrCorrupt) {
				t.Errorf("round %d: Repair: %v", i, err)
			}
			continue
		}
		readEverything(s)
		s.Close()
		os.Remove(p)
	}
	t.Logf("%d of %d damaged files reported corrupt", corrupt, rounds)
}

// Repair keeps what can be read, says what it lost, keeps the damaged file
// beside it, and leaves a file crier opens: the outbox, the feed states and
// the entry numbering survive the loss of one page of seen keys.
func TestRepair(t *testing.T) {
	t.Parallel()
	path, _ := corruptible(t)
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Outbox()
	if err != nil || len(before) < 3 {
		t.Fatalf("outbox %d entries, %v", len(before), err)
	}
	var lastID uint64
	for _, e := range before {
		lastID = max(lastID, e.ID)
	}
	s.Close()
	orig, err := os.ReadFile(path) // as the Open and Close above left it
	if err != nil {
		t.Fatal(err)
	}
	ps, pages := pagesOf(t, path)

	// Healthy: nothing to do, nothing touched.
	rep, err := Repair(path, time.Now())
	if err != nil || !rep.Healthy {
		t.Fatalf("Repair of a healthy file: %+v, %v", rep, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
		t.Fatal("Repair changed a healthy file")
	}

	// The first leaf under a branch page: seen keys of a big feed.
	b := append([]byte(nil), orig...)
	branch := pages[branchPage][0]
	leaf := order.Uint64(b[int(branch)*ps+pageHeaderSize+8:])
	clear(b[int(leaf)*ps : int(leaf+1)*ps])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{NoSync: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of the damaged file: %v", err)
	}

	// A running crier holds the file: no repair under its feet.
	locked, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	unlock, _, _ := exclusiveLock(locked)
	if _, err := Repair(path, time.Now()); !errors.Is(err, ErrLocked) {
		t.Errorf("Repair of a locked file: %v, want ErrLocked", err)
	}
	unlock()
	locked.Close()

	when := time.Date(2025, 2, 3, 4, 5, 6, 0, time.Local)
	rep, err = Repair(path, when)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Lost) != 1 || !strings.HasPrefix(rep.Lost[0], "seen/feed-") || rep.Kept == 0 {
		t.Errorf("report %+v, want one lost page of seen keys", rep)
	}
	if want := path + ".corrupt-20250203-040506"; rep.MovedTo != want {
		t.Errorf("damaged file kept as %s, want %s", rep.MovedTo, want)
	}
	if kept, err := os.ReadFile(rep.MovedTo); err != nil || !bytes.Equal(kept, b) {
		t.Errorf("the damaged file was not kept as it was: %v", err)
	}

	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	defer s.Close()
	readEverything(s)
	after, err := s.Outbox()
	if err != nil || len(after) != len(before) {
		t.Errorf("outbox after repair: %d entries, %v; want %d", len(after), err, len(before))
	}
	states, err := s.FeedStates()
	if err != nil || len(states) != 4 {
		t.Errorf("feed states after repair: %d, %v; want 4", len(states), err)
	}
	if seen, _ := s.Seen("feed-0", "g:feed-0-0001"); !seen {
		t.Error("a seen key of an undamaged feed was lost")
	}
	es, err := s.Enqueue(delivery("log", "after repair"))
	if err != nil || es[0].ID <= lastID {
		t.Errorf("new entry after repair: %+v, %v; want an ID above %d", es, err, lastID)
	}
}

// A file another tool wrote with a freelist page (crier itself writes
// none): a freelist that lists more pages than it holds is corrupt, not
// read past its page by bbolt.
func TestOpenCorruptFreelist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crier.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // a freed page or two to list
		if err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), bytes.Repeat([]byte{byte(i)}, 5000))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Check(path); err != nil {
		t.Fatalf("Check of the undamaged file: %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := openPages(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := pf.metas[0]
	if m.freelist == noFreelist {
		t.Fatal("fixture has no freelist page")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := int(m.freelist) * int(m.pageSize)
	order.PutUint16(b[at+10:], 0xFFFF) // the count is in the first element
	order.PutUint64(b[at+pageHeaderSize:], 1<<40)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true})
	if err == nil {
		s.Close()
		t.Fatal("a file with a damaged freelist opened")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open: %v, want ErrCorrupt", err)
	}
}

// When the last commit's tree is damaged and the one before is whole,
// Repair salvages the whole one: it loses one commit, not a page of keys.
func TestRepairTakesTheWholerTree(t *testing.T) {
	t.Parallel()
	path, _ := corruptible(t)
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(delivery("log", "last commit")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := openPages(f)
	if err != nil || len(pf.metas) != 2 {
		t.Fatalf("meta pages: %v, %v", pf, err)
	}
	newest, err := pf.walk(pf.metas[0], checker{})
	if err != nil {
		t.Fatal(err)
	}
	older, err := pf.walk(pf.metas[1], checker{})
	f.Close()
	if err != nil {
		t.Fatalf("the commit before the last is not whole: %v", err)
	}
	var only uint64 // a page of the last commit's tree alone
	for id := range newest {
		if !older[id] && id != pf.metas[0].root {
			only = id
			break
		}
	}
	if only == 0 {
		t.Fatal("the last commit wrote no page of its own")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(pf.metas[0].pageSize)
	clear(b[int(only)*ps : int(only+1)*ps])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Repair(path, time.Now())
	if err != nil || len(rep.Lost) != 0 {
		t.Errorf("Repair: %+v, %v; want the whole tree of the commit before, nothing lost", rep, err)
	}
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	defer s.Close()
	if st, err := s.FeedStates(); err != nil || len(st) != 4 {
		t.Errorf("feed states after repair: %d, %v; want 4", len(st), err)
	}
}

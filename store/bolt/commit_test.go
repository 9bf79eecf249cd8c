package bolt

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// Concurrent polls share commits; each still sees its own outcome, and
// everything that reported success is in the file after a reopen.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	path := s.Path()
	const writers, rounds = 8, 25
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([][]error, writers)
	for w := range writers {
		errs[w] = make([]error, rounds)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				feed := fmt.Sprintf("feed-%d", w)
				switch {
				case w == 0 && r%5 == 0:
					// A failing writer in the middle of others.
					errs[w][r] = s.group.update(func(tx *bbolt.Tx) error {
						if err := s.putState(tx, "never", crier.FeedState{Title: "never"}); err != nil {
							return err
						}
						return boom
					})
				case w%2 == 0:
					errs[w][r] = s.SaveFeedState(feed, crier.FeedState{Title: fmt.Sprint(r)})
				default:
					_, errs[w][r] = s.Ingest(feed, crier.FeedState{Title: fmt.Sprint(r)},
						[]crier.Item{item(fmt.Sprintf("g:%d-%d", w, r))}, nil)
				}
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for r, err := range errs[w] {
			wantBoom := w == 0 && r%5 == 0
			if wantBoom != errors.Is(err, boom) || (!wantBoom && err != nil) {
				t.Errorf("writer %d round %d: err %v", w, r, err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, clk)
	states, err := s.FeedStates()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := states["never"]; ok {
		t.Error("a failed write's state was committed with its group")
	}
	for w := 1; w < writers; w++ {
		if st := states[fmt.Sprintf("feed-%d", w)]; st.Title != fmt.Sprint(rounds-1) {
			t.Errorf("feed-%d: title %q, want the last round's %d", w, st.Title, rounds-1)
		}
		if w%2 == 1 {
			if ok, _ := s.Seen(fmt.Sprintf("feed-%d", w), fmt.Sprintf("g:%d-%d", w, rounds-1)); !ok {
				t.Errorf("feed-%d: last round's key not seen", w)
			}
		}
	}
}

// A panic inside a write reaches the caller that wrote it, not whoever
// happened to be committing, and leaves the store usable.
func TestGroupCommitPanicReachesItsCaller(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	var wg sync.WaitGroup
	panics := make(chan any, 1)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w == 2 {
				defer func() { panics <- recover() }()
				_, _ = s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:x")},
					func([]crier.NewItem, bool) []crier.Delivery { panic("plan exploded") })
				return
			}
			for range 20 {
				if err := s.SaveFeedState(fmt.Sprint(w), crier.FeedState{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if p := <-panics; p != "plan exploded" {
		t.Fatalf("the panicking writer recovered %v", p)
	}
	if err := s.SaveFeedState("after", crier.FeedState{Title: "ok"}); err != nil {
		t.Fatal(err)
	}
}

// The decoded-state cache never serves a state the file does not hold:
// not one whose write rolled back, nor one overwritten behind its back.
func TestStateCacheFollowsTheFile(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	if err := s.SaveFeedState("f", crier.FeedState{Title: "one"}); err != nil {
		t.Fatal(err)
	}
	rolledBack := errors.New("rolled back")
	err := s.group.update(func(tx *bbolt.Tx) error {
		if err := s.putState(tx, "f", crier.FeedState{Title: "two"}); err != nil {
			return err
		}
		return rolledBack
	})
	if !errors.Is(err, rolledBack) {
		t.Fatal(err)
	}
	if st, _, _ := s.FeedState("f"); st.Title != "one" {
		t.Fatalf("after a rolled-back write: title %q, want one", st.Title)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bFeeds).Put([]byte("f"), []byte(`{"url":"u","title":"three"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := s.FeedState("f"); st.Title != "three" {
		t.Fatalf("after a write bypassing the cache: title %q, want three", st.Title)
	}
}

// A group whose transaction rolls back committed none of the deferred poll
// times it carried, so it must not forget them: they stay pending, ride
// along with the next commit that succeeds, and survive a reopen.
func TestGroupCommitFailureKeepsDeferredStates(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	path := s.Path()
	base := crier.FeedState{URL: "u", ETag: `"e"`, LastStatus: 304, Seeded: true, LastPoll: clk.Now()}
	if err := s.SaveFeedState("a", base); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	polled := base
	polled.LastPoll = clk.Now()
	if err := s.SaveFeedState("a", polled); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.deferred.get("a"); !ok {
		t.Fatal("setup: the poll time was not deferred")
	}

	boom := errors.New("boom")
	if err := s.group.update(func(*bbolt.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing commit: err %v, want boom", err)
	}
	if _, ok := s.deferred.get("a"); !ok {
		t.Error("a rolled-back group commit forgot the deferred poll time")
	}
	if got := onDisk(t, s, "a"); !got.LastPoll.Equal(base.LastPoll) {
		t.Fatalf("setup: the rolled-back commit wrote LastPoll %v", got.LastPoll)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, clk)
	if got := onDisk(t, s, "a"); !got.LastPoll.Equal(polled.LastPoll) {
		t.Errorf("after reopen LastPoll %v, want the deferred %v", got.LastPoll, polled.LastPoll)
	}
}

package bolt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// onDisk is the state as committed, bypassing every in-memory layer.
func onDisk(t *testing.T, s *Store, feedID string) crier.FeedState {
	t.Helper()
	var st crier.FeedState
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bFeeds).Get([]byte(feedID))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &st)
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A poll that changes nothing but its poll times is not worth an fsync of
// its own: it is visible at once, committed with the next write of any
// poll, after a minute at the latest, and at Close.
func TestDeferredPollTimes(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	path := s.Path()
	base := crier.FeedState{URL: "u", ETag: `"e"`, LastStatus: 304, Seeded: true, LastPoll: clk.Now(), LastSuccess: clk.Now()}
	if err := s.SaveFeedState("a", base); err != nil {
		t.Fatal(err)
	}

	polled := func(d time.Duration) crier.FeedState {
		clk.Advance(d)
		st := base
		st.LastPoll, st.LastSuccess = clk.Now(), clk.Now()
		return st
	}
	st := polled(10 * time.Second)
	if err := s.SaveFeedState("a", st); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, s, "a"); !got.LastPoll.Equal(base.LastPoll) {
		t.Fatalf("a 304's poll time was committed at once (%v), want it deferred", got.LastPoll)
	}
	if got, _, _ := s.FeedState("a"); !got.LastPoll.Equal(st.LastPoll) {
		t.Errorf("FeedState: LastPoll %v, want the deferred %v", got.LastPoll, st.LastPoll)
	}
	if all, _ := s.FeedStates(); !all["a"].LastPoll.Equal(st.LastPoll) {
		t.Errorf("FeedStates: LastPoll %v, want the deferred %v", all["a"].LastPoll, st.LastPoll)
	}

	// Another feed's commit carries it.
	if _, err := s.Ingest("b", crier.FeedState{URL: "b"}, []crier.Item{item("g:1")}, nil); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, s, "a"); !got.LastPoll.Equal(st.LastPoll) {
		t.Errorf("after another feed's commit: on disk %v, want %v", got.LastPoll, st.LastPoll)
	}

	// Anything else changing is written at once and wins over a deferral.
	st = polled(10 * time.Second)
	if err := s.SaveFeedState("a", st); err != nil {
		t.Fatal(err)
	}
	failed := st
	failed.Failures, failed.LastError, failed.LastStatus = 1, "boom", 500
	if err := s.SaveFeedState("a", failed); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, s, "a"); got.Failures != 1 {
		t.Fatalf("a failure was not committed at once: %+v", got)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, s, "a"); got.Failures != 1 || got.LastError != "boom" {
		t.Fatalf("a flushed deferral overwrote the later failure: %+v", got)
	}

	// A minute of deferrals is committed by the one that ends it.
	clean := polled(0)
	if err := s.SaveFeedState("a", clean); err != nil {
		t.Fatal(err)
	}
	for range 4 { // the first waits 75 s by the fourth
		if err := s.SaveFeedState("a", polled(25*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if got := onDisk(t, s, "a"); !got.LastPoll.Equal(clk.Now()) {
		t.Errorf("after more than a minute of deferrals: on disk %v, want %v", got.LastPoll, clk.Now())
	}

	// Close commits what is left.
	last := polled(time.Second)
	if err := s.SaveFeedState("a", last); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, clk)
	if got := onDisk(t, s, "a"); !got.LastPoll.Equal(last.LastPoll) || got.ETag != `"e"` {
		t.Errorf("after Close and reopen: %+v, want LastPoll %v", got, last.LastPoll)
	}
}

func TestSameBesidesPollTimes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a := crier.FeedState{URL: "u", LastPoll: now, LastNew: now}
	for _, tc := range []struct {
		name string
		edit func(*crier.FeedState)
		same bool
	}{
		{"poll times", func(s *crier.FeedState) { s.LastPoll, s.LastSuccess = now.Add(time.Hour), now }, true},
		{"same instant, other zone", func(s *crier.FeedState) { s.LastNew = now.In(time.FixedZone("x", 3600)) }, true},
		{"etag", func(s *crier.FeedState) { s.ETag = "x" }, false},
		{"status", func(s *crier.FeedState) { s.LastStatus = 200 }, false},
		{"last new", func(s *crier.FeedState) { s.LastNew = now.Add(time.Second) }, false},
		{"alerted", func(s *crier.FeedState) { s.Alerted = "stale" }, false},
	} {
		b := a
		tc.edit(&b)
		if got := sameBesidesPollTimes(a, b); got != tc.same {
			t.Errorf("%s: same = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// A deferred state that cannot be written (here a poll time JSON cannot
// encode) is dropped and logged; it must not fail the commit of every
// later poll, nor hold back the other deferred states.
func TestUnwritableDeferredStateIsDropped(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var logged syncBuffer
	s, err := Open(filepath.Join(t.TempDir(), "crier.db"), Options{Now: clk.Now, NoSync: true,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	base := crier.FeedState{URL: "u", Seeded: true, LastPoll: clk.Now()}
	for _, f := range []string{"bad", "good"} {
		if err := s.SaveFeedState(f, base); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	bad := base
	bad.LastPoll = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	good := base
	good.LastPoll = clk.Now()
	for f, st := range map[string]crier.FeedState{"bad": bad, "good": good} {
		if err := s.SaveFeedState(f, st); err != nil {
			t.Fatalf("deferring %s: %v", f, err)
		}
	}

	for i := range 3 {
		if _, err := s.Ingest("other", crier.FeedState{URL: "o"}, []crier.Item{item(fmt.Sprint("g:", i))}, nil); err != nil {
			t.Fatalf("poll %d after an unwritable deferral: %v", i, err)
		}
	}
	if got := onDisk(t, s, "good"); !got.LastPoll.Equal(good.LastPoll) {
		t.Errorf("good: on disk LastPoll %v, want its deferred %v", got.LastPoll, good.LastPoll)
	}
	if got, _, _ := s.FeedState("bad"); !got.LastPoll.Equal(base.LastPoll) {
		t.Errorf("bad: LastPoll %v, want the last written %v", got.LastPoll, base.LastPoll)
	}
	if err := s.SaveFeedState("bad", good); err != nil {
		t.Errorf("a later poll of the same feed: %v", err)
	}
	if log := logged.String(); strings.Count(log, "level=ERROR") != 1 ||
		!strings.Contains(log, "feed=bad") || !strings.Contains(log, "year outside of range") {
		t.Errorf("log = %q, want one error naming feed bad and why", log)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// syncBuffer is a bytes.Buffer a logger may write from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

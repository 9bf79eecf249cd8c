package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierd/crier"
)

const day = 24 * time.Hour

func seenAll(t *testing.T, s *Store, feed string, keys ...string) map[string]bool {
	t.Helper()
	out := make(map[string]bool)
	for _, k := range keys {
		ok, err := s.Seen(feed, k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = ok
	}
	return out
}

// shrink makes items the whole of feed's latest fetch although they are
// fewer than half of the previous one: a shrink that lasts (see shrinkHold).
func shrink(t *testing.T, s *Store, clk *clock, feed string, items []crier.Item) {
	t.Helper()
	for range 2 {
		if _, err := s.Ingest(feed, crier.FeedState{}, items, nil); err != nil {
			t.Fatal(err)
		}
		clk.Advance(shrinkHold)
	}
}

func TestPruneRespectsCutoffAndLatestSet(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	ingest := func(items ...crier.Item) {
		t.Helper()
		if _, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, items, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Day 0: a, b, c. Day 10: a has dropped off, d arrives; b is seen again
	// (its first-seen time must stay day 0).
	ingest(item("g:a", "|", "t:a"), item("g:b"), item("g:c"))
	clk.Advance(10 * day)
	ingest(item("g:b"), item("g:c"), item("g:d"))

	removed, err := s.Prune(context.Background(), clk.Now().Add(-5*day), map[string]bool{"f": true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Errorf("removed %d keys, want 2 (g:a and t:a)", removed)
	}
	want := map[string]bool{"g:a": false, "t:a": false, "g:b": true, "g:c": true, "g:d": true}
	if got := seenAll(t, s, "f", "g:a", "t:a", "g:b", "g:c", "g:d"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seen after prune = %v, want %v", got, want)
	}

	// Day 20: b leaves the feed. Its first-seen time is day 0, so the next
	// prune takes it; d (first seen day 10) is still within retention.
	clk.Advance(10 * day)
	ingest(item("g:c"), item("g:e"))
	if _, err := s.Prune(context.Background(), clk.Now().Add(-15*day), nil, 0); err != nil {
		t.Fatal(err)
	}
	want = map[string]bool{"g:b": false, "g:c": true, "g:d": true, "g:e": true}
	if got := seenAll(t, s, "f", "g:b", "g:c", "g:d", "g:e"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seen after second prune = %v, want %v", got, want)
	}
}

func TestPruneRemovedFeeds(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	for _, f := range []string{"kept", "gone-stale", "gone-recent"} {
		if _, err := s.Ingest(f, crier.FeedState{LastPoll: clk.Now()}, []crier.Item{item("g:1")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveFeedState("never-fetched", crier.FeedState{LastPoll: clk.Now(), Failures: 9}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * day)
	if _, err := s.Ingest("gone-recent", crier.FeedState{LastPoll: clk.Now()}, []crier.Item{item("g:1")}, nil); err != nil {
		t.Fatal(err)
	}

	cutoff := clk.Now().Add(-90 * day)
	// A nil keep list forgets no feed.
	if _, err := s.Prune(context.Background(), cutoff, nil, 0); err != nil {
		t.Fatal(err)
	}
	if states, _ := s.FeedStates(); len(states) != 4 {
		t.Fatalf("nil keepFeeds forgot feeds: %v", states)
	}

	if _, err := s.Prune(context.Background(), cutoff, map[string]bool{"kept": true}, 0); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{"kept": true, "gone-stale": false, "never-fetched": false, "gone-recent": true} {
		_, hasState, err := s.FeedState(f)
		if err != nil {
			t.Fatal(err)
		}
		seen, _ := s.Seen(f, "g:1")
		if hasState != want || (f != "never-fetched" && seen != want) {
			t.Errorf("feed %s: state %v, seen %v; want both %v", f, hasState, seen, want)
		}
	}
	st, _ := s.Stats()
	if st.SeenKeys != 2 {
		t.Errorf("%d seen keys left, want 2 (kept and gone-recent)", st.SeenKeys)
	}
	// A feed that is forgotten starts over as a first poll if it comes back.
	res, err := s.Ingest("gone-stale", crier.FeedState{}, []crier.Item{item("g:1")}, nil)
	if err != nil || !res.FirstPoll || res.New != 1 {
		t.Errorf("re-added feed: %+v, %v; want a first poll with one new item", res, err)
	}
}

func TestPruneIsChunked(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	var old, current []crier.Item
	for i := range 95 {
		old = append(old, item(fmt.Sprint("g:old", i)))
	}
	for i := range 30 {
		current = append(current, item(fmt.Sprint("g:cur", i)))
	}
	if _, err := s.Ingest("f", crier.FeedState{}, append(old, current...), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * day)
	shrink(t, s, clk, "f", current)

	var writes, most int
	s.pruneHook = func(touched int) { writes++; most = max(most, touched) }
	removed, err := s.Prune(context.Background(), clk.Now().Add(-90*day), nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 95 {
		t.Errorf("removed %d, want 95", removed)
	}
	if most > 10 || writes < 10 {
		t.Errorf("%d write transactions touching up to %d keys; want >= 10 touching <= 10", writes, most)
	}
	if st, _ := s.Stats(); st.SeenKeys != 30 {
		t.Errorf("%d seen keys left, want the 30 still on the feed", st.SeenKeys)
	}
}

func TestPruneStopsOnCancel(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	var items []crier.Item
	for i := range 50 {
		items = append(items, item(fmt.Sprint("g:", i)))
	}
	if _, err := s.Ingest("f", crier.FeedState{}, items, nil); err != nil {
		t.Fatal(err)
	}
	shrink(t, s, clk, "f", nil)
	clk.Advance(100 * day)
	ctx, cancel := context.WithCancel(context.Background())
	s.pruneHook = func(int) { cancel() }
	removed, err := s.Prune(ctx, clk.Now().Add(-90*day), nil, 10)
	if !errors.Is(err, context.Canceled) || removed != 10 {
		t.Errorf("Prune cancelled after one chunk = %d, %v; want 10, context.Canceled", removed, err)
	}
}

// A feed with a stable working set, polled daily for a year with daily
// retention, must level off in both seen keys and file size.
func TestSimulatedYearLevelsOff(t *testing.T) {
	t.Parallel()
	const (
		feeds      = 2
		onFeed     = 50
		newPerDay  = 3
		retention  = 90 * day
		daysPerMon = 30
	)
	clk := newClock()
	s := openAt(t, filepath.Join(t.TempDir(), "crier.db"), clk)
	ctx := context.Background()
	keep := map[string]bool{}
	for f := range feeds {
		keep[fmt.Sprint("feed", f)] = true
	}
	next := onFeed // items 0..next-1 have been published
	seenAt := map[int]int{}
	sizeAt := map[int]int64{}
	for d := 1; d <= 12*daysPerMon; d++ {
		clk.Advance(day)
		next += newPerDay
		for f := range feeds {
			feed := fmt.Sprint("feed", f)
			items := make([]crier.Item, 0, onFeed)
			for i := next - 1; i >= next-onFeed; i-- {
				items = append(items, item(fmt.Sprintf("g:https://example.org/%s/posts/%d", feed, i),
					fmt.Sprintf("l:https://example.org/%s/%d", feed, i), "|", fmt.Sprintf("t:%s-%016x", feed, i)))
			}
			res, err := s.Ingest(feed, crier.FeedState{LastPoll: clk.Now()}, items, toNotifier("po"))
			if err != nil {
				t.Fatal(err)
			}
			if d > 1 && res.New != newPerDay {
				t.Fatalf("day %d %s: %d new, want %d", d, feed, res.New, newPerDay)
			}
		}
		// Deliver everything, as the dispatcher would.
		pend, err := s.Pending("po")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pend {
			if err := s.Done("po", e.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Prune(ctx, clk.Now().Add(-retention), keep, 0); err != nil {
			t.Fatal(err)
		}
		if d%daysPerMon == 0 {
			st, err := s.Stats()
			if err != nil {
				t.Fatal(err)
			}
			seenAt[d/daysPerMon], sizeAt[d/daysPerMon] = st.SeenKeys, st.FileSize
		}
	}
	t.Logf("seen keys by month: %v", seenAt)
	t.Logf("file size by month: %v", sizeAt)
	// Retention keeps 90 days of 3 items/day plus whatever is still on the
	// feed; 3 keys per item.
	if limit := feeds * 3 * (90*newPerDay + onFeed); seenAt[12] > limit {
		t.Errorf("month 12: %d seen keys, more than retention allows (%d)", seenAt[12], limit)
	}
	if seenAt[12] > seenAt[4]+seenAt[4]/20 {
		t.Errorf("seen keys still growing: month 4 %d, month 12 %d", seenAt[4], seenAt[12])
	}
	if sizeAt[12] > sizeAt[6]+sizeAt[6]/10 {
		t.Errorf("file still growing: month 6 %d bytes, month 12 %d bytes", sizeAt[6], sizeAt[12])
	}
}

// A poll that lands between Prune's scan and its delete must win: a key
// that is back on the feed by then stays.
func TestPruneRechecksBeforeDeleting(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	all := make([]crier.Item, 30)
	for i := range all {
		all[i] = item(fmt.Sprint("g:", i))
	}
	if _, err := s.Ingest("f", crier.FeedState{}, all, nil); err != nil {
		t.Fatal(err)
	}
	shrink(t, s, clk, "f", nil)
	clk.Advance(100 * day)

	back := all[:5] // these return to the feed while the first chunk is pending
	s.pruneHook = func(int) {
		s.pruneHook = nil
		if _, err := s.Ingest("f", crier.FeedState{}, back, nil); err != nil {
			t.Error(err)
		}
	}
	removed, err := s.Prune(context.Background(), clk.Now().Add(-90*day), nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 25 {
		t.Errorf("removed %d, want 25", removed)
	}
	for _, it := range back {
		if ok, _ := s.Seen("f", it.ID()); !ok {
			t.Errorf("%s is back on the feed but was pruned", it.ID())
		}
	}
}

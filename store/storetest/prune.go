package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var pruneTests = []test{
	{"respects the cutoff and the latest fetch", testPruneCutoffAndLatest},
	{"forgets removed feeds", testPruneRemovedFeeds},
	{"a shrunk fetch keeps protecting", testPruneShrunkFetch},
	{"a lasting shrink lets old keys go", testPruneLastingShrink},
	{"chunks lose nothing", testPruneChunked},
	{"stops when cancelled", testPruneCancelled},
}

// ShrinkHold is how long a feed may serve fewer than half the keys of its
// last full fetch before the store believes it: until then Prune keeps
// protecting the keys that left, so one truncated or empty fetch cannot
// make the next good one announce old items again.
const ShrinkHold = 30 * day

// posts returns items g:<prefix><from>..g:<prefix><to-1>.
func posts(prefix string, from, to int) []crier.Item {
	var out []crier.Item
	for i := from; i < to; i++ {
		out = append(out, Item(fmt.Sprintf("g:%s%d", prefix, i)))
	}
	return out
}

func keysOf(items []crier.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Keys...)
	}
	return out
}

// prune prunes what was first seen more than daysAgo days ago.
func (e *env) prune(daysAgo int, keep map[string]bool, chunk int) int {
	e.t.Helper()
	n, err := e.s.Prune(context.Background(), e.clk.Now().Add(-time.Duration(daysAgo)*day), keep, chunk)
	if err != nil {
		e.t.Fatalf("Prune: %v", err)
	}
	return n
}

func (e *env) poll(feed string, items []crier.Item) crier.IngestResult {
	e.t.Helper()
	return e.ingest(feed, crier.FeedState{LastPoll: e.clk.Now()}, items, ToNotifier("po"))
}

func testPruneCutoffAndLatest(t *testing.T, e *env) {
	// Day 0: a, b, c. Day 10: a has dropped off, d arrives; b is seen again
	// (its first-seen time must stay day 0).
	e.poll("f", []crier.Item{Item("g:a", "|", "t:a"), Item("g:b"), Item("g:c")})
	e.clk.Advance(10 * day)
	e.poll("f", []crier.Item{Item("g:b"), Item("g:c"), Item("g:d")})

	if removed := e.prune(5, map[string]bool{"f": true}, 0); removed != 2 {
		t.Errorf("removed %d keys, want 2 (g:a and its alt key t:a)", removed)
	}
	want := map[string]bool{"g:a": false, "t:a": false, "g:b": true, "g:c": true, "g:d": true}
	if got := e.seen("f", "g:a", "t:a", "g:b", "g:c", "g:d"); !maps.Equal(got, want) {
		t.Errorf("seen after prune = %v, want %v", got, want)
	}

	// Day 20: b leaves the feed. Its first-seen time is day 0, so the next
	// prune takes it; d (first seen day 10) is still within retention.
	e.clk.Advance(10 * day)
	e.poll("f", []crier.Item{Item("g:c"), Item("g:e")})
	e.prune(15, nil, 0)
	want = map[string]bool{"g:b": false, "g:c": true, "g:d": true, "g:e": true}
	if got := e.seen("f", "g:b", "g:c", "g:d", "g:e"); !maps.Equal(got, want) {
		t.Errorf("seen after second prune = %v, want %v", got, want)
	}
	// Forgotten items are news if they come back; the rest is not.
	if res := e.poll("f", []crier.Item{Item("g:a"), Item("g:c"), Item("g:d")}); res.New != 1 {
		t.Errorf("%d new after the prune, want 1 (g:a, pruned)", res.New)
	}
}

func testPruneRemovedFeeds(t *testing.T, e *env) {
	for _, f := range []string{"kept", "gone-stale", "gone-recent"} {
		e.poll(f, []crier.Item{Item("g:1")})
		if _, err := e.s.Pause(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.SaveFeedState("never-fetched", crier.FeedState{LastPoll: e.clk.Now(), Failures: 9}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(100 * day)
	e.poll("gone-recent", []crier.Item{Item("g:1")})

	// A nil keep list forgets no feed.
	e.prune(90, nil, 0)
	if states, _ := e.s.FeedStates(); len(states) != 4 {
		t.Fatalf("nil keepFeeds forgot feeds: %v", states)
	}

	e.prune(90, map[string]bool{"kept": true}, 0)
	for f, want := range map[string]bool{"kept": true, "gone-stale": false, "never-fetched": false, "gone-recent": true} {
		_, hasState, err := e.s.FeedState(f)
		if err != nil {
			t.Fatal(err)
		}
		seen := e.seen(f, "g:1")["g:1"]
		paused, _ := e.s.IsPaused(f)
		if hasState != want || (f != "never-fetched" && (seen != want || paused != want)) {
			t.Errorf("feed %s: state %v, seen %v, paused %v; want all %v", f, hasState, seen, paused, want)
		}
	}
	if paused, _ := e.s.Paused(); len(paused) != 2 {
		t.Errorf("Paused() after Prune = %v; want kept and gone-recent", paused)
	}
	// A forgotten feed that comes back starts over, as a first poll.
	if res := e.poll("gone-stale", []crier.Item{Item("g:1")}); !res.FirstPoll || res.New != 1 {
		t.Errorf("re-added feed: %+v; want a first poll with one new item", res)
	}
}

// One glitchy fetch (an empty channel, a truncated body) must not let
// Prune forget the items still on the feed: the next good fetch would
// announce every one of them again.
func testPruneShrunkFetch(t *testing.T, e *env) {
	feed := posts("p", 0, 50) // a slow blog: year-old posts stay on it
	glitches := []struct {
		name   string
		glitch []crier.Item
	}{
		{"empty channel", nil},
		{"items without keys", []crier.Item{{Title: "no id"}}},
		{"truncated to 3 of 50", posts("p", 0, 3)},
		{"24 of 50", posts("p", 10, 34)},
	}
	for i := range glitches {
		e.poll(fmt.Sprint("f", i), feed)
	}
	e.clk.Advance(100 * day)
	for i, g := range glitches {
		e.poll(fmt.Sprint("f", i), g.glitch)
	}
	if removed := e.prune(90, nil, 0); removed != 0 {
		t.Errorf("prune after the glitches removed %d keys of items still on their feeds, want 0", removed)
	}
	e.clk.Advance(6 * time.Hour)
	for i, g := range glitches {
		if res := e.poll(fmt.Sprint("f", i), feed); res.New != 0 || res.Queued != 0 {
			t.Errorf("%s: the good fetch after the glitch found %d new items (%d queued), want 0", g.name, res.New, res.Queued)
		}
	}
}

// A feed that shrinks for good is believed after ShrinkHold: its dropped
// items become prunable like any other that left the feed. A fetch of
// normal size ends a hold at once; a later shrink starts a new one.
func testPruneLastingShrink(t *testing.T, e *env) {
	e.poll("f", posts("p", 0, 50))
	e.clk.Advance(100 * day)
	e.poll("f", posts("p", 0, 10)) // a shrink…
	e.clk.Advance(day)
	e.poll("f", posts("p", 0, 50)) // …that a full fetch ends
	e.clk.Advance(day)
	start := e.clk.Now()
	e.poll("f", posts("p", 0, 10)) // the hold starts here
	e.clk.Advance(ShrinkHold - day)
	e.poll("f", posts("p", 0, 10))
	if n := e.prune(90, nil, 0); n != 0 {
		t.Fatalf("prune within the hold removed %d keys, want 0", n)
	}
	e.clk.Set(start.Add(ShrinkHold))
	e.poll("f", posts("p", 0, 10))
	if n := e.prune(90, nil, 0); n != 40 {
		t.Errorf("prune after a shrink lasting %v removed %d keys, want the 40 that left the feed", ShrinkHold, n)
	}
	want := map[string]bool{"g:p0": true, "g:p9": true, "g:p10": false, "g:p49": false}
	if got := e.seen("f", "g:p0", "g:p9", "g:p10", "g:p49"); !maps.Equal(got, want) {
		t.Errorf("seen after the accepted shrink = %v, want %v", got, want)
	}
	if res := e.poll("f", posts("p", 0, 10)); res.New != 0 {
		t.Errorf("%d new items on the shrunk feed, want 0", res.New)
	}
}

// Pruning in chunks of any size removes exactly what one pass would.
func testPruneChunked(t *testing.T, e *env) {
	old, current, later := posts("a-old", 0, 95), posts("b-cur", 0, 30), posts("c-new", 0, 40)
	for _, f := range []string{"f1", "f2"} {
		e.poll(f, append(append([]crier.Item{}, old...), current...))
	}
	e.clk.Advance(100 * day)
	for _, f := range []string{"f1", "f2"} {
		e.poll(f, append(append([]crier.Item{}, current...), later...))
	}
	if removed := e.prune(90, nil, 7); removed != 2*95 {
		t.Errorf("Prune in chunks of 7 removed %d keys, want %d", removed, 2*95)
	}
	for _, f := range []string{"f1", "f2"} {
		seen := e.seen(f, append(keysOf(old), append(keysOf(current), keysOf(later)...)...)...)
		for _, k := range keysOf(old) {
			if seen[k] {
				t.Errorf("%s: %s survived the prune", f, k)
			}
		}
		for _, k := range append(keysOf(current), keysOf(later)...) {
			if !seen[k] {
				t.Errorf("%s: %s, still on the feed, was pruned", f, k)
			}
		}
	}
	if removed := e.prune(90, nil, 1); removed != 0 {
		t.Errorf("a second prune removed %d keys, want 0", removed)
	}
}

func testPruneCancelled(t *testing.T, e *env) {
	old := posts("a-old", 0, 50)
	e.poll("f", old)
	e.clk.Advance(100 * day)
	e.poll("f", posts("b-new", 0, 30))
	cutoff := e.clk.Now().Add(-90 * day)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := e.s.Prune(ctx, cutoff, nil, 10); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Prune with a cancelled context = %d, %v; want 0, context.Canceled", n, err)
	}
	left := func() int {
		n := 0
		for _, ok := range e.seen("f", keysOf(old)...) {
			if ok {
				n++
			}
		}
		return n
	}
	if n := left(); n != 50 {
		t.Fatalf("%d of 50 old keys left after a cancelled prune, want all", n)
	}

	n, err := e.s.Prune(cancelledAfter(1), cutoff, nil, 10)
	if !errors.Is(err, context.Canceled) || n >= 50 {
		t.Errorf("Prune cancelled on the way = %d, %v; want fewer than 50, context.Canceled", n, err)
	}
	if got := left(); got != 50-n {
		t.Errorf("%d old keys left, want 50 less the %d it reported", got, n)
	}
}

// cancelledAfter returns a context that answers "not cancelled" to its
// first n calls of Err, and is cancelled from then on: a prune that checks
// it between chunks stops on its way, with no timer involved.
func cancelledAfter(n int) context.Context {
	return &countdown{Context: context.Background(), left: n, done: make(chan struct{})}
}

type countdown struct {
	context.Context // no deadline, no values
	mu              sync.Mutex
	left            int
	done            chan struct{}
}

func (c *countdown) Done() <-chan struct{} { return c.done }

func (c *countdown) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.left--
		return nil
	}
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	return context.Canceled
}

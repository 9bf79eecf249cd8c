package bolt

import (
	"context"
	"fmt"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// posts returns items g:<prefix><from>..g:<prefix><to-1>.
func posts(prefix string, from, to int) []crier.Item {
	var out []crier.Item
	for i := from; i < to; i++ {
		out = append(out, item(fmt.Sprintf("g:%s%d", prefix, i)))
	}
	return out
}

// One glitchy fetch (an empty channel, a truncated body that parsed to a
// few items) must not let Prune forget the items still on the feed: the
// next good fetch would announce every one of them again.
func TestShrunkFetchKeepsOldItemsProtected(t *testing.T) {
	t.Parallel()
	const retention = 90 * day
	for _, tc := range []struct {
		name   string
		glitch []crier.Item
	}{
		{"empty channel", nil},
		{"items without keys", []crier.Item{{Title: "no id"}}},
		{"truncated to 3 of 50", posts("p", 0, 3)},
		{"24 of 50", posts("p", 10, 34)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, clk := openTemp(t)
			feed := posts("p", 0, 50) // a slow blog: year-old posts stay on it
			if _, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, feed, nil); err != nil {
				t.Fatal(err)
			}
			clk.Advance(100 * day)
			if _, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, tc.glitch, nil); err != nil {
				t.Fatal(err)
			}
			removed, err := s.Prune(context.Background(), clk.Now().Add(-retention), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if removed != 0 {
				t.Errorf("prune after the glitch removed %d keys of items still on the feed, want 0", removed)
			}
			clk.Advance(6 * 3600e9)
			res, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, feed, toNotifier("po"))
			if err != nil {
				t.Fatal(err)
			}
			if res.New != 0 || res.Queued != 0 {
				t.Errorf("the good fetch after the glitch found %d new items (%d queued), want 0", res.New, res.Queued)
			}
		})
	}
}

// A feed that really shrinks for good (fewer than half its items) is held
// for shrinkHold; after that its dropped items become prunable like any
// other item that left the feed. A fetch of normal size ends the hold at
// once, and a later shrink starts a new one.
func TestLastingShrinkLetsOldKeysGo(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	ctx := context.Background()
	const retention = 90 * day
	ingest := func(items []crier.Item) crier.IngestResult {
		t.Helper()
		res, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, items, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	prune := func() int {
		t.Helper()
		n, err := s.Prune(ctx, clk.Now().Add(-retention), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ingest(posts("p", 0, 50))
	clk.Advance(100 * day)

	// A shrink, then the full feed again: the hold ends there.
	ingest(posts("p", 0, 10))
	clk.Advance(day)
	ingest(posts("p", 0, 50))
	// The feed now shrinks to 10 for good; the hold starts afresh here,
	// not at the first shrink a day ago.
	clk.Advance(day)
	start := clk.Now()
	ingest(posts("p", 0, 10))
	clk.Advance(shrinkHold - day)
	ingest(posts("p", 0, 10))
	if n := prune(); n != 0 {
		t.Fatalf("prune within the hold removed %d keys, want 0", n)
	}
	clk.Advance(start.Add(shrinkHold).Sub(clk.Now()))
	ingest(posts("p", 0, 10))
	if n := prune(); n != 40 {
		t.Errorf("prune after a shrink lasting %v removed %d keys, want the 40 that left the feed", shrinkHold, n)
	}
	want := map[string]bool{"g:p0": true, "g:p9": true, "g:p10": false, "g:p49": false}
	if got := seenAll(t, s, "f", "g:p0", "g:p9", "g:p10", "g:p49"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seen after the accepted shrink = %v, want %v", got, want)
	}
	if res := ingest(posts("p", 0, 10)); res.New != 0 {
		t.Errorf("%d new items on the shrunk feed, want 0", res.New)
	}
}

// While a shrink is held, the protected set is the last full fetch plus
// what the small fetches brought, so an item that appears and leaves
// during the hold is protected too.
func TestHeldSetIsUnionOfBoth(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	if _, err := s.Ingest("f", crier.FeedState{}, posts("p", 0, 20), nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		clk.Advance(day)
		if _, err := s.Ingest("f", crier.FeedState{}, posts("n", i, i+3), nil); err != nil {
			t.Fatal(err)
		}
	}
	var latest map[string]struct{}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		var ok bool
		latest, ok = decodeLatest(tx.Bucket(bLatest).Get([]byte("f")))
		if !ok {
			t.Error("latest set is malformed")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(latest) != 20+7 {
		t.Errorf("held set has %d keys, want 27 (20 of the full fetch, 7 from the small ones)", len(latest))
	}
	for _, k := range []string{"g:p0", "g:p19", "g:n0", "g:n6"} {
		if _, ok := latest[k]; !ok {
			t.Errorf("held set lacks %s", k)
		}
	}
}

// Half the stored set or more is a normal fetch: it replaces the set at
// once, so the items that left are prunable by the next Prune.
func TestHalfSizeFetchReplaces(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	if _, err := s.Ingest("f", crier.FeedState{}, posts("p", 0, 50), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * day)
	if _, err := s.Ingest("f", crier.FeedState{}, posts("p", 25, 50), nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(context.Background(), clk.Now().Add(-90*day), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 25 {
		t.Errorf("prune after a fetch of 25 of 50 removed %d keys, want 25", n)
	}
}

package bolt

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

func TestIngestMarksSeenAndQueuesTogether(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "crier.db")
	clk := newClock()
	s := openAt(t, path, clk)
	items := []crier.Item{item("g:1", "l:1"), item("g:2", "l:2")}
	res, err := s.Ingest("f", crier.FeedState{URL: "https://example.org/feed"}, items, toNotifier("po"))
	if err != nil {
		t.Fatal(err)
	}
	if res != (crier.IngestResult{Items: 2, New: 2, Queued: 2, FirstPoll: true}) {
		t.Fatalf("result = %+v", res)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, clk)
	pend, err := s.Pending("po")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := titles(pend), []string{"title of g:1", "title of g:2"}; !slices.Equal(got, want) {
		t.Errorf("queued after reopen = %q, want %q", got, want)
	}
	for _, e := range pend {
		if !e.Notification.QueuedAt.Equal(clk.Now()) || !e.Created.Equal(clk.Now()) {
			t.Errorf("entry %d: QueuedAt %v Created %v, want %v", e.ID, e.Notification.QueuedAt, e.Created, clk.Now())
		}
	}
	for _, k := range []string{"g:1", "l:1", "g:2", "l:2"} {
		if ok, err := s.Seen("f", k); err != nil || !ok {
			t.Errorf("Seen(%s) after reopen = %v, %v; want true", k, ok, err)
		}
	}
	st, ok, err := s.FeedState("f")
	if err != nil || !ok || !st.Seeded || st.URL != "https://example.org/feed" {
		t.Errorf("FeedState = %+v, %v, %v; want seeded state with URL", st, ok, err)
	}
}

// If queueing fails, nothing may be marked seen either: otherwise the items
// would never be announced.
func TestIngestFailedQueueMarksNothing(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	bad := func([]crier.NewItem, bool) []crier.Delivery {
		return []crier.Delivery{{Notifier: "", Notification: crier.Notification{Title: "x"}}}
	}
	if _, err := s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1")}, bad); err == nil {
		t.Fatal("Ingest with a delivery lacking a notifier succeeded")
	}
	if ok, _ := s.Seen("f", "g:1"); ok {
		t.Error("g:1 marked seen although its notification was not queued")
	}
	if _, ok, _ := s.FeedState("f"); ok {
		t.Error("state saved although the ingest failed")
	}
	if out, _ := s.Outbox(); len(out) != 0 {
		t.Errorf("outbox = %v, want empty", out)
	}
}

func TestIngestNewness(t *testing.T) {
	t.Parallel()
	type want struct {
		fresh     []string // IDs of new items, in order
		reposted  []string // IDs of new items flagged Reposted
		firstPoll bool
	}
	tests := []struct {
		name    string
		batches [][]crier.Item
		want    []want
	}{
		{
			name:    "same items twice: nothing new the second time",
			batches: [][]crier.Item{{item("g:1"), item("g:2")}, {item("g:1"), item("g:2")}},
			want:    []want{{fresh: []string{"g:1", "g:2"}, firstPoll: true}, {}},
		},
		{
			name:    "duplicate GUID inside one fetch counts once",
			batches: [][]crier.Item{{item("g:1", "l:a"), item("g:1", "l:b"), item("g:2")}},
			want:    []want{{fresh: []string{"g:1", "g:2"}, firstPoll: true}},
		},
		{
			name:    "shared link inside one fetch counts once",
			batches: [][]crier.Item{{item("g:1", "l:a"), item("g:2", "l:a")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}},
		},
		{
			name:    "GUID changed but link seen: not new",
			batches: [][]crier.Item{{item("g:1", "l:a")}, {item("g:1-v2", "l:a"), item("g:3", "l:c")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:3"}}},
		},
		{
			name:    "alt key seen before: new but reposted",
			batches: [][]crier.Item{{item("g:1", "l:a", "|", "t:x")}, {item("g:9", "l:z", "|", "t:x"), item("g:8", "|", "t:y")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:9", "g:8"}, reposted: []string{"g:9"}}},
		},
		{
			name:    "alt key only within this batch: not reposted, not old",
			batches: [][]crier.Item{{item("g:1", "|", "t:x"), item("g:2", "|", "t:x")}},
			want:    []want{{fresh: []string{"g:1", "g:2"}, firstPoll: true}},
		},
		{
			name:    "alt key alone never makes an item old",
			batches: [][]crier.Item{{item("g:1", "|", "t:x")}, {item("g:2", "|", "g:1")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:2"}, reposted: []string{"g:2"}}},
		},
		{
			name:    "items without keys are skipped",
			batches: [][]crier.Item{{{Title: "no keys", AltKeys: []string{"t:q"}}, item("g:1")}, {item("g:2", "|", "t:q")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:2"}}},
		},
		{
			name:    "empty fetch still seeds the feed",
			batches: [][]crier.Item{{}, {item("g:1")}},
			want:    []want{{firstPoll: true}, {fresh: []string{"g:1"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openTemp(t)
			for i, batch := range tt.batches {
				var got want
				var planned bool
				plan := func(fresh []crier.NewItem, firstPoll bool) []crier.Delivery {
					planned = true
					got.firstPoll = firstPoll
					for _, it := range fresh {
						got.fresh = append(got.fresh, it.ID())
						if it.Reposted {
							got.reposted = append(got.reposted, it.ID())
						}
					}
					return nil
				}
				res, err := s.Ingest("f", crier.FeedState{}, batch, plan)
				if err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				w := tt.want[i]
				if !planned || !slices.Equal(got.fresh, w.fresh) || !slices.Equal(got.reposted, w.reposted) || got.firstPoll != w.firstPoll {
					t.Errorf("batch %d: planned %v fresh %q reposted %q firstPoll %v; want fresh %q reposted %q firstPoll %v",
						i, planned, got.fresh, got.reposted, got.firstPoll, w.fresh, w.reposted, w.firstPoll)
				}
				if res.New != len(w.fresh) || res.FirstPoll != w.firstPoll || res.Queued != 0 {
					t.Errorf("batch %d: result %+v", i, res)
				}
			}
		})
	}
}

// A feed that failed before its first successful poll has a stored state
// but was never seeded: its first ingest is still the first poll.
func TestIngestFirstPollAfterFailures(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	if err := s.SaveFeedState("f", crier.FeedState{Failures: 3, LastError: "timeout"}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1")}, nil)
	if err != nil || !res.FirstPoll {
		t.Fatalf("first ingest after failures: %+v, %v; want FirstPoll", res, err)
	}
	res, err = s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:2")}, nil)
	if err != nil || res.FirstPoll || res.New != 1 {
		t.Fatalf("second ingest: %+v, %v; want one new item, not first poll", res, err)
	}
}

// Feeds are independent: the same key in two feeds is new in each.
func TestIngestFeedsAreSeparate(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	for _, feed := range []string{"a", "b"} {
		res, err := s.Ingest(feed, crier.FeedState{}, []crier.Item{item("g:1")}, nil)
		if err != nil || res.New != 1 {
			t.Fatalf("feed %s: %+v, %v; want one new item", feed, res, err)
		}
	}
	states, err := s.FeedStates()
	if err != nil || len(states) != 2 || !states["a"].Seeded || !states["b"].Seeded {
		t.Fatalf("FeedStates = %+v, %v", states, err)
	}
}

func BenchmarkIngest50(b *testing.B) {
	clk := newClock()
	s, err := Open(filepath.Join(b.TempDir(), "crier.db"), Options{Now: clk.Now, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	items := make([]crier.Item, 50)
	for i := range items {
		items[i] = item(fmt.Sprintf("g:https://example.org/posts/%d", i), fmt.Sprintf("l:https://example.org/posts/%d", i),
			"|", fmt.Sprintf("t:%016x", i))
	}
	plan := toNotifier("po")
	if _, err := s.Ingest("f", crier.FeedState{}, items, plan); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Hour)
		if _, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, items, plan); err != nil {
			b.Fatal(err)
		}
	}
}

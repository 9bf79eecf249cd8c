package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var ingestTests = []test{
	{"marks seen and queues together, across a restart", testIngestSurvivesRestart},
	{"a failing plan marks nothing seen and queues nothing", testIngestFailingPlan},
	{"newness", testIngestNewness},
	{"first poll after failures", testIngestFirstPollAfterFailures},
	{"feeds are separate", testIngestFeedsAreSeparate},
	{"SeenAt keeps the first sighting", testSeenAt},
}

func testIngestSurvivesRestart(t *testing.T, e *env) {
	items := []crier.Item{Item("g:1", "l:1"), Item("g:2", "l:2", "|", "t:2")}
	res := e.ingest("f", crier.FeedState{URL: "https://example.org/feed", ETag: `"v1"`}, items, ToNotifier("po"))
	if res != (crier.IngestResult{Items: 2, New: 2, Queued: 2, FirstPoll: true}) {
		t.Fatalf("result = %+v, want 2 items, 2 new, 2 queued, first poll", res)
	}
	e.restart()

	pend := e.pending("po")
	if got, want := Titles(pend), []string{"title of g:1", "title of g:2"}; !slices.Equal(got, want) {
		t.Errorf("queued after restart = %q, want %q", got, want)
	}
	for _, en := range pend {
		if !en.Notification.QueuedAt.Equal(Epoch) || !en.Created.Equal(Epoch) || en.Notifier != "po" {
			t.Errorf("entry %d: notifier %q QueuedAt %v Created %v, want po and %v", en.ID, en.Notifier,
				en.Notification.QueuedAt, en.Created, Epoch)
		}
	}
	want := map[string]bool{"g:1": true, "l:1": true, "g:2": true, "l:2": true, "t:2": true}
	if got := e.seen("f", "g:1", "l:1", "g:2", "l:2", "t:2"); !maps.Equal(got, want) {
		t.Errorf("seen after restart = %v, want every key and alt key", got)
	}
	st, ok, err := e.s.FeedState("f")
	if err != nil || !ok || !st.Seeded || st.URL != "https://example.org/feed" || st.ETag != `"v1"` {
		t.Errorf("FeedState = %+v, %v, %v; want the saved state, seeded", st, ok, err)
	}
	// The same fetch again is old news.
	if res := e.ingest("f", crier.FeedState{}, items, ToNotifier("po")); res.New != 0 || res.Queued != 0 || res.FirstPoll {
		t.Errorf("same fetch after restart: %+v, want nothing new", res)
	}
}

// If queueing (or the plan) fails, nothing may be marked seen either:
// otherwise those items would never be announced.
func testIngestFailingPlan(t *testing.T, e *env) {
	seeded := crier.FeedState{URL: "u", ETag: `"old"`}
	e.ingest("f", seeded, []crier.Item{Item("g:0")}, nil)
	fresh := []crier.Item{Item("g:1", "|", "t:1"), Item("g:2")}
	errPlan := errors.New("clustering broke")

	for _, tc := range []struct {
		name    string
		ingest  func() error
		wantErr error // nil: any
	}{
		{"a delivery naming no notifier", func() error {
			_, err := e.s.Ingest("f", crier.FeedState{URL: "u", ETag: `"new"`}, fresh, func(n []crier.NewItem, first bool) []crier.Delivery {
				ds := ToNotifier("po")(n, first)
				return append(ds, crier.Delivery{Notification: crier.Notification{Title: "nobody's"}})
			})
			return err
		}, nil},
		{"IngestStories' plan failing after it wrote a story", func() error {
			_, err := e.s.IngestStories("f", crier.FeedState{URL: "u", ETag: `"new"`}, fresh, time.Hour,
				func(n []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
					for _, it := range n {
						if err := stx.Put(&crier.Story{Title: it.Title, First: Epoch, Keys: it.Keys}); err != nil {
							return nil, err
						}
					}
					return []crier.Delivery{Delivery("po", "x")}, errPlan
				})
			return err
		}, errPlan},
	} {
		if err := tc.ingest(); err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Fatalf("%s: Ingest = %v, want an error (wrapping %v)", tc.name, err, tc.wantErr)
		}
		if got := e.seen("f", "g:1", "t:1", "g:2"); got["g:1"] || got["t:1"] || got["g:2"] {
			t.Errorf("%s: seen %v, want none: their notifications were not queued", tc.name, got)
		}
		if out := e.outbox(); len(out) != 0 {
			t.Errorf("%s: outbox = %q, want empty", tc.name, Titles(out))
		}
		if st, _, _ := e.s.FeedState("f"); st.ETag != `"old"` {
			t.Errorf("%s: state saved (ETag %s) although the ingest failed", tc.name, st.ETag)
		}
		if _, ok, _ := e.s.StoryByKey("g:1"); ok {
			t.Errorf("%s: the failed plan's story was kept", tc.name)
		}
		if n := e.today().New["f"]; n != 0 {
			t.Errorf("%s: %d new items counted for today, want 0", tc.name, n)
		}
	}

	// The poller retries at the next poll: the items are still news.
	res := e.ingest("f", crier.FeedState{URL: "u", ETag: `"new"`}, fresh, ToNotifier("po"))
	if res.New != 2 || res.Queued != 2 || res.FirstPoll {
		t.Errorf("retried ingest: %+v, want both items new and queued", res)
	}
	if n := e.today().New["f"]; n != 2 {
		t.Errorf("%d new items counted for today after the retry, want 2", n)
	}
}

func testIngestNewness(t *testing.T, e *env) {
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
			batches: [][]crier.Item{{Item("g:1"), Item("g:2")}, {Item("g:1"), Item("g:2")}},
			want:    []want{{fresh: []string{"g:1", "g:2"}, firstPoll: true}, {}},
		},
		{
			name:    "duplicate GUID inside one fetch counts once",
			batches: [][]crier.Item{{Item("g:1", "l:a"), Item("g:1", "l:b"), Item("g:2")}},
			want:    []want{{fresh: []string{"g:1", "g:2"}, firstPoll: true}},
		},
		{
			name:    "shared link inside one fetch counts once",
			batches: [][]crier.Item{{Item("g:1", "l:a"), Item("g:2", "l:a")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}},
		},
		{
			name:    "GUID changed but link seen: not new",
			batches: [][]crier.Item{{Item("g:1", "l:a")}, {Item("g:1-v2", "l:a"), Item("g:3", "l:c")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:3"}}},
		},
		{
			name:    "alt key seen before: new but reposted",
			batches: [][]crier.Item{{Item("g:1", "l:a", "|", "t:x")}, {Item("g:9", "l:z", "|", "t:x"), Item("g:8", "|", "t:y")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:9", "g:8"}, reposted: []string{"g:9"}}},
		},
		{
			name:    "alt key only within this batch: not reposted, not old",
			batches: [][]crier.Item{{Item("g:1", "|", "t:x"), Item("g:2", "|", "t:x")}},
			want:    []want{{fresh: []string{"g:1", "g:2"}, firstPoll: true}},
		},
		{
			name:    "alt key alone never makes an item old",
			batches: [][]crier.Item{{Item("g:1", "|", "t:x")}, {Item("g:2", "|", "g:1")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:2"}, reposted: []string{"g:2"}}},
		},
		{
			name:    "items without keys are skipped, their alt keys too",
			batches: [][]crier.Item{{{Title: "no keys", AltKeys: []string{"t:q"}}, Item("g:1")}, {Item("g:2", "|", "t:q")}},
			want:    []want{{fresh: []string{"g:1"}, firstPoll: true}, {fresh: []string{"g:2"}}},
		},
		{
			name:    "an empty fetch still seeds the feed",
			batches: [][]crier.Item{{}, {Item("g:1")}},
			want:    []want{{firstPoll: true}, {fresh: []string{"g:1"}}},
		},
	}
	for i, tt := range tests {
		feed := fmt.Sprint("f", i) // one store, a feed per case
		for b, batch := range tt.batches {
			var got want
			var planned bool
			plan := func(fresh []crier.NewItem, firstPoll bool) []crier.Delivery {
				got, planned = want{firstPoll: firstPoll}, true // a plan may run more than once
				for _, it := range fresh {
					got.fresh = append(got.fresh, it.ID())
					if it.Reposted {
						got.reposted = append(got.reposted, it.ID())
					}
				}
				return nil
			}
			res := e.ingest(feed, crier.FeedState{}, batch, plan)
			w := tt.want[b]
			if !planned || !slices.Equal(got.fresh, w.fresh) || !slices.Equal(got.reposted, w.reposted) || got.firstPoll != w.firstPoll {
				t.Errorf("%s, batch %d: planned %v fresh %q reposted %q firstPoll %v; want fresh %q reposted %q firstPoll %v",
					tt.name, b, planned, got.fresh, got.reposted, got.firstPoll, w.fresh, w.reposted, w.firstPoll)
			}
			keyed := 0
			for _, it := range batch {
				if len(it.Keys) > 0 {
					keyed++
				}
			}
			if res != (crier.IngestResult{Items: keyed, New: len(w.fresh), FirstPoll: w.firstPoll}) {
				t.Errorf("%s, batch %d: result %+v", tt.name, b, res)
			}
		}
	}
}

// A feed that failed before its first successful poll has a stored state
// but was never seeded: its first ingest is still the first poll, and a
// seeding poll's backlog is not counted as news of the day.
func testIngestFirstPollAfterFailures(t *testing.T, e *env) {
	if err := e.s.SaveFeedState("f", crier.FeedState{Failures: 3, LastError: "timeout"}); err != nil {
		t.Fatal(err)
	}
	if res := e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:1"), Item("g:2")}, nil); !res.FirstPoll || res.New != 2 {
		t.Fatalf("first ingest after failures: %+v; want a first poll with 2 new", res)
	}
	if n := e.today().New["f"]; n != 0 {
		t.Errorf("the seeding poll counted %d new items, want 0", n)
	}
	if res := e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:3")}, nil); res.FirstPoll || res.New != 1 {
		t.Fatalf("second ingest: %+v; want one new item, not a first poll", res)
	}
	if n := e.today().New["f"]; n != 1 {
		t.Errorf("%d new items counted for today, want 1", n)
	}
}

// The same key in two feeds is new in each.
func testIngestFeedsAreSeparate(t *testing.T, e *env) {
	for _, feed := range []string{"a", "b"} {
		if res := e.ingest(feed, crier.FeedState{URL: feed}, []crier.Item{Item("g:1")}, nil); res.New != 1 {
			t.Fatalf("feed %s: %+v; want one new item", feed, res)
		}
	}
	states, err := e.s.FeedStates()
	if err != nil || len(states) != 2 || !states["a"].Seeded || states["b"].URL != "b" {
		t.Fatalf("FeedStates = %+v, %v; want a and b, seeded", states, err)
	}
	if got := e.seen("c", "g:1"); got["g:1"] {
		t.Error("a feed never ingested has seen g:1")
	}
}

func testSeenAt(t *testing.T, e *env) {
	e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:1")}, nil)
	e.clk.Advance(time.Hour)
	e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:1"), Item("g:2")}, nil)
	for _, tc := range []struct {
		key  string
		at   time.Time
		seen bool
	}{
		{"g:1", Epoch, true}, // seen again, first seen stays
		{"g:2", Epoch.Add(time.Hour), true},
		{"g:3", time.Time{}, false},
	} {
		at, ok, err := e.s.SeenAt("f", tc.key)
		if err != nil || ok != tc.seen || !at.Equal(tc.at) {
			t.Errorf("SeenAt(f, %s) = %v, %v, %v; want %v, %v", tc.key, at, ok, err, tc.at, tc.seen)
		}
	}
	if _, ok, err := e.s.SeenAt("other", "g:1"); ok || err != nil {
		t.Errorf("SeenAt in a feed never ingested = %v, %v; want not seen", ok, err)
	}
}

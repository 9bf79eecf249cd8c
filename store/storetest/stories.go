package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var storyTests = []test{
	{"stories are indexed in the ingest and found by key", testStoriesIndexed},
	{"stories leave after the window", testStoriesWindow},
}

// report is what a same_story plan does with each fresh item: join the
// story its link was indexed for, or start one.
func report(e *env, feed string, items []crier.Item, window time.Duration) (crier.IngestResult, error) {
	return e.s.IngestStories(feed, crier.FeedState{}, items, window,
		func(fresh []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
			var ds []crier.Delivery
			for _, it := range fresh {
				src := crier.StorySource{Feed: feed, Title: it.Title, Link: it.Link, At: e.clk.Now()}
				st, ok, err := stx.ByKey(it.Keys[0])
				if err != nil {
					return nil, err
				}
				if ok {
					src.Match = "link"
				} else {
					st = crier.Story{Title: it.Title, Link: it.Link, First: e.clk.Now(), Keys: it.Keys,
						Bands: []uint64{7, 1<<64 - 1}, Features: []string{"a", "b", "c"}}
				}
				st.AddSource(src)
				if err := stx.Put(&st); err != nil {
					return nil, err
				}
				ds = append(ds, crier.Delivery{Notifier: "po", Notification: crier.Notification{
					Kind: crier.KindItem, Feed: feed, ItemID: it.ID(), Title: it.Title, Story: st.IDString()}})
			}
			return ds, nil
		})
}

func testStoriesIndexed(t *testing.T, e *env) {
	link := "l:https://x.example/a"
	if _, err := report(e, "A", []crier.Item{Item(link, "g:a1")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	if _, err := report(e, "B", []crier.Item{Item(link, "g:b1")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	if _, err := report(e, "A", []crier.Item{Item(link+"?again", "g:a1")}, time.Hour); err != nil {
		t.Fatal(err) // not new in A: no third report
	}
	e.restart()

	st, ok, err := e.s.StoryByKey(link)
	if err != nil || !ok {
		t.Fatalf("StoryByKey(%s) = %v, %v; want the story", link, ok, err)
	}
	if st.ID == 0 || st.Title != "title of "+link || !st.First.Equal(Epoch) || len(st.Sources) != 2 ||
		st.Sources[0].Feed != "A" || st.Sources[1].Feed != "B" || st.Sources[1].Match != "link" {
		t.Errorf("story = %+v; want the first report's title and time, sources A then B (by link)", st)
	}
	if other, ok, _ := e.s.StoryByKey("g:b1"); ok && other.ID != st.ID {
		t.Errorf("g:b1 finds story %d, want none or %d", other.ID, st.ID)
	}
	if got := e.s.StorySources(st.IDString()); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("StorySources(%s) = %q, want [A B]", st.IDString(), got)
	}
	for _, id := range []string{"s999", "x", ""} {
		if got := e.s.StorySources(id); len(got) != 0 {
			t.Errorf("StorySources(%q) = %q, want none", id, got)
		}
	}
	// The deliveries carry the story, and the index is readable within
	// the next ingest's transaction.
	for _, en := range e.outbox() {
		if en.Notification.Story != st.IDString() {
			t.Errorf("entry %q names story %q, want %s", en.Notification.Title, en.Notification.Story, st.IDString())
		}
	}
	_, err = e.s.IngestStories("probe", crier.FeedState{}, nil, time.Hour,
		func(_ []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
			got, ok, err := stx.Story(st.ID)
			if err != nil || !ok || len(got.Sources) != 2 || !slices.Equal(got.Bands, []uint64{7, 1<<64 - 1}) ||
				!slices.Equal(got.Features, []string{"a", "b", "c"}) {
				t.Errorf("Story(%d) in an ingest = %+v, %v, %v; want it with its bands and features", st.ID, got, ok, err)
			}
			cs, err := stx.Candidates([]uint64{1<<64 - 1}, 4, 32)
			if err != nil || len(cs) != 1 || cs[0].ID != st.ID || !slices.Equal(cs[0].Feeds, []string{"A", "B"}) {
				t.Errorf("Candidates = %+v, %v; want the story, reported by A and B", cs, err)
			}
			return nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// Stories are bounded by the window: an ingest drops the stories first
// reported longer ago, and their keys and bands find nothing any more.
func testStoriesWindow(t *testing.T, e *env) {
	old, young := "l:https://x.example/old", "l:https://x.example/new"
	if _, err := report(e, "a", []crier.Item{Item(old)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Minute)
	if _, err := report(e, "b", []crier.Item{Item(young)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(45 * time.Minute) // the old story is 75 minutes old
	var candidates []uint64
	_, err := e.s.IngestStories("probe", crier.FeedState{}, nil, time.Hour,
		func(_ []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
			cs, err := stx.Candidates([]uint64{7}, 4, 32)
			candidates = nil
			for _, c := range cs {
				candidates = append(candidates, c.ID)
			}
			return nil, err
		})
	if err != nil {
		t.Fatal(err)
	}
	st, ok, err := e.s.StoryByKey(young)
	if err != nil || !ok {
		t.Fatalf("the story inside the window is gone: %v, %v", ok, err)
	}
	if !slices.Equal(candidates, []uint64{st.ID}) {
		t.Errorf("candidates after the window = %v, want only the young story %d", candidates, st.ID)
	}
	if _, ok, _ := e.s.StoryByKey(old); ok {
		t.Error("the old story's link still finds it after the window")
	}
	if got := e.s.StorySources(st.IDString()); !slices.Equal(got, []string{"b"}) {
		t.Errorf("sources of the young story = %q, want [b]", got)
	}
}

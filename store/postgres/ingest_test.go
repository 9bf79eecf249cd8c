package postgres

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

func TestIngestFindsNewItemsAndQueuesThem(t *testing.T) {
	s, clk := openTemp(t)
	res := must(s.Ingest("f", crier.FeedState{URL: "u"}, []crier.Item{item("g:1", "l:1"), item("g:2")}, toNotifier("po")))(t)
	if !res.FirstPoll || res.New != 2 || res.Items != 2 || res.Queued != 2 {
		t.Fatalf("first ingest = %+v, want first poll, 2 new, 2 queued", res)
	}
	clk.Advance(time.Hour)
	// g:3 is new; "l:1" makes the second item old though its GUID is new;
	// an item without keys is skipped; a duplicate in the batch counts once.
	items := []crier.Item{item("g:3"), item("g:9", "l:1"), {Title: "no keys"}, item("g:3")}
	res = must(s.Ingest("f", crier.FeedState{URL: "u"}, items, toNotifier("po")))(t)
	if res.FirstPoll || res.New != 1 || res.Items != 3 || res.Queued != 1 {
		t.Fatalf("second ingest = %+v, want 1 new of 3 items", res)
	}
	got := titles(must(s.Pending("po"))(t))
	if want := []string{"title of g:1", "title of g:2", "title of g:3"}; !slices.Equal(got, want) {
		t.Errorf("outbox = %q, want %q", got, want)
	}
	st, ok, err := s.FeedState("f")
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !st.Seeded || st.URL != "u" {
		t.Errorf("state = %+v, %v; want seeded with the URL", st, ok)
	}
	var at time.Time
	at, ok, err = s.SeenAt("f", "g:9")
	if err != nil || !ok || !at.Equal(clk.Now()) {
		t.Errorf("SeenAt(g:9) = %v, %v, %v; want %v", at, ok, err, clk.Now())
	}
	if ok, _ := s.Seen("other", "g:1"); ok {
		t.Error("a key seen in one feed counts as seen in another")
	}
}

func TestIngestRepostedByAltKey(t *testing.T) {
	s, _ := openTemp(t)
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1", "|", "t:x")}, nil))(t)
	var fresh []crier.NewItem
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:2", "|", "t:x"), item("g:3", "|", "t:y")},
		func(f []crier.NewItem, _ bool) []crier.Delivery { fresh = f; return nil }))(t)
	if len(fresh) != 2 || !fresh[0].Reposted || fresh[1].Reposted {
		t.Fatalf("fresh = %+v, want g:2 reposted, g:3 not", fresh)
	}
}

// A plan that fails, or a delivery that cannot be queued, leaves nothing
// seen and nothing queued: the next poll finds the items new again.
func TestIngestIsOneTransaction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ingest func(s *Store) error
	}{
		{"plan error", func(s *Store) error {
			_, err := s.IngestStories("f", crier.FeedState{}, []crier.Item{item("g:1")}, time.Hour,
				func([]crier.NewItem, bool, crier.StoryIndex) ([]crier.Delivery, error) {
					return nil, errors.New("boom")
				})
			return err
		}},
		{"delivery without notifier", func(s *Store) error {
			_, err := s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1")}, toNotifier(""))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			if err := tc.ingest(s); err == nil {
				t.Fatal("ingest succeeded")
			}
			if seen, _ := s.Seen("f", "g:1"); seen {
				t.Error("the item was marked seen")
			}
			if out := must(s.Outbox())(t); len(out) != 0 {
				t.Errorf("outbox = %q, want empty", titles(out))
			}
			if _, ok, _ := s.FeedState("f"); ok {
				t.Error("the feed state was saved")
			}
			res := must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1")}, toNotifier("po")))(t)
			if res.New != 1 || res.Queued != 1 {
				t.Errorf("retry = %+v, want the item new and queued", res)
			}
		})
	}
}

// Two workers ingesting the same feed at once queue each item once.
func TestConcurrentIngestOfOneFeedQueuesOnce(t *testing.T) {
	s, clk := openTemp(t)
	other := openDSN(t, s.cfg.ConnString(), clk)
	const rounds = 20
	var wg sync.WaitGroup
	for _, st := range []*Store{s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				items := []crier.Item{item(fmt.Sprintf("g:%d", i)), item(fmt.Sprintf("g:%d", i+1))}
				if _, err := st.Ingest("f", crier.FeedState{}, items, toNotifier("po")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := titles(must(s.Outbox())(t))
	if len(got) != rounds+1 {
		t.Fatalf("queued %d entries, want %d: %q", len(got), rounds+1, got)
	}
	slices.Sort(got)
	if len(slices.Compact(got)) != rounds+1 {
		t.Errorf("an item was queued twice: %q", got)
	}
}

func BenchmarkIngest50(b *testing.B) {
	s, clk := openTemp(b)
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

// BenchmarkIngest50Churn is a poll that brings 2 new items of 50 and
// queues their notifications: a churning feed's cost.
func BenchmarkIngest50Churn(b *testing.B) {
	s, clk := openTemp(b)
	plan := toNotifier("po")
	n := 0
	batch := func() []crier.Item {
		items := make([]crier.Item, 50)
		for i := range items {
			k := n - i
			items[i] = item(fmt.Sprintf("g:https://example.org/posts/%d", k), fmt.Sprintf("l:https://example.org/posts/%d", k),
				"|", fmt.Sprintf("t:%016x", k))
		}
		n += 2
		return items
	}
	if _, err := s.Ingest("f", crier.FeedState{}, batch(), plan); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Hour)
		res, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, batch(), plan)
		if err != nil || res.Queued != 2 {
			b.Fatalf("ingest = %+v, %v; want 2 queued", res, err)
		}
	}
}

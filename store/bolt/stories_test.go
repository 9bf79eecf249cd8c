package bolt

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// Stories are bounded by the window: once older than it, a story goes with
// its link keys, bands and features, and the state file does not grow
// with every story ever seen.
func TestStoriesPrunedAfterWindow(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"), clk)
	bands := []uint64{7, 1<<64 - 1}
	put := func(feed, link string) {
		t.Helper()
		items := []crier.Item{{Keys: []string{"l:" + link}, Title: link}}
		_, err := s.IngestStories(feed, crier.FeedState{}, items, time.Hour,
			func(fresh []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
				for _, it := range fresh {
					st := &crier.Story{Title: it.Title, First: clk.Now(), Keys: it.Keys, Bands: bands, Features: []string{"a", "b", "c"},
						Sources: []crier.StorySource{{Feed: feed, Title: it.Title, At: clk.Now()}}}
					if err := stx.Put(st); err != nil {
						return nil, err
					}
				}
				return nil, nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	candidates := func() int {
		t.Helper()
		var n int
		_, err := s.IngestStories("probe", crier.FeedState{}, nil, time.Hour,
			func(_ []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
				cs, err := stx.Candidates(bands, 4, 32)
				n = len(cs)
				return nil, err
			})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	put("a", "https://x.example/old")
	clk.Advance(30 * time.Minute)
	put("b", "https://x.example/new")
	if n := candidates(); n != 2 {
		t.Fatalf("inside the window: %d candidates, want 2", n)
	}
	clk.Advance(45 * time.Minute) // the old story is 75 minutes old
	if n := candidates(); n != 1 {
		t.Errorf("after the window: %d candidates, want the new story only", n)
	}
	if _, ok, _ := s.StoryByKey("l:https://x.example/old"); ok {
		t.Error("the old story's link still finds it")
	}
	if _, ok, _ := s.StoryByKey("l:https://x.example/new"); !ok {
		t.Error("the new story was dropped with the old")
	}
	if got := s.StorySources("s2"); len(got) != 1 || got[0] != "b" {
		t.Errorf("sources of the new story: %q", got)
	}
}

// A story that cannot be read names no sources, and says why in the log
// rather than vanish from the digest without a trace.
func TestStorySourcesLogsUnreadableStory(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	s, err := Open(filepath.Join(t.TempDir(), "state.db"),
		Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bStories)
		if err != nil {
			return err
		}
		return b.Put(u64(1), []byte("{"))
	}); err != nil {
		t.Fatal(err)
	}
	if got := s.StorySources("s1"); got != nil {
		t.Errorf("sources of an unreadable story: %q", got)
	}
	if !strings.Contains(logged.String(), "decode story 1") {
		t.Errorf("log %q does not say which story could not be read", logged.String())
	}
}

package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// clusterByLink is a minimal same_story plan: an item whose link key is
// indexed joins that story, else it starts one; bands make it a candidate.
func clusterByLink(feed string, bands []uint64, got *[]crier.Candidate) func([]crier.NewItem, bool, crier.StoryIndex) ([]crier.Delivery, error) {
	return func(fresh []crier.NewItem, _ bool, idx crier.StoryIndex) ([]crier.Delivery, error) {
		for _, it := range fresh {
			if got != nil {
				c, err := idx.Candidates(bands, 4, 10)
				if err != nil {
					return nil, err
				}
				*got = c
			}
			st, ok, err := idx.ByKey(it.Keys[len(it.Keys)-1])
			if err != nil {
				return nil, err
			}
			if !ok {
				st = crier.Story{Title: it.Title, First: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
					Keys: it.Keys, Features: []string{"ab", "cd"}, Bands: bands}
			}
			st.AddSource(crier.StorySource{Feed: feed, Title: it.Title})
			if err := idx.Put(&st); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
}

func TestStoriesAcrossFeedsAndWindow(t *testing.T) {
	s, clk := openTemp(t)
	must(s.IngestStories("a", crier.FeedState{}, []crier.Item{item("g:a1", "l:x")}, time.Hour, clusterByLink("a", []uint64{7, 1 << 63}, nil)))(t)
	var cands []crier.Candidate
	must(s.IngestStories("b", crier.FeedState{}, []crier.Item{item("g:b1", "l:x")}, time.Hour, clusterByLink("b", []uint64{1 << 63}, &cands)))(t)
	if len(cands) != 1 || !slices.Equal(cands[0].Features, []string{"ab", "cd"}) || !slices.Equal(cands[0].Feeds, []string{"a"}) {
		t.Errorf("candidates = %+v, want the story of a by its band", cands)
	}
	st, ok, err := s.StoryByKey("l:x")
	if err != nil || !ok {
		t.Fatalf("StoryByKey = %v, %v", ok, err)
	}
	if len(st.Sources) != 2 || !slices.Equal(st.Bands, []uint64{7, 1 << 63}) || st.IDString() != "s1" {
		t.Errorf("story = %+v, want s1 with two sources and its first bands", st)
	}
	if got := s.StorySources("s1"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("StorySources = %q", got)
	}

	// Past the window, the next ingest with news drops the story.
	clk.Advance(2 * time.Hour)
	must(s.IngestStories("c", crier.FeedState{}, []crier.Item{item("g:c1", "l:y")}, time.Hour, clusterByLink("c", nil, nil)))(t)
	if _, ok, _ := s.StoryByKey("l:x"); ok {
		t.Error("a story older than the window is still indexed")
	}
	if got := s.StorySources("s1"); got != nil {
		t.Errorf("sources of a dropped story = %q", got)
	}
}

// An ingest without news drops expired stories too, as bbolt's does.
func TestQuietIngestDropsExpiredStories(t *testing.T) {
	s, clk := openTemp(t)
	must(s.IngestStories("a", crier.FeedState{}, []crier.Item{item("g:a1", "l:x")}, time.Hour, clusterByLink("a", nil, nil)))(t)
	clk.Advance(2 * time.Hour)
	must(s.IngestStories("a", crier.FeedState{}, []crier.Item{item("g:a1", "l:x")}, time.Hour, clusterByLink("a", nil, nil)))(t)
	if _, ok, _ := s.StoryByKey("l:x"); ok {
		t.Error("a story older than the window survived an ingest")
	}
}

package feeds

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// fullDiskStore fails every write while full is set, as a full disk does.
type fullDiskStore struct {
	*bolt.Store
	full atomic.Bool
}

var errDiskFull = errors.New("write state.db: no space left on device")

func (f *fullDiskStore) Ingest(feedID string, st crier.FeedState, items []crier.Item,
	plan func([]crier.NewItem, bool) []crier.Delivery) (crier.IngestResult, error) {
	if f.full.Load() {
		return crier.IngestResult{}, errDiskFull
	}
	return f.Store.Ingest(feedID, st, items, plan)
}

func (f *fullDiskStore) IngestStories(feedID string, st crier.FeedState, items []crier.Item, window time.Duration,
	plan func([]crier.NewItem, bool, crier.StoryIndex) ([]crier.Delivery, error)) (crier.IngestResult, error) {
	if f.full.Load() {
		return crier.IngestResult{}, errDiskFull
	}
	return f.Store.IngestStories(feedID, st, items, window, plan)
}

func (f *fullDiskStore) SaveFeedState(feedID string, st crier.FeedState) error {
	if f.full.Load() {
		return errDiskFull
	}
	return f.Store.SaveFeedState(feedID, st)
}

// A full disk is one ERROR per episode, not a warning per poll; polls
// pause while the state file cannot be written (their results could not be
// recorded), probing it ever more rarely; the first write that works
// again says so.
func TestPollFullDiskEpisode(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	disk := &fullDiskStore{Store: e.store}
	e.p = NewPoller(NewFetcher(nil, FetchOptions{}), disk, e.p.opt)
	srv := newPLServer(t, plServe(plRSS(1, 3, "")))
	feeds := []crier.Feed{plFeed("a", srv.URL+"/a"), plFeed("b", srv.URL+"/b"), plFeed("c", srv.URL+"/c")}

	disk.full.Store(true)
	var fetched int
	for range 60 { // ten minutes of polls every ten seconds
		for _, f := range feeds {
			_, hit, err := e.poll(t, srv, f, false)
			if hit {
				fetched++
				if err == nil {
					t.Fatalf("feed %s: a poll whose results were lost reported no error", f.Name)
				}
			}
		}
		e.clock.Add(10 * time.Second)
	}
	log := e.log.String()
	if n := strings.Count(log, "level=ERROR"); n != 1 || !strings.Contains(log, "no space left on device") {
		t.Fatalf("%d ERROR lines in a full-disk episode, want 1 naming the cause:\n%s", n, log)
	}
	if n := strings.Count(log, "level=WARN"); n != 0 {
		t.Fatalf("%d WARN lines for a full disk, want none:\n%s", n, log)
	}
	if fetched > 10 {
		t.Fatalf("%d fetches in ten minutes of full disk; want polls paused, probing rarely", fetched)
	}
	for _, f := range feeds {
		if st := e.state(t, f); st.Failures != 0 {
			t.Errorf("feed %s: %d failures recorded; the disk failed, not the feed", f.Name, st.Failures)
		}
	}

	disk.full.Store(false)
	e.clock.Add(10 * time.Minute)
	for _, f := range feeds {
		if res, _, err := e.poll(t, srv, f, false); err != nil || res.Skipped != "" {
			t.Fatalf("feed %s after the disk recovered: %+v, %v", f.Name, res, err)
		}
	}
	if n := e.log.Count("store writable again"); n != 1 {
		t.Fatalf("recovery logged %d times, want once:\n%s", n, e.log.String())
	}

	// A new episode is reported again.
	disk.full.Store(true)
	e.clock.Add(10 * time.Minute)
	_, _, _ = e.poll(t, srv, feeds[0], false)
	if n := e.log.Count("level=ERROR"); n != 2 {
		t.Fatalf("second episode: %d ERROR lines in all, want 2", n)
	}
}

package feeds

import (
	"testing"

	"github.com/crierd/crier"
)

// TestPollPaused: a paused feed makes no scheduled request until resumed;
// a poll-now (force) still fetches it.
func TestPollPaused(t *testing.T) {
	t.Parallel()
	var e *plEnv
	e = newPLEnv(t, FetchOptions{}, func(o *PollerOptions) {
		o.Paused = func(f crier.Feed) bool {
			paused, err := e.store.IsPaused(f.FeedID())
			if err != nil {
				t.Error(err)
			}
			return paused
		}
	})
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("news", srv.URL+"/feed")
	if _, err := e.store.Pause(f.FeedID()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		force       bool
		resume      bool
		wantHit     bool
		wantSkipped string
	}{
		{"scheduled while paused", false, false, false, "paused"},
		{"poll now while paused", true, false, true, ""},
		{"scheduled after resume", false, true, true, ""},
	} {
		if tc.resume {
			if _, err := e.store.Resume(f.FeedID()); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Add(plInterval)
		res, hit, err := e.poll(t, srv, f, tc.force)
		if err != nil || hit != tc.wantHit || res.Skipped != tc.wantSkipped {
			t.Errorf("%s: hit %v skipped %q err %v; want hit %v skipped %q", tc.name, hit, res.Skipped, err, tc.wantHit, tc.wantSkipped)
		}
	}
}

package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// TestPauseSurvivesReopen: a paused feed stays paused across a restart,
// pausing twice keeps the first time, and resume forgets it.
func TestPauseSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crier.db")
	clk := newClock()
	s := openAt(t, path, clk)
	since, err := s.Pause("f1")
	if err != nil || !since.Equal(clk.Now()) {
		t.Fatalf("Pause: %v %v", since, err)
	}
	clk.Advance(time.Hour)
	if again, err := s.Pause("f1"); err != nil || !again.Equal(since) {
		t.Errorf("second Pause: since %v (%v), want the first %v", again, err, since)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, clk)
	for _, tc := range []struct {
		feed string
		want bool
	}{{"f1", true}, {"f2", false}} {
		if got, err := s.IsPaused(tc.feed); err != nil || got != tc.want {
			t.Errorf("IsPaused(%s) = %v, %v; want %v", tc.feed, got, err, tc.want)
		}
	}
	all, err := s.Paused()
	if err != nil || len(all) != 1 || !all["f1"].Equal(since) {
		t.Errorf("Paused() = %v, %v", all, err)
	}
	if was, err := s.Resume("f1"); err != nil || !was {
		t.Errorf("Resume(f1) = %v, %v; want true", was, err)
	}
	if was, err := s.Resume("f1"); err != nil || was {
		t.Errorf("second Resume(f1) = %v, %v; want false", was, err)
	}
	if got, _ := s.IsPaused("f1"); got {
		t.Error("f1 still paused after Resume")
	}
}

// A paused feed that Prune forgets (gone from the config, not polled within
// retention) leaves no pause behind: were it configured again, it would
// not come back silently paused, and the bucket does not grow with every
// feed ever paused.
func TestPruneForgetsPause(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openAt(t, filepath.Join(t.TempDir(), "crier.db"), clk)
	defer s.Close()
	for _, f := range []string{"kept", "gone"} {
		if _, err := s.Ingest(f, crier.FeedState{LastPoll: clk.Now()}, []crier.Item{item("g:1")}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pause(f); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(100 * day)
	if _, err := s.Prune(context.Background(), clk.Now().Add(-90*day), map[string]bool{"kept": true}, 0); err != nil {
		t.Fatal(err)
	}
	all, err := s.Paused()
	if err != nil || len(all) != 1 || all["kept"].IsZero() {
		t.Errorf("Paused() after Prune = %v, %v; want only kept", all, err)
	}
}

package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// TestDaysCountsNewSentAndPolls: the daily counters the status page charts
// come from the writes that already happen (ingest, delivery), survive a
// reopen, and fill days without activity with zeros.
func TestDaysCountsNewSentAndPolls(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crier.db")
	clk := newClock()
	s := openAt(t, path, clk)

	// The first poll seeds: its backlog is not news.
	if _, err := s.Ingest("f1", crier.FeedState{}, []crier.Item{item("a"), item("b")}, toNotifier("phone")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest("f1", crier.FeedState{}, []crier.Item{item("a"), item("b"), item("c"), item("d")}, toNotifier("phone")); err != nil {
		t.Fatal(err)
	}
	s.RecordPoll(2*time.Second, false)
	s.RecordPoll(4*time.Second, true)
	clk.Advance(24 * time.Hour)
	if _, err := s.Ingest("f1", crier.FeedState{}, []crier.Item{item("c"), item("d"), item("e")}, toNotifier("phone")); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := s.Done(e.Notifier, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	s.RecordPoll(time.Second, false)
	check := func(s *Store) {
		t.Helper()
		days, err := s.Days(3)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 3 {
			t.Fatalf("%d days, want 3", len(days))
		}
		want := []struct {
			date               string
			newF1, sent        int
			polls, failures    int
			pollTime, pollSlow time.Duration
		}{
			{"2024-12-31", 0, 0, 0, 0, 0, 0},
			{"2025-01-01", 2, 0, 2, 1, 6 * time.Second, 4 * time.Second},
			{"2025-01-02", 1, 5, 1, 0, time.Second, time.Second},
		}
		for i, w := range want {
			d := days[i]
			if d.Date != w.date || d.New["f1"] != w.newF1 || d.Sent["phone"] != w.sent ||
				d.Polls != w.polls || d.Failures != w.failures || d.PollTime != w.pollTime || d.PollMax != w.pollSlow {
				t.Errorf("day %d: %+v, want %+v", i, d, w)
			}
		}
	}
	check(s)
	// Poll counters wait for the next commit, or Close.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openAt(t, path, clk))
}

// TestDaysArePrunedAtRollover: the counters keep about two weeks, however
// long the daemon runs without a Prune.
func TestDaysArePrunedAtRollover(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	for range 40 {
		s.RecordPoll(time.Second, false)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		clk.Advance(24 * time.Hour)
	}
	s.RecordPoll(time.Second, false)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	kept, err := s.dayBuckets()
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != statsDays {
		t.Errorf("%d day buckets kept, want %d: %v", len(kept), statsDays, kept)
	}
	days, err := s.Days(100)
	if err != nil {
		t.Fatal(err)
	}
	polls := 0
	for _, d := range days {
		polls += d.Polls
	}
	if polls != statsDays {
		t.Errorf("%d polls over the kept days, want %d", polls, statsDays)
	}
}

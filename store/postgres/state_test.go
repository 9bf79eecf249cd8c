package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

func TestPauseSurvivesAndKeepsItsFirstTime(t *testing.T) {
	s, clk := openTemp(t)
	first := must(s.Pause("f"))(t)
	clk.Advance(time.Hour)
	if again := must(s.Pause("f"))(t); !again.Equal(first) {
		t.Errorf("pausing again moved since from %v to %v", first, again)
	}
	other := openDSN(t, s.cfg.ConnString(), clk) // another worker
	if !must(other.IsPaused("f"))(t) {
		t.Error("another worker does not see the pause")
	}
	if p := must(other.Paused())(t); len(p) != 1 || !p["f"].Equal(first) {
		t.Errorf("Paused = %v", p)
	}
	if !must(other.Resume("f"))(t) || must(s.Resume("f"))(t) {
		t.Error("Resume did not report was-paused once")
	}
	if must(s.IsPaused("f"))(t) {
		t.Error("still paused")
	}
}

func TestSubscriptions(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.SaveSubscription(crier.Subscription{FeedID: "f"}); err == nil {
		t.Error("a subscription without callback was saved")
	}
	for _, cb := range []string{"b", "a", "B"} {
		if err := s.SaveSubscription(crier.Subscription{FeedID: "f", Callback: cb, State: crier.SubPending}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveSubscription(crier.Subscription{FeedID: "f", Callback: "a", State: crier.SubActive,
		LeaseExpires: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription("b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription("none"); err != nil {
		t.Errorf("deleting a missing subscription: %v", err)
	}
	subs := must(s.Subscriptions())(t)
	var cbs []string
	for _, sub := range subs {
		cbs = append(cbs, sub.Callback)
	}
	if !slices.Equal(cbs, []string{"B", "a"}) || subs[1].State != crier.SubActive || subs[1].LeaseExpires.IsZero() {
		t.Errorf("subscriptions = %+v, want B then the active a (byte order)", subs)
	}
}

// A key first seen long ago stays while it is in the latest fetch: else
// its item would be announced again. Keys that left the feed go.
func TestPruneKeepsTheLatestFetch(t *testing.T) {
	s, clk := openTemp(t)
	must(s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, []crier.Item{item("g:1"), item("g:2"), item("g:3")}, nil))(t)
	clk.Advance(100 * 24 * time.Hour)
	// g:1 left the feed; g:2 and g:3 are still on it, with g:4 new.
	must(s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, []crier.Item{item("g:2"), item("g:3"), item("g:4")}, nil))(t)
	must(s.Ingest("gone", crier.FeedState{LastPoll: clk.Now().Add(-90 * 24 * time.Hour)}, []crier.Item{item("g:1")}, nil))(t)
	if _, err := s.Pause("gone"); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(t.Context(), clk.Now().Add(-24*time.Hour), map[string]bool{"f": true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("pruned %d keys, want 2 (f's g:1 and gone's g:1)", n)
	}
	for k, want := range map[string]bool{"g:1": false, "g:2": true, "g:3": true, "g:4": true} {
		if got := must(s.Seen("f", k))(t); got != want {
			t.Errorf("after prune, seen %s = %v, want %v", k, got, want)
		}
	}
	if _, ok, _ := s.FeedState("gone"); ok {
		t.Error("the feed no longer configured and not polled since the cutoff kept its state")
	}
	if must(s.IsPaused("gone"))(t) {
		t.Error("the forgotten feed is still paused")
	}
	if _, ok, _ := s.FeedState("f"); !ok {
		t.Error("the kept feed lost its state")
	}
}

// A fetch much smaller than the last one does not end the protection of
// the keys that went missing, until the shrink has lasted shrinkHold.
func TestPruneHoldsAShrink(t *testing.T) {
	s, clk := openTemp(t)
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1"), item("g:2"), item("g:3"), item("g:4")}, nil))(t)
	clk.Advance(40 * 24 * time.Hour)
	must(s.Ingest("f", crier.FeedState{}, nil, nil))(t) // an empty channel
	if n := must(s.Prune(t.Context(), clk.Now(), nil, 0))(t); n != 0 {
		t.Fatalf("pruned %d keys of a feed that shrank just now", n)
	}
	clk.Advance(shrinkHold)
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:4")}, nil))(t)
	if n := must(s.Prune(t.Context(), clk.Now().Add(-time.Hour), nil, 0))(t); n != 3 {
		t.Fatalf("pruned %d keys once the shrink lasted, want 3", n)
	}
}

func TestDaysCountNewSentAndPolls(t *testing.T) {
	s, clk := openTemp(t)
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1")}, nil))(t) // seeding: not news
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:2"), item("g:3")}, nil))(t)
	s.RecordPoll(2*time.Second, false)
	s.RecordPoll(time.Second, true)
	d := must(s.Days(1))(t)[0]
	if d.New["f"] != 2 || d.Polls != 2 || d.Failures != 1 || d.PollTime != 3*time.Second || d.PollMax != 2*time.Second {
		t.Fatalf("today before flush = %+v", d)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	other := openDSN(t, s.cfg.ConnString(), clk)
	if d := must(other.Days(1))(t)[0]; d.Polls != 2 || d.PollMax != 2*time.Second {
		t.Errorf("another worker reads %+v after Flush", d)
	}
	// Days past statsDays go when a new day is first written.
	clk.Advance(statsDays * 24 * time.Hour)
	s.RecordPoll(time.Second, false)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	days := must(s.dayBuckets(t.Context()))(t)
	if len(days) != 1 || days[0] != dayOf(clk.Now()) {
		t.Errorf("days kept = %q, want only today", days)
	}
}

package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// expireLeases moves every lease into the past, as time passing would: the
// leases run on the database's clock, which tests cannot move.
func expireLeases(t *testing.T, s *Store) {
	t.Helper()
	for _, table := range []string{"crier_schedule", "crier_lanes"} {
		if _, err := s.pool.Exec(t.Context(), "UPDATE "+table+" SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSyncFeedsAndClaimDue(t *testing.T) {
	s, clk := openTemp(t)
	ctx := t.Context()
	now := clk.Now()
	err := s.SyncFeeds(ctx, []crier.FeedDue{
		{FeedID: "late", Schedule: "@hourly", Due: now.Add(time.Hour)},
		{FeedID: "b", Schedule: "@hourly", Due: now.Add(-time.Minute)},
		{FeedID: "a", Schedule: "@hourly", Due: now.Add(-time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := must(s.ClaimDue(ctx, "w1", now, 10, time.Minute))(t)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("claimed %q, want the due feeds earliest first", got)
	}
	if again := must(s.ClaimDue(ctx, "w2", now, 10, time.Minute))(t); len(again) != 0 {
		t.Errorf("leased feeds claimed again: %q", again)
	}
	// A changed schedule is due at the earlier time; an unchanged one keeps
	// its due time; an unlisted feed is no longer scheduled.
	err = s.SyncFeeds(ctx, []crier.FeedDue{
		{FeedID: "late", Schedule: "*/5 * * * *", Due: now.Add(-time.Second)},
		{FeedID: "b", Schedule: "@hourly", Due: now.Add(-time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := must(s.ClaimDue(ctx, "w2", now, 10, time.Minute))(t); !slices.Equal(got, []string{"late"}) {
		t.Errorf("after resync claimed %q, want late (its schedule changed)", got)
	}
	expireLeases(t, s)
	if got := must(s.ClaimDue(ctx, "w2", now, 10, time.Minute))(t); !slices.Equal(got, []string{"b", "late"}) {
		t.Errorf("after expiry claimed %q, want b and late; a is gone", got)
	}
}

func TestRescheduleOnlyByTheOwner(t *testing.T) {
	s, clk := openTemp(t)
	ctx := t.Context()
	now := clk.Now()
	mustOK(s.SyncFeeds(ctx, []crier.FeedDue{{FeedID: "f", Schedule: "@hourly", Due: now}}))(t)
	must(s.ClaimDue(ctx, "w1", now, 1, time.Minute))(t)
	expireLeases(t, s)
	// w1's lease ran out; w2 takes the feed. w1's late Reschedule must not
	// end w2's lease nor move the feed.
	if got := must(s.ClaimDue(ctx, "w2", now, 1, time.Minute))(t); len(got) != 1 {
		t.Fatalf("an expired lease was not claimable: %q", got)
	}
	mustOK(s.Reschedule(ctx, "w1", "f", now.Add(24*time.Hour)))(t)
	expireLeases(t, s)
	if got := must(s.ClaimDue(ctx, "w3", now, 1, time.Minute))(t); len(got) != 1 {
		t.Fatal("a non-owner's Reschedule moved the feed")
	}
	mustOK(s.Reschedule(ctx, "w3", "f", now.Add(time.Hour)))(t)
	if got := must(s.ClaimDue(ctx, "w1", now.Add(59*time.Minute), 1, time.Minute))(t); len(got) != 0 {
		t.Errorf("claimed %q before its new due time", got)
	}
	if got := must(s.ClaimDue(ctx, "w1", now.Add(time.Hour), 1, time.Minute))(t); len(got) != 1 {
		t.Error("the owner's Reschedule did not release the feed at its new due time")
	}
}

// Workers claiming at once never get the same feed.
func TestConcurrentClaimsAreDisjoint(t *testing.T) {
	s, clk := openTemp(t)
	ctx := t.Context()
	now := clk.Now()
	var feeds []crier.FeedDue
	for i := range 200 {
		feeds = append(feeds, crier.FeedDue{FeedID: fmt.Sprint(i), Schedule: "@hourly", Due: now})
	}
	mustOK(s.SyncFeeds(ctx, feeds))(t)
	other := openDSN(t, s.cfg.ConnString(), clk)
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	for w, st := range []*Store{s, other, s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("w", w)
			for {
				got, err := st.ClaimDue(ctx, name, now, 7, time.Minute)
				if err != nil || len(got) == 0 {
					if err != nil {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				for _, id := range got {
					if prev, dup := owner[id]; dup {
						t.Errorf("feed %s claimed by %s and %s", id, prev, name)
					}
					owner[id] = name
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(owner) != len(feeds) {
		t.Errorf("claimed %d feeds, want all %d", len(owner), len(feeds))
	}
}

func TestHoldLaneIsExclusiveUntilExpiry(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	hold := func(owner string) bool {
		t.Helper()
		return must(s.HoldLane(ctx, "po", owner, time.Minute))(t)
	}
	if !hold("w1") || !hold("w1") {
		t.Fatal("w1 cannot take or renew a free lane")
	}
	if hold("w2") {
		t.Fatal("w2 took a lane w1 holds")
	}
	if !must(s.HoldLane(ctx, "ntfy", "w2", time.Minute))(t) {
		t.Error("lanes are not independent")
	}
	mustOK(s.ReleaseLane(ctx, "po", "w2"))(t) // not w2's: nothing
	if hold("w2") {
		t.Fatal("a non-owner's release freed the lane")
	}
	expireLeases(t, s)
	if !hold("w2") {
		t.Fatal("an expired lane was not taken over")
	}
	if hold("w1") {
		t.Fatal("the old owner took the lane back")
	}
	mustOK(s.ReleaseLane(ctx, "po", "w2"))(t)
	if !hold("w1") {
		t.Error("a released lane was not free")
	}
}

func TestConfigGeneration(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	if gen, _, _, err := s.ConfigGeneration(ctx); err != nil || gen != 0 {
		t.Fatalf("generation before any = %d, %v", gen, err)
	}
	for i, w := range []string{"w1", "w2"} {
		if gen := must(s.PublishConfig(ctx, w, fmt.Sprint("h", i)))(t); gen != int64(i+1) {
			t.Errorf("PublishConfig #%d = %d", i+1, gen)
		}
	}
	gen, hash, worker, err := s.ConfigGeneration(ctx)
	if err != nil || gen != 2 || hash != "h1" || worker != "w2" {
		t.Errorf("ConfigGeneration = %d %q %q %v", gen, hash, worker, err)
	}
}

// Queueing on one worker wakes the listener of another, with the notifier.
func TestNotifyReachesListenOutbox(t *testing.T) {
	s, clk := openTemp(t)
	other := openDSN(t, s.cfg.ConnString(), clk)
	ctx, cancel := context.WithCancel(t.Context())
	woke := make(chan string, 10)
	done := make(chan error, 1)
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		done <- other.ListenOutbox(ctx, func(n string) {
			once.Do(func() { close(ready) })
			woke <- n
		})
	}()
	// The listener may not be listening yet: queue until it hears.
	for heard := false; !heard; {
		must(s.Enqueue(delivery("probe", "p")))(t)
		select {
		case <-ready:
			heard = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	must(s.Ingest("f", crier.FeedState{}, []crier.Item{item("g:1")}, toNotifier("po")))(t)
	timeout := time.After(10 * time.Second)
	for n := ""; n != "po"; {
		select {
		case n = <-woke:
			if n != "po" && n != "probe" {
				t.Fatalf("woken for %q, want po", n)
			}
		case <-timeout:
			t.Fatal("an ingest that queued did not wake the listener")
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("ListenOutbox ended with %v, want context.Canceled", err)
	}
}

// Close ends a listener: the daemon's shutdown does not hang on it.
func TestCloseEndsListenOutbox(t *testing.T) {
	s, _ := openTemp(t)
	done := make(chan error, 1)
	go func() { done <- s.ListenOutbox(context.Background(), func(string) {}) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenOutbox after Close = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenOutbox outlived Close")
	}
}

// A listener whose connection dies reconnects and hears again.
func TestListenOutboxReconnects(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	woke := make(chan string, 100)
	go func() { _ = s.ListenOutbox(ctx, func(n string) { woke <- n }) }()
	hear := func(notifier string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			must(s.Enqueue(delivery(notifier, "x")))(t)
			select {
			case n := <-woke:
				if n == notifier {
					return
				}
			case <-time.After(50 * time.Millisecond):
			case <-timeout:
				t.Fatalf("the listener never heard of %s", notifier)
			}
		}
	}
	hear("before")
	tag, err := s.pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("kill the listener's connection: %v, %v", tag, err)
	}
	hear("after")
}

package bolt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// buryAt queues one notification per title and buries them in order, each
// when the clock says; it returns their IDs.
func queued(t *testing.T, s *Store, titles ...string) []uint64 {
	t.Helper()
	var ids []uint64
	for _, title := range titles {
		es, err := s.Enqueue(delivery("po", title))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, es[0].ID)
	}
	return ids
}

func bury(t *testing.T, s *Store, ids ...uint64) {
	t.Helper()
	for _, id := range ids {
		if err := s.Bury("po", id, "401 invalid token"); err != nil {
			t.Fatal(err)
		}
	}
}

func deadTitles(t *testing.T, s *Store) []string {
	t.Helper()
	dl, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dl {
		out = append(out, d.Notification.Title)
	}
	return out
}

// A revoked token buries everything for months; retention must apply to
// the dead letters too, by when they died (not by queueing order), in
// write transactions of at most chunk letters.
func TestPruneDeadLetters(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	var old, young []string
	for i := range 25 {
		old = append(old, fmt.Sprint("old", i))
	}
	for i := range 5 {
		young = append(young, fmt.Sprint("young", i))
	}
	youngIDs := queued(t, s, young...) // queued first, buried last
	oldIDs := queued(t, s, old...)
	bury(t, s, oldIDs...)
	clk.Advance(50 * day)
	bury(t, s, youngIDs...)
	clk.Advance(50 * day)

	var writes, most int
	s.pruneHook = func(n int) { writes++; most = max(most, n) }
	removed, err := s.PruneDeadLetters(context.Background(), clk.Now().Add(-90*day), 10)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 25 {
		t.Errorf("removed %d dead letters, want the 25 that died 100 days ago", removed)
	}
	if got := deadTitles(t, s); !slices.Equal(got, young) {
		t.Errorf("dead letters left: %q, want %q", got, young)
	}
	if most > 10 || writes < 3 {
		t.Errorf("%d write transactions touching up to %d letters; want >= 3 touching <= 10", writes, most)
	}
	if st, _ := s.Stats(); st.Dead != 5 {
		t.Errorf("Stats.Dead = %d, want 5", st.Dead)
	}
	// Nothing left to do.
	if n, err := s.PruneDeadLetters(context.Background(), clk.Now().Add(-90*day), 0); n != 0 || err != nil {
		t.Errorf("second prune = %d, %v; want 0, nil", n, err)
	}
}

// A letter redelivered and buried again between the scan and the delete
// died anew: it stays.
func TestPruneDeadLettersRechecks(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	var titles []string
	for i := range 5 {
		titles = append(titles, fmt.Sprint("n", i))
	}
	ids := queued(t, s, titles...)
	bury(t, s, ids...)
	clk.Advance(100 * day)
	s.pruneHook = func(int) {
		s.pruneHook = nil
		if _, err := s.Redeliver(ids[2]); err != nil {
			t.Error(err)
		}
		bury(t, s, ids[2])
	}
	removed, err := s.PruneDeadLetters(context.Background(), clk.Now().Add(-90*day), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := deadTitles(t, s); removed != 4 || !slices.Equal(got, []string{"n2"}) {
		t.Errorf("removed %d, left %q; want 4 removed and n2 left", removed, got)
	}
}

func TestPruneDeadLettersStopsOnCancel(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	var titles []string
	for i := range 30 {
		titles = append(titles, fmt.Sprint("n", i))
	}
	bury(t, s, queued(t, s, titles...)...)
	clk.Advance(100 * day)
	ctx, cancel := context.WithCancel(context.Background())
	s.pruneHook = func(int) { cancel() }
	removed, err := s.PruneDeadLetters(ctx, clk.Now().Add(-90*day), 10)
	if !errors.Is(err, context.Canceled) || removed != 10 {
		t.Errorf("PruneDeadLetters cancelled after one chunk = %d, %v; want 10, context.Canceled", removed, err)
	}
	if got := len(deadTitles(t, s)); got != 20 {
		t.Errorf("%d dead letters left, want 20", got)
	}
}

// A record that cannot be decoded has no known age: it is kept, and does
// not stop the others from going.
func TestPruneDeadLettersKeepsUndecodable(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	bury(t, s, queued(t, s, "a", "b")...)
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bDead).Put(u64(1<<40), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * day)
	removed, err := s.PruneDeadLetters(context.Background(), clk.Now().Add(-90*day), 0)
	if err != nil || removed != 2 {
		t.Errorf("PruneDeadLetters = %d, %v; want 2, nil", removed, err)
	}
	if st, _ := s.Stats(); st.Dead != 1 {
		t.Errorf("%d dead letters left, want the undecodable one", st.Dead)
	}
}

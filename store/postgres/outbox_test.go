package postgres

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

func TestOutboxOrderDoneRetryBury(t *testing.T) {
	s, clk := openTemp(t)
	es := must(s.Enqueue(delivery("po", "a"), delivery("ntfy", "b"), delivery("po", "c")))(t)
	if !(es[0].ID < es[1].ID && es[1].ID < es[2].ID) {
		t.Fatalf("ids %d %d %d do not increase with queueing order", es[0].ID, es[1].ID, es[2].ID)
	}
	if got := titles(must(s.Pending("po"))(t)); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("pending po = %q", got)
	}
	if got := must(s.OutboxNotifiers())(t); !slices.Equal(got, []string{"ntfy", "po"}) {
		t.Errorf("notifiers = %q", got)
	}
	if got := must(s.OutboxCounts())(t); !maps.Equal(got, map[string]int{"po": 2, "ntfy": 1}) {
		t.Errorf("counts = %v", got)
	}

	next := clk.Now().Add(time.Minute)
	if err := s.Retry("po", es[0].ID, 1, next, "502"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryUnconfirmed("po", es[0].ID, 2, next, "timeout"); err != nil {
		t.Fatal(err)
	}
	e, ok, err := s.Next("po")
	if err != nil || !ok || e.ID != es[0].ID || e.Attempts != 2 || !e.NextTry.Equal(next) ||
		e.LastError != "timeout" || e.Unconfirmed != 1 || e.Notification.QueuedAt.IsZero() {
		t.Fatalf("Next = %+v, %v, %v; want a with 2 attempts, 1 unconfirmed", e, ok, err)
	}
	if err := s.Retry("po", 999, 1, next, "x"); !errors.Is(err, crier.ErrNotFound) {
		t.Errorf("Retry of an unknown entry = %v, want ErrNotFound", err)
	}

	if err := s.Done("po", es[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Done("po", es[0].ID); !errors.Is(err, crier.ErrNotFound) {
		t.Errorf("second Done = %v, want ErrNotFound", err)
	}
	if rs := must(s.Recent(0))(t); len(rs) != 1 || rs[0].Title != "a" || rs[0].Notifier != "po" {
		t.Errorf("recent = %+v", rs)
	}
	days := must(s.Days(1))(t)
	if days[0].Sent["po"] != 1 {
		t.Errorf("sent today = %v, want po: 1", days[0].Sent)
	}

	clk.Advance(time.Hour)
	if err := s.Bury("ntfy", es[1].ID, "revoked"); err != nil {
		t.Fatal(err)
	}
	dead := must(s.DeadLetters())(t)
	if len(dead) != 1 || dead[0].ID != es[1].ID || dead[0].Reason != "revoked" || !dead[0].DiedAt.Equal(clk.Now()) {
		t.Fatalf("dead letters = %+v", dead)
	}
	if got := must(s.OutboxNotifiers())(t); !slices.Equal(got, []string{"po"}) {
		t.Errorf("notifiers after bury = %q", got)
	}
}

// Redeliver keeps IDs, so a redelivered entry goes out before what was
// queued after it; an unknown ID changes nothing.
func TestRedeliverKeepsIDs(t *testing.T) {
	s, _ := openTemp(t)
	es := must(s.Enqueue(delivery("po", "a"), delivery("po", "b")))(t)
	if err := s.RetryUnconfirmed("po", es[0].ID, 3, time.Now(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Bury("po", es[0].ID, "gave up"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Redeliver(es[0].ID, 12345); !errors.Is(err, crier.ErrNotFound) {
		t.Fatalf("Redeliver with an unknown id = %v, want ErrNotFound", err)
	}
	if len(must(s.DeadLetters())(t)) != 1 {
		t.Fatal("a failed Redeliver moved a letter")
	}
	if n := must(s.Redeliver())(t); n != 1 {
		t.Fatalf("Redeliver() moved %d, want 1", n)
	}
	got := must(s.Pending("po"))(t)
	if len(got) != 2 || got[0].ID != es[0].ID || got[0].Attempts != 0 || got[0].Unconfirmed != 0 || got[0].LastError != "" {
		t.Fatalf("pending = %+v, want a first, fresh", got)
	}
	// Dead-letter IDs are outbox IDs: a new entry never reuses one.
	if e := must(s.Enqueue(delivery("po", "c")))(t); e[0].ID <= es[1].ID {
		t.Errorf("new id %d not above %d", e[0].ID, es[1].ID)
	}
}

func TestCoalesce(t *testing.T) {
	s, _ := openTemp(t)
	es := must(s.Enqueue(delivery("po", "a"), delivery("po", "b"), delivery("po", "c")))(t)
	if _, err := s.Coalesce("po", []uint64{es[0].ID, 999}, crier.Notification{Title: "x"}); !errors.Is(err, crier.ErrNotFound) {
		t.Fatalf("Coalesce with an unknown id = %v", err)
	}
	if got := titles(must(s.Pending("po"))(t)); len(got) != 3 {
		t.Fatalf("a failed Coalesce changed the queue: %q", got)
	}
	e := must(s.Coalesce("po", []uint64{es[0].ID, es[1].ID}, crier.Notification{Kind: crier.KindSummary, Title: "2 new"}))(t)
	if e.ID <= es[2].ID {
		t.Errorf("coalesced id %d does not queue behind %d", e.ID, es[2].ID)
	}
	if got := titles(must(s.Pending("po"))(t)); !slices.Equal(got, []string{"c", "2 new"}) {
		t.Errorf("pending = %q", got)
	}
}

func TestRecentKeepsTheLast200(t *testing.T) {
	s, _ := openTemp(t)
	var ds []crier.Delivery
	for i := range crier.RecentKept + 5 {
		ds = append(ds, delivery("po", fmt.Sprint(i)))
	}
	for _, e := range must(s.Enqueue(ds...))(t) {
		if err := s.Done("po", e.ID); err != nil {
			t.Fatal(err)
		}
	}
	rs := must(s.Recent(0))(t)
	if len(rs) != crier.RecentKept || rs[0].Title != fmt.Sprint(crier.RecentKept+4) || rs[len(rs)-1].Title != "5" {
		t.Fatalf("recent: %d, newest %q, oldest %q; want 200, 204 … 5", len(rs), rs[0].Title, rs[len(rs)-1].Title)
	}
	if rs := must(s.Recent(3))(t); len(rs) != 3 {
		t.Errorf("Recent(3) gave %d", len(rs))
	}
}

func TestPruneDeadLetters(t *testing.T) {
	s, clk := openTemp(t)
	es := must(s.Enqueue(delivery("po", "old"), delivery("po", "new")))(t)
	_ = s.Bury("po", es[0].ID, "x")
	clk.Advance(48 * time.Hour)
	_ = s.Bury("po", es[1].ID, "x")
	n, err := s.PruneDeadLetters(t.Context(), clk.Now().Add(-time.Hour), 1)
	if err != nil || n != 1 {
		t.Fatalf("PruneDeadLetters = %d, %v; want 1", n, err)
	}
	if d := must(s.DeadLetters())(t); len(d) != 1 || d[0].Notification.Title != "new" {
		t.Errorf("left %+v", d)
	}
}

package bolt

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
)

func TestOutboxOrderPerNotifier(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	if _, err := s.Enqueue(delivery("po", "p1"), delivery("mail", "m1"), delivery("po", "p2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(delivery("mail", "m2"), delivery("po", "p3")); err != nil {
		t.Fatal(err)
	}

	for notifier, want := range map[string][]string{"po": {"p1", "p2", "p3"}, "mail": {"m1", "m2"}, "none": nil} {
		pend, err := s.Pending(notifier)
		if err != nil || !slices.Equal(titles(pend), want) {
			t.Errorf("Pending(%s) = %q, %v; want %q", notifier, titles(pend), err, want)
		}
		next, ok, err := s.Next(notifier)
		if err != nil || ok != (len(want) > 0) || (ok && next.Notification.Title != want[0]) {
			t.Errorf("Next(%s) = %q, %v, %v; want the oldest of %q", notifier, next.Notification.Title, ok, err, want)
		}
	}
	all, err := s.Outbox()
	if err != nil || !slices.Equal(titles(all), []string{"p1", "m1", "p2", "m2", "p3"}) {
		t.Errorf("Outbox = %q, %v; want queueing order", titles(all), err)
	}
	counts, err := s.OutboxCounts()
	if err != nil || !maps.Equal(counts, map[string]int{"po": 3, "mail": 2}) {
		t.Errorf("OutboxCounts = %v, %v", counts, err)
	}

	// Delivering everything of one notifier leaves only the other.
	pend, _ := s.Pending("mail")
	for _, e := range pend {
		if err := s.Done("mail", e.ID); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.OutboxNotifiers()
	if err != nil || !slices.Equal(names, []string{"po"}) {
		t.Errorf("OutboxNotifiers after draining mail = %q, %v; want [po]", names, err)
	}
}

func TestDoneUnknownEntry(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	es, _ := s.Enqueue(delivery("po", "x"))
	for _, tc := range []struct {
		notifier string
		id       uint64
	}{{"po", es[0].ID + 1}, {"mail", es[0].ID}} {
		err := s.Done(tc.notifier, tc.id)
		if !errors.Is(err, crier.ErrNotFound) || !strings.Contains(err.Error(), tc.notifier) {
			t.Errorf("Done(%s, %d) = %v; want crier.ErrNotFound naming the notifier", tc.notifier, tc.id, err)
		}
	}
}

func TestRetryPersistsAcrossReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crier.db")
	clk := newClock()
	s := openAt(t, path, clk)
	es, err := s.Enqueue(delivery("po", "a"), delivery("po", "b"))
	if err != nil {
		t.Fatal(err)
	}
	next := clk.Now().Add(90 * time.Second)
	if err := s.Retry("po", es[0].ID, 3, next, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, clk)
	e, ok, err := s.Next("po")
	if err != nil || !ok {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	if e.ID != es[0].ID || e.Attempts != 3 || !e.NextTry.Equal(next) || e.LastError != "HTTP 500" {
		t.Errorf("after reopen: %+v; want entry %d with 3 attempts, next %v, error", e, es[0].ID, next)
	}
}

func TestDeadLettersRoundTrip(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	es, err := s.Enqueue(delivery("po", "a"), delivery("mail", "b"), delivery("po", "c"), delivery("po", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Retry("po", es[0].ID, 7, clk.Now().Add(time.Hour), "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	for _, e := range es[:3] {
		if err := s.Bury(e.Notifier, e.ID, "gave up on "+e.Notification.Title); err != nil {
			t.Fatal(err)
		}
	}
	dead, err := s.DeadLetters()
	if err != nil || len(dead) != 3 {
		t.Fatalf("DeadLetters = %v, %v; want 3", dead, err)
	}
	for i, d := range dead {
		if d.ID != es[i].ID || d.Reason != "gave up on "+es[i].Notification.Title || !d.DiedAt.Equal(clk.Now()) {
			t.Errorf("dead letter %d = %+v", i, d)
		}
	}
	if all, _ := s.Outbox(); !slices.Equal(titles(all), []string{"d"}) {
		t.Errorf("outbox after burying = %q, want [d]", titles(all))
	}

	// Unknown id: error naming it, nothing moves.
	if n, err := s.Redeliver(es[0].ID, 999); err == nil || !strings.Contains(err.Error(), "999") || n != 0 {
		t.Errorf("Redeliver(known, 999) = %d, %v; want error naming 999", n, err)
	}
	if dead, _ := s.DeadLetters(); len(dead) != 3 {
		t.Errorf("a failed Redeliver moved something: %d dead letters left", len(dead))
	}

	// By id: back in order (before "d", which was queued later) with a fresh start.
	if n, err := s.Redeliver(es[0].ID); err != nil || n != 1 {
		t.Fatalf("Redeliver(%d) = %d, %v", es[0].ID, n, err)
	}
	pend, _ := s.Pending("po")
	if !slices.Equal(titles(pend), []string{"a", "d"}) {
		t.Errorf("po queue = %q, want [a d]", titles(pend))
	}
	if e := pend[0]; e.Attempts != 0 || !e.NextTry.IsZero() {
		t.Errorf("redelivered entry keeps attempts %d / next try %v", e.Attempts, e.NextTry)
	}

	// All.
	if n, err := s.Redeliver(); err != nil || n != 2 {
		t.Fatalf("Redeliver() = %d, %v; want 2", n, err)
	}
	if dead, _ := s.DeadLetters(); len(dead) != 0 {
		t.Errorf("dead letters after redelivering all: %d", len(dead))
	}
	if all, _ := s.Outbox(); !slices.Equal(titles(all), []string{"a", "b", "c", "d"}) {
		t.Errorf("outbox = %q, want [a b c d]", titles(all))
	}
}

func TestCoalesce(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	es, err := s.Enqueue(delivery("po", "a"), delivery("po", "b"), delivery("mail", "m"), delivery("po", "c"))
	if err != nil {
		t.Fatal(err)
	}
	sum := crier.Notification{Kind: crier.KindSummary, Feed: "f", Title: "3 new", Count: 3}

	// An id of another notifier fails the whole call.
	if _, err := s.Coalesce("po", []uint64{es[0].ID, es[2].ID}, sum); !errors.Is(err, crier.ErrNotFound) {
		t.Fatalf("Coalesce with a foreign id = %v; want crier.ErrNotFound", err)
	}
	if pend, _ := s.Pending("po"); len(pend) != 3 {
		t.Fatalf("failed Coalesce changed the queue: %q", titles(pend))
	}

	e, err := s.Coalesce("po", []uint64{es[0].ID, es[1].ID}, sum)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID <= es[3].ID || e.Notifier != "po" || e.Notification.Count != 3 || e.Notification.QueuedAt.IsZero() {
		t.Errorf("coalesced entry = %+v", e)
	}
	pend, _ := s.Pending("po")
	if !slices.Equal(titles(pend), []string{"c", "3 new"}) {
		t.Errorf("po queue = %q, want [c, 3 new]", titles(pend))
	}
	if pend, _ := s.Pending("mail"); len(pend) != 1 {
		t.Errorf("mail queue touched: %q", titles(pend))
	}
}

func TestRecentRing(t *testing.T) {
	t.Parallel()
	s, clk := openTemp(t)
	for i := range crier.RecentKept + 10 {
		es, err := s.Enqueue(crier.Delivery{Notifier: "po", Notification: crier.Notification{
			Kind: crier.KindItem, Feed: "f", Title: fmt.Sprint("n", i), Link: fmt.Sprint("https://example.org/", i)}})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if err := s.Done("po", es[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Recent(0)
	if err != nil || len(all) != crier.RecentKept {
		t.Fatalf("Recent(0) = %d entries, %v; want %d", len(all), err, crier.RecentKept)
	}
	newest, oldest := fmt.Sprint("n", crier.RecentKept+9), "n10"
	if all[0].Title != newest || all[crier.RecentKept-1].Title != oldest {
		t.Errorf("crier.Recent runs %s..%s, want %s..%s", all[0].Title, all[crier.RecentKept-1].Title, newest, oldest)
	}
	want := crier.Recent{At: clk.Now(), Notifier: "po", Feed: "f", Title: newest, Link: fmt.Sprint("https://example.org/", crier.RecentKept+9)}
	if got := all[0]; !got.At.Equal(want.At) || got.Notifier != want.Notifier || got.Feed != want.Feed || got.Link != want.Link {
		t.Errorf("newest = %+v, want %+v", got, want)
	}
	if some, _ := s.Recent(3); len(some) != 3 || some[2].Title != fmt.Sprint("n", crier.RecentKept+7) {
		t.Errorf("Recent(3) = %+v", some)
	}
	if st, _ := s.Stats(); st.Outbox != 0 {
		t.Errorf("outbox not empty after delivering everything: %d", st.Outbox)
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var deadLetterTests = []test{
	{"Bury, DeadLetters, Redeliver", testDeadLettersRoundTrip},
	{"Redeliver of an unknown id changes nothing", testRedeliverUnknown},
	{"PruneDeadLetters by when they died", testPruneDeadLetters},
	{"PruneDeadLetters stops when cancelled", testPruneDeadLettersCancelled},
}

func deadTitles(dl []crier.DeadLetter) []string {
	var out []string
	for _, d := range dl {
		out = append(out, d.Notification.Title)
	}
	return out
}

func (e *env) bury(notifier string, reason string, ids ...uint64) {
	e.t.Helper()
	for _, id := range ids {
		if err := e.s.Bury(notifier, id, reason); err != nil {
			e.t.Fatalf("Bury(%s, %d): %v", notifier, id, err)
		}
	}
}

func testDeadLettersRoundTrip(t *testing.T, e *env) {
	es := e.enqueue(Delivery("po", "a"), Delivery("mail", "b"), Delivery("po", "c"), Delivery("po", "d"))
	if err := e.s.RetryUnconfirmed("po", es[0].ID, 7, Epoch.Add(time.Hour), "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	for _, en := range es[:3] {
		e.bury(en.Notifier, "gave up on "+en.Notification.Title, en.ID)
	}
	e.restart()

	dead := e.deadLetters()
	if len(dead) != 3 {
		t.Fatalf("DeadLetters = %q; want a, b, c", deadTitles(dead))
	}
	for i, d := range dead {
		if d.ID != es[i].ID || d.Notifier != es[i].Notifier || d.Notification.Title != es[i].Notification.Title ||
			d.Reason != "gave up on "+es[i].Notification.Title || !d.DiedAt.Equal(e.clk.Now()) || !d.Created.Equal(Epoch) {
			t.Errorf("dead letter %d = %+v; want entry %d with its reason, died now", i, d, es[i].ID)
		}
	}
	if d := dead[0]; d.Attempts != 7 || d.LastError != "HTTP 500" || d.Unconfirmed != 1 {
		t.Errorf("dead letter a lost its history: %+v", d)
	}
	if got := Titles(e.outbox()); !slices.Equal(got, []string{"d"}) {
		t.Errorf("outbox after burying = %q, want [d]", got)
	}
	if names, _ := e.s.OutboxNotifiers(); !slices.Equal(names, []string{"po"}) {
		t.Errorf("OutboxNotifiers after burying mail's only entry = %q, want [po]", names)
	}

	// By id: back before "d", which was queued later, with a fresh start.
	// The same id twice (a double click on the status page) moves it once.
	if n, err := e.s.Redeliver(es[0].ID, es[0].ID); err != nil || n != 1 {
		t.Fatalf("Redeliver(%d, %d) = %d, %v; want 1", es[0].ID, es[0].ID, n, err)
	}
	pend := e.pending("po")
	if !slices.Equal(Titles(pend), []string{"a", "d"}) {
		t.Fatalf("po queue = %q, want [a d]", Titles(pend))
	}
	if a := pend[0]; a.ID != es[0].ID || a.Attempts != 0 || !a.NextTry.IsZero() || a.LastError != "" || a.Unconfirmed != 0 {
		t.Errorf("redelivered entry = %+v; want its ID %d, no attempts, no next try, no error", a, es[0].ID)
	}
	if head, _, _ := e.s.Next("po"); head.ID != es[0].ID {
		t.Errorf("Next = %q, want the redelivered a", head.Notification.Title)
	}

	// All of them.
	if n, err := e.s.Redeliver(); err != nil || n != 2 {
		t.Fatalf("Redeliver() = %d, %v; want 2", n, err)
	}
	if dead := e.deadLetters(); len(dead) != 0 {
		t.Errorf("dead letters after redelivering all: %q", deadTitles(dead))
	}
	if got := Titles(e.outbox()); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("outbox = %q, want [a b c d]", got)
	}
	if n, err := e.s.Redeliver(); err != nil || n != 0 {
		t.Errorf("Redeliver() with no dead letters = %d, %v; want 0, nil", n, err)
	}
}

// An unknown id fails the whole call, naming it, and moves nothing.
func testRedeliverUnknown(t *testing.T, e *env) {
	es := e.enqueue(Delivery("po", "a"), Delivery("po", "b"))
	e.bury("po", "401", es[0].ID)
	for _, ids := range [][]uint64{{es[0].ID, 999}, {999, es[0].ID}, {es[1].ID}} {
		n, err := e.s.Redeliver(ids...)
		if !errors.Is(err, crier.ErrNotFound) || n != 0 {
			t.Errorf("Redeliver(%v) = %d, %v; want 0 and crier.ErrNotFound", ids, n, err)
		}
	}
	if dead := e.deadLetters(); len(dead) != 1 || dead[0].ID != es[0].ID {
		t.Errorf("a failed Redeliver moved something: dead letters %q", deadTitles(dead))
	}
	if got := Titles(e.outbox()); !slices.Equal(got, []string{"b"}) {
		t.Errorf("outbox after failed Redeliver = %q, want [b]", got)
	}
}

// queueAndBury queues one notification per title for po and buries them.
func (e *env) queueAndBury(titles ...string) []uint64 {
	e.t.Helper()
	var ids []uint64
	for _, title := range titles {
		ids = append(ids, e.enqueue(Delivery("po", title))[0].ID)
	}
	e.bury("po", "401 invalid token", ids...)
	return ids
}

func numbered(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

// A revoked token buries everything for months; retention applies to dead
// letters by when they died, not by queueing order, and however the work
// is chunked.
func testPruneDeadLetters(t *testing.T, e *env) {
	young := numbered("young", 5)
	youngIDs := make([]uint64, 0, len(young))
	for _, title := range young { // queued first, buried last
		youngIDs = append(youngIDs, e.enqueue(Delivery("po", title))[0].ID)
	}
	e.queueAndBury(numbered("old", 25)...)
	e.clk.Advance(50 * day)
	e.bury("po", "401 invalid token", youngIDs...)
	e.clk.Advance(50 * day)

	ctx := context.Background()
	cutoff := e.clk.Now().Add(-90 * day)
	removed, err := e.s.PruneDeadLetters(ctx, cutoff, 7)
	if err != nil || removed != 25 {
		t.Errorf("PruneDeadLetters(chunk 7) = %d, %v; want the 25 that died 100 days ago", removed, err)
	}
	if got := deadTitles(e.deadLetters()); !slices.Equal(got, young) {
		t.Errorf("dead letters left: %q, want %q", got, young)
	}
	if n, err := e.s.PruneDeadLetters(ctx, cutoff, 0); n != 0 || err != nil {
		t.Errorf("second prune = %d, %v; want 0, nil", n, err)
	}
	// What is left can still be redelivered.
	if n, err := e.s.Redeliver(); n != 5 || err != nil {
		t.Errorf("Redeliver() after the prune = %d, %v; want 5", n, err)
	}
}

func testPruneDeadLettersCancelled(t *testing.T, e *env) {
	e.queueAndBury(numbered("n", 30)...)
	e.clk.Advance(100 * day)
	cutoff := e.clk.Now().Add(-90 * day)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := e.s.PruneDeadLetters(ctx, cutoff, 10); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("PruneDeadLetters with a cancelled context = %d, %v; want 0, context.Canceled", n, err)
	}
	if left := len(e.deadLetters()); left != 30 {
		t.Fatalf("%d dead letters left after a cancelled prune, want all 30", left)
	}

	n, err := e.s.PruneDeadLetters(cancelledAfter(1), cutoff, 10)
	if !errors.Is(err, context.Canceled) || n >= 30 {
		t.Errorf("PruneDeadLetters cancelled on the way = %d, %v; want fewer than 30, context.Canceled", n, err)
	}
	if left := len(e.deadLetters()); left != 30-n {
		t.Errorf("%d dead letters left, want 30 less the %d it reported", left, n)
	}
}

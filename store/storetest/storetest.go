// Package storetest is the conformance suite every store backend runs
// (store/bolt, store/postgres): one set of tests, written against the
// store.Store port only, for every promise the rest of crier relies on:
// seen and queued in one transaction, the outbox's order and bookkeeping,
// dead letters, pruning, and that what was committed survives a restart.
//
// A backend plugs in from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{Open: func(t *testing.T, now func() time.Time) (store.Store, func() store.Store) {
//			… fresh state, removed at t.Cleanup …
//			return open(), open
//		}})
//	}
//
// Times are compared with Equal and kept to whole seconds, so a backend
// that stores microseconds or returns another time zone passes.
package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
)

// Backend is a store implementation under test.
type Backend struct {
	// Open creates fresh, empty state and opens a store on it whose clock
	// is now. reopen opens the same state again, as crier does after a
	// restart; the suite calls it only after closing the store it
	// replaces. A crash is simulated by such a restart: the suite expects
	// nothing of it that a commit does not already promise.
	//
	// The suite closes every store it is given. The backend removes the
	// state itself at t.Cleanup, and fails t (t.Fatal) when it cannot open.
	Open func(t *testing.T, now func() time.Time) (s store.Store, reopen func() store.Store)
}

// Run runs the whole suite against b, each test in a parallel subtest with
// a store of its own.
func Run(t *testing.T, b Backend) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Ingest", ingestTests},
		{"Stories", storyTests},
		{"Outbox", outboxTests},
		{"DeadLetters", deadLetterTests},
		{"Prune", pruneTests},
		{"State", stateTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newEnv(t, b))
				})
			}
		})
	}
}

// test is one promise, checked on a store of its own.
type test struct {
	name string
	run  func(t *testing.T, e *env)
}

// env is one test's store and clock.
type env struct {
	t      *testing.T
	clk    *Clock
	s      store.Store
	reopen func() store.Store
}

func newEnv(t *testing.T, b Backend) *env {
	t.Helper()
	e := &env{t: t, clk: NewClock(Epoch)}
	e.s, e.reopen = b.Open(t, e.clk.Now)
	t.Cleanup(func() {
		if e.s != nil {
			if err := e.s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return e
}

// restart closes the store and opens its state again, as crier does when
// it restarts.
func (e *env) restart() {
	e.t.Helper()
	s := e.s
	e.s = nil
	if err := s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.reopen()
}

// Epoch is where every test's clock starts: whole seconds, UTC.
var Epoch = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// Clock is a time source the tests set by hand; its Now is what a backend
// takes as its clock. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set makes the clock read t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

const day = 24 * time.Hour

// dateOf is the day counters' date of t: the daemon's time zone.
func dateOf(t time.Time) string { return t.Local().Format(time.DateOnly) }

// Item builds an item from its keys; alt keys follow a "|" argument.
func Item(keys ...string) crier.Item {
	it := crier.Item{}
	alt := false
	for _, k := range keys {
		switch {
		case k == "|":
			alt = true
		case alt:
			it.AltKeys = append(it.AltKeys, k)
		default:
			it.Keys = append(it.Keys, k)
		}
	}
	if len(it.Keys) > 0 {
		it.Title = "title of " + it.Keys[0]
		it.Link = "https://example.org/" + it.Keys[0]
	}
	return it
}

// ToNotifier plans one item notification per fresh item for notifier.
func ToNotifier(notifier string) func([]crier.NewItem, bool) []crier.Delivery {
	return func(fresh []crier.NewItem, _ bool) []crier.Delivery {
		var ds []crier.Delivery
		for _, it := range fresh {
			ds = append(ds, crier.Delivery{Notifier: notifier, Notification: crier.Notification{
				Kind: crier.KindItem, Feed: "feed", ItemID: it.ID(), Title: it.Title, Link: it.Link,
			}})
		}
		return ds
	}
}

func Delivery(notifier, title string) crier.Delivery {
	return crier.Delivery{Notifier: notifier, Notification: crier.Notification{Kind: crier.KindTest, Feed: "f", Title: title}}
}

func Titles(es []crier.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Notification.Title)
	}
	return out
}

// Helpers that fail the test on a store error, for the steps that set a
// test up rather than check it.

func (e *env) ingest(feed string, st crier.FeedState, items []crier.Item,
	plan func([]crier.NewItem, bool) []crier.Delivery) crier.IngestResult {
	e.t.Helper()
	res, err := e.s.Ingest(feed, st, items, plan)
	if err != nil {
		e.t.Fatalf("Ingest(%s): %v", feed, err)
	}
	return res
}

func (e *env) enqueue(ds ...crier.Delivery) []crier.Entry {
	e.t.Helper()
	es, err := e.s.Enqueue(ds...)
	if err != nil {
		e.t.Fatalf("Enqueue: %v", err)
	}
	return es
}

func (e *env) pending(notifier string) []crier.Entry {
	e.t.Helper()
	es, err := e.s.Pending(notifier)
	if err != nil {
		e.t.Fatalf("Pending(%s): %v", notifier, err)
	}
	return es
}

func (e *env) outbox() []crier.Entry {
	e.t.Helper()
	es, err := e.s.Outbox()
	if err != nil {
		e.t.Fatalf("Outbox: %v", err)
	}
	return es
}

func (e *env) deadLetters() []crier.DeadLetter {
	e.t.Helper()
	dl, err := e.s.DeadLetters()
	if err != nil {
		e.t.Fatalf("DeadLetters: %v", err)
	}
	return dl
}

// seen reports, per key, whether feed has seen it.
func (e *env) seen(feed string, keys ...string) map[string]bool {
	e.t.Helper()
	out := make(map[string]bool)
	for _, k := range keys {
		ok, err := e.s.Seen(feed, k)
		if err != nil {
			e.t.Fatalf("Seen(%s, %s): %v", feed, k, err)
		}
		out[k] = ok
	}
	return out
}

// today returns the day counters of the clock's day.
func (e *env) today() crier.Day {
	e.t.Helper()
	days, err := e.s.Days(1)
	if err != nil || len(days) != 1 {
		e.t.Fatalf("Days(1) = %v, %v", days, err)
	}
	return days[0]
}

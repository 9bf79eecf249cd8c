package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is an injectable time source that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openDSN opens the store at dsn with clk, closing it when the test ends.
func openDSN(t testing.TB, dsn string, clk *clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openTemp opens a store on a fresh database.
func openTemp(t testing.TB) (*Store, *clock) {
	t.Helper()
	clk := newClock()
	return openDSN(t, pgtest.DSN(t), clk), clk
}

// item builds an item from its keys; alt keys follow a "|" argument.
func item(keys ...string) crier.Item {
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

// toNotifier plans one item notification per fresh item for notifier.
func toNotifier(notifier string) func([]crier.NewItem, bool) []crier.Delivery {
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

func delivery(notifier, title string) crier.Delivery {
	return crier.Delivery{Notifier: notifier, Notification: crier.Notification{Kind: crier.KindTest, Feed: "f", Title: title}}
}

func titles(es []crier.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Notification.Title)
	}
	return out
}

// must(f())(t) is f's value, failing t on f's error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// mustOK(err)(t) fails t on err.
func mustOK(err error) func(testing.TB) {
	return func(t testing.TB) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

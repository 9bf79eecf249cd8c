package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var outboxTests = []test{
	{"order per notifier", testOutboxOrder},
	{"Enqueue is one transaction", testEnqueueAllOrNothing},
	{"an entry keeps its notification", testEntryKeepsNotification},
	{"unknown entries are ErrNotFound", testUnknownEntry},
	{"Retry and RetryUnconfirmed persist", testRetryPersists},
	{"quota parking keeps the queue's order", testParking},
	{"crash between send and done", testCrashBetweenSendAndDone},
	{"Coalesce", testCoalesce},
	{"Recent", testRecent},
	{"a delivery is remembered with its story", testRecentKeepsTheStory},
}

func testOutboxOrder(t *testing.T, e *env) {
	first := e.enqueue(Delivery("po", "p1"), Delivery("mail", "m1"), Delivery("po", "p2"))
	e.clk.Advance(time.Second)
	e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:1")}, func([]crier.NewItem, bool) []crier.Delivery {
		return []crier.Delivery{Delivery("mail", "m2")}
	})
	second := e.enqueue(Delivery("po", "p3"))
	var prev uint64
	for _, en := range append(first, second...) {
		if en.ID <= prev {
			t.Errorf("entry %q has ID %d after %d; want IDs increasing in queueing order", en.Notification.Title, en.ID, prev)
		}
		prev = en.ID
	}

	for notifier, want := range map[string][]string{"po": {"p1", "p2", "p3"}, "mail": {"m1", "m2"}, "none": nil} {
		pend, err := e.s.Pending(notifier)
		if err != nil || !slices.Equal(Titles(pend), want) {
			t.Errorf("Pending(%s) = %q, %v; want %q", notifier, Titles(pend), err, want)
		}
		next, ok, err := e.s.Next(notifier)
		if err != nil || ok != (len(want) > 0) || (ok && next.Notification.Title != want[0]) {
			t.Errorf("Next(%s) = %q, %v, %v; want the oldest of %q", notifier, next.Notification.Title, ok, err, want)
		}
	}
	if got := Titles(e.outbox()); !slices.Equal(got, []string{"p1", "m1", "p2", "m2", "p3"}) {
		t.Errorf("Outbox = %q; want queueing order", got)
	}
	counts, err := e.s.OutboxCounts()
	if err != nil || !maps.Equal(counts, map[string]int{"po": 3, "mail": 2}) {
		t.Errorf("OutboxCounts = %v, %v; want po 3, mail 2", counts, err)
	}
	names, err := e.s.OutboxNotifiers()
	if err != nil || !slices.Equal(names, []string{"mail", "po"}) {
		t.Errorf("OutboxNotifiers = %q, %v; want [mail po]", names, err)
	}

	// Delivering everything of one notifier leaves only the other.
	for _, en := range e.pending("mail") {
		if err := e.s.Done("mail", en.ID); err != nil {
			t.Fatal(err)
		}
	}
	names, err = e.s.OutboxNotifiers()
	if err != nil || !slices.Equal(names, []string{"po"}) {
		t.Errorf("OutboxNotifiers after draining mail = %q, %v; want [po]", names, err)
	}
	if counts, _ := e.s.OutboxCounts(); !maps.Equal(counts, map[string]int{"po": 3}) {
		t.Errorf("OutboxCounts after draining mail = %v; want po 3", counts)
	}
	if _, ok, err := e.s.Next("mail"); ok || err != nil {
		t.Errorf("Next(mail) after draining = %v, %v; want none", ok, err)
	}
}

// Enqueue queues all of its deliveries or none.
func testEnqueueAllOrNothing(t *testing.T, e *env) {
	if _, err := e.s.Enqueue(Delivery("po", "a"), Delivery("", "nobody's"), Delivery("po", "b")); err == nil {
		t.Fatal("Enqueue of a delivery naming no notifier succeeded")
	}
	if out := e.outbox(); len(out) != 0 {
		t.Errorf("outbox after a failed Enqueue = %q, want empty", Titles(out))
	}
	if es, err := e.s.Enqueue(); err != nil || len(es) != 0 {
		t.Errorf("Enqueue() = %v, %v; want nothing, no error", es, err)
	}
}

// What the dispatcher sends after a restart is the notification as it was
// queued, every field of it.
func testEntryKeepsNotification(t *testing.T, e *env) {
	prio := -1
	pub := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	queued := pub.Add(time.Minute)
	n := crier.Notification{
		Kind: crier.KindSummary, Feed: "LWN", FeedURL: "https://lwn.net/rss", FeedLink: "https://lwn.net/",
		ItemID: "g:1", Title: "Kernel 7.0 «ünïcode»", Link: "https://lwn.net/1", Summary: "Released.\nTwo lines.",
		Published: pub, Categories: []string{"kernel", "release"}, Image: "https://lwn.net/i.png", Priority: &prio,
		Count: 2, Items: []crier.Headline{{Title: "x", Link: "https://lwn.net/x", Sources: "A, B"}, {Title: "y"}},
		Digest: true, Story: "s7", AlsoIn: []string{"B"}, QueuedAt: queued,
	}
	es := e.enqueue(crier.Delivery{Notifier: "phone", Notification: n})
	if len(es) != 1 || es[0].Notifier != "phone" || !es[0].Created.Equal(Epoch) || es[0].ID == 0 {
		t.Fatalf("Enqueue = %+v; want one entry for phone created now", es)
	}
	e.restart()
	got, ok, err := e.s.Next("phone")
	if err != nil || !ok {
		t.Fatalf("Next after restart = %v, %v", ok, err)
	}
	if got.ID != es[0].ID || got.Attempts != 0 || !got.NextTry.IsZero() || got.LastError != "" || got.Unconfirmed != 0 {
		t.Errorf("entry after restart = %+v; want entry %d, fresh", got, es[0].ID)
	}
	if !sameNotification(got.Notification, n) {
		t.Errorf("notification after restart:\n%+v\nwant\n%+v", got.Notification, n)
	}
}

// sameNotification compares notifications with times by instant.
func sameNotification(a, b crier.Notification) bool {
	if !a.Published.Equal(b.Published) || !a.QueuedAt.Equal(b.QueuedAt) {
		return false
	}
	a.Published, a.QueuedAt, b.Published, b.QueuedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// Every operation on an entry that is not there (delivered meanwhile, or
// another notifier's) reports crier.ErrNotFound, which the dispatcher
// tells from a failing store.
func testUnknownEntry(t *testing.T, e *env) {
	es := e.enqueue(Delivery("po", "x"), Delivery("mail", "y"))
	missing := es[1].ID + 100
	next := Epoch.Add(time.Minute)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Done of an unknown id", func() error { return e.s.Done("po", missing) }},
		{"Done of another notifier's", func() error { return e.s.Done("mail", es[0].ID) }},
		{"Retry", func() error { return e.s.Retry("po", missing, 1, next, "x") }},
		{"RetryUnconfirmed", func() error { return e.s.RetryUnconfirmed("mail", es[0].ID, 1, next, "x") }},
		{"Bury", func() error { return e.s.Bury("po", missing, "x") }},
		{"Coalesce", func() error {
			_, err := e.s.Coalesce("po", []uint64{es[0].ID, es[1].ID}, crier.Notification{Title: "sum"})
			return err
		}},
	} {
		if err := tc.call(); !errors.Is(err, crier.ErrNotFound) {
			t.Errorf("%s = %v; want crier.ErrNotFound", tc.name, err)
		}
	}
	out := e.outbox()
	if len(out) != 2 || out[0].Attempts != 0 || out[1].Attempts != 0 || len(e.deadLetters()) != 0 {
		t.Errorf("outbox after failed calls = %+v; want both entries untouched, no dead letters", out)
	}
	if recent, _ := e.s.Recent(0); len(recent) != 0 {
		t.Errorf("recent deliveries after failed calls: %+v", recent)
	}
}

func testRetryPersists(t *testing.T, e *env) {
	es := e.enqueue(Delivery("po", "a"), Delivery("po", "b"))
	next := Epoch.Add(90 * time.Second)
	if err := e.s.Retry("po", es[0].ID, 3, next, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	later := Epoch.Add(10 * time.Minute)
	for i := range 2 {
		if err := e.s.RetryUnconfirmed("po", es[1].ID, 1+i, later, "timeout after the request was sent"); err != nil {
			t.Fatal(err)
		}
	}
	e.restart()
	pend := e.pending("po")
	if len(pend) != 2 {
		t.Fatalf("after restart: %q, want both entries", Titles(pend))
	}
	a, b := pend[0], pend[1]
	if a.ID != es[0].ID || a.Attempts != 3 || !a.NextTry.Equal(next) || a.LastError != "HTTP 500" || a.Unconfirmed != 0 {
		t.Errorf("retried entry after restart: %+v; want 3 attempts, next %v, HTTP 500, none unconfirmed", a, next)
	}
	if b.ID != es[1].ID || b.Attempts != 2 || !b.NextTry.Equal(later) || b.LastError != "timeout after the request was sent" || b.Unconfirmed != 2 {
		t.Errorf("unconfirmed entry after restart: %+v; want 2 attempts, next %v, 2 unconfirmed", b, later)
	}
	// Next is the queue's head whatever its next try: order over speed.
	if head, ok, err := e.s.Next("po"); err != nil || !ok || head.ID != es[0].ID {
		t.Errorf("Next = %d, %v, %v; want the retried head %d", head.ID, ok, err, es[0].ID)
	}
}

// A notifier out of quota is parked: its head entry waits, attempts
// untouched, until the quota resets; what was queued behind it stays
// behind it, across a restart.
func testParking(t *testing.T, e *env) {
	es := e.enqueue(Delivery("po", "a"), Delivery("po", "b"))
	reset := Epoch.Add(20 * day)
	if err := e.s.Retry("po", es[0].ID, 0, reset, "monthly quota used up"); err != nil {
		t.Fatal(err)
	}
	e.enqueue(Delivery("po", "c"))
	e.restart()
	head, ok, err := e.s.Next("po")
	if err != nil || !ok || head.ID != es[0].ID || head.Attempts != 0 || !head.NextTry.Equal(reset) {
		t.Fatalf("Next after restart = %+v, %v, %v; want the parked entry %d, 0 attempts, until %v", head, ok, err, es[0].ID, reset)
	}
	if got := Titles(e.pending("po")); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("queue while parked = %q, want [a b c]", got)
	}
	e.clk.Set(reset)
	for _, want := range []string{"a", "b", "c"} {
		en, ok, err := e.s.Next("po")
		if err != nil || !ok || en.Notification.Title != want {
			t.Fatalf("Next after the reset = %q, %v, %v; want %s", en.Notification.Title, ok, err, want)
		}
		if err := e.s.Done("po", en.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// A crash after a send and before its Done repeats at most that send: the
// entry is still there, still first, and nothing else was lost or sent.
func testCrashBetweenSendAndDone(t *testing.T, e *env) {
	e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:1"), Item("g:2"), Item("g:3")}, ToNotifier("po"))
	first, ok, err := e.s.Next("po")
	if err != nil || !ok {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	if err := e.s.Done("po", first.ID); err != nil {
		t.Fatal(err)
	}
	inFlight, ok, err := e.s.Next("po")
	if err != nil || !ok {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	// Sent; the process dies before Done.
	e.restart()

	again, ok, err := e.s.Next("po")
	if err != nil || !ok || again.ID != inFlight.ID || again.Notification.Title != inFlight.Notification.Title {
		t.Fatalf("Next after the crash = %+v, %v, %v; want the entry in flight, %d", again, ok, err, inFlight.ID)
	}
	if got := Titles(e.pending("po")); !slices.Equal(got, []string{"title of g:2", "title of g:3"}) {
		t.Errorf("queue after the crash = %q; want the one in flight and the one after it", got)
	}
	if recent, _ := e.s.Recent(0); len(recent) != 1 || recent[0].Title != "title of g:1" {
		t.Errorf("recent after the crash = %+v; want only the one delivered", recent)
	}
	if res := e.ingest("f", crier.FeedState{}, []crier.Item{Item("g:1"), Item("g:2"), Item("g:3")}, ToNotifier("po")); res.New != 0 {
		t.Errorf("the next poll after the crash found %d new items, want 0", res.New)
	}
}

func testCoalesce(t *testing.T, e *env) {
	es := e.enqueue(Delivery("po", "a"), Delivery("po", "b"), Delivery("mail", "m"), Delivery("po", "c"))
	sum := crier.Notification{Kind: crier.KindSummary, Feed: "f", Title: "3 new", Count: 3}

	// An id of another notifier fails the whole call.
	if _, err := e.s.Coalesce("po", []uint64{es[0].ID, es[2].ID}, sum); !errors.Is(err, crier.ErrNotFound) {
		t.Fatalf("Coalesce with a foreign id = %v; want crier.ErrNotFound", err)
	}
	if got := Titles(e.pending("po")); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("a failed Coalesce changed the queue: %q", got)
	}

	e.clk.Advance(time.Minute)
	en, err := e.s.Coalesce("po", []uint64{es[0].ID, es[1].ID}, sum)
	if err != nil {
		t.Fatal(err)
	}
	if en.ID <= es[3].ID || en.Notifier != "po" || en.Notification.Count != 3 ||
		!en.Notification.QueuedAt.Equal(e.clk.Now()) || !en.Created.Equal(e.clk.Now()) {
		t.Errorf("coalesced entry = %+v; want a fresh ID after %d, queued now", en, es[3].ID)
	}
	pend := e.pending("po")
	if !slices.Equal(Titles(pend), []string{"c", "3 new"}) || pend[1].ID != en.ID {
		t.Errorf("po queue = %q, want [c, 3 new]", Titles(pend))
	}
	if got := Titles(e.pending("mail")); !slices.Equal(got, []string{"m"}) {
		t.Errorf("mail queue touched: %q", got)
	}
}

// RecentKept is how many deliveries Recent remembers.
const RecentKept = 200

func testRecent(t *testing.T, e *env) {
	if r, err := e.s.Recent(0); err != nil || len(r) != 0 {
		t.Fatalf("Recent of a fresh store = %v, %v; want none", r, err)
	}
	total := RecentKept + 10
	for i := range total {
		es := e.enqueue(crier.Delivery{Notifier: "po", Notification: crier.Notification{
			Kind: crier.KindItem, Feed: "f", Title: fmt.Sprint("n", i), Link: fmt.Sprint("https://example.org/", i)}})
		e.clk.Advance(time.Minute)
		if err := e.s.Done("po", es[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.s.Recent(0)
	if err != nil || len(all) != RecentKept {
		t.Fatalf("Recent(0) = %d deliveries, %v; want the last %d", len(all), err, RecentKept)
	}
	for i, r := range all {
		if want := fmt.Sprint("n", total-1-i); r.Title != want {
			t.Fatalf("Recent(0)[%d] = %q, want %q: newest first", i, r.Title, want)
		}
	}
	if r := all[0]; !r.At.Equal(e.clk.Now()) || r.Notifier != "po" || r.Feed != "f" || r.Link != fmt.Sprint("https://example.org/", total-1) {
		t.Errorf("newest = %+v; want delivered now by po, with its feed and link", r)
	}
	if some, err := e.s.Recent(3); err != nil || len(some) != 3 || some[2].Title != fmt.Sprint("n", total-3) {
		t.Errorf("Recent(3) = %+v, %v; want the newest 3", some, err)
	}
	if sent := e.today().Sent["po"]; sent != total {
		t.Errorf("today's count of po's deliveries = %d, want %d", sent, total)
	}
	if out := e.outbox(); len(out) != 0 {
		t.Errorf("outbox not empty after delivering everything: %q", Titles(out))
	}
}

// A delivery keeps enough of its story for crier's own feeds to show it.
func testRecentKeepsTheStory(t *testing.T, e *env) {
	pub := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	n := crier.Notification{
		Kind: crier.KindItem, Feed: "LWN", FeedURL: "https://lwn.net/rss", ItemID: "g:1", Title: "Kernel 7.0",
		Link: "https://lwn.net/1", Summary: "Released.", Published: pub, Categories: []string{"kernel"},
		Items: []crier.Headline{{Title: "x", Link: "https://lwn.net/x"}}, QueuedAt: pub.Add(time.Minute),
		Story: "s7", AlsoIn: []string{"B"},
	}
	es := e.enqueue(crier.Delivery{Notifier: "phone", Notification: n})
	e.clk.Advance(time.Minute)
	if err := e.s.Done("phone", es[0].ID); err != nil {
		t.Fatal(err)
	}
	e.restart()
	got, err := e.s.Recent(1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Recent(1) = %v, %v", got, err)
	}
	r := got[0]
	want := crier.Recent{At: e.clk.Now(), Notifier: "phone", Feed: n.Feed, Title: n.Title, Link: n.Link,
		Kind: n.Kind, FeedURL: n.FeedURL, ItemID: n.ItemID, Summary: n.Summary, Published: pub,
		Categories: n.Categories, Items: n.Items, QueuedAt: n.QueuedAt, Story: "s7", AlsoIn: []string{"B"}}
	if !r.At.Equal(want.At) || !r.Published.Equal(want.Published) || !r.QueuedAt.Equal(want.QueuedAt) {
		t.Errorf("recent delivery times = %v %v %v; want %v %v %v", r.At, r.Published, r.QueuedAt, want.At, want.Published, want.QueuedAt)
	}
	r.At, r.Published, r.QueuedAt = want.At, want.Published, want.QueuedAt
	if !reflect.DeepEqual(r, want) {
		t.Errorf("recent delivery = %+v\nwant %+v", r, want)
	}
}

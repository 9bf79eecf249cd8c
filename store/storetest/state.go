package storetest

import (
	"maps"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var stateTests = []test{
	{"feed states", testFeedStates},
	{"pause and resume", testPause},
	{"day counters", testDays},
	{"subscriptions", testSubscriptions},
}

// What a poll saves is what the next poll, and the next crier, reads:
// at once, and after a restart, even a change of poll times only.
func testFeedStates(t *testing.T, e *env) {
	if _, ok, err := e.s.FeedState("f"); ok || err != nil {
		t.Fatalf("FeedState of a fresh store = %v, %v; want none", ok, err)
	}
	if states, err := e.s.FeedStates(); err != nil || len(states) != 0 {
		t.Fatalf("FeedStates of a fresh store = %v, %v; want none", states, err)
	}
	base := crier.FeedState{URL: "https://a.example/feed", ETag: `"e"`, LastModified: "Wed, 01 Jan 2025 10:00:00 GMT",
		LastStatus: 304, Seeded: true, LastPoll: Epoch, LastSuccess: Epoch, Items: 20, NewTotal: 7,
		BackoffUntil: Epoch.Add(time.Hour), MovedTo: "https://b.example/feed", Alerted: "stale"}
	if err := e.s.SaveFeedState("a", base); err != nil {
		t.Fatal(err)
	}
	polled := base
	e.clk.Advance(10 * time.Second)
	polled.LastPoll, polled.LastSuccess = e.clk.Now(), e.clk.Now()
	if err := e.s.SaveFeedState("a", polled); err != nil {
		t.Fatal(err)
	}
	failing := crier.FeedState{URL: "https://b.example/", LastPoll: e.clk.Now(), FailingSince: Epoch,
		Failures: 3, LastStatus: 500, LastError: "HTTP 500"}
	if err := e.s.SaveFeedState("b", failing); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		states, err := e.s.FeedStates()
		if err != nil || len(states) != 2 {
			t.Fatalf("%s: FeedStates = %v, %v; want a and b", when, states, err)
		}
		for id, want := range map[string]crier.FeedState{"a": polled, "b": failing} {
			one, ok, err := e.s.FeedState(id)
			if err != nil || !ok || !sameState(one, want) || !sameState(states[id], want) {
				t.Errorf("%s: state of %s = %+v (in FeedStates %+v), %v, %v; want %+v", when, id, one, states[id], ok, err, want)
			}
		}
	}
	check("at once")
	e.restart()
	check("after a restart")
}

// sameState compares states with times by instant.
func sameState(a, b crier.FeedState) bool {
	for _, p := range []struct{ a, b *time.Time }{
		{&a.LastPoll, &b.LastPoll}, {&a.LastSuccess, &b.LastSuccess}, {&a.FailingSince, &b.FailingSince},
		{&a.LastNew, &b.LastNew}, {&a.BackoffUntil, &b.BackoffUntil}, {&a.NotBefore, &b.NotBefore},
	} {
		if !p.a.Equal(*p.b) {
			return false
		}
		*p.a, *p.b = time.Time{}, time.Time{}
	}
	return a == b
}

// A paused feed stays paused across a restart, pausing twice keeps the
// first time, and resume forgets it.
func testPause(t *testing.T, e *env) {
	if paused, err := e.s.Paused(); err != nil || len(paused) != 0 {
		t.Fatalf("Paused() of a fresh store = %v, %v; want none", paused, err)
	}
	since, err := e.s.Pause("f1")
	if err != nil || !since.Equal(Epoch) {
		t.Fatalf("Pause(f1) = %v, %v; want %v", since, err, Epoch)
	}
	e.clk.Advance(time.Hour)
	if again, err := e.s.Pause("f1"); err != nil || !again.Equal(since) {
		t.Errorf("second Pause(f1) = %v, %v; want the first %v", again, err, since)
	}
	if _, err := e.s.Pause("f3"); err != nil {
		t.Fatal(err)
	}
	e.restart()
	for feed, want := range map[string]bool{"f1": true, "f2": false, "f3": true} {
		if got, err := e.s.IsPaused(feed); err != nil || got != want {
			t.Errorf("IsPaused(%s) after restart = %v, %v; want %v", feed, got, err, want)
		}
	}
	all, err := e.s.Paused()
	if err != nil || len(all) != 2 || !all["f1"].Equal(since) || !all["f3"].Equal(Epoch.Add(time.Hour)) {
		t.Errorf("Paused() = %v, %v; want f1 since %v, f3 an hour later", all, err, since)
	}
	if was, err := e.s.Resume("f1"); err != nil || !was {
		t.Errorf("Resume(f1) = %v, %v; want true", was, err)
	}
	if was, err := e.s.Resume("f1"); err != nil || was {
		t.Errorf("second Resume(f1) = %v, %v; want false", was, err)
	}
	if was, err := e.s.Resume("never"); err != nil || was {
		t.Errorf("Resume of a feed never paused = %v, %v; want false", was, err)
	}
	if got, _ := e.s.IsPaused("f1"); got {
		t.Error("f1 still paused after Resume")
	}
}

// The status page's charts: new items (not a seeding poll's), deliveries
// and polls per day, kept across a restart, zero for quiet days.
func testDays(t *testing.T, e *env) {
	e.ingest("f1", crier.FeedState{}, []crier.Item{Item("a"), Item("b")}, ToNotifier("phone"))
	e.ingest("f1", crier.FeedState{}, []crier.Item{Item("a"), Item("b"), Item("c"), Item("d")}, ToNotifier("phone"))
	e.s.RecordPoll(2*time.Second, false)
	e.s.RecordPoll(4*time.Second, true)
	e.clk.Advance(day)
	e.ingest("f1", crier.FeedState{}, []crier.Item{Item("c"), Item("d"), Item("e")}, ToNotifier("phone"))
	e.ingest("f2", crier.FeedState{}, []crier.Item{Item("x")}, nil) // seeding: not news
	for _, en := range e.outbox() {
		if err := e.s.Done(en.Notifier, en.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.s.RecordPoll(time.Second, false)

	type want struct {
		date            string
		newItems, sent  map[string]int
		polls, failures int
		pollTime, max   time.Duration
	}
	wants := []want{
		{dateOf(Epoch.Add(-day)), map[string]int{}, map[string]int{}, 0, 0, 0, 0},
		{dateOf(Epoch), map[string]int{"f1": 2}, map[string]int{}, 2, 1, 6 * time.Second, 4 * time.Second},
		{dateOf(Epoch.Add(day)), map[string]int{"f1": 1}, map[string]int{"phone": 5}, 1, 0, time.Second, time.Second},
	}
	check := func(when string) {
		t.Helper()
		days, err := e.s.Days(3)
		if err != nil || len(days) != 3 {
			t.Fatalf("%s: Days(3) = %+v, %v; want 3 days", when, days, err)
		}
		for i, w := range wants {
			d := days[i]
			if d.Date != w.date || !maps.Equal(d.New, w.newItems) || !maps.Equal(d.Sent, w.sent) ||
				d.Polls != w.polls || d.Failures != w.failures || d.PollTime != w.pollTime || d.PollMax != w.max {
				t.Errorf("%s: day %d = %+v, want %+v", when, i, d, w)
			}
		}
	}
	check("at once")
	e.restart()
	check("after a restart")
}

// WebSub subscriptions survive a restart: the secret that checks the
// hub's signatures and the lease that says when to renew must not be lost.
func testSubscriptions(t *testing.T, e *env) {
	if subs, err := e.s.Subscriptions(); err != nil || len(subs) != 0 {
		t.Fatalf("Subscriptions of a fresh store = %v, %v; want none", subs, err)
	}
	lease := Epoch.Add(10 * day)
	a := crier.Subscription{FeedID: "https://a.example/feed", Topic: "https://a.example/feed", Hub: "https://hub.example/",
		Callback: "c0ffee", CallbackURL: "https://crier.example/websub/c0ffee", Secret: "s3cret", State: crier.SubActive,
		RequestedAt: Epoch, LeaseSeconds: 864000, LeaseExpires: lease}
	b := crier.Subscription{FeedID: "https://b.example/feed", Topic: "https://b.example/self", Hub: "https://hub.example/",
		Callback: "beef", Secret: "other", State: crier.SubPending, Pending: "subscribe", Attempts: 2, LastError: "HTTP 503"}
	for _, sub := range []crier.Subscription{a, b} {
		if err := e.s.SaveSubscription(sub); err != nil {
			t.Fatal(err)
		}
	}
	b.State, b.Pending = crier.SubFailed, "" // saved again: replaced, not added
	if err := e.s.SaveSubscription(b); err != nil {
		t.Fatal(err)
	}
	e.restart()

	subs, err := e.s.Subscriptions()
	if err != nil || len(subs) != 2 {
		t.Fatalf("after restart: %+v, %v; want a and b", subs, err)
	}
	// Ordered by callback ID: beef, c0ffee.
	for i, want := range []crier.Subscription{b, a} {
		if !sameSubscription(subs[i], want) {
			t.Errorf("subscription %d after restart = %+v, want %+v", i, subs[i], want)
		}
	}
	if err := e.s.DeleteSubscription(a.Callback); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteSubscription("unknown"); err != nil {
		t.Errorf("DeleteSubscription of an unknown callback = %v, want nil", err)
	}
	if subs, _ := e.s.Subscriptions(); len(subs) != 1 || subs[0].Callback != "beef" {
		t.Errorf("after delete: %+v, want only b", subs)
	}
	for _, bad := range []crier.Subscription{{}, {FeedID: "f"}, {Callback: "c"}} {
		if err := e.s.SaveSubscription(bad); err == nil {
			t.Errorf("SaveSubscription(%+v) succeeded; want an error: no feed or no callback", bad)
		}
	}
}

func sameSubscription(a, b crier.Subscription) bool {
	for _, p := range []struct{ a, b *time.Time }{
		{&a.RequestedAt, &b.RequestedAt}, {&a.LeaseExpires, &b.LeaseExpires}, {&a.RetryAt, &b.RetryAt},
	} {
		if !p.a.Equal(*p.b) {
			return false
		}
		*p.a, *p.b = time.Time{}, time.Time{}
	}
	return a == b
}

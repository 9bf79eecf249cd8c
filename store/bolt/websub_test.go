package bolt

import (
	"github.com/crierd/crier"

	"path/filepath"
	"testing"
	"time"
)

// WebSub subscriptions survive a restart: the secret that checks the
// hub's signatures and the lease that says when to renew must not be lost.
func TestSubscriptionsPersist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	clk := newClock()
	s := openAt(t, path, clk)
	if subs, err := s.Subscriptions(); err != nil || len(subs) != 0 {
		t.Fatalf("fresh store: %v, %v; want none", subs, err)
	}
	lease := clk.Now().Add(10 * 24 * time.Hour).UTC()
	a := crier.Subscription{FeedID: "https://a.example/feed", Topic: "https://a.example/feed", Hub: "https://hub.example/",
		Callback: "c0ffee", Secret: "s3cret", State: crier.SubActive, LeaseExpires: lease}
	b := crier.Subscription{FeedID: "https://b.example/feed", Topic: "https://b.example/self", Hub: "https://hub.example/",
		Callback: "beef", Secret: "other", State: crier.SubPending, Pending: "subscribe"}
	for _, sub := range []crier.Subscription{a, b} {
		if err := s.SaveSubscription(sub); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, clk)
	subs, err := s.Subscriptions()
	if err != nil || len(subs) != 2 {
		t.Fatalf("after reopen: %+v, %v; want both", subs, err)
	}
	if got := subs[1]; got.FeedID != a.FeedID || got.Secret != "s3cret" || got.State != crier.SubActive || !got.LeaseExpires.Equal(lease) {
		t.Errorf("after reopen: %+v, want %+v", got, a)
	}
	if err := s.DeleteSubscription(a.Callback); err != nil {
		t.Fatal(err)
	}
	if subs, _ := s.Subscriptions(); len(subs) != 1 || subs[0].Callback != "beef" {
		t.Errorf("after delete: %+v, want only b", subs)
	}
	if err := s.SaveSubscription(crier.Subscription{}); err == nil {
		t.Errorf("a subscription without a feed was saved")
	}
}

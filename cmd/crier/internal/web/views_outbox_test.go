package web

import (
	"github.com/crierd/crier"
	"testing"
	"time"
)

// A queue's next_try is when its notifier will next try to send: the head
// entry's NextTry while it backs off, null ("now") once that has passed.
func TestQueueNextTry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headTry time.Time
		want    time.Time
	}{
		{"backing off", now.Add(90 * time.Second), now.Add(90 * time.Second)},
		{"due since a while", now.Add(-10 * time.Minute), time.Time{}},
		{"never failed", time.Time{}, time.Time{}},
	}
	for _, tc := range tests {
		entries := []crier.Entry{
			{ID: 1, Notifier: "phone", NextTry: tc.headTry, Created: now.Add(-time.Hour)},
			{ID: 2, Notifier: "phone", NextTry: now.Add(time.Hour), Created: now.Add(-time.Minute)},
		}
		queues, _ := outboxViews(entries, now)
		if len(queues) != 1 || !time.Time(queues[0].NextTry).Equal(tc.want) {
			t.Errorf("%s: queues %+v, want next try %v", tc.name, queues, tc.want)
		}
	}
}

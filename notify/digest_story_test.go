package notify

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// A digest lists one story once, naming every feed that reported it: those
// whose items it holds and those the store learned of after the push was
// queued (their reports were not queued again).
func TestDigestListsStoryOnceWithSources(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	r := &recordingNotifier{}
	d := NewDispatcher(s, map[string]Notifier{"mail": r}, DispatcherOptions{
		Now: clk.Now, Digest: map[string]string{"mail": "CRON_TZ=UTC 0 8 * * *"},
		StorySources: func(story string) []string {
			if story == "s1" {
				return []string{"Wire", "Journal", "Radio"}
			}
			return nil
		}})
	wire := feedNews("Wire", "Bridge collapses", "Other news")
	wire[0].Story, wire[1].Story = "s1", "s2"
	journal := feedNews("Journal", "Key Bridge collapses")
	journal[0].Story, journal[0].AlsoIn = "s1", []string{"Wire"}
	enqueueAll(t, s, "mail", wire...)
	enqueueAll(t, s, "mail", journal...)

	clk.Set(time.Date(2026, 3, 3, 8, 0, 1, 0, time.UTC))
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	dig := r.got[len(r.got)-1]
	r.mu.Unlock()
	var lines []string
	for _, h := range dig.Items {
		lines = append(lines, h.Title)
	}
	want := []string{"Wire, Journal, Radio: Bridge collapses", "Other news"} // one feed apart from the story: no prefix
	slices.Sort(lines)
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Errorf("digest lists %q, want %q", lines, want)
	}
	if dig.Kind != crier.KindSummary {
		t.Errorf("digest kind %q", dig.Kind)
	}
}

package feeds

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// storyEnv polls feeds into a real state file through the poller's own
// ingest (Plan, then Cluster, in the store's transaction).
type storyEnv struct {
	path  string
	now   time.Time
	store *bolt.Store
	p     *Poller
}

func newStoryEnv(t *testing.T, policy StoryPolicy) *storyEnv {
	t.Helper()
	e := &storyEnv{path: filepath.Join(t.TempDir(), "state.db"), now: plStart}
	e.open(t)
	e.p.SetRouting(Routing{Stories: policy})
	return e
}

func (e *storyEnv) open(t *testing.T) {
	t.Helper()
	s, err := bolt.Open(e.path, bolt.Options{Now: func() time.Time { return e.now }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var routing *Routing
	if e.p != nil {
		routing = e.p.routing.Load()
	}
	e.store = s
	e.p = NewPoller(NewFetcher(nil, FetchOptions{}), s, PollerOptions{Now: func() time.Time { return e.now }})
	if routing != nil {
		e.p.SetRouting(*routing)
	}
}

// restart closes the state file and opens it again, as a restarted daemon.
func (e *storyEnv) restart(t *testing.T) {
	t.Helper()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

type storyItem struct{ title, link, summary string }

// poll ingests items as a seeded feed's new items and returns what it queued.
func (e *storyEnv) poll(t *testing.T, f crier.Feed, items ...storyItem) []crier.Entry {
	t.Helper()
	before := e.outboxIDs(t)
	var its []crier.Item
	for _, it := range items {
		its = append(its, crier.Item{Title: it.title, Link: it.link, Summary: it.summary})
	}
	Identify(its, nil, "")
	st, _, err := e.store.FeedState(f.FeedID())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Seeded {
		st.Seeded = true
		if err := e.store.SaveFeedState(f.FeedID(), st); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.p.ingest(f, st, its, e.now, e.plan(f)); err != nil {
		t.Fatalf("feed %s: %v", f.Name, err)
	}
	return e.queuedSince(t, before)
}

func (e *storyEnv) plan(f crier.Feed) func([]crier.NewItem, bool) []crier.Delivery {
	return func(fresh []crier.NewItem, first bool) []crier.Delivery {
		ds, _ := Plan(PlanInput{Feed: f, Fresh: fresh, FirstPoll: first, Now: e.now})
		return ds
	}
}

func (e *storyEnv) outboxIDs(t *testing.T) map[uint64]bool {
	t.Helper()
	es, err := e.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint64]bool{}
	for _, x := range es {
		ids[x.ID] = true
	}
	return ids
}

func (e *storyEnv) queuedSince(t *testing.T, before map[uint64]bool) []crier.Entry {
	t.Helper()
	es, err := e.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var out []crier.Entry
	for _, x := range es {
		if !before[x.ID] {
			out = append(out, x)
		}
	}
	return out
}

func storyFeed(name string, mode crier.SameStory, notify ...string) crier.Feed {
	return crier.Feed{Name: name, URL: "https://" + name + ".example/feed", Notify: notify, SameStory: mode}
}

// pushed lists "notifier: title" of entries, for comparing.
func pushed(es []crier.Entry) []string {
	var out []string
	for _, x := range es {
		out = append(out, x.Notifier+": "+x.Notification.Title)
	}
	return out
}

func TestSameStoryAcrossFeeds(t *testing.T) {
	t.Parallel()
	quake := storyItem{"Quake of magnitude 7.1 hits southern Japan", "https://news.example/japan-quake", ""}
	tests := []struct {
		name     string
		mode     crier.SameStory
		notifier crier.SameStory
		first    storyItem
		second   storyItem
		want     []string // what the second feed's poll pushes
		alsoIn   []string // in its log record: when it joined the first report's story
	}{
		{"same link in another feed", crier.SameStoryLink, crier.SameStoryLink, quake,
			storyItem{"Japan: strong quake", "https://news.example/japan-quake?utm_source=rss#top", ""}, nil, []string{"a"}},
		{"same link, notifier off", crier.SameStoryLink, crier.SameStoryOff, quake,
			storyItem{"Japan: strong quake", "https://news.example/japan-quake", ""}, []string{"po: Japan: strong quake"}, []string{"a"}},
		{"near-duplicate headline, similar", crier.SameStorySimilar, crier.SameStorySimilar, quake,
			storyItem{"Strong 7.1 earthquake strikes off Japan's south coast", "https://other.example/a/1", ""}, nil, []string{"a"}},
		{"near-duplicate headline, only link", crier.SameStoryLink, crier.SameStorySimilar, quake,
			storyItem{"Strong 7.1 earthquake strikes off Japan's south coast", "https://other.example/a/1", ""},
			[]string{"po: Strong 7.1 earthquake strikes off Japan's south coast"}, nil},
		{"near-duplicate headline, notifier link", crier.SameStorySimilar, crier.SameStoryLink, quake,
			storyItem{"Strong 7.1 earthquake strikes off Japan's south coast", "https://other.example/a/1", ""},
			[]string{"po: Strong 7.1 earthquake strikes off Japan's south coast"}, []string{"a"}},
		{"another earthquake", crier.SameStorySimilar, crier.SameStorySimilar, quake,
			storyItem{"Magnitude 6.2 earthquake strikes central Peru", "https://other.example/a/2", ""},
			[]string{"po: Magnitude 6.2 earthquake strikes central Peru"}, nil},
		{"daily briefing", crier.SameStorySimilar, crier.SameStorySimilar,
			storyItem{"Daily briefing", "https://news.example/briefing/1", ""},
			storyItem{"Daily briefing", "https://other.example/briefing/2", ""}, []string{"po: Daily briefing"}, nil},
		{"feed off", crier.SameStoryOff, crier.SameStorySimilar, quake, quake, []string{"po: " + quake.title}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newStoryEnv(t, StoryPolicy{Notifiers: map[string]NotifierStory{
				"po": {Mode: tc.notifier}, "log": {Mode: crier.SameStoryOff}}})
			a, b := storyFeed("a", tc.mode, "po", "log"), storyFeed("b", tc.mode, "po", "log")
			if got := pushed(e.poll(t, a, tc.first)); len(got) != 2 {
				t.Fatalf("first report pushed %q, want it to both notifiers", got)
			}
			e.now = e.now.Add(time.Hour)
			got := e.poll(t, b, tc.second)
			var po []string
			for _, p := range pushed(got) {
				if strings.HasPrefix(p, "po: ") {
					po = append(po, p)
				}
			}
			if !slices.Equal(po, tc.want) {
				t.Errorf("second report pushed %q, want %q", po, tc.want)
			}
			// The log notifier keeps every item, with its story.
			i := slices.IndexFunc(got, func(x crier.Entry) bool { return x.Notifier == "log" })
			if i < 0 {
				t.Fatalf("the log notifier did not get the second report: %q", pushed(got))
			}
			n := got[i].Notification
			if !slices.Equal(n.AlsoIn, tc.alsoIn) || (n.Story == "") != (tc.mode == crier.SameStoryOff) {
				t.Errorf("log record story %q also_in %q, want also_in %q", n.Story, n.AlsoIn, tc.alsoIn)
			}
		})
	}
}

// A feed's recurring titles are its own stories, never merged by similarity.
func TestSameStoryRecurringTitleInOneFeed(t *testing.T) {
	t.Parallel()
	e := newStoryEnv(t, StoryPolicy{Notifiers: map[string]NotifierStory{"po": {Mode: crier.SameStorySimilar}}})
	live := storyFeed("live", crier.SameStorySimilar, "po")
	e.poll(t, live, storyItem{"Live: Russia-Ukraine war latest updates from Kyiv", "https://news.example/live/1", ""})
	e.now = e.now.Add(2 * time.Hour)
	if got := pushed(e.poll(t, live, storyItem{"Live: Russia-Ukraine war latest updates from Kyiv", "https://news.example/live/2", ""})); len(got) != 1 {
		t.Errorf("the next live blog of the same feed pushed %q, want it pushed", got)
	}
}

// The window survives a restart, and ends: a report after it is news again.
func TestSameStoryWindowAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newStoryEnv(t, StoryPolicy{Notifiers: map[string]NotifierStory{"po": {Window: 6 * time.Hour}}})
	a, b, c := storyFeed("a", crier.SameStoryLink, "po"), storyFeed("b", crier.SameStoryLink, "po"), storyFeed("c", crier.SameStoryLink, "po")
	e.poll(t, a, storyItem{"Story", "https://news.example/s", ""})
	e.restart(t)
	e.now = e.now.Add(5 * time.Hour)
	if got := pushed(e.poll(t, b, storyItem{"Story again", "https://news.example/s", ""})); got != nil {
		t.Errorf("after a restart, inside the window: pushed %q", got)
	}
	e.now = e.now.Add(2 * time.Hour)
	if got := pushed(e.poll(t, c, storyItem{"Story later", "https://news.example/s", ""})); len(got) != 1 {
		t.Errorf("after the window: pushed %q, want the story again", got)
	}
}

// Three feeds within 30 minutes: one "Developing" push at priority 1, even
// though the first report was filtered; never a second one.
func TestCorroborationEscalatesOnce(t *testing.T) {
	t.Parallel()
	e := newStoryEnv(t, StoryPolicy{Notifiers: map[string]NotifierStory{
		"po": {Escalate: &crier.Escalate{Sources: 3, Within: 30 * time.Minute, Priority: 1}}}})
	exclude, err := crier.NewMatcher([]string{"bridge"})
	if err != nil {
		t.Fatal(err)
	}
	a := storyFeed("Wire", crier.SameStoryLink, "po")
	a.Exclude = exclude
	b, c, d := storyFeed("Paper", crier.SameStoryLink, "po"), storyFeed("TV", crier.SameStoryLink, "po"), storyFeed("Radio", crier.SameStoryLink, "po")
	item := func(title string) storyItem { return storyItem{title, "https://news.example/bridge", ""} }

	if got := pushed(e.poll(t, a, item("Baltimore bridge collapses"))); got != nil {
		t.Fatalf("filtered report pushed %q", got)
	}
	e.now = e.now.Add(10 * time.Minute)
	if got := pushed(e.poll(t, b, item("Key Bridge collapses"))); len(got) != 1 {
		t.Fatalf("second report (the first pushed) pushed %q", got)
	}
	e.now = e.now.Add(10 * time.Minute)
	got := e.poll(t, c, item("Bridge in Baltimore collapses"))
	want := []string{"po: Developing: Baltimore bridge collapses — reported by Wire, Paper, TV"}
	if !slices.Equal(pushed(got), want) {
		t.Fatalf("third report pushed %q, want %q", pushed(got), want)
	}
	if p := got[0].Notification.Priority; p == nil || *p != 1 {
		t.Errorf("escalation priority %v, want 1", p)
	}
	e.now = e.now.Add(5 * time.Minute)
	if got := pushed(e.poll(t, d, item("Baltimore: bridge down"))); got != nil {
		t.Errorf("fourth report pushed %q, want nothing: escalated once already", got)
	}
}

// A poll whose transaction fails after clustering leaves no trace: the
// story is not remembered without its push, and the retry pushes it once.
// A crash after the commit, before the send, keeps the push in the outbox
// and the story, so that no other feed pushes it again.
func TestSameStoryCrashBetweenClusterAndSend(t *testing.T) {
	t.Parallel()
	e := newStoryEnv(t, StoryPolicy{})
	a, b := storyFeed("a", crier.SameStoryLink, "po"), storyFeed("b", crier.SameStoryLink, "po")
	its := []crier.Item{{Title: "Story", Link: "https://news.example/s"}}
	Identify(its, nil, "")
	boom := errors.New("crash")
	if err := e.store.SaveFeedState(a.FeedID(), crier.FeedState{Seeded: true}); err != nil {
		t.Fatal(err)
	}
	_, err := e.store.IngestStories(a.FeedID(), crier.FeedState{Seeded: true}, its, time.Hour,
		func(fresh []crier.NewItem, first bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
			if _, err := Cluster(ClusterInput{Feed: a, Fresh: fresh, Now: e.now}, e.plan(a)(fresh, first), stx); err != nil {
				return nil, err
			}
			return nil, boom
		})
	if !errors.Is(err, boom) {
		t.Fatalf("ingest: %v, want the crash", err)
	}
	if _, ok, _ := e.store.StoryByKey("l:https://news.example/s"); ok {
		t.Fatal("a story was remembered by a transaction that failed")
	}
	if got := pushed(e.poll(t, a, storyItem{"Story", "https://news.example/s", ""})); len(got) != 1 {
		t.Fatalf("the retry pushed %q, want the story once", got)
	}
	e.restart(t) // the daemon dies before sending
	if got := pushed(e.queuedSince(t, nil)); len(got) != 1 {
		t.Fatalf("after the crash the outbox holds %q, want the story's push", got)
	}
	if got := pushed(e.poll(t, b, storyItem{"Story", "https://news.example/s", ""})); got != nil {
		t.Errorf("another feed's report after the crash pushed %q, want nothing", got)
	}
}

// A summary lists a story once, with every feed that reported it.
func TestSameStorySummaryListsStoryOnce(t *testing.T) {
	t.Parallel()
	e := newStoryEnv(t, StoryPolicy{})
	a, b := storyFeed("a", crier.SameStoryLink, "po"), storyFeed("b", crier.SameStoryLink, "po")
	b.Burst = 2
	e.poll(t, a, storyItem{"One", "https://news.example/1", ""})
	got := e.poll(t, b, storyItem{"One", "https://news.example/1", ""}, storyItem{"Two", "https://news.example/2", ""},
		storyItem{"Three", "https://news.example/3", ""})
	if len(got) != 1 || got[0].Notification.Kind != crier.KindSummary {
		t.Fatalf("pushed %q, want one summary", pushed(got))
	}
	var lines []string
	for _, h := range got[0].Notification.Items {
		lines = append(lines, h.Title+" ("+h.Sources+")")
	}
	want := []string{"Three (b)", "Two (b)", "One (a, b)"}
	slices.Sort(lines)
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Errorf("summary lists %q, want %q", lines, want)
	}
}

// A story told in a burst summary counts as pushed: another feed's report
// of it is not pushed again.
func TestSameStorySummaryCountsAsPushed(t *testing.T) {
	t.Parallel()
	e := newStoryEnv(t, StoryPolicy{})
	a, b := storyFeed("a", crier.SameStoryLink, "po"), storyFeed("b", crier.SameStoryLink, "po")
	a.Burst = 1
	if got := e.poll(t, a, storyItem{"One", "https://news.example/1", ""}, storyItem{"Two", "https://news.example/2", ""}); len(got) != 1 {
		t.Fatalf("pushed %q, want one summary", pushed(got))
	}
	if got := pushed(e.poll(t, b, storyItem{"One", "https://news.example/1", ""})); got != nil {
		t.Errorf("a story already in a summary pushed %q", got)
	}
}

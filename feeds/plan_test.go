package feeds

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
)

func fresh(n int, reposted int) []crier.NewItem {
	var out []crier.NewItem
	for i := range n {
		out = append(out, crier.NewItem{
			Item: crier.Item{
				Keys:      []string{fmt.Sprintf("g:%d", i)},
				Title:     fmt.Sprintf("Story %d", i),
				Link:      fmt.Sprintf("https://news.example/%d", i),
				Published: time.Date(2026, 5, 1, i, 0, 0, 0, time.UTC),
			},
			Reposted: i < reposted,
		})
	}
	return out
}

func mustMatcher(t *testing.T, p ...string) crier.Matcher {
	t.Helper()
	m, err := crier.NewMatcher(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func prio(p int) *int { return &p }

func TestPlan(t *testing.T) {
	base := crier.Feed{Name: "Wire", URL: "https://news.example/rss", Notify: []string{"phone", "log"}, Burst: 5}
	tests := []struct {
		name      string
		feed      func(f *crier.Feed)
		fresh     []crier.NewItem
		first     bool
		burst     map[string]int
		want      []string // "notifier:kind:title"
		wantStats PlanStats
	}{
		{name: "two new items reach both notifiers", fresh: fresh(2, 0),
			want:      []string{"phone:item:Story 0", "phone:item:Story 1", "log:item:Story 0", "log:item:Story 1"},
			wantStats: PlanStats{Announced: 2}},
		{name: "first poll announces nothing by default", fresh: fresh(30, 0), first: true,
			wantStats: PlanStats{Backlog: 30}},
		{name: "first poll announces the newest backfill items", fresh: fresh(30, 0), first: true,
			feed:      func(f *crier.Feed) { f.Backfill = 2 },
			want:      []string{"phone:item:Story 28", "phone:item:Story 29", "log:item:Story 28", "log:item:Story 29"},
			wantStats: PlanStats{Announced: 2, Backlog: 28}},
		{name: "a burst becomes one summary per notifier, jsonl keeps every item", fresh: fresh(30, 0),
			burst: map[string]int{"log": 0},
			want: append([]string{"phone:summary:30 new headlines from Wire"},
				func() (s []string) {
					for i := range 30 {
						s = append(s, fmt.Sprintf("log:item:Story %d", i))
					}
					return
				}()...),
			wantStats: PlanStats{Announced: 30}},
		{name: "exactly burst items are still sent one by one", fresh: fresh(5, 0),
			feed:      func(f *crier.Feed) { f.Notify = []string{"phone"} },
			want:      []string{"phone:item:Story 0", "phone:item:Story 1", "phone:item:Story 2", "phone:item:Story 3", "phone:item:Story 4"},
			wantStats: PlanStats{Announced: 5}},
		{name: "rotated ids announce nothing", fresh: fresh(20, 20),
			wantStats: PlanStats{Reposted: 20}},
		{name: "mostly rotated: only the genuinely new item", fresh: fresh(5, 4),
			feed:      func(f *crier.Feed) { f.Notify = []string{"phone"} },
			want:      []string{"phone:item:Story 4"},
			wantStats: PlanStats{Announced: 1, Reposted: 4}},
		{name: "one recurring title is not a rotation", fresh: fresh(1, 1),
			feed:      func(f *crier.Feed) { f.Notify = []string{"phone"} },
			want:      []string{"phone:item:Story 0"},
			wantStats: PlanStats{Announced: 1}},
		{name: "include and exclude", fresh: fresh(4, 0),
			feed: func(f *crier.Feed) {
				f.Notify = []string{"phone"}
				f.Include = mustMatcher(t, "/story [0-2]$/")
				f.Exclude = mustMatcher(t, "STORY 1")
			},
			want:      []string{"phone:item:Story 0", "phone:item:Story 2"},
			wantStats: PlanStats{Announced: 2, Filtered: 2}},
		{name: "first matching rule routes and sets priority", fresh: fresh(3, 0),
			feed: func(f *crier.Feed) {
				f.Rules = []crier.Rule{
					{Match: mustMatcher(t, "/story 1$/"), Priority: prio(1), Notify: []string{"phone"}},
					{Match: mustMatcher(t, "story"), Notify: []string{"log"}},
				}
			},
			want:      []string{"log:item:Story 0", "log:item:Story 2", "phone:item:Story 1!1"},
			wantStats: PlanStats{Announced: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := base
			if tt.feed != nil {
				tt.feed(&feed)
			}
			ds, st := Plan(PlanInput{Feed: feed, FeedLink: "https://news.example/", Fresh: tt.fresh, FirstPoll: tt.first, NotifierBurst: tt.burst, Now: time.Now()})
			var got []string
			for _, d := range ds {
				s := d.Notifier + ":" + d.Notification.Kind + ":" + d.Notification.Title
				if d.Notification.Priority != nil {
					s += fmt.Sprintf("!%d", *d.Notification.Priority)
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("deliveries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if st != tt.wantStats {
				t.Errorf("stats %+v, want %+v", st, tt.wantStats)
			}
		})
	}
}

func TestPlanSummaryContent(t *testing.T) {
	feed := crier.Feed{Name: "Wire", URL: "https://news.example/rss", Notify: []string{"phone"}, Burst: 5}
	ds, _ := Plan(PlanInput{Feed: feed, FeedLink: "https://news.example/", Fresh: fresh(8, 0), Now: time.Now()})
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want one summary", len(ds))
	}
	n := ds[0].Notification
	if n.Count != 8 || len(n.Items) != summaryHeadlines || n.Items[0].Title != "Story 0" || n.Link != "https://news.example/" {
		t.Errorf("summary = %+v", n)
	}
}

// A burst summary stands for every item in it, so it carries the most
// urgent of their priorities wherever that item sits in the burst: an
// urgent story must not lose its priority (and wait out quiet hours)
// because a routine one came after it. An item without a priority takes
// the notifier's default, which a summary keeps unless an item asked for
// more than normal.
func TestPlanSummaryPriority(t *testing.T) {
	urgentRule := func(title string, p int) crier.Rule {
		return crier.Rule{Match: mustMatcher(t, "/^"+title+"$/"), Priority: prio(p)}
	}
	tests := []struct {
		name  string
		feed  *int
		rules []crier.Rule
		want  string // "" for nil
	}{
		{name: "urgent first, low last", feed: prio(-1),
			rules: []crier.Rule{urgentRule("Story 0", 2)}, want: "2"},
		{name: "urgent in the middle", feed: prio(-1),
			rules: []crier.Rule{urgentRule("Story 3", 1)}, want: "1"},
		{name: "urgent last", feed: prio(0),
			rules: []crier.Rule{urgentRule("Story 7", 2)}, want: "2"},
		{name: "low last after default items keeps the default",
			rules: []crier.Rule{urgentRule("Story 7", -2)}, want: ""},
		{name: "low first after default items keeps the default",
			rules: []crier.Rule{urgentRule("Story 0", -1)}, want: ""},
		{name: "urgent beats default items",
			rules: []crier.Rule{urgentRule("Story 0", 1), urgentRule("Story 5", -2)}, want: "1"},
		{name: "all low stays low", feed: prio(-2),
			rules: []crier.Rule{urgentRule("Story 4", -1)}, want: "-1"},
		{name: "no priorities at all", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := crier.Feed{Name: "Wire", URL: "https://news.example/rss", Notify: []string{"phone"},
				Burst: 5, Priority: tt.feed, Rules: tt.rules}
			ds, _ := Plan(PlanInput{Feed: feed, Fresh: fresh(8, 0), Now: time.Now()})
			if len(ds) != 1 || ds[0].Notification.Kind != crier.KindSummary {
				t.Fatalf("got %d deliveries, want one summary", len(ds))
			}
			got := ""
			if p := ds[0].Notification.Priority; p != nil {
				got = fmt.Sprint(*p)
			}
			if got != tt.want {
				t.Errorf("summary priority %q, want %q", got, tt.want)
			}
		})
	}
}

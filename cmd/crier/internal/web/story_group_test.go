package web

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// storyStore holds one story that feeds A and B both reported under the
// same link, as the poller leaves it: A's item queued for phone, B's item
// queued for bNotifier ("": kept from every notifier as a story they had).
func storyStore(t *testing.T, bNotifier string) *bolt.Store {
	t.Helper()
	at := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	s := openStore(t, func() time.Time { return at })
	var story crier.Story
	ingest := func(feed, url, notifier string) {
		t.Helper()
		item := crier.Item{Keys: []string{"g:" + feed + "-1", "l:news.example/quake"}, Title: "Quake hits Japan", Link: "https://news.example/quake"}
		_, err := s.IngestStories(feed, crier.FeedState{Seeded: true}, []crier.Item{item}, time.Hour,
			func(fresh []crier.NewItem, _ bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
				src := crier.StorySource{Feed: feed, Title: item.Title, Link: item.Link, At: at}
				if story.ID != 0 {
					src.Match = "link"
				}
				if notifier != "" {
					src.Pushed = []string{notifier}
				} else {
					src.Held = []string{"phone"}
				}
				story.Title, story.Link, story.First = item.Title, item.Link, at
				story.Keys = []string{"l:news.example/quake"}
				story.AddSource(src)
				if err := stx.Put(&story); err != nil {
					return nil, err
				}
				if notifier == "" {
					return nil, nil
				}
				var also []string
				for _, o := range story.Sources {
					if o.Feed != feed {
						also = append(also, o.Feed)
					}
				}
				return []crier.Delivery{{Notifier: notifier, Notification: crier.Notification{
					Kind: crier.KindItem, Feed: feed, FeedURL: url, ItemID: fresh[0].Keys[0], Title: item.Title,
					Link: item.Link, Story: story.IDString(), AlsoIn: also, QueuedAt: at,
				}}}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	ingest("A", "https://a.example/rss", "phone")
	ingest("B", "https://b.example/rss", bNotifier)
	out, err := s.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out {
		if err := s.Done(e.Notifier, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// The same story from two feeds is one row on the status page and one
// entry in crier's own feeds, naming both feeds and every notifier.
func TestOneStoryOneRow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, bNotifier string
		notifiers       []string
	}{
		{"second report clustered away", "", []string{"phone"}},
		{"both delivered to different notifiers", "log", []string{"log", "phone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := storyStore(t, tc.bNotifier)
			srv := serve(t, outHandler(s, &fakeDaemon{healthy: true}, ""), listenerLoopback)

			r := do(t, "GET", srv.URL+"/", "", nil)
			doc, err := html.Parse(strings.NewReader(r.body))
			if r.code != 200 || err != nil {
				t.Fatalf("GET /: %d %v", r.code, err)
			}
			rows := findAll(doc, func(n *html.Node) bool { return hasClass(n, "story") })
			if len(rows) != 1 {
				t.Fatalf("%d story rows, want 1", len(rows))
			}
			row := text(rows[0])
			for _, want := range append([]string{"Quake hits Japan", "A", "B"}, tc.notifiers...) {
				if !strings.Contains(row, want) {
					t.Errorf("row %q lacks %q", row, want)
				}
			}
			var feedsShown []string
			for _, n := range findAll(rows[0], func(n *html.Node) bool { return hasClass(n, "feed-name") }) {
				feedsShown = append(feedsShown, text(n))
			}
			if !slices.Equal(feedsShown, []string{"A", "B"}) {
				t.Errorf("row's feeds %q, want [A B]", feedsShown)
			}

			resp, body := get(t, srv.URL+"/feeds/all.json", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("all.json: %d", resp.StatusCode)
			}
			var doc2 struct {
				Items []struct {
					Title string    `json:"title"`
					Crier jsonCrier `json:"_crier"`
				} `json:"items"`
			}
			if err := json.Unmarshal(body, &doc2); err != nil {
				t.Fatal(err)
			}
			if len(doc2.Items) != 1 {
				t.Fatalf("all.json has %d items, want 1 per story", len(doc2.Items))
			}
			it := doc2.Items[0].Crier
			if !slices.Equal(it.Sources, []string{"A", "B"}) || !slices.Equal(it.Notifiers, tc.notifiers) {
				t.Errorf("all.json item sources %q notifiers %q, want [A B] and %q", it.Sources, it.Notifiers, tc.notifiers)
			}

			resp, body = get(t, srv.URL+"/feeds/all.atom", nil)
			atom, err := gofeed.NewParser().ParseString(string(body))
			if resp.StatusCode != 200 || err != nil {
				t.Fatalf("all.atom: %d %v", resp.StatusCode, err)
			}
			if len(atom.Items) != 1 {
				t.Fatalf("all.atom has %d entries, want 1 per story", len(atom.Items))
			}
			var authors []string
			for _, a := range atom.Items[0].Authors {
				authors = append(authors, a.Name)
			}
			if !slices.Equal(authors, []string{"A", "B"}) {
				t.Errorf("all.atom entry authors %q, want the feeds [A B]", authors)
			}
		})
	}
}

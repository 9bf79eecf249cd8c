package feeds

import (
	"slices"
	"strings"
	"testing"

	"github.com/crierd/crier"
)

func TestCanonicalLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"http://[::1", ""},
		{"HTTPS://Example.COM:443/Path?b=2&a=1#frag", "https://example.com/Path?b=2&a=1"},
		{"http://example.com:80", "http://example.com/"},
		{"http://example.com:8080/x", "http://example.com:8080/x"},
		{"https://example.com:80/x", "https://example.com:80/x"},
		{"https://e.com/p?utm_source=rss&id=7&UTM_Medium=x&fbclid=abc&gclid=z&q=", "https://e.com/p?id=7&q="},
		{"https://e.com/p?utm_source=rss", "https://e.com/p"},
		{"https://e.com/p?", "https://e.com/p"},
		{"https://e.com/a%20b?x=%2F", "https://e.com/a%20b?x=%2F"},
		{" https://e.com/p ", "https://e.com/p"},
		{"urn:uuid:1234", "urn:uuid:1234"},
	} {
		if got := CanonicalLink(tc.in); got != tc.want {
			t.Errorf("CanonicalLink(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// identify runs Identify on items described as (guid, link, title, summary).
func identify(siteLinks []string, rows ...[4]string) []crier.Item {
	items := make([]crier.Item, len(rows))
	ids := make([]ItemIDs, len(rows))
	for i, r := range rows {
		ids[i].GUID = r[0]
		items[i] = crier.Item{Link: r[1], Title: r[2], Summary: r[3]}
	}
	Identify(items, ids, siteLinks...)
	return items
}

func TestIdentifyKeys(t *testing.T) {
	t.Parallel()
	longGUID := "tag:example.com,2024:" + strings.Repeat("x", 300)
	for _, tc := range []struct {
		name  string
		site  []string
		rows  [][4]string
		check func(t *testing.T, items []crier.Item)
	}{
		{
			name: "guid then canonical link",
			rows: [][4]string{{" urn:a ", "https://E.com/1?utm_source=rss", "A", ""}},
			check: func(t *testing.T, items []crier.Item) {
				wantKeys(t, items[0], "g:urn:a", "l:https://e.com/1")
			},
		},
		{
			name: "link only",
			rows: [][4]string{{"", "https://e.com/1", "A", ""}, {"", "https://e.com/2", "B", ""}},
			check: func(t *testing.T, items []crier.Item) {
				wantKeys(t, items[0], "l:https://e.com/1")
				wantKeys(t, items[1], "l:https://e.com/2")
			},
		},
		{
			name: "neither guid nor link: title and content hash",
			rows: [][4]string{{"", "", "A", "text a"}, {"", "", "A", "text b"}, {"", "", "", ""}},
			check: func(t *testing.T, items []crier.Item) {
				for i, it := range items {
					if len(it.Keys) != 1 || !strings.HasPrefix(it.Keys[0], "h:") {
						t.Errorf("item %d keys %q, want one h: key", i, it.Keys)
					}
				}
				if items[0].Keys[0] == items[1].Keys[0] {
					t.Error("different text, same hash key")
				}
			},
		},
		{
			name: "status page: one link shared by every incident",
			rows: [][4]string{
				{"", "https://status.example/", "Outage", "API down"},
				{"", "https://status.example/", "Outage", "DB down"},
				{"inc-3", "https://status.example/", "Maintenance", "tonight"},
			},
			check: func(t *testing.T, items []crier.Item) {
				for i, it := range items {
					for _, k := range it.Keys {
						if strings.HasPrefix(k, "l:") {
							t.Errorf("item %d keeps the shared link key %q", i, k)
						}
					}
				}
				if items[0].ID() == items[1].ID() {
					t.Error("two incidents with one link merged")
				}
				wantKeys(t, items[2], "g:inc-3")
			},
		},
		{
			name: "a lone item whose link is the site's gets no link key",
			site: []string{"https://status.example/feed.rss", "https://status.example"},
			rows: [][4]string{{"inc-9", "https://status.example/", "Outage", ""}},
			check: func(t *testing.T, items []crier.Item) {
				wantKeys(t, items[0], "g:inc-9")
			},
		},
		{
			name: "duplicate guid on different items falls back to links",
			rows: [][4]string{
				{"same", "https://e.com/1", "One", ""},
				{"same", "https://e.com/2", "Two", ""},
			},
			check: func(t *testing.T, items []crier.Item) {
				wantKeys(t, items[0], "l:https://e.com/1")
				wantKeys(t, items[1], "l:https://e.com/2")
			},
		},
		{
			name: "duplicate guid and link but different titles: hash",
			rows: [][4]string{
				{"same", "https://e.com/", "One", ""},
				{"same", "https://e.com/", "Two", ""},
			},
			check: func(t *testing.T, items []crier.Item) {
				if !strings.HasPrefix(items[0].ID(), "h:") || items[0].ID() == items[1].ID() {
					t.Errorf("keys %q and %q, want distinct h: keys", items[0].Keys, items[1].Keys)
				}
			},
		},
		{
			name: "a true duplicate keeps its guid",
			rows: [][4]string{
				{"same", "https://e.com/1", "One", "x"},
				{"same", "https://e.com/1", "One", "x"},
			},
			check: func(t *testing.T, items []crier.Item) {
				wantKeys(t, items[0], "g:same", "l:https://e.com/1")
				wantKeys(t, items[1], "g:same", "l:https://e.com/1")
			},
		},
		{
			name: "long guid and link are hashed to a fixed length",
			rows: [][4]string{{longGUID, "https://e.com/" + strings.Repeat("p", 300), "A", ""}},
			check: func(t *testing.T, items []crier.Item) {
				k := items[0].Keys
				if len(k) != 2 || !strings.HasPrefix(k[0], "g:sha256:") || !strings.HasPrefix(k[1], "l:sha256:") || len(k[0]) != len("g:sha256:")+32 {
					t.Errorf("keys %q", k)
				}
			},
		},
		{
			name: "title alt key ignores case and spacing; none without a title",
			rows: [][4]string{{"1", "", "Big  News", ""}, {"2", "", " big news ", ""}, {"3", "", "", ""}},
			check: func(t *testing.T, items []crier.Item) {
				if len(items[0].AltKeys) != 1 || !strings.HasPrefix(items[0].AltKeys[0], "t:") ||
					!slices.Equal(items[0].AltKeys, items[1].AltKeys) {
					t.Errorf("alt keys %q and %q, want one equal t: key", items[0].AltKeys, items[1].AltKeys)
				}
				if items[2].AltKeys != nil {
					t.Errorf("untitled item has alt keys %q", items[2].AltKeys)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, identify(tc.site, tc.rows...))
		})
	}
}

func wantKeys(t *testing.T, it crier.Item, want ...string) {
	t.Helper()
	if !slices.Equal(it.Keys, want) {
		t.Errorf("keys %q, want %q", it.Keys, want)
	}
}

// TestKeysIgnoreDates: an edited item (new <updated>, new pubDate) must
// keep its keys, or every edit would be announced as a new item.
func TestKeysIgnoreDates(t *testing.T) {
	t.Parallel()
	doc := func(date string) []byte {
		return []byte(`<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><id>urn:e:1</id><title>Post</title><link href="/p/1"/><updated>` + date + `</updated></entry>
<entry><title>No id or link</title><summary>body</summary><updated>` + date + `</updated></entry>
</feed>`)
	}
	rssDoc := func(date string) []byte {
		return []byte(`<rss version="2.0"><channel><title>T</title>
<item><title>Plain</title><description>d</description><pubDate>` + date + `</pubDate></item>
</channel></rss>`)
	}
	for _, pair := range [][2][]byte{
		{doc("2024-01-01T00:00:00Z"), doc("2024-06-01T12:00:00Z")},
		{rssDoc("Mon, 01 Jan 2024 00:00:00 GMT"), rssDoc("Sat, 01 Jun 2024 12:00:00 GMT")},
	} {
		a, err := Parse(pair[0], "", "https://e.com/feed", 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(pair[1], "", "https://e.com/feed", 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Items {
			if a.Items[i].Published.Equal(b.Items[i].Published) {
				t.Fatalf("item %d: the test's dates did not change", i)
			}
			if !slices.Equal(a.Items[i].Keys, b.Items[i].Keys) {
				t.Errorf("item %d keys changed with the date: %q -> %q", i, a.Items[i].Keys, b.Items[i].Keys)
			}
		}
		if a.Format == "atom" {
			wantKeys(t, a.Items[0], "g:urn:e:1", "l:https://e.com/p/1")
		}
	}
}

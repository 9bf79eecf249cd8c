package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// outFixture is a store with three delivered stories: one item to two
// notifiers, one item to one, a summary, plus a test and an alert that
// are not news.
func outFixture(t *testing.T) (*bolt.Store, *fakeDaemon, func(time.Duration)) {
	t.Helper()
	at := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	s := openStore(t, func() time.Time { return at })
	advance := func(d time.Duration) { at = at.Add(d) }
	pub := time.Date(2025, 4, 1, 8, 30, 0, 0, time.UTC)
	deliver := func(notifier string, n crier.Notification) {
		t.Helper()
		es, err := s.Enqueue(crier.Delivery{Notifier: notifier, Notification: n})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Done(notifier, es[0].ID); err != nil {
			t.Fatal(err)
		}
		advance(time.Minute)
	}
	kernel := crier.Notification{Kind: crier.KindItem, Feed: "LWN", FeedURL: "https://lwn.net/rss", ItemID: "g:k7",
		Title: "Kernel 7.0 & friends", Link: "https://lwn.net/k7", Summary: "Linus released 7.0.", Published: pub, Categories: []string{"kernel"}}
	deliver("phone", kernel)
	deliver("log", kernel)
	deliver("log", crier.Notification{Kind: crier.KindItem, Feed: "HN", FeedURL: "https://news.ycombinator.com/rss", ItemID: "g:1",
		Title: "Show HN: crier", Link: "https://example.org/crier"})
	deliver("phone", crier.Notification{Kind: crier.KindSummary, Feed: "HN", Title: "3 new in HN", Count: 3,
		Items: []crier.Headline{{Title: "a", Link: "https://a.example/"}}, QueuedAt: pub})
	deliver("phone", crier.Notification{Kind: crier.KindTest, Title: "crier test"})
	deliver("phone", crier.Notification{Kind: crier.KindAlert, Feed: "HN", Title: "HN failing"})
	return s, &fakeDaemon{healthy: true}, advance
}

func outHandler(s *bolt.Store, d *fakeDaemon, token string) http.Handler {
	return NewHandler(Options{Store: s, Daemon: d, Token: token, Notifiers: func() []string { return []string{"phone", "log", "mail"} }})
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A transport of its own, so gzip is not decoded behind the test's back.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// gofeed, the parser crier itself reads feeds with, reads crier's feeds
// back with the right stories, links, ids and dates.
func TestFeedsOutParseBack(t *testing.T) {
	t.Parallel()
	s, d, _ := outFixture(t)
	srv := serve(t, outHandler(s, d, ""), listenerLoopback)
	type want struct{ title, link string }
	all := []want{{"3 new in HN", ""}, {"Show HN: crier", "https://example.org/crier"}, {"Kernel 7.0 & friends", "https://lwn.net/k7"}}
	tests := []struct {
		path string
		want []want
	}{
		{"/feeds/all.atom", all},
		{"/feeds/all.json", all},
		{"/feeds/phone.atom", []want{all[0], all[2]}},
		{"/feeds/log.json", []want{all[1], all[2]}},
		{"/feeds/mail.atom", nil},
	}
	for _, tt := range tests {
		resp, body := get(t, srv.URL+tt.path, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tt.path, resp.StatusCode, body)
		}
		f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: gofeed: %v\n%s", tt.path, err, body)
		}
		var got []want
		for _, it := range f.Items {
			got = append(got, want{it.Title, it.Link})
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: items %q, want %q", tt.path, got, tt.want)
		}
		if f.Title == "" || len(f.Items) > 0 && f.UpdatedParsed == nil && f.FeedType == "atom" {
			t.Errorf("%s: feed title %q updated %v", tt.path, f.Title, f.UpdatedParsed)
		}
		ids := map[string]bool{}
		for _, it := range f.Items {
			if it.GUID == "" || ids[it.GUID] || it.UpdatedParsed == nil && it.PublishedParsed == nil {
				t.Errorf("%s: item %q id %q dates %v %v", tt.path, it.Title, it.GUID, it.UpdatedParsed, it.PublishedParsed)
			}
			ids[it.GUID] = true
			if it.Title == "Kernel 7.0 & friends" {
				if it.PublishedParsed == nil || !it.PublishedParsed.Equal(time.Date(2025, 4, 1, 8, 30, 0, 0, time.UTC)) {
					t.Errorf("%s: kernel published %v", tt.path, it.PublishedParsed)
				}
				if !strings.Contains(it.Content+it.Description, "Linus released 7.0.") {
					t.Errorf("%s: kernel content %q", tt.path, it.Content)
				}
			}
		}
	}
}

// The Atom structure RFC 4287 requires (feed and entry id, title,
// updated; an author; content or an alternate link), entry ids that do not
// change between requests, the story once with both its notifiers, and
// the JSON Feed 1.1 members a reader relies on.
func TestFeedsOutStructure(t *testing.T) {
	t.Parallel()
	s, d, _ := outFixture(t)
	srv := serve(t, outHandler(s, d, ""), listenerLoopback)
	type entry struct {
		ID         string `xml:"id"`
		Title      string `xml:"title"`
		Updated    string `xml:"updated"`
		Content    string `xml:"content"`
		Categories []struct {
			Term   string `xml:"term,attr"`
			Scheme string `xml:"scheme,attr"`
		} `xml:"category"`
		Links []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
	}
	type feed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Author  []string `xml:"author>name"`
		Links   []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Entries []entry `xml:"entry"`
	}
	read := func() feed {
		_, body := get(t, srv.URL+"/feeds/all.atom", nil)
		var f feed
		if err := xml.Unmarshal(body, &f); err != nil {
			t.Fatalf("all.atom: %v\n%s", err, body)
		}
		return f
	}
	f := read()
	if !strings.HasPrefix(f.ID, "urn:uuid:") || f.Title == "" || len(f.Author) != 1 {
		t.Errorf("feed id %q title %q author %q", f.ID, f.Title, f.Author)
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Errorf("feed updated %q: %v", f.Updated, err)
	}
	if len(f.Links) != 1 || f.Links[0].Rel != "self" || f.Links[0].Href != srv.URL+"/feeds/all.atom" {
		t.Errorf("feed links %+v, want self", f.Links)
	}
	if len(f.Entries) != 3 {
		t.Fatalf("%d entries, want 3 stories", len(f.Entries))
	}
	for _, e := range f.Entries {
		if !strings.HasPrefix(e.ID, "urn:uuid:") || e.Title == "" || e.Content == "" {
			t.Errorf("entry %+v misses id, title or content", e)
		}
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
			t.Errorf("entry %q updated %q: %v", e.Title, e.Updated, err)
		}
	}
	var notifiers []string
	for _, c := range f.Entries[2].Categories {
		if c.Scheme == notifierScheme {
			notifiers = append(notifiers, c.Term)
		}
	}
	if !slices.Equal(notifiers, []string{"log", "phone"}) {
		t.Errorf("kernel story delivered to %q, want log and phone in one entry", notifiers)
	}
	again := read()
	for i := range f.Entries {
		if f.Entries[i].ID != again.Entries[i].ID || f.Entries[i].Updated != again.Entries[i].Updated {
			t.Errorf("entry %d changed between requests: %+v vs %+v", i, f.Entries[i], again.Entries[i])
		}
	}
	_, pbody := get(t, srv.URL+"/feeds/phone.atom", nil)
	if !strings.Contains(string(pbody), "<id>"+f.Entries[2].ID+"</id>") {
		t.Errorf("the kernel story has another id in phone.atom")
	}

	_, body := get(t, srv.URL+"/feeds/all.json", nil)
	var jf struct {
		Version string `json:"version"`
		Title   string `json:"title"`
		FeedURL string `json:"feed_url"`
		Items   []struct {
			ID           string `json:"id"`
			ContentText  string `json:"content_text"`
			DateModified string `json:"date_modified"`
			Crier        struct {
				Notifiers []string `json:"notifiers"`
			} `json:"_crier"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &jf); err != nil {
		t.Fatal(err)
	}
	if jf.Version != "https://jsonfeed.org/version/1.1" || jf.Title == "" || jf.FeedURL != srv.URL+"/feeds/all.json" || len(jf.Items) != 3 {
		t.Errorf("json feed: version %q title %q feed_url %q items %d", jf.Version, jf.Title, jf.FeedURL, len(jf.Items))
	}
	for i, it := range jf.Items {
		if it.ID != f.Entries[i].ID || it.ContentText == "" || it.DateModified != f.Entries[i].Updated {
			t.Errorf("json item %d = %+v, want the Atom entry's id and date", i, it)
		}
	}
	if got := jf.Items[2].Crier.Notifiers; !slices.Equal(got, []string{"log", "phone"}) {
		t.Errorf("json kernel notifiers %q", got)
	}
}

func TestFeedsOutConditionalAndGzip(t *testing.T) {
	t.Parallel()
	s, d, advance := outFixture(t)
	srv := serve(t, outHandler(s, d, ""), listenerLoopback)
	resp, plain := get(t, srv.URL+"/feeds/all.atom", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("headers %v", resp.Header)
	}
	resp, body := get(t, srv.URL+"/feeds/all.atom", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d, %d bytes, ETag %q; want 304 empty", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}

	resp, zipped := get(t, srv.URL+"/feeds/all.atom", map[string]string{"Accept-Encoding": "br, gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Errorf("gunzipped body differs from the plain one")
	}
	gzTag := resp.Header.Get("ETag")
	if gzTag == etag {
		t.Errorf("gzip and identity share ETag %s", etag)
	}
	if resp, _ := get(t, srv.URL+"/feeds/all.atom", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match with the gzip ETag: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/feeds/all.atom", map[string]string{"Accept-Encoding": "gzip;q=0"}); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got gzip")
	}

	// A new delivery changes the feed and its ETag.
	advance(time.Minute)
	es, _ := s.Enqueue(crier.Delivery{Notifier: "phone", Notification: crier.Notification{Kind: crier.KindItem, Feed: "LWN", ItemID: "g:new", Title: "New"}})
	if err := s.Done("phone", es[0].ID); err != nil {
		t.Fatal(err)
	}
	resp, _ = get(t, srv.URL+"/feeds/all.atom", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a delivery: %d ETag %q; want 200 with a new ETag", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

// The feeds follow the API's access rules: free on loopback, the bearer
// token elsewhere.
func TestFeedsOutAccess(t *testing.T) {
	t.Parallel()
	s, d, _ := outFixture(t)
	remote := serve(t, outHandler(s, d, "tok"), listenerRemote)
	local := serve(t, outHandler(s, d, "tok"), listenerLoopback)
	tests := []struct {
		name string
		url  string
		hdr  map[string]string
		want int
	}{
		{"remote without token", remote.URL + "/feeds/all.atom", nil, 403},
		{"remote with a wrong token", remote.URL + "/feeds/all.json", map[string]string{"Authorization": "Bearer nope"}, 403},
		{"remote with the token", remote.URL + "/feeds/all.json", map[string]string{"Authorization": "Bearer tok"}, 200},
		{"loopback", local.URL + "/feeds/phone.atom", nil, 200},
		{"unknown notifier", local.URL + "/feeds/pager.atom", nil, 404},
		{"unknown format", local.URL + "/feeds/all.rss", nil, 404},
	}
	for _, tt := range tests {
		if resp, body := get(t, tt.url, tt.hdr); resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
}

// A feed URL's credentials (user:password@, a token parameter) stay out of
// crier's own feeds, as they stay out of the page and the API: a reader
// given the feed gets the source's address, not its key.
func TestFeedsOutRedactFeedURL(t *testing.T) {
	t.Parallel()
	s := openStore(t, func() time.Time { return time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC) })
	es, err := s.Enqueue(crier.Delivery{Notifier: "phone", Notification: crier.Notification{Kind: crier.KindItem,
		Feed: "Private", FeedURL: "https://me:hunter2@example.com/rss?token=s3cr3t", ItemID: "g:1",
		Title: "Members only", Link: "https://example.com/post"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done("phone", es[0].ID); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, outHandler(s, &fakeDaemon{healthy: true}, ""), listenerLoopback)
	for _, file := range []string{"all.atom", "all.json", "phone.atom", "phone.json"} {
		resp, body := get(t, srv.URL+"/feeds/"+file, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "example.com/rss") {
			t.Errorf("%s: %d, source address missing:\n%s", file, resp.StatusCode, body)
		}
		for _, secret := range []string{"hunter2", "s3cr3t"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("%s shows the feed URL's secret %q:\n%s", file, secret, body)
			}
		}
	}
}

package feedgen_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/feeds/feedgen"
)

func get(t *testing.T, url, etag string) (status int, body []byte, gotETag, ct string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	// Not http.DefaultClient: parallel tests' httptest servers close its
	// connections, even one under a request in flight.
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header.Get("ETag"), resp.Header.Get("Content-Type")
}

// The benchmark's claims rest on these: every format parses into the
// advertised number of items, feeds are the size asked for, validators
// can be switched, and publishing slides the window of items.
func TestServer(t *testing.T) {
	t.Parallel()
	const feedsN = 6
	srv, err := feedgen.Start(feedgen.Options{Feeds: feedsN, MinItems: 20, MaxItems: 50, DescBytes: 1500, Validators: true, Control: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	remote := feedgen.Remote{URL: srv.URL}

	formats := map[string]bool{}
	etags := make([]string, feedsN)
	firstIDs := make([]string, feedsN)
	for i := range feedsN {
		status, body, etag, ct := get(t, remote.FeedURL(i), "")
		if status != http.StatusOK || etag == "" {
			t.Fatalf("feed %d: status %d, etag %q", i, status, etag)
		}
		if len(body) < 20*1500 {
			t.Errorf("feed %d: %d bytes, want at least items×DescBytes", i, len(body))
		}
		p, err := feeds.Parse(body, ct, remote.FeedURL(i), 0)
		if err != nil {
			t.Fatalf("feed %d: %v", i, err)
		}
		if p.Items[0].Summary == "" || p.Items[0].Title == "" || p.Items[0].Published.IsZero() {
			t.Errorf("feed %d: first item lacks title, summary or date: %+v", i, p.Items[0])
		}
		if want := srv.Published(i); len(p.Items) < 20 || len(p.Items) > 50 || want < len(p.Items) {
			t.Errorf("feed %d: %d items, published %d", i, len(p.Items), want)
		}
		formats[p.Format] = true
		etags[i], firstIDs[i] = etag, p.Items[0].ID()
	}
	if len(formats) != 3 {
		t.Errorf("formats served: %v, want rss, atom and json", formats)
	}

	if status, _, _, _ := get(t, remote.FeedURL(0), etags[0]); status != http.StatusNotModified {
		t.Errorf("validators on: status %d, want 304", status)
	}
	ctx := context.Background()
	if err := remote.SetValidators(ctx, false); err != nil {
		t.Fatal(err)
	}
	if status, _, etag, _ := get(t, remote.FeedURL(0), etags[0]); status != http.StatusOK || etag != "" {
		t.Errorf("validators off: status %d, etag %q; want 200 without an ETag", status, etag)
	}

	if err := remote.Publish(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for i := range feedsN {
		_, body, _, ct := get(t, remote.FeedURL(i), "")
		p, err := feeds.Parse(body, ct, remote.FeedURL(i), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) < 3 || p.Items[2].ID() != firstIDs[i] {
			t.Errorf("feed %d after Publish(2): third item %q, want the old first %q", i, p.Items[2].ID(), firstIDs[i])
		}
	}
	if err := remote.Publish(ctx, -1); err == nil {
		t.Error("Publish(-1) was accepted")
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	const feedsN = 30
	srv, err := feedgen.Start(feedgen.Options{Feeds: feedsN, MinItems: 20, MaxItems: 50, DescBytes: 1500})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	total := 0
	for i := range feedsN {
		total += srv.Size(i)
	}
	avg := total / feedsN
	t.Logf("average feed size %d bytes", avg)
	if avg < 60<<10 || avg > 100<<10 {
		t.Errorf("average feed %d bytes with DescBytes 1500, want about 80 KB", avg)
	}
}

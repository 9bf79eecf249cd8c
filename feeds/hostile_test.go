package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// hostileOutcome is one fetch followed, when it succeeded with a body, by
// Parse of that body, as the poller does it.
type hostileOutcome struct {
	res     *FetchResult
	parsed  *Parsed
	err     error
	elapsed time.Duration
	base    string // the test server's URL
}

type hostileCase struct {
	name     string
	handler  http.HandlerFunc
	path     string // default "/feed"
	opt      FetchOptions
	v        Validators
	timeout  time.Duration // default 5s
	maxItems int
	check    func(t *testing.T, o hostileOutcome)
}

func TestHostileServers(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			tc.check(t, runHostile(t, srv.URL, tc))
		})
	}
}

func runHostile(t *testing.T, base string, tc hostileCase) hostileOutcome {
	t.Helper()
	timeout := tc.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	path := tc.path
	if path == "" {
		path = "/feed"
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	f := NewFetcher(nil, tc.opt)
	o := hostileOutcome{base: base}
	start := time.Now()
	o.res, o.err = f.Fetch(ctx, base+path, tc.v)
	if o.err == nil && !o.res.NotModified {
		o.parsed, o.err = Parse(o.res.Body, o.res.ContentType, o.res.FinalURL, tc.maxItems)
	}
	o.elapsed = time.Since(start)
	return o
}

// wantErr asserts an error that errors.Is target (when non-nil) and whose
// text contains every one of subs.
func wantErr(target error, subs ...string) func(*testing.T, hostileOutcome) {
	return func(t *testing.T, o hostileOutcome) {
		t.Helper()
		if o.err == nil {
			t.Fatalf("want an error, got success (%d items)", len(o.parsed.Items))
		}
		if target != nil && !errors.Is(o.err, target) {
			t.Errorf("error %q is not %v", o.err, target)
		}
		for _, s := range subs {
			if !strings.Contains(o.err.Error(), strings.ReplaceAll(s, "$BASE", o.base)) {
				t.Errorf("error %q does not contain %q", o.err, s)
			}
		}
	}
}

// wantItems asserts a successful parse with n items, the first titled title.
func wantItems(n int, title string) func(*testing.T, hostileOutcome) {
	return func(t *testing.T, o hostileOutcome) {
		t.Helper()
		if o.err != nil {
			t.Fatalf("want %d items, got error: %v", n, o.err)
		}
		if len(o.parsed.Items) != n {
			t.Fatalf("got %d items, want %d", len(o.parsed.Items), n)
		}
		if n > 0 && o.parsed.Items[0].Title != title {
			t.Errorf("first title %q, want %q", o.parsed.Items[0].Title, title)
		}
	}
}

func both(checks ...func(*testing.T, hostileOutcome)) func(*testing.T, hostileOutcome) {
	return func(t *testing.T, o hostileOutcome) {
		t.Helper()
		for _, c := range checks {
			c(t, o)
		}
	}
}

func serve(ct string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Write(body)
	}
}

// rssDoc is a small RSS feed with n items titled "<title> 1".."<title> n".
func rssDoc(title string, n int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n<rss version=\"2.0\"><channel><title>T</title><link>https://site.example/</link>\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "<item><title>%s %d</title><link>https://site.example/%d</link><guid>urn:t:%d</guid></item>\n", title, i, i, i)
	}
	b.WriteString("</channel></rss>\n")
	return b.String()
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encode(t testing.TB, enc encoding.Encoding, s string) []byte {
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encoding test document: %v", err)
	}
	return b
}

func hostileCases(t *testing.T) []hostileCase {
	uni := "Grüße ☃ Привет"
	uniDoc := func(decl string) string {
		return `<?xml version="1.0" encoding="` + decl + `"?><rss version="2.0"><channel><title>u</title>` +
			`<item><title>` + uni + `</title><guid>1</guid></item></channel></rss>`
	}
	noDecl := `<rss version="2.0"><channel><title>c</title><item><title>%s</title><guid>1</guid></item></channel></rss>`
	cyr := "Привет, мир"

	var formatFetches atomic.Int32
	formats := []struct{ ct, body string }{
		{"application/rss+xml", rssDoc("Same", 1)},
		{"application/atom+xml", `<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><title>Same 1</title><id>urn:t:1</id><link href="https://site.example/1"/><updated>2024-01-02T03:04:05Z</updated></entry></feed>`},
		{"application/feed+json", `{"version":"https://jsonfeed.org/version/1.1","title":"T","items":[{"id":"urn:t:1","url":"https://site.example/1","title":"Same 1"}]}`},
	}

	big := func() []byte {
		b := make([]byte, 0, 5<<20)
		b = append(b, `<rss version="2.0"><channel><title>big</title>`...)
		for i := range 100000 {
			b = append(b, "<item><title>item "...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "</title><guid>"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "</guid></item>"...)
		}
		return append(b, `</channel></rss>`...)
	}()
	deep := []byte(`<rss version="2.0"><channel><title>deep</title><item><title>x</title>` +
		strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000) + `</item></channel></rss>`)

	// 32 MiB of zeros in 35 KiB: one gzip member of 1 MiB, repeated (a
	// gzip reader reads concatenated members as one stream).
	bomb := bytes.Repeat(gz(t, make([]byte, 1<<20)), 32)

	return []hostileCase{
		{
			name: "slow drip stops at the ctx deadline",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/rss+xml")
				for _, c := range []byte(rssDoc("slow", 50)) {
					w.Write([]byte{c})
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			},
			timeout: 500 * time.Millisecond,
			check: both(wantErr(context.DeadlineExceeded, "$BASE/feed"), func(t *testing.T, o hostileOutcome) {
				if o.elapsed > 5*time.Second { // the whole drip would take minutes; slack for a loaded machine
					t.Errorf("fetch took %s despite a 500ms deadline", o.elapsed)
				}
			}),
		},
		{
			name: "endless body hits max_body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte("<item>x</item>"), 4096)
				w.Write([]byte("<rss><channel>"))
				for r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			check: wantErr(ErrBodyTooLarge, "body exceeds max_body (10 MiB)", "$BASE/feed"),
		},
		{
			name: "gzip bomb is capped after decompression",
			opt:  FetchOptions{MaxBody: 1 << 20},
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(bomb)
			},
			check: both(wantErr(ErrBodyTooLarge, "decompressed body exceeds max_body (1 MiB)"), func(t *testing.T, o hostileOutcome) {
				if len(bomb) > 64<<10 {
					t.Errorf("the bomb is %d bytes compressed; it should be small", len(bomb))
				}
			}),
		},
		{
			name:    "gzip body without Content-Encoding",
			handler: serve("application/rss+xml", gz(t, []byte(rssDoc("Zipped", 3)))),
			check:   wantItems(3, "Zipped 1"),
		},
		{
			name: "gzip body with Content-Encoding",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gz(t, []byte(rssDoc("Zipped", 2))))
			},
			check: wantItems(2, "Zipped 1"),
		},
		{
			name: "redirect loop",
			handler: func(w http.ResponseWriter, r *http.Request) {
				next := map[string]string{"/feed": "/a", "/a": "/b", "/b": "/a"}[r.URL.Path]
				http.Redirect(w, r, next, http.StatusFound)
			},
			check: wantErr(ErrRedirectLoop, "$BASE/feed", "$BASE/a"),
		},
		{
			name: "too many redirects",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
			},
			check: wantErr(ErrTooManyRedirects, "after 5 redirects", "$BASE/feed"),
		},
		{
			name: "HTML page lists its feeds",
			handler: serve("text/html; charset=utf-8", []byte(`<!DOCTYPE html><html><head><title>Blog</title>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" title="Posts" href="/posts.rss">
<link rel="Alternate" type="application/atom+xml" href="https://cdn.example/atom.xml">
<link rel="alternate" type="application/feed+json" href="feed.json">
<link rel="alternate" type="text/html" hreflang="de" href="/de/">
</head><body><p>hi<br><br></body></html>`)),
			check: func(t *testing.T, o hostileOutcome) {
				var nf *NotAFeedError
				if !errors.As(o.err, &nf) {
					t.Fatalf("want *NotAFeedError, got %v", o.err)
				}
				wantErr(nil, "$BASE/feed", "$BASE/posts.rss", "https://cdn.example/atom.xml", "$BASE/feed.json")(t, o)
				if len(nf.Alternates) != 3 || nf.Alternates[0].Title != "Posts" {
					t.Errorf("alternates %+v", nf.Alternates)
				}
			},
		},
		{
			name:    "empty body",
			handler: serve("application/rss+xml", nil),
			check:   wantErr(ErrEmptyBody, "empty body", "$BASE/feed"),
		},
		{
			name: "truncated XML keeps the items received in full",
			handler: serve("application/rss+xml", func() []byte {
				doc := rssDoc("Cut", 3)
				return []byte(doc[:strings.Index(doc, "<title>Cut 3")+10])
			}()),
			check: both(wantItems(2, "Cut 1"), func(t *testing.T, o hostileOutcome) {
				if !o.parsed.Truncated {
					t.Error("Truncated not reported")
				}
			}),
		},
		{
			name:    "UTF-16LE with BOM",
			handler: serve("application/xml", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), uniDoc("utf-16"))),
			check:   wantItems(1, uni),
		},
		{
			name:    "UTF-16BE with BOM",
			handler: serve("application/xml", encode(t, unicode.UTF16(unicode.BigEndian, unicode.UseBOM), uniDoc("UTF-16"))),
			check:   wantItems(1, uni),
		},
		{
			name:    "UTF-16LE without BOM",
			handler: serve("application/xml", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), uniDoc("utf-16"))),
			check:   wantItems(1, uni),
		},
		{
			name:    "UTF-16BE without BOM",
			handler: serve("", encode(t, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), uniDoc("utf-16"))),
			check:   wantItems(1, uni),
		},
		{
			name:    "UTF-32LE with BOM",
			handler: serve("application/xml", encode(t, utf32.UTF32(utf32.LittleEndian, utf32.UseBOM), uniDoc("utf-32"))),
			check:   wantItems(1, uni),
		},
		{
			name:    "UTF-32BE without BOM",
			handler: serve("application/xml", encode(t, utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), uniDoc("utf-32"))),
			check:   wantItems(1, uni),
		},
		{
			name:    "ISO-8859-1 named only in Content-Type",
			handler: serve("text/xml; charset=ISO-8859-1", encode(t, charmap.ISO8859_1, fmt.Sprintf(noDecl, "Café crème"))),
			check:   wantItems(1, "Café crème"),
		},
		{
			name:    "windows-1251 named only in Content-Type",
			handler: serve("application/rss+xml; charset=windows-1251", encode(t, charmap.Windows1251, `<?xml version="1.0"?>`+fmt.Sprintf(noDecl, cyr))),
			check:   wantItems(1, cyr),
		},
		{
			name:    "windows-1251 declared in the XML declaration",
			handler: serve("application/rss+xml", encode(t, charmap.Windows1251, `<?xml version="1.0" encoding="windows-1251"?>`+fmt.Sprintf(noDecl, cyr))),
			check:   wantItems(1, cyr),
		},
		{
			name: "JSON Feed with wrong types in optional fields",
			handler: serve("application/feed+json", []byte(`{"version":"https://jsonfeed.org/version/1.1","title":"J",
"items":[{"id":1,"url":"https://site.example/1","title":"First","tags":"one","authors":"me"},
{"id":"2","title":"Second","attachments":{"url":"x"},"date_published":12},
{"id":"3","url":"https://site.example/3","title":"Third","tags":[1,"b"]}]}`)),
			check: both(wantItems(3, "First"), func(t *testing.T, o hostileOutcome) {
				if got := o.parsed.Items[0].Keys[0]; got != "g:1" {
					t.Errorf("numeric id key %q, want g:1", got)
				}
				if c := o.parsed.Items[0].Categories; len(c) != 1 || c[0] != "one" {
					t.Errorf("categories %q", c)
				}
			}),
		},
		{
			name:     "100 000 items: only max_items considered",
			handler:  serve("application/rss+xml", big),
			maxItems: 500,
			check:    wantItems(500, "item 0"),
		},
		{
			name:    "deep nesting rejected",
			handler: serve("application/rss+xml", deep),
			check:   wantErr(nil, "nested deeper than 1000", "$BASE/feed"),
		},
		{
			name:    "429 with Retry-After seconds",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Retry-After", "120"); w.WriteHeader(429) },
			check: func(t *testing.T, o hostileOutcome) {
				var he *HTTPError
				if !errors.As(o.err, &he) || he.Status != 429 || he.RetryAfter != 2*time.Minute || he.Gone() {
					t.Fatalf("got %#v (%v), want HTTPError 429 retry 2m", he, o.err)
				}
				wantErr(nil, "$BASE/feed", "429")(t, o)
			},
		},
		{
			name: "503 with Retry-After date",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(503)
			},
			check: func(t *testing.T, o hostileOutcome) {
				var he *HTTPError
				if !errors.As(o.err, &he) || he.Status != 503 || he.RetryAfter < 85*time.Second || he.RetryAfter > 91*time.Second {
					t.Fatalf("got %#v (%v), want HTTPError 503 retry ~90s", he, o.err)
				}
			},
		},
		{
			name:    "410 Gone",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) },
			check: func(t *testing.T, o hostileOutcome) {
				var he *HTTPError
				if !errors.As(o.err, &he) || !he.Gone() {
					t.Fatalf("want a Gone HTTPError, got %v", o.err)
				}
			},
		},
		{
			name: "301 sets MovedTo and parses the new location",
			handler: func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/feed":
					http.Redirect(w, r, "/moved", http.StatusMovedPermanently)
				case "/moved":
					http.Redirect(w, r, "/new.xml", http.StatusPermanentRedirect)
				case "/new.xml":
					w.Write([]byte(rssDoc("Moved", 1)))
				}
			},
			check: both(wantItems(1, "Moved 1"), func(t *testing.T, o hostileOutcome) {
				if o.res.MovedTo != o.base+"/new.xml" || o.res.FinalURL != o.base+"/new.xml" {
					t.Errorf("MovedTo %q FinalURL %q, want both %s/new.xml", o.res.MovedTo, o.res.FinalURL, o.base)
				}
			}),
		},
		{
			name: "302 then 301 is not a permanent move",
			handler: func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/feed":
					http.Redirect(w, r, "/tmp", http.StatusFound)
				case "/tmp":
					http.Redirect(w, r, "/new.xml", http.StatusMovedPermanently)
				default:
					w.Write([]byte(rssDoc("Temp", 1)))
				}
			},
			check: both(wantItems(1, "Temp 1"), func(t *testing.T, o hostileOutcome) {
				if o.res.MovedTo != "" {
					t.Errorf("MovedTo %q after a temporary redirect", o.res.MovedTo)
				}
			}),
		},
		{
			name: "request headers: User-Agent, Accept, Accept-Encoding, validators",
			opt:  FetchOptions{UserAgent: "crier-test/1"},
			v:    Validators{ETag: `"v1"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				h := r.Header
				if h.Get("User-Agent") != "crier-test/1" || !strings.Contains(h.Get("Accept"), "application/rss+xml") ||
					h.Get("Accept-Encoding") != "gzip" || h.Get("If-None-Match") != `"v1"` ||
					h.Get("If-Modified-Since") != "Mon, 02 Jan 2006 15:04:05 GMT" {
					http.Error(w, fmt.Sprintf("headers %v", h), http.StatusBadRequest)
					return
				}
				w.WriteHeader(http.StatusNotModified)
			},
			check: func(t *testing.T, o hostileOutcome) {
				if o.err != nil || !o.res.NotModified || o.res.Body != nil {
					t.Fatalf("want 304 NotModified, got %+v, %v", o.res, o.err)
				}
			},
		},
		{
			name: "format changes between fetches keep item keys",
			handler: func(w http.ResponseWriter, r *http.Request) {
				f := formats[int(formatFetches.Add(1)-1)%len(formats)]
				w.Header().Set("Content-Type", f.ct)
				w.Write([]byte(f.body))
			},
			check: func(t *testing.T, o hostileOutcome) {
				// The first fetch already ran; run the other two here.
				outs := []hostileOutcome{o}
				for range 2 {
					outs = append(outs, runHostile(t, o.base, hostileCase{}))
				}
				for i, want := range []string{"rss", "atom", "json"} {
					wantItems(1, "Same 1")(t, outs[i])
					if outs[i].parsed.Format != want {
						t.Errorf("fetch %d format %q, want %q", i, outs[i].parsed.Format, want)
					}
					if k := outs[i].parsed.Items[0].Keys; k[0] != "g:urn:t:1" || k[1] != "l:https://site.example/1" {
						t.Errorf("fetch %d keys %q", i, k)
					}
				}
			},
		},
	}
}

// TestConditionalGet is the 304 round trip the poller relies on.
func TestConditionalGet(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Write([]byte(rssDoc("C", 1)))
	}))
	defer srv.Close()
	f := NewFetcher(srv.Client(), FetchOptions{})
	first, err := f.Fetch(t.Context(), srv.URL, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if first.ETag != `"v1"` || first.NotModified || first.MaxAge != 10*time.Minute || len(first.BodyHash) != 64 {
		t.Fatalf("first fetch %+v", first)
	}
	second, err := f.Fetch(t.Context(), srv.URL, Validators{ETag: first.ETag, LastModified: first.LastModified})
	if err != nil {
		t.Fatal(err)
	}
	if !second.NotModified || second.Status != 304 || second.Body != nil {
		t.Fatalf("second fetch %+v, want 304", second)
	}
}

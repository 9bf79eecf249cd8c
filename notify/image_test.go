package notify

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// pngBytes starts like a PNG, which is all content sniffing looks at.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 200)...)

// imageHost is an image server with one path per way a picture can fail.
type imageHost struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	ua   string
}

func newImageHost(t *testing.T) *imageHost {
	t.Helper()
	h := &imageHost{hits: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits[r.URL.Path]++
		h.ua = r.UserAgent()
		h.mu.Unlock()
		switch r.URL.Path {
		case "/photo.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngBytes)
		case "/untyped.png":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(pngBytes)
		case "/moved.png":
			http.Redirect(w, r, "/photo.png", http.StatusFound)
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!doctype html><p>not a picture"))
		case "/logo.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
		case "/huge.jpg", "/huge-chunked.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			if r.URL.Path == "/huge.jpg" {
				w.Header().Set("Content-Length", "5242881")
			}
			chunk := bytes.Repeat([]byte{0xff}, 1<<16)
			for sent := 0; sent < 5242881; sent += len(chunk) {
				if _, err := w.Write(chunk[:min(len(chunk), 5242881-sent)]); err != nil {
					return
				}
			}
		case "/slow.jpg":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *imageHost) UserAgent() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ua
}

func (h *imageHost) Hits(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[path]
}

func TestImageFetcher(t *testing.T) {
	t.Parallel()
	host := newImageHost(t)
	f := newImageFetcher("crier-test/1", 5_242_880, true)
	for _, tc := range []struct {
		path, wantType, wantErr string
	}{
		{"/photo.png", "image/png", ""},
		{"/untyped.png", "image/png", ""},
		{"/moved.png", "image/png", ""},
		{"/missing.png", "", "HTTP 404"},
		{"/page.html", "", "not a picture"},
		{"/logo.svg", "", "not a picture"},
		{"/huge.jpg", "", "more than the 5242880"},
		{"/huge-chunked.jpg", "", "more than the 5242880"},
		{"/slow.jpg", "", "deadline exceeded"},
	} {
		f.timeout = imageTimeout
		if tc.path == "/slow.jpg" {
			f.timeout = 200 * time.Millisecond
		}
		pic, err := f.fetch(context.Background(), host.URL+tc.path)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want one saying %q", tc.path, err, tc.wantErr)
			}
			continue
		}
		if err != nil || pic.contentType != tc.wantType || !bytes.Equal(pic.data, pngBytes) {
			t.Errorf("%s: %q %d bytes, %v; want %s", tc.path, pic.contentType, len(pic.data), err, tc.wantType)
		}
	}
	if ua := host.UserAgent(); ua != "crier-test/1" {
		t.Errorf("User-Agent %q, want crier's", ua)
	}

	// A feed must not be able to point crier at the machine's own services.
	_, err := newImageFetcher("", 1<<20, false).fetch(context.Background(), host.URL+"/photo.png")
	if err == nil || !strings.Contains(err.Error(), "non-public address") {
		t.Errorf("loopback picture: %v, want it refused", err)
	}
}

// Pictures are fetched with the User-Agent configured for feeds
// (http.user_agent), so publishers see one crier, not two.
func TestBuildGivesImageFetchersTheUserAgent(t *testing.T) {
	t.Parallel()
	deps := Deps{UserAgent: "crier-ua-test"}
	po, err := Build(pushoverConfig("https://api.pushover.net/1"), deps)
	if err != nil {
		t.Fatal(err)
	}
	if ua := po.(*Pushover).images.userAgent; ua != "crier-ua-test" {
		t.Errorf("pushover fetches pictures as %q", ua)
	}
	cfg := svcConfig("mail", "email", "host", "smtp.example", "from", "a@example.org")
	cfg.Lists["to"] = []string{"b@example.org"}
	em, err := Build(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if ua := em.(*Email).pictures.userAgent; ua != "crier-ua-test" {
		t.Errorf("email fetches pictures as %q", ua)
	}
	off, err := Build(pushoverConfig("https://api.pushover.net/1", "images", "false"), deps)
	if err != nil {
		t.Fatal(err)
	}
	if off.(*Pushover).images != nil {
		t.Error("images: false still built a picture fetcher")
	}
}

// Behind a proxy on a private address (a common office setup) pictures
// still come: the address check guards the pictures' hosts, not the
// operator's own proxy.
func TestImageFetcherThroughPrivateProxy(t *testing.T) {
	t.Parallel()
	proxy := newImageHost(t) // answers the proxied GET for /photo.png itself
	proxyURL, _ := url.Parse(proxy.URL)
	f := newImageFetcherVia("", 1<<20, false, http.ProxyURL(proxyURL))
	pic, err := f.fetch(context.Background(), "http://images.example/photo.png")
	if err != nil || !bytes.Equal(pic.data, pngBytes) {
		t.Fatalf("through the proxy: %d bytes, %v", len(pic.data), err)
	}
	if proxy.Hits("/photo.png") != 1 {
		t.Errorf("the proxy saw %d requests", proxy.Hits("/photo.png"))
	}
}

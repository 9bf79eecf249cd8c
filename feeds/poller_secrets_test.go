package feeds

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// secrets are the parts of a feed URL a user must never see again once the
// config is written: not in the log, the stored state, the poll's error
// nor a feed-health alert.
var secrets = []string{"hunter2", "s3cr3t-t0k3n", "m0ved-s1g"}

const secretQuery = "token=s3cr3t-t0k3n&edition=uk"

func withSecrets(base, path string) string {
	return strings.Replace(base, "://", "://reader:hunter2@", 1) + path + "?" + secretQuery
}

// hugeHTML is a 5 MB error page that advertises feeds under the token it
// was asked with, as some servers do.
func hugeHTML(w http.ResponseWriter, r *http.Request) {
	page := hugePage()
	if r.URL.RawQuery != secretQuery {
		http.Error(w, "test bug: asked with "+r.URL.RawQuery, http.StatusTeapot)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(page)
}

// hugePage is built once: under -race on a busy machine, building it per
// request ate the feed's whole timeout.
var hugePage = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><title>Oops</title>")
	for i := range 2000 { // ~160 KB of error text before the cap, as reported
		fmt.Fprintf(&b, `<link rel="alternate" type="application/rss+xml" href="/feed/%d?%s">`, i, secretQuery)
	}
	b.WriteString("</head><body><p>")
	b.Write(bytes.Repeat([]byte("error "), (5<<20-b.Len())/6))
	b.WriteString("</p></body></html>")
	return b.Bytes()
})

// echo500 answers 500 with a body quoting the request, credentials and all.
func echo500(w http.ResponseWriter, r *http.Request) {
	u, p, _ := r.BasicAuth()
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "<html>%s %s:%s %s</html>", strings.Repeat("x", 1<<20), u, p, r.URL)
}

func TestPollRedactsSecrets(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		want    string           // in the stored error
		ends    string           // a regexp: how the stored error ends
	}{
		{"HTTP 500 quoting the request", echo500, "HTTP 500", "Internal Server Error"},
		// The first few of the page's feeds, then how many more.
		{"5 MB HTML page", hugeHTML, "not a feed but an HTML page; it advertises: ", `edition=uk, and \d+ more`},
		{"connection refused", nil, "connection refused", "connection refused"},
		{"moved permanently", func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/new") {
				http.Redirect(w, r, "/new/x.xml?sig=m0ved-s1g", http.StatusMovedPermanently)
				return
			}
			plServe("<rss><channel><title>t</title><item><title>i</title><link>https://x.example/1</link></item></channel></rss>")(w, r)
		}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newPLEnv(t, FetchOptions{}, func(o *PollerOptions) { o.Alerts = []string{"ops"} })
			base := refused
			if tc.handler != nil {
				base = newPLServer(t, tc.handler).URL
			}
			f := plFeed("private", withSecrets(base, "/x.xml"))
			f.AlertAfter = time.Hour
			f.Timeout = defaultTimeout // 5 MB under -race on a busy machine
			var shown []string
			for _, at := range []time.Duration{0, 2 * time.Hour} {
				e.clock.Add(plStart.Add(at).Sub(e.clock.Now()))
				res, err := e.p.Poll(t.Context(), f, true)
				if tc.want != "" && (err == nil || res.Err == nil) {
					t.Fatalf("poll succeeded, want a failure")
				}
				if err != nil {
					shown = append(shown, err.Error())
				}
			}
			st := e.state(t, f)
			if !strings.Contains(st.LastError, tc.want) {
				t.Errorf("stored error %q, want it to say %q", st.LastError, tc.want)
			}
			if !regexp.MustCompile(tc.ends + "$").MatchString(st.LastError) {
				t.Errorf("stored error %q, want it to end %q", st.LastError, tc.ends)
			}
			if n := utf8.RuneCountInString(st.LastError); n > MaxErrorText {
				t.Errorf("stored error is %d runes, want at most %d", n, MaxErrorText)
			}
			if tc.want != "" && !strings.Contains(st.LastError, "***") {
				t.Errorf("stored error %q does not name the (redacted) URL", st.LastError)
			}
			shown = append(shown, st.LastError, e.log.String())
			for _, a := range e.alerts(t) {
				n := a.Notification
				shown = append(shown, n.Title, n.Link, n.FeedURL, n.Summary)
			}
			if tc.want != "" && len(e.alerts(t)) == 0 {
				t.Error("no feed-health alert after failing for 2 hours")
			}
			for _, s := range shown {
				for _, secret := range secrets {
					if strings.Contains(s, secret) {
						t.Errorf("%q shown:\n%.2000s", secret, s)
					}
				}
			}
			if tc.want == "" && !strings.Contains(e.log.String(), "sig=***") {
				t.Errorf("the move was not logged with its (redacted) new URL:\n%s", e.log)
			}
			// Fetching still uses the real URL.
			if tc.want == "" && !strings.Contains(st.MovedTo, "m0ved-s1g") {
				t.Errorf("moved_to %q lost the real URL it must poll", st.MovedTo)
			}
		})
	}
}

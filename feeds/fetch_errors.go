package feeds

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// Errors a caller may want to tell apart (all returned wrapped, with the URL).
var (
	ErrBodyTooLarge     = errors.New("body exceeds max_body")
	ErrRedirectLoop     = errors.New("redirect loop")
	ErrTooManyRedirects = errors.New("too many redirects")
)

// HTTPError is a response other than 2xx or 304.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration // from Retry-After (429, 503), 0 when absent
	URL        string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("fetch %s: HTTP %d %s", crier.RedactURL(e.URL), e.Status, http.StatusText(e.Status))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Gone reports 410 Gone: the publisher says the feed will not come back.
func (e *HTTPError) Gone() bool { return e.Status == http.StatusGone }

// Temporary reports statuses worth retrying soon: 408, 425, 429 and 5xx.
func (e *HTTPError) Temporary() bool {
	switch {
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooEarly,
		e.Status == http.StatusTooManyRequests, e.Status >= 500:
		return true
	}
	return false
}

// capReader fails, rather than truncating, once more than max bytes pass.
type capReader struct {
	r            io.Reader
	left, max    int64
	decompressed bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.err()
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), c.err() // never hand out bytes past the cap
	}
	return n, err
}

func (c *capReader) err() error {
	what := ""
	if c.decompressed {
		what = "decompressed "
	}
	return fmt.Errorf("%s%w (%s)", what, ErrBodyTooLarge, formatSize(c.max))
}

// formatSize writes sizes the way max_body is written in the config.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// maxRetryAfter bounds what a server can ask for; beyond it the caller's
// own backoff is the better guide.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads delay-seconds or an HTTP-date; 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return max(0, min(d, maxRetryAfter))
}

// parseMaxAge reads Cache-Control max-age; no-store/no-cache give 0.
func parseMaxAge(v string) time.Duration {
	var age time.Duration
	for _, part := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			if err == nil && n > 0 {
				age = time.Duration(min(n, int64(365*24*time.Hour/time.Second))) * time.Second
			}
		}
	}
	return age
}

// MaxErrorText caps, in runes, a feed's error as stored, logged and shown:
// enough for the URL, the cause and a few advertised feeds, while a
// hostile or broken server cannot fill the state file, the log or an
// alert.
const MaxErrorText = 1024

// shownError is a feed's error as a user may see it: the URLs in its text
// redacted (crier.RedactURLs), its length capped. The cause stays
// reachable with errors.Is and errors.As.
type shownError struct {
	cause error
	text  string
}

func (e *shownError) Error() string { return e.text }
func (e *shownError) Unwrap() error { return e.cause }

// showable wraps err as a shownError (nil stays nil; one already shown
// stays as it is).
func showable(err error) error {
	if err == nil {
		return nil
	}
	if se, ok := err.(*shownError); ok {
		return se
	}
	return &shownError{cause: err, text: ErrorText(err.Error())}
}

// ErrorText is a feed's error text fit to be shown: URLs redacted, at most
// MaxErrorText runes. Errors are stored that way; this is also for text an
// older crier stored as it was. A very long s is cut first, at a space or
// quote so that no URL is split (a split one might no longer be recognised
// as carrying credentials), which keeps the redaction cheap.
func ErrorText(s string) string {
	if preCut := 16 * MaxErrorText; len(s) > preCut {
		s = s[:preCut]
		if i := strings.LastIndexAny(s, " \t\n\"'<>"); i > 0 {
			s = s[:i]
		}
		s += " …"
	}
	return crier.Truncate(crier.RedactURLs(s), MaxErrorText)
}

package notify

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Truncate shortens s to at most max runes, ending with an ellipsis when
// it cut something. Invalid UTF-8 is replaced first so a service that
// validates its input never rejects a headline.
func Truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return "…"
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return strings.TrimRight(s[:i], " \t\n") + "…"
		}
		n++
	}
	return s
}

// RetryAfter reads a Retry-After header in either of its forms (seconds or
// an HTTP date); 0 when absent or unreadable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

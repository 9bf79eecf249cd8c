package crier

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// Nothing secret: kept byte for byte, so the user recognises the feed.
		{"https://example.org/feed.xml", "https://example.org/feed.xml"},
		{"https://example.org/?author=2&cat=go&q=a%20b#top", "https://example.org/?author=2&cat=go&q=a%20b#top"},
		{"https://example.org/feed?keyword=x&page=2", "https://example.org/feed?keyword=x&page=2"},
		// Userinfo goes whole: the user name is often the secret itself.
		{"http://user:pass@host.example/x.xml", "http://***@host.example/x.xml"},
		{"https://ghp_abc123@host.example/x", "https://***@host.example/x"},
		{"https://host.example/a@b", "https://host.example/a@b"}, // an @ in the path is no userinfo
		// Query values whose name looks like a secret, in any case and spelling.
		{"https://h.example/x?token=abc&cat=go", "https://h.example/x?token=***&cat=go"},
		{"https://h.example/x?cat=go&API_KEY=abc", "https://h.example/x?cat=go&API_KEY=***"},
		{"https://h.example/x?apiKey=a&api-key=b&key=c&access_token=d&client_secret=e", "https://h.example/x?apiKey=***&api-key=***&key=***&access_token=***&client_secret=***"},
		{"https://h.example/x?password=a&passwd=b&pass=c&pwd=d&auth=e&sig=f&signature=g", "https://h.example/x?password=***&passwd=***&pass=***&pwd=***&auth=***&sig=***&signature=***"},
		{"https://s3.example/f?X-Amz-Credential=AKIA&X-Amz-Signature=beef&X-Amz-Date=2025", "https://s3.example/f?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=2025"},
		{"https://h.example/x?session_id=s&private=p&jwt=j", "https://h.example/x?session_id=***&private=***&jwt=***"},
		{"https://h.example/x?%74oken=abc", "https://h.example/x?%74oken=***"}, // percent-encoded name
		{"https://h.example/x#access_token=abc&state=1", "https://h.example/x#access_token=***&state=1"},
		{"https://h.example/x?token=", "https://h.example/x?token="}, // nothing to hide
		// Both at once, and idempotent.
		{"http://u:p@h.example:8080/x.xml?token=t", "http://***@h.example:8080/x.xml?token=***"},
		{"http://***@h.example/x.xml?token=***", "http://***@h.example/x.xml?token=***"},
		// Not a URL crier could fetch: still no secret shown.
		{"javascript:alert(1)", "javascript:alert(1)"},
		{"", ""},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// What net/http says about a failed GET (it masks only the password).
		{`Get "http://user:***@h.example/x?token=abc": dial tcp: connection refused`,
			`Get "http://***@h.example/x?token=***": dial tcp: connection refused`},
		{`feed News (https://u:p@h.example/rss?key=k): fetch https://u:p@h.example/rss?key=k: HTTP 500`,
			`feed News (https://***@h.example/rss?key=***): fetch https://***@h.example/rss?key=***: HTTP 500`},
		{"redirect loop: https://a.example/?sig=1 leads back to https://b.example/?sig=2.",
			"redirect loop: https://a.example/?sig=*** leads back to https://b.example/?sig=***."},
		{"it advertises: <https://h.example/feed?token=x>, 'https://h.example/f?apikey=y'",
			"it advertises: <https://h.example/feed?token=***>, 'https://h.example/f?apikey=***'"},
		{"a link to (https://en.example/wiki/Go_(language)?token=1) in parentheses",
			"a link to (https://en.example/wiki/Go_(language)?token=***) in parentheses"},
		{"no URL here: HTTP 503", "no URL here: HTTP 503"},
	} {
		if got := RedactURLs(tc.in); got != tc.want {
			t.Errorf("RedactURLs(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("https://h.example/x?token=secret ", 10000)
	if got := RedactURLs(long); strings.Contains(got, "secret") {
		t.Error("a long text kept a secret")
	}
}

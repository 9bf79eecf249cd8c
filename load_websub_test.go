package crier

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadWebSub(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `notifiers: [{type: console}]
http:
  listen: 127.0.0.1:8080
  public_url: https://crier.example.org/hooks/
defaults:
  websub_fallback: 2h
feeds:
  - url: https://a.example/feed
  - url: https://b.example/feed
    websub: "off"
  - url: https://c.example/feed
    websub: auto
    websub_fallback: 30m
`, nil, nil)
	if got := cfg.HTTP.PublicURL; got != "https://crier.example.org/hooks" {
		t.Errorf("PublicURL = %q, want it without the trailing slash", got)
	}
	want := []struct {
		websub   string
		fallback time.Duration
	}{{WebSubAuto, 2 * time.Hour}, {WebSubOff, 2 * time.Hour}, {WebSubAuto, 30 * time.Minute}}
	for i, w := range want {
		if f := cfg.Feeds[i]; f.WebSub != w.websub || f.WebSubFallback != w.fallback {
			t.Errorf("feed %d: websub %q fallback %v, want %q %v", i, f.WebSub, f.WebSubFallback, w.websub, w.fallback)
		}
	}

	plain := mustLoad(t, "notifiers: [{type: console}]\nfeeds: [{url: https://a.example/feed}]\n", nil, nil)
	if f := plain.Feeds[0]; f.WebSub != WebSubAuto || f.WebSubFallback != time.Hour || plain.HTTP.PublicURL != "" {
		t.Errorf("defaults: websub %q fallback %v public_url %q; want auto, 1h and none", f.WebSub, f.WebSubFallback, plain.HTTP.PublicURL)
	}
}

func TestLoadWebSubErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{"public_url without a listener", "notifiers: [{type: console}]\nhttp:\n  public_url: https://crier.example.org\n",
			[]string{":3: http.public_url: needs http.listen"}},
		{"public_url not http", "notifiers: [{type: console}]\nhttp:\n  listen: 127.0.0.1:1\n  public_url: crier.example.org\n",
			[]string{":4: http.public_url: expected an absolute http:// or https:// URL"}},
		{"public_url with a query", "notifiers: [{type: console}]\nhttp:\n  listen: 127.0.0.1:1\n  public_url: https://c.example/?a=1\n",
			[]string{":4: http.public_url: no query or fragment"}},
		{"bad websub mode", "notifiers: [{type: console}]\nfeeds:\n  - url: https://a.example/\n    websub: yes\n",
			[]string{`:4: feeds[0].websub: "yes" is not one of: auto, off`}},
		{"bad fallback", "notifiers: [{type: console}]\ndefaults:\n  websub_fallback: 0s\n",
			[]string{":3: defaults.websub_fallback: 0s is too short (minimum 1m0s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadString(t, tt.src, nil, nil)
			var ces ConfigErrors
			if !errors.As(err, &ces) {
				t.Fatalf("err = %v, want ConfigErrors", err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

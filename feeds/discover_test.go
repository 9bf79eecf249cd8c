package feeds

import (
	"slices"
	"testing"
)

func TestDiscover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, page, url string
		want            []Alternate
	}{
		{
			name: "types, relative and absolute hrefs, duplicates, non-feed alternates",
			url:  "https://blog.example/2024/post.html",
			page: `<html><head>
<link rel="alternate" type="application/rss+xml" title="All &amp; more" href="../feed.xml">
<link rel="alternate home" type="Application/Atom+XML; charset=utf-8" href="//cdn.example/atom">
<link rel="alternate" type="application/feed+json" href="/feed.json">
<link rel="alternate" type="application/json" href="/feed.json">
<link rel="alternate" type="text/html" href="/de/">
<link rel="stylesheet" type="application/rss+xml" href="/not-a-feed">
<link rel="alternate" type="application/rss+xml">
</head></html>`,
			want: []Alternate{
				{Title: "All & more", URL: "https://blog.example/feed.xml", Type: "application/rss+xml"},
				{URL: "https://cdn.example/atom", Type: "application/atom+xml"},
				{URL: "https://blog.example/feed.json", Type: "application/feed+json"},
			},
		},
		{
			name: "base href",
			url:  "https://a.example/x/y",
			page: `<head><base href="https://b.example/sub/"><link rel=alternate type=application/rss+xml href=rss></head>`,
			want: []Alternate{{URL: "https://b.example/sub/rss", Type: "application/rss+xml"}},
		},
		{
			name: "a link cut off by the end of the page is ignored",
			url:  "http://c.example/",
			page: `<p>text<div><link rel="alternate" type="application/atom+xml" href="atom.xml"`,
		},
		{name: "nothing advertised", url: "https://d.example/", page: `<html><body>hi</body></html>`},
	} {
		got := Discover([]byte(tc.page), tc.url)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

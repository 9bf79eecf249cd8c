package feeds

import (
	"net/http"
	"slices"
	"testing"
)

func TestDiscoverHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		link   []string // Link header values
		hubs   []string
		self   string
		feedAt string
	}{
		{name: "atom", body: `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<link rel="alternate" href="https://site.example/"/>
<link rel="hub" href="https://hub.example/"/><link rel="self" href="https://site.example/atom.xml"/>
<entry><link rel="hub" href="https://wrong.example/"/><title>e</title></entry></feed>`,
			hubs: []string{"https://hub.example/"}, self: "https://site.example/atom.xml"},
		{name: "rss with atom:link, relative and two hubs", body: `<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<atom:link rel="self" type="application/rss+xml" href="/rss"/>
<atom:link href="https://pubsubhubbub.appspot.com/" rel="hub"/>
<atom:link rel="hub" href="https://second.example/hub"/>
<item><title>i</title></item></channel></rss>`,
			hubs: []string{"https://pubsubhubbub.appspot.com/", "https://second.example/hub"}, self: "https://site.example/rss"},
		{name: "rss link element is not a hub", body: `<rss version="2.0"><channel><link>https://site.example/</link><title>t</title></channel></rss>`},
		{name: "json feed", body: `{"version":"https://jsonfeed.org/version/1.1","title":"t","feed_url":"https://site.example/feed.json",
"hubs":[{"type":"rssCloud","url":"https://cloud.example/"},{"type":"WebSub","url":"https://hub.example/"}],"items":[]}`,
			hubs: []string{"https://hub.example/"}, self: "https://site.example/feed.json"},
		{name: "link headers win over the document", body: `<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" href="https://doc.example/"/></feed>`,
			link: []string{`<https://hub.example/>; rel="hub", </feed>; rel=self`, `<https://other.example/>; rel="preload hub"`},
			hubs: []string{"https://hub.example/", "https://other.example/"}, self: "https://site.example/feed"},
		{name: "self from the document when the header names only a hub", body: `<feed xmlns="http://www.w3.org/2005/Atom"><link rel="self" href="https://site.example/a"/></feed>`,
			link: []string{`<https://hub.example/>; rel=hub`}, hubs: []string{"https://hub.example/"}, self: "https://site.example/a"},
		{name: "no hub", body: `<feed xmlns="http://www.w3.org/2005/Atom"><link rel="self" href="https://site.example/a"/></feed>`,
			self: "https://site.example/a"},
		{name: "non-http hub ignored", body: `<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" href="javascript:alert(1)"/></feed>`},
		{name: "not a feed", body: `garbage <<<`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.link {
				h.Add("Link", v)
			}
			got := DiscoverHub([]byte(tt.body), h.Values("Link"), "https://site.example/feed")
			if !slices.Equal(got.Hubs, tt.hubs) || got.Self != tt.self {
				t.Errorf("DiscoverHub = hubs %q self %q, want %q %q", got.Hubs, got.Self, tt.hubs, tt.self)
			}
		})
	}
}

package feeds

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/url"
	"slices"
	"strings"
)

// HubLinks is where a feed says its WebSub hub is, and the URL under which
// the hub knows it (the topic).
type HubLinks struct {
	Hubs []string // absolute http(s) URLs, in the publisher's order
	Self string   // the feed's canonical URL; "" when it names none
}

// DiscoverHub finds a feed's hubs and self URL the ways WebSub §4 allows:
// HTTP Link headers first (they are what the hub itself sends with every
// push), then the document: <link rel="hub"> in Atom, atom:link in RSS,
// and `hubs` / `feed_url` in a JSON Feed. Relative URLs resolve against
// feedURL; anything that is not http(s) is dropped.
func DiscoverHub(body []byte, linkHeaders []string, feedURL string) HubLinks {
	base, _ := url.Parse(feedURL)
	var hl HubLinks
	for _, l := range parseLinkHeaders(linkHeaders) {
		hl.add(base, l.rel, l.href)
	}
	if len(hl.Hubs) > 0 && hl.Self != "" {
		return hl
	}
	var doc HubLinks
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		doc = jsonFeedHubs(trimmed, base)
	case len(trimmed) > 0 && trimmed[0] == '<':
		doc = xmlFeedHubs(trimmed, base)
	}
	if len(hl.Hubs) == 0 {
		hl.Hubs = doc.Hubs
	}
	if hl.Self == "" {
		hl.Self = doc.Self
	}
	return hl
}

func (hl *HubLinks) add(base *url.URL, rels, href string) {
	for _, rel := range strings.Fields(strings.ToLower(rels)) {
		u := absHTTP(base, href)
		if u == "" {
			return
		}
		switch rel {
		case "hub":
			if !slices.Contains(hl.Hubs, u) {
				hl.Hubs = append(hl.Hubs, u)
			}
		case "self":
			if hl.Self == "" {
				hl.Self = u
			}
		}
	}
}

func absHTTP(base *url.URL, ref string) string {
	s := absURL(base, ref)
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

type linkValue struct{ href, rel string }

// parseLinkHeaders reads RFC 8288 Link header values: `<uri>; rel="a b",
// <uri2>; rel=c`. Parameters other than rel are ignored.
func parseLinkHeaders(values []string) []linkValue {
	var out []linkValue
	for _, v := range values {
		for v != "" {
			v = strings.TrimLeft(v, " \t,")
			if !strings.HasPrefix(v, "<") {
				break
			}
			end := strings.IndexByte(v, '>')
			if end < 0 {
				break
			}
			l := linkValue{href: v[1:end]}
			v = v[end+1:]
			// Parameters run to the next comma outside quotes.
			for {
				v = strings.TrimLeft(v, " \t")
				if !strings.HasPrefix(v, ";") {
					break
				}
				v = strings.TrimLeft(v[1:], " \t")
				name, rest, _ := strings.Cut(v, "=")
				name = strings.ToLower(strings.TrimSpace(name))
				var val string
				rest = strings.TrimLeft(rest, " \t")
				if strings.HasPrefix(rest, `"`) {
					q := strings.IndexByte(rest[1:], '"')
					if q < 0 {
						val, v = rest[1:], ""
					} else {
						val, v = rest[1:1+q], rest[2+q:]
					}
				} else {
					stop := strings.IndexAny(rest, ";,")
					if stop < 0 {
						stop = len(rest)
					}
					val, v = strings.TrimSpace(rest[:stop]), rest[stop:]
				}
				if name == "rel" && l.rel == "" {
					l.rel = val
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// jsonFeedHubs reads a JSON Feed's hubs of type WebSub and its feed_url.
func jsonFeedHubs(doc []byte, base *url.URL) HubLinks {
	var jf struct {
		FeedURL string `json:"feed_url"`
		Hubs    []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"hubs"`
	}
	var hl HubLinks
	if json.Unmarshal(doc, &jf) != nil {
		return hl
	}
	for _, h := range jf.Hubs {
		if t := strings.ToLower(h.Type); t == "websub" || t == "pubsubhubbub" {
			hl.add(base, "hub", h.URL)
		}
	}
	hl.add(base, "self", jf.FeedURL)
	return hl
}

// xmlFeedHubs reads the <link rel="hub"|"self" href="…"> children of an
// Atom <feed> or an RSS <channel>, stopping at the first entry or item so
// that an entry's own links never count and a long feed costs only its head.
func xmlFeedHubs(doc []byte, base *url.URL) HubLinks {
	var hl HubLinks
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = false
	// Hub URLs are ASCII; the document's charset does not matter for them.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var stack []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return hl
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			if name == "item" || name == "entry" {
				return hl
			}
			if name == "link" && len(stack) > 0 && (stack[len(stack)-1] == "feed" || stack[len(stack)-1] == "channel") {
				var rel, href string
				for _, a := range t.Attr {
					switch strings.ToLower(a.Name.Local) {
					case "rel":
						rel = a.Value
					case "href":
						href = a.Value
					}
				}
				if href != "" {
					hl.add(base, rel, href)
				}
			}
			if len(stack) >= 64 {
				return hl // a feed's head is shallow; this is something else
			}
			stack = append(stack, name)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

package feeds

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Alternate is a feed an HTML page advertises with <link rel="alternate">.
type Alternate struct {
	Title string
	URL   string // absolute
	Type  string // media type as advertised, lower-cased
}

// isFeedType reports the media types that mark a <link rel="alternate"> as
// a feed.
func isFeedType(t string) bool {
	switch t {
	case "application/rss+xml", "application/atom+xml", "application/feed+json",
		"application/json", "application/rdf+xml":
		return true
	}
	return false
}

// Discover lists the feeds page advertises, resolved against pageURL (or
// the page's <base href>), in document order without duplicates.
func Discover(page []byte, pageURL string) []Alternate {
	base, _ := url.Parse(pageURL)
	var (
		out  []Alternate
		seen = map[string]bool{}
	)
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if !hasAttr {
			continue
		}
		switch atom.Lookup(name) {
		case atom.Base:
			if href := attrs(z)["href"]; href != "" {
				if u, err := resolve(base, href); err == nil {
					base = u
				}
			}
		case atom.Link:
			a := attrs(z)
			if !hasToken(a["rel"], "alternate") {
				continue
			}
			typ := strings.ToLower(strings.TrimSpace(a["type"]))
			if i := strings.IndexByte(typ, ';'); i >= 0 {
				typ = strings.TrimSpace(typ[:i])
			}
			if !isFeedType(typ) || strings.TrimSpace(a["href"]) == "" {
				continue
			}
			u, err := resolve(base, strings.TrimSpace(a["href"]))
			if err != nil || seen[u.String()] {
				continue
			}
			seen[u.String()] = true
			out = append(out, Alternate{
				Title: plainText(a["title"], 200),
				URL:   u.String(),
				Type:  typ,
			})
		}
	}
}

func attrs(z *html.Tokenizer) map[string]string {
	m := map[string]string{}
	for {
		k, v, more := z.TagAttr()
		if _, dup := m[string(k)]; !dup {
			m[string(k)] = string(v)
		}
		if !more {
			return m
		}
	}
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

func resolve(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return r, nil
	}
	return base.ResolveReference(r), nil
}

package feeds

import (
	"html"
	"net/url"
	"strings"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"
)

// maxImageURL bounds an image address: it travels in every outbox entry,
// and a longer one is a data blob or an abuse, not a picture to show.
const maxImageURL = 2048

// itemImage picks the picture a push can show for gi, first found of:
// media:thumbnail, media:content that is an image (also inside
// media:group), an image enclosure, itunes:image, gofeed's own pick (the
// JSON Feed image, then banner_image), and the first <img> of the content
// or description. Addresses in the feed resolve against the feed; an
// <img> in the content resolves against the item's link, the page that
// HTML was written for. Only http(s) URLs are kept: anything else cannot
// be fetched by a phone, or should not be.
//
// The order puts what the publisher chose as the item's picture before
// what merely appears in its text; gofeed's own choice is not used for
// RSS and Atom because it skips media:thumbnail and looks at itunes:image
// first, which is usually the show's cover, not the episode's. docs are
// the item's HTML documents, scanned last.
func itemImage(gi *gofeed.Item, base *url.URL, itemLink string, docs []string) string {
	if media := gi.Extensions["media"]; media != nil {
		if u := mediaImage(media, base); u != "" {
			return u
		}
	}
	for _, e := range gi.Enclosures {
		if e != nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(e.Type)), "image/") {
			if u := imageURL(base, e.URL); u != "" {
				return u
			}
		}
	}
	if gi.ITunesExt != nil {
		if u := imageURL(base, gi.ITunesExt.Image); u != "" {
			return u
		}
	}
	if gi.Image != nil {
		if u := imageURL(base, gi.Image.URL); u != "" {
			return u
		}
	}
	return contentImage(base, itemLink, docs...)
}

// mediaImage reads Media RSS: thumbnails first (they are made to be
// shown small), then image contents, at the item's level and then inside
// its media:groups.
func mediaImage(media map[string][]ext.Extension, base *url.URL) string {
	for _, t := range media["thumbnail"] {
		if u := imageURL(base, t.Attrs["url"]); u != "" {
			return u
		}
	}
	for _, c := range media["content"] {
		if isMediaImage(c) {
			if u := imageURL(base, c.Attrs["url"]); u != "" {
				return u
			}
		}
	}
	for _, g := range media["group"] {
		if u := mediaImage(g.Children, base); u != "" {
			return u
		}
	}
	return ""
}

// isMediaImage reports a media:content whose medium or type says image.
func isMediaImage(c ext.Extension) bool {
	return strings.EqualFold(strings.TrimSpace(c.Attrs["medium"]), "image") ||
		strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Attrs["type"])), "image/")
}

// contentImage is the first <img> of the first document that has one.
func contentImage(base *url.URL, itemLink string, docs ...string) string {
	for _, doc := range docs {
		src := firstImgSrc(doc)
		if src == "" {
			continue
		}
		b := base
		if !hasHTTPScheme(src) {
			if l, err := url.Parse(itemLink); err == nil && l.IsAbs() {
				b = l
			}
		}
		if u := imageURL(b, src); u != "" {
			return u
		}
	}
	return ""
}

// imageURL resolves ref and keeps it only as an absolute http(s) URL of
// sensible length.
func imageURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > maxImageURL {
		return ""
	}
	if hasHTTPScheme(ref) {
		// Already absolute, the common case: checked, not rebuilt.
		base = nil
	}
	u, err := resolve(base, ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	if base == nil {
		return ref
	}
	if s := u.String(); len(s) <= maxImageURL {
		return s
	}
	return ""
}

func hasHTTPScheme(s string) bool {
	return len(s) > 8 && (strings.EqualFold(s[:7], "http://") || strings.EqualFold(s[:8], "https://"))
}

// firstImgSrc returns the src of the first <img> in an HTML fragment that
// is not a tracking pixel (width or height 0 or 1). It is a scan, not a
// parse: a whole DOM per item would cost every poll of every feed a
// tenth of its CPU (see gofeedParse) for a picture only new items use.
func firstImgSrc(doc string) string {
	for i := 0; ; {
		lt := strings.IndexByte(doc[i:], '<')
		if lt < 0 {
			return ""
		}
		i += lt + 1
		if len(doc)-i < 4 || !strings.EqualFold(doc[i:i+3], "img") || !isTagSpace(doc[i+3]) && doc[i+3] != '/' {
			continue
		}
		end := strings.IndexByte(doc[i:], '>')
		if end < 0 {
			return ""
		}
		a := readImgAttrs(doc[i+3 : i+end])
		i += end
		if a.src != "" && !isPixel(a.width) && !isPixel(a.height) {
			return html.UnescapeString(a.src)
		}
	}
}

func isPixel(dim string) bool {
	d := strings.TrimSuffix(strings.TrimSpace(dim), "px")
	return d == "0" || d == "1"
}

// imgAttrs are the attributes of an <img> that pick the picture.
type imgAttrs struct{ src, width, height string }

// readImgAttrs reads the attributes of one tag (the text between its name
// and '>'); the first of each name counts, as in HTML. Values are raw
// (entities not decoded).
func readImgAttrs(s string) imgAttrs {
	var a imgAttrs
	var seen [3]bool
	for {
		s = strings.TrimLeft(s, " \t\r\n\f/")
		if s == "" {
			return a
		}
		n := strings.IndexAny(s, " \t\r\n\f=/")
		if n < 0 {
			n = len(s)
		}
		name := s[:n]
		s = strings.TrimLeft(s[n:], " \t\r\n\f")
		var val string
		if strings.HasPrefix(s, "=") {
			s = strings.TrimLeft(s[1:], " \t\r\n\f")
			if s != "" && (s[0] == '"' || s[0] == '\'') {
				q := strings.IndexByte(s[1:], s[0])
				if q < 0 {
					val, s = s[1:], ""
				} else {
					val, s = s[1:1+q], s[2+q:]
				}
			} else {
				v := strings.IndexAny(s, " \t\r\n\f")
				if v < 0 {
					v = len(s)
				}
				val, s = s[:v], s[v:]
			}
		}
		for k, field := range [...]*string{&a.src, &a.width, &a.height} {
			if !seen[k] && strings.EqualFold(name, [...]string{"src", "width", "height"}[k]) {
				*field, seen[k] = val, true
			}
		}
	}
}

package feeds

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/mmcdole/gofeed"
	jsonfeed "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
)

// DefaultMaxItems applies when Parse is given maxItems <= 0.
const DefaultMaxItems = 500

// ErrEmptyBody is returned (wrapped, with the URL) for an empty or
// whitespace-only document.
var ErrEmptyBody = errors.New("empty body")

// Parsed is a feed reduced to what crier uses.
type Parsed struct {
	Title  string
	Link   string // the site the feed belongs to, absolute
	Format string // "rss", "atom" or "json"
	Items  []crier.Item
	// TTL is the publisher's refresh hint: RSS <ttl>, else
	// sy:updatePeriod/sy:updateFrequency; 0 when there is none.
	TTL time.Duration
	// Truncated reports that the document ended early and Items holds only
	// the items received in full.
	Truncated bool
	// Lenient reports that the JSON Feed did not decode strictly and was
	// read field by field (see parseJSONLenient).
	Lenient bool
}

// NotAFeedError says a document is something other than a feed, typically
// an HTML page; Alternates lists the feeds the page advertises.
type NotAFeedError struct {
	URL        string
	What       string // "an HTML page", "an XML document with root <x>", …
	Alternates []Alternate
}

func (e *NotAFeedError) Error() string {
	what := e.What
	if what == "" {
		what = "an unrecognised document"
	}
	msg := fmt.Sprintf("%s: not a feed but %s", e.URL, what)
	if len(e.Alternates) == 0 {
		if what == whatHTML {
			msg += " advertising no feed"
		}
		return msg
	}
	// A page may advertise thousands; the first few say where to look.
	const listed = 5
	urls := make([]string, 0, listed+1)
	for _, a := range e.Alternates[:min(len(e.Alternates), listed)] {
		urls = append(urls, a.URL)
	}
	if more := len(e.Alternates) - listed; more > 0 {
		urls = append(urls, fmt.Sprintf("and %d more", more))
	}
	return msg + "; it advertises: " + strings.Join(urls, ", ")
}

const whatHTML = "an HTML page"

// Parse decodes body (already un-gzipped) as RSS, Atom or JSON Feed and
// returns its first maxItems items (DefaultMaxItems when maxItems <= 0)
// with Keys set. contentType is the HTTP Content-Type (for the charset of
// documents that declare none); feedURL resolves relative links and names
// the feed in errors.
//
// A truncated XML document yields the items received in full and
// Parsed.Truncated: a cut-off download of a long feed still announces its
// newest items, while a half-received item is never announced (its missing
// link or text would give it different keys from the complete item later).
func Parse(body []byte, contentType, feedURL string, maxItems int) (p *Parsed, err error) {
	defer func() {
		// A hostile document must cost one feed one poll, never the daemon.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%s: parsing panicked: %v", feedURL, r)
		}
	}()
	if maxItems <= 0 {
		maxItems = DefaultMaxItems
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%s: %w", feedURL, ErrEmptyBody)
	}
	doc, err := toUTF8(body, contentType)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", feedURL, err)
	}
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: %w", feedURL, ErrEmptyBody)
	}
	switch trimmed[0] {
	case '{':
		return parseJSON(trimmed, feedURL, maxItems)
	case '<':
		return parseXML(doc, feedURL, maxItems)
	case '[':
		return nil, &NotAFeedError{URL: feedURL, What: "a JSON array, not a JSON Feed"}
	}
	return nil, &NotAFeedError{URL: feedURL, What: "neither XML nor JSON"}
}

func parseXML(doc []byte, feedURL string, maxItems int) (*Parsed, error) {
	sh := scanXML(doc, maxItems)
	if !isFeedRoot(sh.root) {
		return nil, notAFeed(doc, feedURL, sh.root)
	}
	if sh.tooDeep {
		return nil, fmt.Errorf("%s: XML nested deeper than %d elements", feedURL, maxNesting)
	}
	first := doc
	if sh.cut != nil {
		first = sh.cut
	}
	f, err := gofeedParse(first, feedURL)
	if err != nil && sh.cut != nil {
		// The lexer misjudged an ill-formed document; pay for all of it.
		sh.cut = nil
		f, err = gofeedParse(doc, feedURL)
	}
	truncated := false
	if err != nil && !sh.complete && sh.cut == nil && sh.repaired != nil {
		if f2, err2 := gofeedParse(sh.repaired, feedURL); err2 == nil {
			f, err, truncated = f2, nil, true
		}
	}
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, notAFeed(doc, feedURL, sh.root)
		}
		if !sh.complete {
			return nil, fmt.Errorf("%s: truncated or ill-formed XML: %w", feedURL, err)
		}
		return nil, fmt.Errorf("%s: %w", feedURL, err)
	}
	p := fromGofeed(f, feedURL, maxItems, sh.rdfAbout)
	p.Truncated = truncated
	return p, nil
}

// notAFeed explains a document gofeed cannot take.
func notAFeed(doc []byte, feedURL, root string) error {
	head := bytes.ToLower(doc[:min(len(doc), 2048)])
	if root == "html" || root == "head" || root == "body" || bytes.Contains(head, []byte("<!doctype html")) {
		return &NotAFeedError{URL: feedURL, What: whatHTML, Alternates: Discover(doc, feedURL)}
	}
	if root == "" {
		return &NotAFeedError{URL: feedURL, What: "an XML document without elements"}
	}
	return &NotAFeedError{URL: feedURL, What: "an XML document with root <" + root + ">"}
}

// gofeedParse runs gofeed on doc, turning a panic inside it into an error.
// A fresh parser per call: gofeed parsers are not safe for concurrent use.
func gofeedParse(doc []byte, feedURL string) (f *gofeed.Feed, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%s: feed parser panicked: %v", feedURL, r)
		}
	}()
	fp := gofeed.NewParser()
	fp.KeepOriginalFeed = true // for RSS <ttl>, which gofeed does not translate
	// Without this gofeed parses every RSS item's HTML into a DOM to find
	// an image crier never shows: about a tenth of a cold poll's CPU.
	fp.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	return fp.Parse(bytes.NewReader(doc))
}

// fromGofeed reduces a gofeed result to Parsed and identifies its items.
// rdfAbout is xmlShape.rdfAbout, used when it lists as many items as
// gofeed found (the two disagree only on odd documents, and an id given to
// the wrong item would hide a story).
func fromGofeed(f *gofeed.Feed, feedURL string, maxItems int, rdfAbout []string) *Parsed {
	base, _ := url.Parse(feedURL)
	p := &Parsed{
		Title:  plainText(f.Title, 300),
		Link:   absURL(base, f.Link),
		Format: f.FeedType,
		TTL:    feedTTL(f),
	}
	var rssItems []*rss.Item // parallel to f.Items, for what gofeed drops
	if rf, ok := f.OriginalFeed().(*rss.Feed); ok && rf != nil && len(rf.Items) == len(f.Items) {
		rssItems = rf.Items
	}
	var jsonItems []*jsonfeed.Item // likewise, for content_html
	if jf, ok := f.OriginalFeed().(*jsonfeed.Feed); ok && jf != nil && len(jf.Items) == len(f.Items) {
		jsonItems = jf.Items
	}
	if len(rdfAbout) != len(f.Items) {
		rdfAbout = nil
	}
	src := f.Items
	if len(src) > maxItems {
		src = src[:maxItems]
	}
	p.Items = make([]crier.Item, 0, len(src))
	ids := make([]ItemIDs, 0, len(src))
	for i, gi := range src {
		if gi == nil {
			continue
		}
		docs := []string{gi.Content, gi.Description}
		if f.FeedType == "json" {
			// A JSON Feed's summary and content_text are plain text,
			// where "<img" is words, not a picture.
			docs = nil
			if jsonItems != nil && jsonItems[i] != nil {
				docs = []string{jsonItems[i].ContentHTML}
			}
		}
		it, id := fromGofeedItem(gi, base, docs)
		if it.Link == "" && rssItems != nil {
			it.Link = permalinkGUID(rssItems[i])
			id.LinkIsGUID = it.Link != ""
		}
		if rdfAbout != nil && id.GUID == "" {
			id.About = rdfAbout[i]
		}
		p.Items = append(p.Items, it)
		ids = append(ids, id)
	}
	Identify(p.Items, ids, feedURL, p.Link)
	return p
}

// docs are the item's HTML documents, where its picture may be found.
func fromGofeedItem(gi *gofeed.Item, base *url.URL, docs []string) (crier.Item, ItemIDs) {
	it := crier.Item{
		Title: plainText(gi.Title, summaryRunes),
		Link:  absURL(base, gi.Link),
	}
	if it.Link == "" {
		for _, l := range gi.Links {
			if it.Link = absURL(base, l); it.Link != "" {
				break
			}
		}
	}
	it.Summary = plainText(gi.Description, summaryRunes)
	if it.Summary == "" {
		it.Summary = plainText(gi.Content, summaryRunes)
	}
	it.Published = itemDate(gi)
	it.Categories = cleanCategories(gi.Categories)
	it.Image = itemImage(gi, base, it.Link, docs)
	id := ItemIDs{GUID: gi.GUID}
	for _, e := range gi.Enclosures {
		if e != nil && e.URL != "" {
			id.Enclosure = absURL(base, e.URL)
			break
		}
	}
	return it, id
}

// permalinkGUID returns an RSS item's <guid> when it is the item's address:
// isPermaLink absent or true (the RSS 2.0 default) and an absolute http(s)
// URL. An item with such a GUID and no <link> is common in hand-written
// feeds, and a notification without a link is of little use.
func permalinkGUID(ri *rss.Item) string {
	if ri == nil || ri.GUID == nil || strings.EqualFold(strings.TrimSpace(ri.GUID.IsPermalink), "false") {
		return ""
	}
	v := strings.TrimSpace(ri.GUID.Value)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

func cleanCategories(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range in {
		c = plainText(c, 100)
		if c == "" || seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		out = append(out, c)
	}
	return out
}

// absURL resolves ref against base; "" when ref is empty or unparseable.
func absURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	u, err := resolve(base, ref)
	if err != nil {
		return ""
	}
	return u.String()
}

// feedTTL reads the publisher's refresh hint.
func feedTTL(f *gofeed.Feed) time.Duration {
	if rf, ok := f.OriginalFeed().(*rss.Feed); ok && rf != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(rf.TTL)); err == nil && n > 0 && n < 60*24*366 {
			return time.Duration(n) * time.Minute
		}
	}
	sy := f.Extensions["sy"]
	if sy == nil {
		return 0
	}
	first := func(name string) string {
		if v := sy[name]; len(v) > 0 {
			return strings.TrimSpace(v[0].Value)
		}
		return ""
	}
	var period time.Duration
	switch strings.ToLower(first("updatePeriod")) {
	case "hourly":
		period = time.Hour
	case "daily":
		period = 24 * time.Hour
	case "weekly":
		period = 7 * 24 * time.Hour
	case "monthly":
		period = 30 * 24 * time.Hour
	case "yearly":
		period = 365 * 24 * time.Hour
	default:
		return 0
	}
	freq := 1
	if n, err := strconv.Atoi(first("updateFrequency")); err == nil && n > 0 {
		freq = n
	}
	return period / time.Duration(freq)
}

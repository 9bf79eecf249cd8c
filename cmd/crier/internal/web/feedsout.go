package web

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// storiesOut is how many stories crier's own feeds carry.
const storiesOut = 50

// story is one delivered story with every notifier that delivered it and
// every feed that reported it.
type story struct {
	key       string
	r         crier.Recent // the first delivery
	first     time.Time    // when it was first delivered
	notifiers []string
	sources   []string // feeds; the first delivery's first
}

// feedOut serves /feeds/all.atom, /feeds/all.json and /feeds/NOTIFIER.atom
// (or .json): the last storiesOut stories delivered, through every
// notifier or through one.
func (h *handler) feedOut(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	name, format := strings.TrimSuffix(file, ".atom"), "atom"
	if name == file {
		name, format = strings.TrimSuffix(file, ".json"), "json"
	}
	if name == file || name == "" {
		http.NotFound(w, r)
		return
	}
	recent, err := h.opt.Store.Recent(0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if name != "all" && !h.knownNotifier(name, recent) {
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no notifier named %q", name)})
		return
	}
	stories := h.withSources(collectStories(recent, newsFor(name), storiesOut))
	self := h.baseURL(r) + "/feeds/" + file
	title := "crier: every story delivered"
	if name != "all" {
		title = "crier: stories delivered to " + name
	}
	var body []byte
	var ctype string
	if format == "atom" {
		body, err = atomFeed(title, self, stories)
		ctype = "application/atom+xml; charset=utf-8"
	} else {
		body, err = jsonFeed(title, self, stories)
		ctype = "application/feed+json; charset=utf-8"
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeConditional(w, r, ctype, body)
}

func (h *handler) knownNotifier(name string, recent []crier.Recent) bool {
	if h.opt.Notifiers != nil {
		return slices.Contains(h.opt.Notifiers(), name)
	}
	return slices.ContainsFunc(recent, func(r crier.Recent) bool { return r.Notifier == name })
}

// baseURL is where the client reached crier: public_url when it is set
// (behind a reverse proxy the Host is the proxy's business), else the
// request's own host.
func (h *handler) baseURL(r *http.Request) string {
	if h.opt.PublicURL != "" {
		return h.opt.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// newsFor keeps the deliveries crier's feeds carry: items and summaries
// (tests and alerts are about crier, not news) through notifier, or
// through any with "all".
func newsFor(notifier string) func(crier.Recent) bool {
	return func(r crier.Recent) bool {
		return r.Kind != crier.KindTest && r.Kind != crier.KindAlert && (notifier == "all" || r.Notifier == notifier)
	}
}

// collectStories groups the deliveries keep accepts (newest first) into
// at most limit stories (0: no limit), newest first. The status page and
// crier's own feeds share it, so both show a story once.
func collectStories(recent []crier.Recent, keep func(crier.Recent) bool, limit int) []*story {
	byKey := map[string]*story{}
	var out []*story
	for _, r := range recent {
		if !keep(r) {
			continue
		}
		k := storyKey(r)
		s, ok := byKey[k]
		if !ok {
			if limit > 0 && len(out) == limit {
				continue
			}
			s = &story{key: k, r: r, first: r.At}
			byKey[k] = s
			out = append(out, s)
		}
		if r.At.Before(s.first) || r.At.Equal(s.first) {
			s.first, s.r = r.At, r
		}
		if !slices.Contains(s.notifiers, r.Notifier) {
			s.notifiers = append(s.notifiers, r.Notifier)
		}
		for _, f := range append([]string{r.Feed}, r.AlsoIn...) {
			if f != "" && !slices.Contains(s.sources, f) {
				s.sources = append(s.sources, f)
			}
		}
	}
	for _, s := range out {
		slices.Sort(s.notifiers)
		slices.Sort(s.sources)
		if i := slices.Index(s.sources, s.r.Feed); i > 0 {
			s.sources = slices.Insert(slices.Delete(s.sources, i, i+1), 0, s.r.Feed)
		}
	}
	return out
}

// withSources names, for a story still in the window, every feed that has
// reported it so far: a report kept from every notifier as a story they
// already had was never delivered, so the deliveries alone miss it.
func (h *handler) withSources(stories []*story) []*story {
	for _, s := range stories {
		if s.r.Story == "" {
			continue
		}
		for _, f := range h.opt.Store.StorySources(s.r.Story) {
			if !slices.Contains(s.sources, f) {
				s.sources = append(s.sources, f)
			}
		}
	}
	return stories
}

// storyKey identifies a story across the notifiers it went to: a
// cross-feed story (same_story) by its id, so several feeds' reports are
// one story; else an item by its feed and item ID, a summary by its feed,
// title and queue time. Deliveries recorded before crier kept item IDs
// fall back to the link.
func storyKey(r crier.Recent) string {
	switch {
	case r.Story != "":
		return "story\x00" + r.Story
	case r.ItemID != "":
		return "item\x00" + cmp.Or(r.FeedURL, r.Feed) + "\x00" + r.ItemID
	case r.Kind == crier.KindSummary:
		return "summary\x00" + r.Feed + "\x00" + r.Title + "\x00" + r.QueuedAt.UTC().Format(time.RFC3339Nano)
	}
	return "link\x00" + r.Feed + "\x00" + r.Link + "\x00" + r.Title
}

// urnUUID turns a key into a stable name-based UUID URN (RFC 9562 v8
// layout over SHA-256), an id every feed reader accepts.
func urnUUID(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *story) id() string { return urnUUID(s.key) }

// text is the story's body as plain text: the summary, or a summary
// notification's headlines, or at least its title.
func (s *story) text() string {
	var b strings.Builder
	b.WriteString(s.r.Summary)
	for _, it := range s.r.Items {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("• " + it.Title)
		if it.Link != "" {
			b.WriteString(" " + it.Link)
		}
	}
	return cmp.Or(b.String(), s.r.Title)
}

func httpLink(s string) string {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return s
	}
	return ""
}

const notifierScheme = crier.ProjectURL + "#notifier"

// Atom (RFC 4287) documents.
type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomCategory struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
	Label  string `xml:"label,attr,omitempty"`
}

type atomSource struct {
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Links   []atomLink `xml:"link"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published,omitempty"`
	Links      []atomLink     `xml:"link"`
	Authors    []atomPerson   `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Content    atomText       `xml:"content"`
	Source     *atomSource    `xml:"source,omitempty"`
}

type atomGenerator struct {
	URI     string `xml:"uri,attr"`
	Version string `xml:"version,attr"`
	Text    string `xml:",chardata"`
}

type atomDoc struct {
	XMLName   xml.Name      `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string        `xml:"id"`
	Title     atomText      `xml:"title"`
	Updated   string        `xml:"updated"`
	Links     []atomLink    `xml:"link"`
	Author    atomPerson    `xml:"author"`
	Generator atomGenerator `xml:"generator"`
	Entries   []atomEntry   `xml:"entry"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// updated is the newest first delivery: the feed changes when a story
// arrives. An empty feed has a fixed date, so that its ETag holds too.
func updated(stories []*story) time.Time {
	t := time.Unix(0, 0)
	for _, s := range stories {
		if s.first.After(t) {
			t = s.first
		}
	}
	return t
}

func atomFeed(title, self string, stories []*story) ([]byte, error) {
	doc := atomDoc{
		ID: urnUUID("crier feed\x00" + title), Title: atomText{Type: "text", Text: title},
		Updated:   rfc3339(updated(stories)),
		Links:     []atomLink{{Rel: "self", Href: self, Type: "application/atom+xml"}},
		Author:    atomPerson{Name: "crier", URI: crier.ProjectURL},
		Generator: atomGenerator{URI: crier.ProjectURL, Version: crier.Version, Text: "crier"},
	}
	for _, s := range stories {
		r := s.r
		e := atomEntry{
			ID: s.id(), Title: atomText{Type: "text", Text: r.Title}, Updated: rfc3339(s.first),
			Content: atomText{Type: "text", Text: s.text()},
		}
		// Every feed that reported the story is one of its authors.
		for _, f := range s.sources {
			e.Authors = append(e.Authors, atomPerson{Name: f})
		}
		if len(e.Authors) == 0 {
			e.Authors = []atomPerson{{Name: "crier"}}
		}
		if !r.Published.IsZero() {
			e.Published = rfc3339(r.Published)
		}
		if l := httpLink(r.Link); l != "" {
			e.Links = append(e.Links, atomLink{Rel: "alternate", Href: l})
		}
		for _, c := range r.Categories {
			e.Categories = append(e.Categories, atomCategory{Term: c})
		}
		for _, n := range s.notifiers {
			e.Categories = append(e.Categories, atomCategory{Term: n, Scheme: notifierScheme, Label: "delivered to " + n})
		}
		if r.Feed != "" {
			l := httpLink(crier.RedactURL(r.FeedURL))
			src := &atomSource{ID: cmp.Or(l, urnUUID("crier source\x00"+r.Feed)), Title: r.Feed, Updated: rfc3339(s.first)}
			if l != "" {
				src.Links = []atomLink{{Rel: "self", Href: l}}
			}
			e.Source = src
		}
		doc.Entries = append(doc.Entries, e)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode atom feed: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// JSON Feed 1.1 (https://jsonfeed.org/version/1.1) documents.
type jsonAuthor struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

type jsonItem struct {
	ID            string       `json:"id"`
	URL           string       `json:"url,omitempty"`
	Title         string       `json:"title"`
	ContentText   string       `json:"content_text"`
	DatePublished string       `json:"date_published,omitempty"`
	DateModified  string       `json:"date_modified"`
	Tags          []string     `json:"tags,omitempty"`
	Authors       []jsonAuthor `json:"authors,omitempty"`
	Crier         jsonCrier    `json:"_crier"`
}

// jsonCrier is crier's extension object (JSON Feed §"Extensions").
type jsonCrier struct {
	About       string   `json:"about"`
	Feed        string   `json:"feed"`
	FeedURL     string   `json:"feed_url,omitempty"`
	Notifiers   []string `json:"notifiers"`
	Sources     []string `json:"sources"` // every feed that reported the story
	DeliveredAt string   `json:"delivered_at"`
}

type jsonDoc struct {
	Version string       `json:"version"`
	Title   string       `json:"title"`
	FeedURL string       `json:"feed_url"`
	Authors []jsonAuthor `json:"authors"`
	Items   []jsonItem   `json:"items"`
}

func jsonFeed(title, self string, stories []*story) ([]byte, error) {
	doc := jsonDoc{
		Version: "https://jsonfeed.org/version/1.1", Title: title, FeedURL: self,
		Authors: []jsonAuthor{{Name: "crier", URL: crier.ProjectURL}}, Items: []jsonItem{},
	}
	for _, s := range stories {
		r := s.r
		it := jsonItem{
			ID: s.id(), URL: httpLink(r.Link), Title: r.Title, ContentText: s.text(),
			DateModified: rfc3339(s.first), Tags: r.Categories,
			Crier: jsonCrier{About: crier.ProjectURL, Feed: r.Feed, FeedURL: crier.RedactURL(r.FeedURL), Notifiers: s.notifiers, Sources: s.sources, DeliveredAt: rfc3339(s.first)},
		}
		if !r.Published.IsZero() {
			it.DatePublished = rfc3339(r.Published)
		}
		if r.Feed != "" {
			it.Authors = []jsonAuthor{{Name: r.Feed, URL: httpLink(crier.RedactURL(r.FeedURL))}}
		}
		doc.Items = append(doc.Items, it)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode json feed: %w", err)
	}
	return append(b, '\n'), nil
}

// writeConditional answers with body, or 304 when the client's
// If-None-Match names its ETag, gzipped when the client accepts it. The
// ETag is the body's hash, so it changes exactly when the feed does; the
// gzipped representation gets its own, as RFC 9110 asks of strong ETags.
func writeConditional(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	etag := `"` + tag + `"`
	if gz {
		etag = `"` + tag + `-gzip"`
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", "private, no-cache")
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", ctype)
	if !gz {
		_, _ = w.Write(body)
		return
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(body)
	_ = zw.Close()
	h.Set("Content-Encoding", "gzip")
	_, _ = w.Write(b.Bytes())
}

// noneMatch reports whether an If-None-Match list names tag, by the weak
// comparison RFC 9110 §13.1.2 prescribes, in either representation.
func noneMatch(header, tag string) bool {
	for v := range strings.SplitSeq(header, ",") {
		v = strings.TrimSpace(v)
		if v == "*" {
			return true
		}
		v = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
		if v == tag || v == tag+"-gzip" {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip (or x-gzip) without q=0.
func acceptsGzip(header string) bool {
	for v := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(v), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

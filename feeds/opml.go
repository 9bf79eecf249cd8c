package feeds

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/crierd/crier"
)

// OPMLFeed is one subscription of an OPML file.
type OPMLFeed struct {
	Title    string // the outline's text, else its title; may be empty
	XMLURL   string // the feed itself
	HTMLURL  string // the site, when the export names it
	Category string // enclosing outlines' names joined with "/"; "" at top level
}

// ParseOPML reads the subscriptions of an OPML 1.0 or 2.0 file, in document
// order. Every outline with an xmlUrl is a feed, whatever its nesting;
// outlines without one are folders and only name the category of what they
// hold. A URL listed twice (one feed filed under two folders) is kept once,
// where it first appears.
//
// Real exports are not always well-formed, so the decoder is lenient: a byte
// order mark, a non-UTF-8 encoding declaration, HTML entities and bare
// ampersands in URLs are all accepted, and attribute names are matched
// without regard to case (xmlUrl, xmlurl, XMLURL).
func ParseOPML(r io.Reader) ([]OPMLFeed, error) {
	r, converted, err := opmlUnicode(r)
	if err != nil {
		return nil, fmt.Errorf("opml: %w", err)
	}
	dec := xml.NewDecoder(r)
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if converted {
			// The bytes are UTF-8 already; the declaration still names
			// the file's original UTF-16.
			return in, nil
		}
		return charset.NewReaderLabel(label, in)
	}

	var (
		out    []OPMLFeed
		seen   = map[string]bool{}
		path   []string // names of the open outlines
		inOPML bool
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("opml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			if !inOPML {
				if name != "opml" {
					return nil, fmt.Errorf("opml: not an OPML document (root element <%s>)", t.Name.Local)
				}
				inOPML = true
				continue
			}
			if name != "outline" {
				continue
			}
			title := opmlAttr(t, "text")
			if title == "" {
				title = opmlAttr(t, "title")
			}
			if u := opmlAttr(t, "xmlurl"); u != "" && opmlFeedType(opmlAttr(t, "type")) && !seen[u] {
				seen[u] = true
				out = append(out, OPMLFeed{
					Title:    title,
					XMLURL:   u,
					HTMLURL:  opmlAttr(t, "htmlurl"),
					Category: strings.Join(opmlNonEmpty(path), "/"),
				})
			}
			path = append(path, title)
		case xml.EndElement:
			if strings.EqualFold(t.Name.Local, "outline") && len(path) > 0 {
				path = path[:len(path)-1]
			}
		}
	}
	if !inOPML {
		return nil, errors.New("opml: empty document")
	}
	return out, nil
}

// opmlUnicode drops a UTF-8 byte order mark (encoding/xml would take it for
// text before the XML declaration) and turns UTF-16 (recognised by its BOM) into UTF-8. converted reports the
// latter, when the encoding declaration must then be ignored.
func opmlUnicode(r io.Reader) (_ io.Reader, converted bool, _ error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		br.Discard(3)
		return br, false, nil
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		dec := unicode.BOMOverride(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder())
		return transform.NewReader(br, dec), true, nil
	}
	return br, false, nil
}

// opmlAttr returns an attribute by case-insensitive name, trimmed, with runs
// of white space (line breaks in long titles) collapsed.
func opmlAttr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if strings.EqualFold(a.Name.Local, name) {
			return strings.Join(strings.Fields(a.Value), " ")
		}
	}
	return ""
}

// opmlFeedType says whether an outline type can hold a feed. Exports
// disagree on the type of a feed (rss for everything, atom, none at all,
// odd ones like "pie"), so anything with an xmlUrl counts except the OPML
// types that are known to point elsewhere.
func opmlFeedType(typ string) bool {
	switch strings.ToLower(typ) {
	case "link", "include", "redirect":
		return false
	}
	return true
}

func opmlNonEmpty(path []string) []string {
	var out []string
	for _, p := range path {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// opmlDoc is the document WriteOPML emits.
type opmlDoc struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Head    struct {
		Title       string `xml:"title"`
		DateCreated string `xml:"dateCreated"`
		Docs        string `xml:"docs"`
	} `xml:"head"`
	Body struct {
		Outlines []opmlOutline `xml:"outline"`
	} `xml:"body"`
}

type opmlOutline struct {
	Type   string `xml:"type,attr"`
	Text   string `xml:"text,attr"`
	Title  string `xml:"title,attr"`
	XMLURL string `xml:"xmlUrl,attr"`
}

// WriteOPML writes feeds as an OPML 2.0 subscription list, one top-level
// outline per feed in the order given. now is the document's dateCreated.
// crier has no folders, so nothing is nested.
func WriteOPML(w io.Writer, title string, feeds []crier.Feed, now time.Time) error {
	var doc opmlDoc
	doc.Version = "2.0"
	doc.Head.Title = title
	// RFC 822 as the OPML spec asks, with a four-digit year and GMT.
	doc.Head.DateCreated = now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	doc.Head.Docs = "http://opml.org/spec2.opml"
	for _, f := range feeds {
		doc.Body.Outlines = append(doc.Body.Outlines, opmlOutline{Type: "rss", Text: f.Name, Title: f.Name, XMLURL: f.URL})
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("opml: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.Write(out)
	b.WriteByte('\n')
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("opml: writing: %w", err)
	}
	return nil
}

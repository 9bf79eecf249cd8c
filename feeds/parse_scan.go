package feeds

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
)

// maxNesting bounds element depth. Real feeds nest fewer than 20 deep; a
// document nested thousands deep is an attack on the parser's stack or time.
const maxNesting = 1000

// xmlShape is what one linear pass over an XML document learns before gofeed
// sees it. The pass is a deliberately small lexer (comments, CDATA, PIs,
// DOCTYPE, tags with quoted attributes), not a validating parser: it only has
// to be right about where tags start and end.
type xmlShape struct {
	root     string // local name of the root element, lower-cased
	tooDeep  bool
	complete bool // every element was closed and the last tag ended

	// cut, when non-nil, is the document limited to its first maxItems
	// items, with the still-open ancestors closed.
	cut []byte

	// repaired, when the document is incomplete, ends after the last item
	// that was fully received, with the still-open ancestors closed.
	repaired []byte

	// rdfAbout holds, for an RSS 1.0 document, the rdf:about of each item
	// received in full, in document order ("" for an item without one);
	// nil when some item sits elsewhere than directly under the root,
	// where gofeed would list it in another order.
	rdfAbout []string
}

// scanXML walks b once. It stops early at the root when the root is not a
// feed root (an HTML page's unclosed <br>s must not count as nesting), when
// nesting exceeds maxNesting, or at the start of item maxItems+1.
func scanXML(b []byte, maxItems int) xmlShape {
	var (
		sh       xmlShape
		stack    []string // qualified names of open elements
		itemAt   = -1     // stack index of the open item/entry, -1 if none
		items    int
		safeEnd  int      // offset after the last token outside any item
		safeOpen []string // the stack at safeEnd
		rdf      bool     // the root is rdf:RDF
		rdfMixed bool     // an RDF item not directly under the root
		about    string   // rdf:about of the open item
	)
	markSafe := func(off int) {
		if itemAt < 0 {
			safeEnd = off
			safeOpen = append(safeOpen[:0], stack...)
		}
	}
	i := 0
	for {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := b[i:]
		var end int // offset of the byte after the token, -1 if unterminated
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = indexAfter(rest, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end = indexAfter(rest, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			end = indexAfter(rest, "?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			end = doctypeEnd(rest)
		case bytes.HasPrefix(rest, []byte("</")):
			end = tagEnd(rest)
			if end < 0 {
				break
			}
			name := tagName(rest[2:])
			for k := len(stack) - 1; k >= 0; k-- {
				if stack[k] == name {
					stack = stack[:k]
					if itemAt >= k {
						itemAt = -1
						if rdf {
							sh.rdfAbout = append(sh.rdfAbout, about)
						}
					}
					break
				}
			}
		case len(rest) > 1 && isNameStart(rest[1]):
			end = tagEnd(rest)
			if end < 0 {
				break
			}
			name := tagName(rest[1:])
			if sh.root == "" {
				sh.root = strings.ToLower(localName(name))
				if !isFeedRoot(sh.root) {
					return sh
				}
				rdf = sh.root == "rdf"
			}
			if itemAt < 0 && len(stack) <= 2 && isItemName(name) {
				items++
				if items > maxItems {
					sh.cut = closeOpen(b[:i], stack)
					sh.rdfAbout = rdfIDs(sh.rdfAbout, rdfMixed)
					return sh
				}
				if rdf {
					rdfMixed = rdfMixed || len(stack) != 1
					about = rdfAboutAttr(rest[:end])
					if rest[end-2] == '/' {
						sh.rdfAbout = append(sh.rdfAbout, about)
					}
				}
			}
			if rest[end-2] == '/' || isHTMLVoid(name) {
				break // self-closing, or a raw <br> that encoding/xml will auto-close
			}
			stack = append(stack, name)
			if len(stack) > maxNesting {
				sh.tooDeep = true
				return sh
			}
			if itemAt < 0 && len(stack) <= 3 && isItemName(name) {
				itemAt = len(stack) - 1
			}
		default:
			end = 1 // a stray '<' in text
		}
		if end < 0 {
			// Unterminated token: the document stops inside it.
			sh.repaired = closeOpen(b[:safeEnd], safeOpen)
			sh.rdfAbout = rdfIDs(sh.rdfAbout, rdfMixed)
			return sh
		}
		i += end
		markSafe(i)
	}
	sh.rdfAbout = rdfIDs(sh.rdfAbout, rdfMixed)
	if len(stack) == 0 {
		sh.complete = true
		return sh
	}
	sh.repaired = closeOpen(b[:safeEnd], safeOpen)
	return sh
}

// isHTMLVoid reports HTML elements that never have end tags. Ill-formed
// feeds put them raw (not escaped) into descriptions; counting each as a
// level of nesting would make a long article look like an attack.
func isHTMLVoid(name string) bool {
	switch strings.ToLower(name) {
	case "br", "hr", "img", "input", "meta", "area", "base", "col", "embed", "param", "source", "track", "wbr":
		return true
	}
	return false
}

func indexAfter(b []byte, sep string) int {
	k := bytes.Index(b, []byte(sep))
	if k < 0 {
		return -1
	}
	return k + len(sep)
}

// tagEnd finds the '>' closing a tag, skipping quoted attribute values.
func tagEnd(b []byte) int {
	var quote byte
	for k := 1; k < len(b); k++ {
		c := b[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return k + 1
		}
	}
	return -1
}

// doctypeEnd skips <!DOCTYPE …> including an internal [subset].
func doctypeEnd(b []byte) int {
	depth := 0
	var quote byte
	for k := 2; k < len(b); k++ {
		c := b[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '>' && depth <= 0:
			return k + 1
		}
	}
	return -1
}

func tagName(b []byte) string {
	k := 0
	for k < len(b) && !isNameEnd(b[k]) {
		k++
	}
	return string(b[:k])
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>'
}

func localName(q string) string {
	if k := strings.LastIndexByte(q, ':'); k >= 0 {
		return q[k+1:]
	}
	return q
}

func isItemName(q string) bool {
	l := localName(q)
	return strings.EqualFold(l, "item") || strings.EqualFold(l, "entry")
}

func isFeedRoot(local string) bool {
	return local == "rss" || local == "rdf" || local == "feed"
}

// closeOpen returns prefix followed by end tags for the open elements.
func closeOpen(prefix []byte, open []string) []byte {
	n := len(prefix)
	for _, name := range open {
		n += len(name) + 3
	}
	out := make([]byte, 0, n+1)
	out = append(out, prefix...)
	out = append(out, '\n')
	for k := len(open) - 1; k >= 0; k-- {
		out = append(out, "</"...)
		out = append(out, open[k]...)
		out = append(out, '>')
	}
	return out
}

func rdfIDs(ids []string, mixed bool) []string {
	if mixed {
		return nil
	}
	return ids
}

// rdfAboutAttr returns the value of the rdf:about attribute (any prefix)
// of the start tag tag, entities decoded; "" when there is none.
func rdfAboutAttr(tag []byte) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	i := 1
	for i < len(tag) && !isNameEnd(tag[i]) {
		i++ // the element's name
	}
	for {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		start := i
		for i < len(tag) && tag[i] != '=' && !isNameEnd(tag[i]) {
			i++
		}
		name := tag[start:i]
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if len(name) == 0 || i >= len(tag) || tag[i] != '=' {
			return "" // the end of the tag, or not well-formed
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '"' && tag[i] != '\'') {
			return ""
		}
		q := bytes.IndexByte(tag[i+1:], tag[i])
		if q < 0 {
			return ""
		}
		value := tag[i+1 : i+1+q]
		i += q + 2
		if bytes.HasSuffix(name, []byte(":about")) {
			return html.UnescapeString(string(value))
		}
	}
}

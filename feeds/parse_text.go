package feeds

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// summaryRunes caps an item summary: enough for any notification, and it
// keeps a feed that inlines whole articles from bloating memory.
const summaryRunes = 1000

// plainText turns feed text that may hold HTML into one line of plain text:
// tags dropped (script/style with their content), entities decoded,
// whitespace collapsed. maxRunes > 0 caps the result, ending it with "…";
// tokenizing stops once enough text is collected.
func plainText(s string, maxRunes int) string {
	var b textBuilder
	b.max = maxRunes
	if maxRunes > 0 {
		b.buf = make([]byte, 0, min(len(s), 3*maxRunes)+len("…"))
	} else {
		b.buf = make([]byte, 0, len(s))
	}
	if !strings.ContainsAny(s, "<&") {
		writeText(&b, s)
		return b.String()
	}
	if stripSimple(&b, s) {
		return b.String()
	}
	return tokenizeText(textBuilder{max: maxRunes, buf: b.buf[:0]}, s)
}

// tokenizedText is plainText without the fast path, for tests.
func tokenizedText(s string, maxRunes int) string {
	return tokenizeText(textBuilder{max: maxRunes}, s)
}

// tokenizeText is plainText's general path: x/net/html's tokenizer.
func tokenizeText(b textBuilder, s string) string {
	skip := 0    // inside <script>/<style>
	foreign := 0 // inside <svg>/<math>: markup, not text
	for off := 0; off < len(s); {
		z := html.NewTokenizer(strings.NewReader(s[off:]))
		pos, restart := 0, -1 // pos: offset of the token in s[off:]
		for !b.full() && restart < 0 {
			tt := z.Next()
			n := len(z.Raw()) // before Text, which unescapes in place
			switch tt {
			case html.ErrorToken:
				return b.String()
			case html.TextToken:
				if skip == 0 && foreign == 0 {
					writeText(&b, z.Text())
				}
			case html.CommentToken:
				if raw := z.Raw(); isStrayBang(raw) {
					// HTML reads "<!' <a href=…>" up to the next ">" as a
					// bogus comment; in a feed it is text: keep "<!" and
					// tokenize again after it.
					if skip == 0 && foreign == 0 {
						writeText(&b, "<!")
					}
					restart = off + pos + 2
				}
			case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
				raw := z.Raw()
				kind, a := classifyTag(raw)
				switch kind {
				case tagNotHTML:
					// Text like "Vec<T>" or "<world>" in a title.
					if skip == 0 && foreign == 0 {
						writeText(&b, raw)
					}
				case tagForeign:
					switch {
					case tt == html.EndTagToken:
						foreign = max(foreign-1, 0)
					case tt == html.StartTagToken && (foreign > 0 || closedLater(s, raw)):
						foreign++
					}
					b.space()
				default: // HTML, or namespaced: <h:p>, <o:p>, <st1:City>
					if a == atom.Script || a == atom.Style {
						if tt == html.StartTagToken {
							skip++
						} else if skip > 0 {
							skip--
						}
					} else if a != 0 && isBreaking(a) {
						b.space()
					}
				}
			}
			pos += n
		}
		if restart < 0 {
			break
		}
		off = restart
	}
	return b.String()
}

// isStrayBang reports a bogus comment that starts "<!" but opens no
// comment, doctype or CDATA section.
func isStrayBang(raw []byte) bool {
	return len(raw) >= 2 && raw[0] == '<' && raw[1] == '!' &&
		!bytes.HasPrefix(raw, []byte("<!--")) && !bytes.HasPrefix(raw, []byte("<!["))
}

// closedLater reports whether s holds an end tag for the element whose
// start tag is raw. An <svg> or <math> without one is taken for a title
// that mentions the element ("How to use <svg> in React"), whose text
// must not vanish.
func closedLater(s string, raw []byte) bool {
	var buf [maxTagName]byte
	name := readTagName(raw, &buf)
	for i := 0; ; {
		k := strings.Index(s[i:], "</")
		if k < 0 {
			return false
		}
		i += k + 2
		if len(s)-i >= len(name) && strings.EqualFold(s[i:i+len(name)], string(name)) {
			return true
		}
	}
}

// stripSimple is the tokenizer loop of plainText for the common case, an
// order of magnitude cheaper: text and ordinary tags only. It reports false,
// leaving b to be discarded, on anything else (a comment, a declaration, an
// element whose content the tokenizer reads raw such as <script> or
// <title>, <svg> or <math>, a tag cut off by the end of s), and plainText starts over with
// the tokenizer. Where a tag starts and ends follows x/net/html's tokenizer
// byte for byte (readTag, readTagAttrKey, readTagAttrVal).
func stripSimple(b *textBuilder, s string) bool {
	text := 0 // start of the text not written yet
	for i := 0; i < len(s) && !b.full(); {
		k := strings.IndexByte(s[i:], '<')
		if k < 0 || i+k+1 >= len(s) {
			break // no tag left ("<" at the very end is text)
		}
		i += k
		c := s[i+1]
		switch {
		case isASCIILetter(c):
		case c == '/':
			if i+2 >= len(s) || !isASCIILetter(s[i+2]) {
				return false // "</>", a bogus comment, or "</" at the end
			}
		case c == '!' || c == '?':
			return false
		default:
			i++ // "<" starting no tag is text
			continue
		}
		end := tagEndAt(s, i)
		if end < 0 {
			return false
		}
		raw := s[i:end]
		kind, a := classifyTag(raw)
		if kind == tagForeign || c != '/' && (kind == tagHTML && rawTextElement(a) || a == atom.Script || a == atom.Style) {
			return false
		}
		writeText(b, html.UnescapeString(s[text:i]))
		text, i = end, end
		switch {
		case kind == tagNotHTML:
			writeText(b, raw) // "Vec<T>"
		case a == atom.Script || a == atom.Style:
			// an end tag without its start: nothing
		case a != 0 && isBreaking(a):
			b.space()
		}
	}
	if !b.full() {
		writeText(b, html.UnescapeString(s[text:]))
	}
	return true
}

// rawTextElement reports the elements after whose start tag the tokenizer
// stops recognising tags (readStartTag's list).
func rawTextElement(a atom.Atom) bool {
	switch a {
	case atom.Iframe, atom.Noembed, atom.Noframes, atom.Noscript, atom.Plaintext,
		atom.Script, atom.Style, atom.Textarea, atom.Title, atom.Xmp:
		return true
	}
	return false
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isTagSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

// tagEndAt returns the index after the '>' ending the tag that starts at
// s[i] ("<a" or "</a"), or -1 when s ends inside it.
func tagEndAt(s string, i int) int {
	p := i + 1
	if s[p] == '/' {
		p++
	}
	skipSpace := func() {
		for p < len(s) && isTagSpace(s[p]) {
			p++
		}
	}
	// The name.
	for p < len(s) && !isTagSpace(s[p]) && s[p] != '/' && s[p] != '>' {
		p++
	}
	skipSpace()
	for p < len(s) {
		if s[p] == '>' {
			return p + 1
		}
		// An attribute name; "=" is part of it only as its first byte.
		start := p
		for p < len(s) {
			c := s[p]
			if c == '=' && p > start || isTagSpace(c) || c == '/' || c == '>' {
				break
			}
			p++
		}
		if p >= len(s) {
			return -1
		}
		// Its value, if any.
		skipSpace()
		if p >= len(s) {
			return -1
		}
		switch s[p] {
		case '/':
			p++
		case '=':
			p++
			skipSpace()
			if p >= len(s) {
				return -1
			}
			switch q := s[p]; q {
			case '>':
			case '\'', '"':
				k := strings.IndexByte(s[p+1:], q)
				if k < 0 {
					return -1
				}
				p += k + 2
			default:
				for p < len(s) && !isTagSpace(s[p]) && s[p] != '>' {
					p++
				}
				if p >= len(s) {
					return -1
				}
			}
		}
		skipSpace()
	}
	return -1
}

// tagKind is what plainText makes of a tag.
type tagKind int

const (
	tagHTML     tagKind = iota // an HTML element: dropped, maybe a word break
	tagNotHTML                 // no element at all ("Vec<T>"): kept as text
	tagPrefixed                // a namespaced element (<h:p>, <o:p>): dropped
	tagForeign                 // <svg>, <math>: dropped with their content
)

// maxTagName bounds the tag names classifyTag reads; longer ones are text.
const maxTagName = 64

// classifyTag reads a tag token's name as written ("<IMG src=…>",
// "</svg:svg>") the way the tokenizer's TagName reads it, without the copy
// TagName makes of every name, and returns its kind and the atom of its
// (local) name, 0 when that is no HTML element: a namespaced <h:p> breaks
// words as <p> does, <h:script> hides its content as <script> does.
func classifyTag[T string | []byte](raw T) (tagKind, atom.Atom) {
	var buf [maxTagName]byte
	name := readTagName(raw, &buf)
	if name == nil {
		return tagNotHTML, 0
	}
	if prefix, local, ok := bytes.Cut(name, []byte(":")); ok {
		if !isNCName(prefix) || !isNCName(local) {
			return tagNotHTML, 0 // "<https://…>", "<urn:isbn:…>"
		}
		switch a := atom.Lookup(local); a {
		case atom.Svg, atom.Math:
			return tagForeign, a
		default:
			return tagPrefixed, a
		}
	}
	switch a := atom.Lookup(name); a {
	case 0:
		return tagNotHTML, 0
	case atom.Svg, atom.Math:
		return tagForeign, a
	default:
		return tagHTML, a
	}
}

// readTagName returns the lower-cased name of the tag token raw in buf, or
// nil when it is longer than buf.
func readTagName[T string | []byte](raw T, buf *[maxTagName]byte) []byte {
	if len(raw) > 0 && raw[0] == '<' {
		raw = raw[1:]
	}
	if len(raw) > 0 && raw[0] == '/' {
		raw = raw[1:]
	}
	n := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '/' || c == '>' {
			break
		}
		if n == len(buf) {
			return nil
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return buf[:n]
}

// isNCName reports an XML name without a colon, ASCII only: a namespace
// prefix or a local name.
func isNCName(b []byte) bool {
	if len(b) == 0 || !(isASCIILetter(b[0]) || b[0] == '_') {
		return false
	}
	for _, c := range b[1:] {
		if !(isASCIILetter(c) || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isBreaking reports whether a tag separates words ("a<br>b" is "a b").
func isBreaking(a atom.Atom) bool {
	switch a {
	case atom.A, atom.B, atom.I, atom.Em, atom.Strong, atom.Span, atom.Code,
		atom.Abbr, atom.Small, atom.Sub, atom.Sup, atom.U, atom.S, atom.Mark,
		atom.Q, atom.Cite, atom.Font, atom.Tt, atom.Kbd, atom.Var, atom.Time:
		return false
	}
	return true
}

// textBuilder collects words separated by single spaces, up to max runes.
type textBuilder struct {
	buf     []byte
	max     int
	runes   int
	pending bool // a space is owed before the next word
	over    bool // the cap was reached; buf ends with "…"
}

func (b *textBuilder) full() bool { return b.over }

func (b *textBuilder) space() { b.pending = b.runes > 0 }

// writeText appends s, collapsing whitespace and dropping control
// characters and invalid bytes. ASCII takes a byte-wise path: it is nearly
// all of what feeds send, and per-rune Unicode tables cost more than the
// HTML tokenizer.
func writeText[T string | []byte](b *textBuilder, s T) {
	for i := 0; i < len(s) && !b.over; {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0:
				b.space()
			case c < 0x20 || c == 0x7f:
				// control character: dropped
			default:
				// A run of printable ASCII is copied at once, as far as
				// the cap allows.
				start, end := i-1, i
				for end < len(s) && s[end] > ' ' && s[end] < 0x7f {
					end++
				}
				if !b.room() {
					break
				}
				n := end - start
				if b.max > 0 {
					n = min(n, b.max-1-b.runes)
				}
				b.buf = append(b.buf, s[start:start+n]...)
				b.runes += n
				i = start + n
			}
			continue
		}
		var buf [utf8.UTFMax]byte
		r, size := utf8.DecodeRune(buf[:copy(buf[:], s[i:min(i+utf8.UTFMax, len(s))])])
		i += size
		if 0x80 <= r && r <= 0x9f {
			r = windows1252C1[r-0x80] // 0 for the five unassigned: dropped below
		}
		switch {
		case unicode.IsSpace(r):
			b.space()
		case r == utf8.RuneError || unicode.IsControl(r):
		default:
			if b.room() {
				b.buf = utf8.AppendRune(b.buf, r)
				b.runes++
			}
		}
	}
}

// windows1252C1 maps the C1 controls U+0080–U+009F, which never belong in
// feed text, to the windows-1252 characters they were meant as: cp1252 text
// converted to UTF-8 byte for byte, or numeric references such as &#146;
// that an XML parser decodes literally ("don’t", not "dont").
var windows1252C1 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// room writes the owed space and reports whether one more rune fits; when
// it does not, the text ends with "…" (and never with the owed space).
func (b *textBuilder) room() bool {
	need := 1
	if b.pending {
		need = 2
	}
	if b.max > 0 && b.runes+need > b.max-1 {
		b.over = true
		b.buf = append(b.buf, "…"...)
		return false
	}
	if b.pending {
		b.buf = append(b.buf, ' ')
		b.runes++
		b.pending = false
	}
	return true
}

func (b *textBuilder) String() string { return string(b.buf) }

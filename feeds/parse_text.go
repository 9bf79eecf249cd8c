package feeds

import (
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
	b = textBuilder{max: maxRunes, buf: b.buf[:0]}
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // inside <script>/<style>
	for !b.full() {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				writeText(&b, z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			raw := z.Raw()
			a := tagAtom(raw)
			if a == 0 {
				// Not HTML: text like "Vec<T>" or "<world>" in a title.
				if skip == 0 {
					writeText(&b, raw)
				}
				continue
			}
			if a == atom.Script || a == atom.Style {
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
				continue
			}
			if isBreaking(a) {
				b.space()
			}
		}
	}
	return b.String()
}

// stripSimple is the tokenizer loop of plainText for the common case, an
// order of magnitude cheaper: text and ordinary tags only. It reports false,
// leaving b to be discarded, on anything else (a comment, a declaration, an
// element whose content the tokenizer reads raw such as <script> or
// <title>, a tag cut off by the end of s), and plainText starts over with
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
		a := tagAtom(raw)
		if c != '/' && rawTextElement(a) {
			return false
		}
		writeText(b, html.UnescapeString(s[text:i]))
		text, i = end, end
		switch {
		case a == 0:
			writeText(b, raw) // not HTML: "Vec<T>"
		case a == atom.Script || a == atom.Style:
			// an end tag without its start: nothing
		case isBreaking(a):
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

// tagAtom is atom.Lookup of a tag token's name, read from the token as
// written ("<IMG src=…>", "</p>") the way the tokenizer's TagName reads it,
// without the copy TagName makes of every name.
func tagAtom[T string | []byte](raw T) atom.Atom {
	if len(raw) > 0 && raw[0] == '<' {
		raw = raw[1:]
	}
	if len(raw) > 0 && raw[0] == '/' {
		raw = raw[1:]
	}
	var buf [32]byte // longer than any atom
	n := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '/' || c == '>' {
			break
		}
		if n == len(buf) {
			return 0
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return atom.Lookup(buf[:n])
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

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
	if !strings.ContainsAny(s, "<&") {
		return collapse(s, maxRunes)
	}
	var b textBuilder
	b.max = maxRunes
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // inside <script>/<style>
	for !b.full() {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				b.write(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			raw := string(z.Raw()) // before TagName, which lower-cases in place
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if a == 0 {
				// Not HTML: text like "Vec<T>" or "<world>" in a title.
				if skip == 0 {
					b.write(raw)
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

func collapse(s string, maxRunes int) string {
	var b textBuilder
	b.max = maxRunes
	b.write(s)
	return b.String()
}

// textBuilder collects words separated by single spaces, up to max runes.
type textBuilder struct {
	sb      strings.Builder
	max     int
	runes   int
	pending bool // a space is owed before the next word
	over    bool
}

func (b *textBuilder) full() bool { return b.over }

func (b *textBuilder) space() { b.pending = b.runes > 0 }

func (b *textBuilder) write(s string) {
	for _, r := range s {
		if b.over {
			return
		}
		if unicode.IsSpace(r) || r == 0 {
			b.space()
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			continue
		}
		if b.pending {
			b.add(' ')
			b.pending = false
		}
		b.add(r)
	}
}

func (b *textBuilder) add(r rune) {
	if b.max > 0 && b.runes >= b.max-1 {
		b.over = true
		return
	}
	b.sb.WriteRune(r)
	b.runes++
}

func (b *textBuilder) String() string {
	s := b.sb.String()
	if b.over {
		return strings.TrimRight(s, " ") + "…"
	}
	return s
}

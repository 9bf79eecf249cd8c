package feeds

import (
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// TestPlainTextForeignMarkup: SVG and MathML inlined in feed HTML, and
// Word's namespaced tags, never reach a notification as markup, while text
// that merely looks like a tag stays text.
func TestPlainTextForeignMarkup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"prefixed SVG element", `Circle <svg:circle cx="5" r="4"/> here`, "Circle here"},
		{"prefixed SVG root with content", `Logo<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:title>icon</svg:title><svg:circle r="4"/></svg:svg> Inc`, "Logo Inc"},
		{"inline SVG", `<svg viewBox="0 0 9 9"><circle r="1"/><text>label</text><path d="M0"/></svg>Title`, "Title"},
		{"MathML", `Energy <math><mrow><mi>E</mi><mo>=</mo><msup><mi>c</mi><mn>2</mn></msup></mrow></math> holds`, "Energy holds"},
		{"MathML upper case", `a<MATH><MROW><MI>x</MI></MROW></MATH>b`, "a b"},
		{"self-closing svg drops only itself", `a <svg/> b <i>c</i>`, "a b c"},
		{"Word paragraph marks", `First line<o:p></o:p> and <st1:City>Boston</st1:City>, MA`, "First line and Boston, MA"},
		{"prefixed XHTML breaks words as XHTML does", `<h:ul><h:li>one</h:li><h:li>two</h:li></h:ul><h:b>x</h:b>y`, "one two xy"},
		{"prefixed script", `<h:script>alert(1)</h:script>ok`, "ok"},
		{"generic", "Vec<T> and Option<String>", "Vec<T> and Option<String>"},
		{"an unclosed <svg> in a title keeps the rest", "How to use <svg> in React", "How to use in React"},
		{"URL in angle brackets", "See <https://go.dev/doc> now", "See <https://go.dev/doc> now"},
		{"mail address in angle brackets", "Mail <mailto:a@b.example>", "Mail <mailto:a@b.example>"},
		{"urn is not a prefixed element", "Id <urn:isbn:0451450523>", "Id <urn:isbn:0451450523>"},
		{"'<!' that is no declaration stays text", `&lt;!' <a href="foo">`, "<!'"},
		{"raw '<!' that is no declaration", `<!' <a href="foo">link</a>`, "<!' link"},
		{"comment", "<!-- more -->after", "after"},
		{"doctype", "<!DOCTYPE html>after", "after"},
		{"CDATA section", "<![CDATA[x]]>y", "y"},
	} {
		if got := plainText(tc.in, 0); got != tc.want {
			t.Errorf("%s: plainText(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestPlainTextC1 reads the C1 controls U+0080–U+009F as the windows-1252
// characters that were meant (a UTF-8 feed produced from cp1252 text, or a
// numeric reference like &#146; decoded by an XML parser): "don’t", not
// "dont".
func TestPlainTextC1(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"don\u0092t", "don’t"},
		{"\u0093quoted\u0094 \u0096 \u0085", "“quoted” – …"},
		{"price \u0080 5", "price € 5"},
		{"undefined\u0081\u008d\u008f\u0090\u009d slots", "undefined slots"},
		{"<p>don\u0092t</p>", "don’t"},
	} {
		if got := plainText(tc.in, 0); got != tc.want {
			t.Errorf("plainText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for c := byte(0x80); c <= 0x9f; c++ {
		want, _ := charmap.Windows1252.NewDecoder().String(string([]byte{c}))
		if want == "\uFFFD" { // unassigned in windows-1252
			want = ""
		}
		if got := plainText("<"+string(rune(c))+">", 0); got != "<"+want+">" {
			t.Errorf("U+%04X: %q, want %q", c, got, "<"+want+">")
		}
	}
}

// checkPathsAgree asserts that the tokenizer-free path, wherever it takes
// a string on, gives the tokenizer's output byte for byte: summaries feed
// item keys, so a difference would change an item's identity.
func checkPathsAgree(t *testing.T, s string, maxRunes int) {
	t.Helper()
	var b textBuilder
	b.max = maxRunes
	if !stripSimple(&b, s) {
		return
	}
	if fast, slow := b.String(), tokenizedText(s, maxRunes); fast != slow {
		t.Fatalf("cap %d, input %q:\nfast path %q\ntokenizer %q", maxRunes, s, fast, slow)
	}
}

var soupPieces = []string{
	"a", "word", " ", "  ", "\n", "\t", "é", "’", "\u0092", "\x01", "\xff", "&amp;", "&lt;", "&#8217;", "&#146;", "&bogus;", "&",
	"<", ">", "</", "/>", "<p>", "</p>", "<br>", "<br/>", "<b>", "</b>", "<a href='x'>", `<a href="y>z">`, "<a href=u>", "<img src=x alt=\"<\">",
	"<T>", "Vec<T>", "<String>", "<https://e.example/x>", "<o:p>", "</o:p>", "<svg:circle r=1/>", "<st1:City>", "</st1:City>",
	"<svg>", "</svg>", "<svg/>", "<math>", "</math>", "<mrow>", "<mi>", "<circle r=1 />", "<script>", "</script>", "<style>", "</style>",
	"<title>", "</title>", "<!--", "-->", "<!", "<!doctype html>", "<![CDATA[", "]]>", "<?xml?>", "<!'", "<x:y:z>", "<1a>", "<h:p>", "</h:p>", "<h:script>", "</h:script>", "<svg:svg>", "</svg:svg>", "<a\nb='c'>",
}

// TestPlainTextPathsAgree runs random soups of the pieces feeds are made of
// through both paths at several caps.
func TestPlainTextPathsAgree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		var sb strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			sb.WriteString(soupPieces[rng.IntN(len(soupPieces))])
		}
		s := sb.String()
		for _, maxRunes := range []int{0, 1, 2, 5, 17, 300} {
			checkPathsAgree(t, s, maxRunes)
		}
	}
}

func FuzzPlainTextPaths(f *testing.F) {
	for _, s := range soupPieces {
		f.Add(s, 0)
	}
	f.Add(`<p>x<svg:circle/><o:p>y</o:p></p>`, 5)
	f.Fuzz(func(t *testing.T, s string, maxRunes int) {
		checkPathsAgree(t, s, maxRunes%400)
	})
}

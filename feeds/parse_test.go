package feeds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

func TestPlainText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"  plain \n\t text  ", "plain text"},
		{"AT&amp;T &lt;b&gt; &#8217; &eacute;", "AT&T <b> ’ é"},
		{"<p>One</p><p>Two<br/>three</p>", "One Two three"},
		{"a<b>bold</b>c <a href='x'>link</a>", "aboldc link"},
		{"<script>alert(1)</script>keep<style>p{}</style> this", "keep this"},
		{"1 < 2 & 3 > 2", "1 < 2 & 3 > 2"},
		{"<![CDATA[x]]>y", "y"},
		{"broken <b unclosed", "broken"},
		{"Vec<T> and Option<String>", "Vec<T> and Option<String>"},
	} {
		if got := plainText(tc.in, 0); got != tc.want {
			t.Errorf("plainText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := "<p>" + strings.Repeat("wörd ", 1000) + "</p>"
	got := plainText(long, summaryRunes)
	if n := utf8.RuneCountInString(got); n > summaryRunes || n < summaryRunes-10 || !strings.HasSuffix(got, "…") {
		t.Errorf("capped summary has %d runes, ends %q", n, got[len(got)-8:])
	}
}

// parseTestdata parses a file of testdata/ as if fetched from feedURL.
func parseTestdata(t *testing.T, name, contentType string, maxItems int) *Parsed {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b, contentType, "https://blog.example/feeds/main.xml", maxItems)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	p := parseTestdata(t, "fields.rss", "application/rss+xml", 0)
	if p.Title != "Fields & Co" || p.Link != "https://blog.example/" || p.Format != "rss" || p.TTL != time.Hour {
		t.Fatalf("feed: title %q link %q format %q ttl %s", p.Title, p.Link, p.Format, p.TTL)
	}
	if len(p.Items) != 3 {
		t.Fatalf("%d items, want 3", len(p.Items))
	}
	first := p.Items[0]
	if first.Title != "Hello <world> & “friends”" {
		t.Errorf("title %q", first.Title)
	}
	if first.Link != "https://blog.example/posts/hello" {
		t.Errorf("relative link resolved to %q", first.Link)
	}
	if first.Summary != "Intro text, with a link. Second paragraph." {
		t.Errorf("summary %q", first.Summary)
	}
	if want := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC); !first.Published.Equal(want) {
		t.Errorf("published %s, want %s", first.Published, want)
	}
	if strings.Join(first.Categories, "|") != "Go|News" {
		t.Errorf("categories %q", first.Categories)
	}
	if untitled := p.Items[1]; untitled.Title != "" || untitled.Summary != "Only content here." || !untitled.Published.IsZero() {
		t.Errorf("untitled item %+v", untitled)
	}
	if pod := p.Items[2]; pod.Link != "" || pod.ID() != "l:https://cdn.example/ep1.mp3" {
		t.Errorf("podcast item without guid or link: link %q keys %q", pod.Link, pod.Keys)
	}
}

func TestParseAtomBaseAndTTL(t *testing.T) {
	t.Parallel()
	p := parseTestdata(t, "base.atom", "", 0)
	if p.Format != "atom" || p.TTL != 30*time.Minute {
		t.Fatalf("format %q ttl %s", p.Format, p.TTL)
	}
	if got := p.Items[0].Link; got != "https://other.example/base/entry-1" {
		t.Errorf("xml:base link %q", got)
	}
	if got := p.Items[0].Published; !got.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("published falls back to updated: %s", got)
	}
}

func TestParseMaxItems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		doc   string
		max   int
		want  int
		first string
	}{
		{"default 500", rssDoc("n", 600), 0, DefaultMaxItems, "n 1"},
		{"explicit", rssDoc("n", 20), 7, 7, "n 1"},
		{"fewer than max", rssDoc("n", 3), 7, 3, "n 1"},
		{"rdf", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">` +
			`<channel rdf:about="x"><title>r</title></channel>` +
			`<item rdf:about="1"><title>a</title><link>https://e/1</link></item>` +
			`<item rdf:about="2"><title>b</title><link>https://e/2</link></item>` +
			`<item rdf:about="3"><title>c</title><link>https://e/3</link></item></rdf:RDF>`, 2, 2, "a"},
	} {
		p, err := Parse([]byte(tc.doc), "", "https://e.example/f", tc.max)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p.Items) != tc.want || p.Items[0].Title != tc.first {
			t.Errorf("%s: %d items (first %q), want %d", tc.name, len(p.Items), p.Items[0].Title, tc.want)
		}
	}
}

func TestParseCharsets(t *testing.T) {
	t.Parallel()
	latin1 := func(s string) []byte { b, _ := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s)); return b }
	item := `<rss version="2.0"><channel><title>c</title><item><title>%s</title><guid>1</guid></item></channel></rss>`
	for _, tc := range []struct {
		name string
		body []byte
		ct   string
		want string
	}{
		{"BOM after whitespace", append([]byte("\n\xEF\xBB\xBF"), fmt.Sprintf(item, "bom")...), "", "bom"},
		{"undeclared Latin-1, no header", latin1(fmt.Sprintf(item, "Déjà vu")), "", "Déjà vu"},
		{"declared utf-8 but Latin-1 bytes", latin1(`<?xml version="1.0" encoding="utf-8"?>` + fmt.Sprintf(item, "Noël")), "", "Noël"},
		{"declared utf-16 but plain UTF-8", []byte(`<?xml version="1.0" encoding="utf-16"?>` + fmt.Sprintf(item, "Straße")), "", "Straße"},
		{"unknown declared label", []byte(`<?xml version="1.0" encoding="x-bogus"?>` + fmt.Sprintf(item, "ok")), "", "ok"},
		{"header charset contradicted by valid UTF-8", []byte(fmt.Sprintf(item, "naïve")), "text/xml; charset=iso-8859-1", "naïve"},
		{"declaration beats header", latin1(`<?xml version="1.0" encoding="iso-8859-1"?>` + fmt.Sprintf(item, "Ça")), "text/xml; charset=utf-8", "Ça"},
		// Windows-1252's C1 bytes under an ISO-8859-1 label: the label
		// means windows-1252 on the web (WHATWG), as browsers read it.
		{"C1 bytes declared iso-8859-1", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?>` + fmt.Sprintf(item, "\x93don\x92t\x94 \x96 \x80\xe9")), "", "“don’t” – €é"},
		{"C1 bytes, header latin1", []byte(fmt.Sprintf(item, "don\x92t\x85 caf\xe9")), "text/xml; charset=latin1", "don’t… café"},
		{"C1 bytes undeclared", []byte(fmt.Sprintf(item, "don\x92t")), "", "don’t"},
		{"C1 code points in UTF-8", []byte(fmt.Sprintf(item, "don\xc2\x92t")), "", "don’t"},
		{"C1 character reference", []byte(fmt.Sprintf(item, "don&#146;t")), "", "don’t"},
	} {
		p, err := Parse(tc.body, tc.ct, "https://e.example/f", 0)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(p.Items) != 1 || p.Items[0].Title != tc.want {
			t.Errorf("%s: items %+v, want title %q", tc.name, p.Items, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	const u = "https://e.example/f"
	for _, tc := range []struct {
		name    string
		body    string
		notFeed bool
		want    string
	}{
		{"whitespace only", " \n\t ", false, "empty body"},
		{"plain text", "hello", true, "neither XML nor JSON"},
		{"other XML root", `<?xml version="1.0"?><sitemap><url/></sitemap>`, true, "root <sitemap>"},
		{"lone Atom entry", `<entry xmlns="http://www.w3.org/2005/Atom"><id>x</id></entry>`, true, "root <entry>"},
		{"HTML without alternates", `<html><body><p>a<p>b</body></html>`, true, "HTML page advertising no feed"},
		{"JSON that is not a JSON Feed", `{"error":"rate limited"}`, true, "not a JSON Feed"},
		{"JSON array", `[1,2]`, true, "JSON array"},
		{"truncated JSON", `{"version":"https://jsonfeed.org/version/1","items":[{"id":"1"`, false, "invalid JSON"},
		{"truncated before any item", `<rss version="2.0"><channel><title>x</tit`, false, ""},
	} {
		p, err := Parse([]byte(tc.body), "", u, 0)
		if tc.want == "" { // a repaired document with no items is acceptable too
			if err == nil && (len(p.Items) != 0 || !p.Truncated) {
				t.Errorf("%s: %+v", tc.name, p)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: parsed, want error %q", tc.name, tc.want)
			continue
		}
		var nf *NotAFeedError
		if errors.As(err, &nf) != tc.notFeed || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), u) {
			t.Errorf("%s: error %q (NotAFeedError=%v), want %q naming %s", tc.name, err, errors.As(err, &nf), tc.want, u)
		}
	}
}

func TestParseTruncatedAtom(t *testing.T) {
	t.Parallel()
	doc := `<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><id>1</id><title>one</title></entry>
<entry><id>2</id><title>two</title></entry>
<entry><id>3</id><title>thr`
	p, err := Parse([]byte(doc), "", "https://e.example/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Truncated || len(p.Items) != 2 || p.Items[1].ID() != "g:2" {
		t.Errorf("truncated=%v items %+v, want the 2 complete entries", p.Truncated, p.Items)
	}
}

// FuzzParse: whatever the bytes, Parse returns items or an error naming the
// feed, and never panics.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		rssDoc("s", 2),
		`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id></entry></feed>`,
		`{"version":"https://jsonfeed.org/version/1","items":[{"id":1,"tags":"x"}]}`,
		"\xff\xfe<\x00r\x00s\x00s\x00>\x00",
		`<rss><channel><item><title>x</title></item><item><!-- `,
		`<!DOCTYPE x [<!ENTITY a "b">]><rss><channel><item>&a;</item></channel></rss>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b, "", "https://fuzz.example/f", 5)
		if err != nil {
			if !strings.Contains(err.Error(), "https://fuzz.example/f") {
				t.Fatalf("error does not name the feed: %v", err)
			}
			return
		}
		if len(p.Items) > 5 {
			t.Fatalf("%d items past maxItems", len(p.Items))
		}
		for _, it := range p.Items {
			if len(it.Keys) == 0 {
				t.Fatalf("item without keys: %+v", it)
			}
		}
	})
}

// TestParseRawHTMLIsNotNesting: raw (unescaped) <br>s in a description are
// ill-formed but common, and must not be mistaken for deep nesting.
func TestParseRawHTMLIsNotNesting(t *testing.T) {
	t.Parallel()
	doc := `<?xml version='1.0' encoding='ISO-8859-1'?><rss version="2.0"><channel><title>t</title>` +
		`<item><title>raw</title><guid>1</guid><description>` + strings.Repeat("line<br>", 1500) + `</description></item>` +
		`</channel></rss>`
	p, err := Parse([]byte(doc), "", "https://e.example/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || !strings.HasPrefix(p.Items[0].Summary, "line line") {
		t.Errorf("items %+v", p.Items)
	}
}

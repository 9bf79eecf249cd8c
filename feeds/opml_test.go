package feeds

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/unicode"

	"github.com/crierd/crier"
)

var updateOPML = flag.Bool("update-opml", false, "rewrite the OPML golden files under testdata/opml")

func TestParseOPML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []OPMLFeed
	}{
		{"feedly.opml", []OPMLFeed{
			{"The Go Blog", "https://go.dev/blog/feed.atom", "https://go.dev/blog", "Tech"},
			{"LWN.net", "https://lwn.net/headlines/newrss", "https://lwn.net", "Tech"},
			{"Ars Technica & Friends", "https://feeds.arstechnica.com/arstechnica/index", "https://arstechnica.com", "Tech"},
			// LWN is filed twice; it stays where it was first seen.
			{"Café Müller – Blog", "https://cafe-mueller.example/feed/?format=rss&lang=de", "https://cafe-mueller.example/", "Must Read"},
		}},
		{"inoreader.xml", []OPMLFeed{
			{"BBC News - World", "https://feeds.bbci.co.uk/news/world/rss.xml", "https://www.bbc.co.uk/news/world", "News"},
			{"Hacker News", "https://news.ycombinator.com/rss", "https://news.ycombinator.com/", "News"},
			{"xkcd.com", "https://xkcd.com/atom.xml", "https://xkcd.com/", ""},
		}},
		{"netnewswire.opml", []OPMLFeed{
			{"Daring Fireball", "https://daringfireball.net/feeds/json", "https://daringfireball.net/", ""},
			{"Julia Evans", "https://jvns.ca/atom.xml", "https://jvns.ca/", "Dev"},
			{"Simon Willison's Weblog", "https://simonwillison.net/atom/everything/", "https://simonwillison.net/", "Dev"},
		}},
		{"miniflux.opml", []OPMLFeed{
			{"Planet Debian", "https://planet.debian.org/rss20.xml", "https://planet.debian.org/", "All"},
			{"Release notes", "https://github.com/miniflux/v2/releases.atom", "https://github.com/miniflux/v2/releases", "All"},
			// Empty text falls back to title; a bare & in a URL is kept.
			{"Untitled feed", "https://podcast.example/feed.xml?a=1&b=2", "", "Podcasts"},
		}},
		{"newsboat.opml", []OPMLFeed{
			{"Phoronix", "https://www.phoronix.com/rss.php", "https://www.phoronix.com/", ""},
			{"Rust Blog", "https://blog.rust-lang.org/feed.xml", "https://blog.rust-lang.org/", ""},
		}},
		{"latin1.opml", []OPMLFeed{
			{"Le Café des films", "https://cafe-films.example/atom.xml", "https://cafe-films.example/", "Français/Cinéma/Critiques"},
			{"Séances", "https://seances.example/rss", "", "Français/Cinéma"},
		}},
		{"bom.opml", []OPMLFeed{
			{"With BOM", "https://bom.example/feed", "", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join("testdata", "opml", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseOPML(f)
			if err != nil {
				t.Fatalf("ParseOPML: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", opmlDump(got), opmlDump(tt.want))
			}
		})
	}
}

func opmlDump(fs []OPMLFeed) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + strings.Join([]string{f.Title, f.XMLURL, f.HTMLURL, f.Category}, " | ") + "\n")
	}
	return b.String()
}

func TestParseOPMLUTF16(t *testing.T) {
	t.Parallel()
	src := `<?xml version="1.0" encoding="UTF-16"?><opml version="2.0"><body>` +
		`<outline text="Ünïcödé"><outline text="Wide" type="rss" xmlUrl="https://wide.example/feed"/></outline></body></opml>`
	for _, end := range []unicode.Endianness{unicode.LittleEndian, unicode.BigEndian} {
		enc := unicode.UTF16(end, unicode.UseBOM).NewEncoder()
		b, err := enc.Bytes([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseOPML(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("endianness %v: %v", end, err)
		}
		want := []OPMLFeed{{Title: "Wide", XMLURL: "https://wide.example/feed", Category: "Ünïcödé"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("endianness %v: got %+v", end, got)
		}
	}
}

func TestParseOPMLRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"rss", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>`, "not an OPML document (root element <rss>)"},
		{"html", `<html><body><p>hello</p></body></html>`, "not an OPML document"},
		{"empty", ``, "empty document"},
		{"truncated", `<opml version="2.0"><body><outline text="a" xmlUrl="https://a.example/`, "opml: XML syntax error"},
		{"unknown charset", `<?xml version="1.0" encoding="x-klingon"?><opml><body/></opml>`, "x-klingon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOPML(strings.NewReader(tt.src))
			if err == nil {
				t.Fatalf("ParseOPML succeeded with %+v", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestParseOPMLEmptyBody: a valid export with no subscriptions is not an error.
func TestParseOPMLEmptyBody(t *testing.T) {
	t.Parallel()
	got, err := ParseOPML(strings.NewReader(`<opml version="2.0"><head><title>none</title></head><body></body></opml>`))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %+v, %v; want no feeds and no error", got, err)
	}
}

func TestWriteOPMLGolden(t *testing.T) {
	t.Parallel()
	feeds := []crier.Feed{
		{Name: "The Go Blog", URL: "https://go.dev/blog/feed.atom"},
		{Name: `Tom & Jerry's "<News>"`, URL: "https://example.org/feed?a=1&b=2"},
		{Name: "Café Müller", URL: "https://cafe-mueller.example/feed/"},
	}
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600))
	var b bytes.Buffer
	if err := WriteOPML(&b, "crier feeds", feeds, now); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "opml", "export.golden")
	if *updateOPML {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("WriteOPML differs from %s (go test -update-opml to accept):\n--- got\n%s--- want\n%s", golden, b.String(), want)
	}

	// What we write, we read back unchanged.
	got, err := ParseOPML(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(feeds) {
		t.Fatalf("read back %d feeds, wrote %d", len(got), len(feeds))
	}
	for i, f := range feeds {
		if got[i].Title != f.Name || got[i].XMLURL != f.URL || got[i].Category != "" {
			t.Errorf("feed %d read back as %+v, wrote %q %q", i, got[i], f.Name, f.URL)
		}
	}
}

// TestParseOPMLSharedCorpus reads any real OPML export found in the shared
// corpus; it is skipped when there is none.
func TestParseOPMLSharedCorpus(t *testing.T) {
	t.Parallel()
	var files []string
	filepath.WalkDir(filepath.Join("..", "..", "shared"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".opml") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("no .opml file under ../../shared")
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseOPML(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, o := range got {
			if o.XMLURL == "" {
				t.Errorf("%s: feed without URL: %+v", p, o)
			}
		}
		t.Logf("%s: %d feeds", p, len(got))
	}
}

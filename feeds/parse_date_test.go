package feeds

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	const unknown = ""
	for _, tc := range []struct{ in, want string }{
		// Zone names, each against its offset.
		{"Thu, 30 Apr 2015 08:57:00 MET", "2015-04-30T07:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 MEST", "2015-04-30T06:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 CET", "2015-04-30T07:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 CEST", "2015-04-30T06:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 EET", "2015-04-30T06:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 EEST", "2015-04-30T05:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 WET", "2015-04-30T08:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 WEST", "2015-04-30T07:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 BST", "2015-04-30T07:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 IST", "2015-04-30T03:27:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 JST", "2015-04-29T23:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 KST", "2015-04-29T23:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 HKT", "2015-04-30T00:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 SGT", "2015-04-30T00:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 AEST", "2015-04-29T22:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 AEDT", "2015-04-29T21:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 ACST", "2015-04-29T23:27:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 NZST", "2015-04-29T20:57:00Z"},
		{"Thu, 30 Apr 2015 08:57:00 NZDT", "2015-04-29T19:57:00Z"},
		{"Mon, 26 January 2004 16:31:00 ET", "2004-01-26T21:31:00Z"},
		{"Mon, 26 January 2004 16:31:00 CT", "2004-01-26T22:31:00Z"},
		{"Mon, 26 January 2004 16:31:00 MT", "2004-01-26T23:31:00Z"},
		{"Mon, 26 January 2004 16:31:00 PT", "2004-01-27T00:31:00Z"},
		{"Mon, 26 January 2004 16:31:00 AT", "2004-01-26T20:31:00Z"},
		{"Mon, 26 Jan 2004 16:31:00 EST", "2004-01-26T21:31:00Z"},
		{"Mon, 26 Jul 2004 16:31:00 EDT", "2004-07-26T20:31:00Z"},
		{"Mon, 26 Jan 2004 16:31:00 CST", "2004-01-26T22:31:00Z"},
		{"Mon, 26 Jul 2004 16:31:00 CDT", "2004-07-26T21:31:00Z"},
		{"Mon, 26 Jan 2004 16:31:00 MST", "2004-01-26T23:31:00Z"},
		{"Mon, 26 Jul 2004 16:31:00 MDT", "2004-07-26T22:31:00Z"},
		{"Mon, 26 Jan 2004 16:31:00 PST", "2004-01-27T00:31:00Z"},
		{"Mon, 26 Jul 2004 16:31:00 PDT", "2004-07-26T23:31:00Z"},
		{"Mon, 26 Jul 2004 16:31:00 gmt", "2004-07-26T16:31:00Z"},
		// Numeric zones and their spellings.
		{"Wed, 19 Feb 2012 22:40:00 GMT-01:01", "2012-02-19T23:41:00Z"},
		{"Wed, 19 Feb 2012 22:40:00 UTC+2", "2012-02-19T20:40:00Z"},
		{"Wed, 19 Feb 2012 22:40:00+0100", "2012-02-19T21:40:00Z"},
		{"Wed, 19 Feb 2012 22:40:00 Etc/GMT", "2012-02-19T22:40:00Z"},
		{"Thu Aug 30 2012 17:26:16 GMT+0200 (Central European Summer Time)", "2012-08-30T15:26:16Z"},
		// Shapes.
		{"30 Apr 2015 08:57 +0000", "2015-04-30T08:57:00Z"},
		{"Thu, 01 Jan 04 19:48:21 GMT", "2004-01-01T19:48:21Z"},
		{"Sun Jan  4 16:29:06 2004", "2004-01-04T16:29:06Z"},
		{"Fri, 2006/09/15 08:19:53 EDT", "2006-09-15T12:19:53Z"},
		{"September 5, 2024 3:04 PM", "2024-09-05T15:04:00Z"},
		{"2024-05-06T07:08:09.5+02:00", "2024-05-06T05:08:09.5Z"},
		{"2024-05-06 07:08:09 -0700", "2024-05-06T14:08:09Z"},
		{"2024-05-06", "2024-05-06T00:00:00Z"},
		{"2024-05", "2024-05-01T00:00:00Z"},
		{"2024", "2024-01-01T00:00:00Z"},
		// Unknown: never a guess.
		{"", unknown},
		{"Thu, 30 Apr 2015 08:57:00 XYZT", unknown},
		{"Thu, 30 Apr 2015 08:57:00 Mars", unknown},
		{"31 Feb 2024 10:00:00 GMT", unknown},
		{"2024-13", unknown},
		{"Thu, 30 Apr 2015 24:00:00 GMT", unknown},
		{"tomorrow", unknown},
		{"Thu, 30 Apr 2015 08:57:00 at", unknown},
		{"2013-01-28T11:30:00-06:00Textra", unknown},
	} {
		got, ok := parseDate(tc.in)
		switch {
		case tc.want == unknown && ok:
			t.Errorf("parseDate(%q) = %s, want unknown", tc.in, got)
		case tc.want == unknown:
		case !ok:
			t.Errorf("parseDate(%q) unknown, want %s", tc.in, tc.want)
		case got.UTC().Format(time.RFC3339Nano) != tc.want:
			t.Errorf("parseDate(%q) = %s, want %s", tc.in, got.UTC().Format(time.RFC3339Nano), tc.want)
		}
	}
}

// TestParseDateCorpus runs feedparser's date tests: every date read must be
// the expected one, and an invalid one must be unknown. The Greek, Hungarian
// and Korean formats and ISO 8601's truncated forms may stay unknown.
func TestParseDateCorpus(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(corpusDir, "real", "feedparser-dates", "date_strings.txt"))
	if err != nil {
		t.Skipf("shared corpus not present: %v", err)
	}
	defer f.Close()
	mayBeUnknown := map[string]bool{"greek": true, "hungarian": true, "nate": true, "onblog": true, "iso8601": true}
	sc := bufio.NewScanner(f)
	rows := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(cols[0], "#") || len(cols) < 3 || cols[0] == "parser_family" {
			continue
		}
		var in string
		if err := json.Unmarshal([]byte(cols[1]), &in); err != nil {
			t.Fatalf("%s: %v", cols[1], err)
		}
		rows++
		got, ok := parseDate(in)
		gotS := "INVALID"
		if ok {
			gotS = got.UTC().Format(time.RFC3339)
		}
		if gotS != cols[2] && !(mayBeUnknown[cols[0]] && !ok) {
			t.Errorf("%s %q: %s, want %s", cols[0], in, gotS, cols[2])
		}
	}
	if rows < 60 {
		t.Fatalf("read %d rows", rows)
	}
}

// TestParseItemDates: the dates items carry, as a user sees them.
func TestParseItemDates(t *testing.T) {
	t.Parallel()
	const ns = `xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"`
	rss := func(item string) string {
		return `<rss version="2.0" ` + ns + `><channel><title>c</title><item><title>t</title><guid>1</guid>` + item + `</item></channel></rss>`
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"pubDate in MEST", rss(`<pubDate>Thu, 30 Apr 2015 08:57:00 MEST</pubDate>`), "2015-04-30T06:57:00Z"},
		{"pubDate in an unknown zone", rss(`<pubDate>Thu, 30 Apr 2015 08:57:00 XYZT</pubDate>`), ""},
		{"unknown zone, no fallback to another date", rss(`<pubDate>Thu, 30 Apr 2015 08:57:00 QQT</pubDate><dcterms:modified>garbage</dcterms:modified>`), ""},
		{"dcterms:issued", rss(`<dcterms:issued>2024-05-06T07:08:09Z</dcterms:issued>`), "2024-05-06T07:08:09Z"},
		{"dcterms:modified", rss(`<dcterms:modified>2024-05-06T07:08:09+02:00</dcterms:modified>`), "2024-05-06T05:08:09Z"},
		{"issued before modified", rss(`<dcterms:modified>2024-06-01</dcterms:modified><dcterms:issued>2024-05-01</dcterms:issued>`), "2024-05-01T00:00:00Z"},
		{"unreadable pubDate, dc:date", rss(`<pubDate>soon</pubDate><dc:date>2024-05-06T07:08:09Z</dc:date>`), "2024-05-06T07:08:09Z"},
		{"year-month dc:date", rss(`<dc:date>2024-05</dc:date>`), "2024-05-01T00:00:00Z"},
		{"a layout only gofeed knows", rss(`<pubDate>2006-01-02 at 15:04:05</pubDate>`), "2006-01-02T15:04:05Z"},
		{"Atom published in CEST", `<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>1</id><title>t</title>` +
			`<published>Sat, 01 Jun 2024 12:00:00 CEST</published><updated>2024-06-02T00:00:00Z</updated></entry></feed>`, "2024-06-01T10:00:00Z"},
		{"JSON Feed date", `{"version":"https://jsonfeed.org/version/1.1","title":"j","items":[{"id":"1","title":"t","date_published":"2024-05-06T07:08:09+09:00"}]}`, "2024-05-05T22:08:09Z"},
		{"lenient JSON Feed date", `{"version":"https://jsonfeed.org/version/1.1","title":"j","items":[{"id":"1","tags":"x","date_published":"Mon, 06 May 2024 07:08:09 JST"}]}`, "2024-05-05T22:08:09Z"},
	} {
		p, err := Parse([]byte(tc.doc), "", "https://e.example/f", 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := ""
		if pub := p.Items[0].Published; !pub.IsZero() {
			got = pub.UTC().Format(time.RFC3339)
		}
		if got != tc.want {
			t.Errorf("%s: published %q, want %q", tc.name, got, tc.want)
		}
	}
}

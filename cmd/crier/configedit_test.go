package main

import (
	"bytes"
	"github.com/crierd/crier"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAppendFeedsGolden adds feeds to a hand-written config full of
// comments and blank lines: the result must be the file as it was with the
// new entries right after the last feed, and it must still load.
func TestAppendFeedsGolden(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "configedit", "commented.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, rep, err := AppendFeedsReport(src, []FeedSpec{
		{Name: "The Go Blog", URL: "https://go.dev/blog/feed.atom"},
		{Name: "Hacker News", URL: "https://news.ycombinator.com/rss"}, // present
		{Name: "LWN", URL: "https://lwn.net/headlines/bigpage"},        // name taken
		{Name: "  Go:   the   good  parts ", URL: " https://example.org/feed?a=1&b=2 "},
		{Name: "", URL: "https://xkcd.com/atom.xml"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantAdded := []FeedSpec{
		{"The Go Blog", "https://go.dev/blog/feed.atom"},
		{"LWN (2)", "https://lwn.net/headlines/bigpage"},
		{"Go: the good parts", "https://example.org/feed?a=1&b=2"},
		{"xkcd.com/atom.xml", "https://xkcd.com/atom.xml"},
	}
	if !reflect.DeepEqual(rep.Added, wantAdded) {
		t.Errorf("added %q, want %q", rep.Added, wantAdded)
	}
	if len(rep.Present) != 1 || rep.Present[0].URL != "https://news.ycombinator.com/rss" {
		t.Errorf("present %q, want only Hacker News", rep.Present)
	}

	golden := filepath.Join("testdata", "configedit", "commented.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("differs from %s (go test -update to accept):\n--- got\n%s--- want\n%s", golden, out, want)
	}

	// Every line of the original, comments and blank lines included, is
	// still there and in the same order.
	outLines := strings.Split(string(out), "\n")
	j := 0
	for _, l := range strings.Split(string(src), "\n") {
		for j < len(outLines) && outLines[j] != l {
			j++
		}
		if j == len(outLines) {
			t.Fatalf("line %q lost or moved", l)
		}
		j++
	}

	cfg, err := crier.Load(bytes.NewReader(out), "commented.yaml", editTestOptions(nil))
	if err != nil {
		t.Fatalf("edited config does not load: %v", err)
	}
	var got []string
	for _, f := range cfg.Feeds {
		got = append(got, f.Name+" "+f.URL)
	}
	wantFeeds := []string{
		"Hacker News https://news.ycombinator.com/rss",
		"LWN https://lwn.net/headlines/newrss",
		"The Go Blog https://go.dev/blog/feed.atom",
		"LWN (2) https://lwn.net/headlines/bigpage",
		"Go: the good parts https://example.org/feed?a=1&b=2",
		"xkcd.com/atom.xml https://xkcd.com/atom.xml",
	}
	if !reflect.DeepEqual(got, wantFeeds) {
		t.Errorf("loaded feeds %q, want %q", got, wantFeeds)
	}
}

func TestAppendFeeds(t *testing.T) {
	t.Parallel()
	one := []FeedSpec{{Name: "New", URL: "https://new.example/feed"}}
	tests := []struct {
		name    string
		config  string
		add     []FeedSpec
		want    string
		present int
	}{
		{
			name:   "block list, dash at column 0",
			config: "feeds:\n- url: https://a.example/rss\n  name: A\nretention: 1d\n",
			add:    one,
			want:   "feeds:\n- url: https://a.example/rss\n  name: A\n- name: New\n  url: https://new.example/feed\nretention: 1d\n",
		},
		{
			name:   "wider dash gap is followed",
			config: "feeds:\n  -   url: https://a.example/rss\n# end\n",
			add:    one,
			want:   "feeds:\n  -   url: https://a.example/rss\n  -   name: New\n      url: https://new.example/feed\n# end\n",
		},
		{
			name:    "every URL present: config untouched",
			config:  "feeds: # mine\n  - url: https://new.example/feed   # keep\n",
			add:     []FeedSpec{{Name: "Again", URL: " https://new.example/feed"}},
			want:    "feeds: # mine\n  - url: https://new.example/feed   # keep\n",
			present: 1,
		},
		{
			name:    "a URL given twice is added once",
			config:  "feeds:\n  - url: https://a.example/rss\n",
			add:     []FeedSpec{{"X", "https://x.example/"}, {"X again", "https://x.example/"}},
			want:    "feeds:\n  - url: https://a.example/rss\n  - name: X\n    url: https://x.example/\n",
			present: 1,
		},
		{
			name:   "derived names collide",
			config: "feeds:\n  - url: https://a.example/x\n",
			add:    []FeedSpec{{"", "https://a.example/x/"}},
			want:   "feeds:\n  - url: https://a.example/x\n  - name: a.example/x (2)\n    url: https://a.example/x/\n",
		},
		{
			name:   "missing feeds key",
			config: "# top\nstate_dir: /tmp/s # here\n",
			add:    one,
			want:   "# top\nstate_dir: /tmp/s # here\n\nfeeds:\n  - name: New\n    url: https://new.example/feed\n",
		},
		{
			name:   "missing feeds key, no final newline",
			config: "state_dir: /tmp/s\n\n# the end",
			add:    one,
			want:   "state_dir: /tmp/s\n\n# the end\n\nfeeds:\n  - name: New\n    url: https://new.example/feed\n",
		},
		{
			name:   "empty file",
			config: "",
			add:    one,
			want:   "feeds:\n  - name: New\n    url: https://new.example/feed\n",
		},
		{
			name:   "flow empty list with comment",
			config: "feeds: []   # none yet\nretention: 1d\n",
			add:    one,
			want:   "feeds:   # none yet\n  - name: New\n    url: https://new.example/feed\nretention: 1d\n",
		},
		{
			name:   "null list with comments under it",
			config: "feeds:\n  # add feeds here\n  # one per entry\n\nretention: 1d\n",
			add:    one,
			want:   "feeds:\n  # add feeds here\n  # one per entry\n  - name: New\n    url: https://new.example/feed\n\nretention: 1d\n",
		},
		{
			name:   "tilde",
			config: "feeds: ~\n",
			add:    one,
			want:   "feeds:\n  - name: New\n    url: https://new.example/feed\n",
		},
		{
			name:   "CRLF line endings",
			config: "# win\r\nfeeds:\r\n  - url: https://a.example/rss\r\n",
			add:    one,
			want:   "# win\r\nfeeds:\r\n  - url: https://a.example/rss\r\n  - name: New\r\n    url: https://new.example/feed\r\n",
		},
		{
			name:   "names that need quotes",
			config: "feeds: []\n",
			add:    []FeedSpec{{"yes", "https://1.example/"}, {"#1: news", "https://2.example/"}, {"123", "https://3.example/"}},
			want:   "feeds:\n  - name: \"yes\"\n    url: https://1.example/\n  - name: '#1: news'\n    url: https://2.example/\n  - name: \"123\"\n    url: https://3.example/\n",
		},
		{
			// The text edit cannot extend a non-empty flow list: the node
			// edit does, keeping the comment (and quoting URLs, as a colon
			// in a flow collection needs).
			name:   "non-empty flow list falls back to the node edit",
			config: "# head\nfeeds: [{url: https://a.example/rss}]\n",
			add:    one,
			want:   "# head\nfeeds: [{url: 'https://a.example/rss'}, {name: New, url: 'https://new.example/feed'}]\n",
		},
		{
			// A literal block whose last line looks like a comment fools
			// the line scan; the read-back check catches it.
			name:   "misleading block scalar falls back to the node edit",
			config: "feeds:\n  - url: https://a.example/rss\n    name: |\n      A\n\n      # not a comment\n",
			add:    one,
			want:   "feeds:\n  - url: https://a.example/rss\n    name: |\n      A\n\n      # not a comment\n  - name: New\n    url: https://new.example/feed\n",
		},
		{
			name:   "flow-style document falls back to the node edit",
			config: "{state_dir: /tmp/s}\n",
			add:    one,
			want:   "{state_dir: /tmp/s, feeds: [{name: New, url: 'https://new.example/feed'}]}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, rep, err := AppendFeedsReport([]byte(tt.config), tt.add)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out, tt.want)
			}
			if len(rep.Present) != tt.present || len(rep.Added)+len(rep.Present) != len(tt.add) {
				t.Errorf("added %d, present %d; want present %d of %d", len(rep.Added), len(rep.Present), tt.present, len(tt.add))
			}
			plain, err := AppendFeeds([]byte(tt.config), tt.add)
			if err != nil || !bytes.Equal(plain, out) {
				t.Errorf("AppendFeeds differs from AppendFeedsReport: %v", err)
			}
		})
	}
}

func TestAppendFeedsErrors(t *testing.T) {
	t.Parallel()
	one := []FeedSpec{{Name: "New", URL: "https://new.example/feed"}}
	tests := []struct {
		name, config string
		add          []FeedSpec
		want         string
	}{
		{"two documents", "feeds: []\n---\nfeeds: []\n", one, "more than one YAML document"},
		{"top level list", "- a\n- b\n", one, "top level must be a mapping"},
		{"syntax error", "feeds: [\n", one, "config: yaml:"},
		{"feeds is a string", "feeds: lots\n", one, "feeds: is not a list"},
		{"feeds is an alias", "x: &l []\nfeeds: *l\n", one, "alias"},
		{"empty url", "feeds: []\n", []FeedSpec{{Name: "x", URL: "  "}}, "empty url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := AppendFeeds([]byte(tt.config), tt.add)
			if err == nil {
				t.Fatalf("succeeded with\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestEscapeVarsReadsBack: whatever text EscapeVars writes, Load reads
// back as the original, with a variable of that name set.
func TestEscapeVarsReadsBack(t *testing.T) {
	t.Parallel()
	env := map[string]string{"X": "secret", "HOME": "/root"}
	for _, s := range []string{"${X}", "$${X}", "$$${X}", "a$", "$", "$$", "${", "${X", "}${HOME}{", "$5 and ${X} and $${HOME}", "plain"} {
		src := "notifiers: [{type: console}]\nfeeds:\n  - url: https://example.org/\n    name: " + yamlScalar(crier.EscapeVars(s)) + "\n"
		cfg, err := crier.Load(strings.NewReader(src), "/etc/crier/config.yaml", editTestOptions(env))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := cfg.Feeds[0].Name; got != s {
			t.Errorf("%q written as %q reads back as %q", s, crier.EscapeVars(s), got)
		}
	}
}

// editTestOptions loads with env as the whole environment and no files.
func editTestOptions(env map[string]string) crier.LoadOptions {
	return crier.LoadOptions{
		Env:      func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) { return nil, fs.ErrNotExist },
		Home:     "/home/u",
	}
}

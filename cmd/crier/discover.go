package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

func cmdDiscover(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "discover", "URL", "Find the feeds a web page advertises (<link rel=\"alternate\">) and print them\nas YAML ready to paste under feeds:. A URL that is itself a feed is printed as is.")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		f.Usage()
		return &exitError{2, ""}
	}
	page := f.Arg(0)
	alts, err := discoverFeeds(ctx, page)
	if err != nil {
		return err
	}
	if len(alts) == 0 {
		return &exitError{1, fmt.Sprintf("crier discover: %s advertises no feeds", page)}
	}
	fmt.Fprintf(env.stdout, "# feeds found at %s\n", page)
	for _, a := range alts {
		name := strings.TrimSpace(a.Title)
		if name == "" {
			name = a.URL
		}
		// The page is someone else's text: escape ${ so that pasting it
		// cannot expand a variable, and quote what YAML would misread.
		fmt.Fprintf(env.stdout, "  - name: %q\n    url: %s\n", crier.EscapeVars(name), yamlString(crier.EscapeVars(a.URL)))
	}
	return nil
}

// discoverFeeds fetches page and returns the feeds it advertises, or the
// page itself (titled) when it is a feed. Shared by discover and init.
func discoverFeeds(ctx context.Context, page string) ([]feeds.Alternate, error) {
	fetcher := feeds.NewFetcher(nil, feeds.FetchOptions{
		MaxBody:   10 << 20,
		UserAgent: "crier/" + crier.Version + " (+" + crier.ProjectURL + ")",
	})
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := fetcher.Fetch(fctx, page, feeds.Validators{})
	if err != nil {
		return nil, err
	}
	parsed, err := feeds.Parse(res.Body, res.ContentType, res.FinalURL, 1)
	var naf *feeds.NotAFeedError
	switch {
	case err == nil:
		return []feeds.Alternate{{Title: parsed.Title, URL: res.FinalURL}}, nil
	case errors.As(err, &naf):
		return naf.Alternates, nil
	}
	return nil, err
}

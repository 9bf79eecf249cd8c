package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/store/bolt"
)

func cmdExplain(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "explain", "[--config FILE] ITEM-LINK",
		"Say why an item was or was not pushed: the feeds that saw it, their filters and rules,\nits story and the reports merged into it, quiet hours and digests. Reads the store,\nor asks the running daemon over http.listen.")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return &exitError{2, "crier explain: give the item's link"}
	}
	link := f.Arg(0)
	if feeds.CanonicalLink(link) == "" {
		return notALink(link)
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	st, err := openBackend(ctx, cfg, slog.New(slog.DiscardHandler))
	switch {
	case errors.Is(err, bolt.ErrLocked) && cfg.HTTP.Listen != "":
		return explainFromDaemon(ctx, env.stdout, cfg, link)
	case errors.Is(err, bolt.ErrLocked):
		return &exitError{1, openStoreError(cfg, err).Error() + "\nTo explain while the daemon runs, set http.listen (e.g. 127.0.0.1:8080)."}
	case err != nil:
		return openStoreError(cfg, err)
	}
	defer st.Close()
	return explain(env.stdout, cfg, st, link)
}

func notALink(link string) error {
	return &exitError{2, fmt.Sprintf("crier explain: %q is not a link", link)}
}

// explainFromDaemon asks the running daemon, which holds the store, for
// the same explanation (GET /api/explain).
func explainFromDaemon(ctx context.Context, w io.Writer, cfg *crier.Config, link string) error {
	addr := cfg.HTTP.Listen
	resp, err := daemonGet(ctx, cfg, "/api/explain?link="+url.QueryEscape(link), 30*time.Second)
	if err != nil {
		return &exitError{1, fmt.Sprintf("crier explain: the store is locked by the running daemon, and its API at %s did not answer: %v", addr, err)}
	}
	defer resp.Body.Close()
	var doc struct {
		Text  string `json:"text"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&doc); err != nil {
		return &exitError{1, fmt.Sprintf("crier explain: the daemon at %s answered HTTP %d without an explanation (an older crier? stop it and try again): %v", addr, resp.StatusCode, err)}
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		return &exitError{2, "crier explain: " + doc.Error}
	case resp.StatusCode != http.StatusOK:
		return &exitError{1, fmt.Sprintf("crier explain: the daemon at %s: HTTP %d %s", addr, resp.StatusCode, doc.Error)}
	}
	_, err = io.WriteString(w, doc.Text)
	return err
}

// explainText is explain as a string, for the daemon's GET /api/explain.
func explainText(cfg *crier.Config, st explainStore, link string) (string, error) {
	var b strings.Builder
	err := explain(&b, cfg, st, link)
	return b.String(), err
}

// explainStore is what explain reads.
type explainStore interface {
	SeenAt(feedID, key string) (time.Time, bool, error)
	StoryByKey(key string) (crier.Story, bool, error)
	Outbox() ([]crier.Entry, error)
	Recent(limit int) ([]crier.Recent, error)
}

// explain writes, for people, what crier did with the item at link and why.
func explain(w io.Writer, cfg *crier.Config, st explainStore, link string) error {
	canon := feeds.CanonicalLink(link)
	if canon == "" {
		return notALink(link)
	}
	key := "l:" + canon
	fmt.Fprintf(w, "item %s\n", canon)

	story, inStory, err := st.StoryByKey(key)
	if err != nil {
		return err
	}
	var sawIt []crier.Feed
	fmt.Fprintln(w, "seen:")
	for _, f := range cfg.Feeds {
		at, ok, err := st.SeenAt(f.FeedID(), key)
		if err != nil {
			return err
		}
		if ok {
			sawIt = append(sawIt, f)
			fmt.Fprintf(w, "  %s: first seen %s (key %s)\n", f.Name, at.Local().Format(time.DateTime), key)
		}
	}
	if len(sawIt) == 0 {
		fmt.Fprintln(w, "  by no configured feed under this link (an item without a link is keyed by GUID or text)")
	}

	title := ""
	if inStory {
		for _, src := range story.Sources {
			if feeds.CanonicalLink(src.Link) == canon {
				title = src.Title
			}
		}
	}
	for _, f := range sawIt {
		explainRouting(w, f, title)
	}

	if inStory {
		explainStory(w, story)
	} else {
		fmt.Fprintln(w, "story: none in the window (same_story off, the window has passed, or first poll backlog)")
	}
	return explainDelivery(w, cfg, st, canon, story, inStory)
}

// explainRouting re-applies the feed's filter and rules to the title.
func explainRouting(w io.Writer, f crier.Feed, title string) {
	if title == "" {
		fmt.Fprintf(w, "filter (%s): the title is no longer known; include %q, exclude %q\n", f.Name, f.Include.Patterns, f.Exclude.Patterns)
		return
	}
	switch {
	case !f.Include.Empty() && !f.Include.Match(title):
		fmt.Fprintf(w, "filter (%s): dropped, no include pattern matches %q (include %q)\n", f.Name, title, f.Include.Patterns)
		return
	case f.Exclude.Match(title):
		fmt.Fprintf(w, "filter (%s): dropped by exclude %q\n", f.Name, f.Exclude.Patterns)
		return
	}
	fmt.Fprintf(w, "filter (%s): passed\n", f.Name)
	notify := f.Notify
	for i, r := range f.Rules {
		if r.Match.Match(title) {
			if r.Notify != nil {
				notify = r.Notify
			}
			fmt.Fprintf(w, "rule (%s): rule %d (match %q) applies\n", f.Name, i+1, r.Match.Patterns)
			break
		}
	}
	fmt.Fprintf(w, "routed (%s): to %s\n", f.Name, strings.Join(notify, ", "))
}

func explainStory(w io.Writer, s crier.Story) {
	fmt.Fprintf(w, "story %s %q, first reported %s:\n", s.IDString(), s.Title, s.First.Local().Format(time.DateTime))
	for _, src := range s.Sources {
		how := "first report"
		switch src.Match {
		case "link":
			how = "same link or GUID"
		case "similar":
			how = fmt.Sprintf("similar headline, score %.2f", src.Score)
		}
		fmt.Fprintf(w, "  %s %s: %q (%s)", src.At.Local().Format(time.DateTime), src.Feed, src.Title, how)
		if len(src.Pushed) > 0 {
			fmt.Fprintf(w, "; pushed to %s", strings.Join(src.Pushed, ", "))
		}
		if len(src.Held) > 0 {
			fmt.Fprintf(w, "; not pushed to %s: they already had the story", strings.Join(src.Held, ", "))
		}
		if len(src.Pushed) == 0 && len(src.Held) == 0 {
			fmt.Fprint(w, "; pushed nowhere (filtered, or a first poll's backlog)")
		}
		fmt.Fprintln(w)
	}
	for _, n := range slices.Sorted(maps.Keys(s.Escalated)) {
		fmt.Fprintf(w, "  escalated to %s at %s\n", n, s.Escalated[n].Local().Format(time.DateTime))
	}
}

// explainDelivery says where the item's notifications are now.
func explainDelivery(w io.Writer, cfg *crier.Config, st explainStore, canon string, s crier.Story, inStory bool) error {
	same := func(link string) bool {
		return feeds.CanonicalLink(link) == canon || (inStory && link == s.Link && s.Link != "")
	}
	queued, err := st.Outbox()
	if err != nil {
		return err
	}
	for _, e := range queued {
		if !same(e.Notification.Link) {
			continue
		}
		fmt.Fprintf(w, "queued for %s since %s", e.Notifier, e.Created.Local().Format(time.DateTime))
		if nc, ok := cfg.Notifier(e.Notifier); ok {
			switch {
			case nc.Digest != "":
				fmt.Fprintf(w, ": waits for the digest (%s)", nc.Digest)
			case nc.QuietHours != nil:
				fmt.Fprint(w, ": may be held by quiet hours")
			}
		}
		if e.LastError != "" {
			fmt.Fprintf(w, "; last attempt failed: %s", e.LastError)
		}
		fmt.Fprintln(w)
	}
	recent, err := st.Recent(0)
	if err != nil {
		return err
	}
	for _, r := range recent {
		if same(r.Link) {
			fmt.Fprintf(w, "delivered to %s at %s\n", r.Notifier, r.At.Local().Format(time.DateTime))
		}
	}
	return nil
}

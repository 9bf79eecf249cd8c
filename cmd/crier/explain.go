package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/store"
)

func cmdExplain(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "explain", "[--config FILE] ITEM-LINK",
		"Say why an item was or was not pushed: the feeds that saw it, their filters and rules,\nits story and the reports merged into it, quiet hours and digests. Reads the store:\nthe daemon must be stopped.")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return &exitError{2, "crier explain: give the item's link"}
	}
	cfg, st, err := f.openConfigStore(env)
	if err != nil {
		return err
	}
	defer st.Close()
	return explain(env.stdout, cfg, st, f.Arg(0))
}

// explainStore is what explain reads.
type explainStore interface {
	SeenAt(feedID, key string) (time.Time, bool, error)
	StoryByKey(key string) (store.Story, bool, error)
	Outbox() ([]store.Entry, error)
	Recent(limit int) ([]store.Recent, error)
}

// explain writes, for people, what crier did with the item at link and why.
func explain(w io.Writer, cfg *crier.Config, st explainStore, link string) error {
	canon := feeds.CanonicalLink(link)
	if canon == "" {
		return &exitError{2, fmt.Sprintf("crier explain: %q is not a link", link)}
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

func explainStory(w io.Writer, s store.Story) {
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
func explainDelivery(w io.Writer, cfg *crier.Config, st explainStore, canon string, s store.Story, inStory bool) error {
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

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

func stateFile(cfg *crier.Config) string { return filepath.Join(cfg.StateDir, "crier.db") }

func cmdCheck(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "check", "[--config FILE] [-q]", "Validate the config without touching the store or the network: load it and build every\nnotifier as run does. Prints a summary (with -q one line), or every error as\nFILE:LINE: field: problem (exit 1).")
	quiet := f.Bool("q", false, "print one line on success (for ExecStartPre= and ExecReload=)")
	if err := f.Parse(args); err != nil {
		return err
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	// Built and dropped: constructors only check, they open nothing.
	if _, err := buildNotifiers(cfg, env.stdout, nil); err != nil {
		return err
	}
	if *quiet {
		_, err := fmt.Fprintf(env.stdout, "config OK: %s, %s (%s)\n", plural(len(cfg.Feeds), "feed"), plural(len(cfg.Notifiers), "notifier"), cfg.Path)
		return err
	}
	fmt.Fprintf(env.stdout, "%s: OK\nstate: %s\n", cfg.Path, stateDescription(cfg))
	fmt.Fprintf(env.stdout, "%d notifiers:", len(cfg.Notifiers))
	for _, n := range cfg.Notifiers {
		fmt.Fprintf(env.stdout, " %s (%s)", n.Name, n.Type)
	}
	fmt.Fprintf(env.stdout, "\n%d feeds:\n", len(cfg.Feeds))
	tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FEED\tSCHEDULE\tNEXT POLL\tNOTIFY")
	now := time.Now()
	for _, feed := range cfg.Feeds {
		next := "?"
		if t, err := feeds.NextPoll(feed.Schedule, now); err == nil {
			next = t.Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", feed.Name, feed.Schedule, next, strings.Join(feed.Notify, ","))
	}
	return tw.Flush()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

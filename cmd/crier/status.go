package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/cmd/crier/internal/web"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/store/bolt"
)

// statusFeed is the part of /api/feeds that `crier status` prints.
type statusFeed struct {
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	StatusText string     `json:"status_text"`
	LastPoll   *time.Time `json:"last_poll"`
	NextPoll   *time.Time `json:"next_poll"`
	NewToday   int        `json:"new_today"`
	LastError  string     `json:"last_error"`
}

func cmdStatus(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "status", "[--config FILE]", "Print every feed's state: from the running daemon's API (http.listen),\nor from the store when the daemon is stopped.")
	if err := f.Parse(args); err != nil {
		return err
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	body, source, err := statusFromDaemon(ctx, cfg)
	if err != nil {
		body, source, err = statusFromStore(cfg)
	}
	if err != nil {
		return err
	}
	var doc struct {
		Feeds []statusFeed `json:"feeds"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("reading feed status from %s: %w", source, err)
	}
	fmt.Fprintf(env.stdout, "%d feeds (from %s)\n", len(doc.Feeds), source)
	tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tSTATUS\tLAST POLL\tNEXT POLL\tNEW TODAY\tDETAIL")
	for _, fd := range doc.Feeds {
		detail := fd.StatusText
		if fd.LastError != "" && !strings.Contains(detail, fd.LastError) {
			detail = strings.TrimSpace(detail + " " + fd.LastError)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", fd.Name, fd.Status, when(fd.LastPoll), when(fd.NextPoll), fd.NewToday, detail)
	}
	return tw.Flush()
}

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("01-02 15:04:05")
}

// statusFromDaemon asks the running daemon over its listener.
func statusFromDaemon(ctx context.Context, cfg *crier.Config) ([]byte, string, error) {
	addr := cfg.HTTP.Listen
	if addr == "" {
		return nil, "", errors.New("no http.listen configured")
	}
	resp, err := daemonGet(ctx, cfg, "/api/feeds", 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("daemon at %s: HTTP %d %v", addr, resp.StatusCode, err)
	}
	return body, "the running daemon at " + addr, nil
}

// daemonGet asks the running daemon's API for path, over its http.listen
// (TCP or unix socket), with the bearer token when one is configured.
// timeout 0 means none (a backup can take a while).
func daemonGet(ctx context.Context, cfg *crier.Config, path string, timeout time.Duration) (*http.Response, error) {
	client := &http.Client{Timeout: timeout}
	var base string
	base, client.Transport = listenerClient(cfg.HTTP.Listen)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	if cfg.HTTP.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.HTTP.Token)
	}
	return client.Do(req)
}

// statusFromStore builds the same JSON from the store of a stopped daemon.
func statusFromStore(cfg *crier.Config) ([]byte, string, error) {
	st, err := openStore(cfg)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && cfg.HTTP.Listen == "" && !errors.Is(err, bolt.ErrCorrupt) {
			ee.msg += "\nTo see a running daemon's status, set http.listen (e.g. 127.0.0.1:8080)."
		}
		return nil, "", err
	}
	defer st.Close()
	fv, err := web.Feeds(st, stoppedDaemon{cfg}, time.Now())
	if err != nil {
		return nil, "", fmt.Errorf("reading the store: %w", err)
	}
	// The same document the API serves, so both sources print alike.
	body, err := json.Marshal(struct {
		Feeds []web.FeedView `json:"feeds"`
	}{fv})
	return body, "the store in " + cfg.StateDir + "; the daemon is not running", err
}

// stoppedDaemon is the schedule of a daemon that is not running.
type stoppedDaemon struct{ cfg *crier.Config }

func (s stoppedDaemon) Feeds() []crier.Feed { return s.cfg.Feeds }
func (s stoppedDaemon) NextPoll(feedID string) time.Time {
	for _, f := range s.cfg.Feeds {
		if f.FeedID() == feedID {
			t, _ := feeds.NextPoll(f.Schedule, time.Now())
			return t
		}
	}
	return time.Time{}
}

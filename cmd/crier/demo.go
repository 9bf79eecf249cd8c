package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds/feedgen"
)

// demoConfig is a real config, parsed by the real loader.
const demoConfig = `
state_dir: %s
defaults:
  schedule: "@every 5s"
  backfill: 3
  burst: 0
notifiers:
  - name: screen
    type: console
feeds:
  - name: Demo News
    url: %s
`

func cmdDemo(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "demo", "", "Run the real daemon against a built-in feed on 127.0.0.1 that publishes a new headline\nevery few seconds, printing each one here. Needs no account and no network. Ctrl-C ends it.")
	every := f.Duration("every", 4*time.Second, "how often the demo feed publishes a headline")
	if err := f.Parse(args); err != nil {
		return err
	}
	log, err := f.logger(env.stderr)
	if err != nil {
		return err
	}
	srv, err := feedgen.Start(feedgen.Options{Feeds: 1, MinItems: 10, MaxItems: 10, DescBytes: 200})
	if err != nil {
		return err
	}
	defer srv.Close()
	stateDir, err := os.MkdirTemp("", "crier-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	yaml := fmt.Sprintf(demoConfig, stateDir, srv.FeedURL(0))
	cfg, err := crier.Load(strings.NewReader(yaml), "demo.yaml", crier.LoadOptions{Env: env.getenv})
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	fmt.Fprintf(env.stderr, "crier demo: feed at %s publishes a headline every %s; state in %s. Ctrl-C to stop.\n", srv.FeedURL(0), *every, stateDir)

	var wg sync.WaitGroup
	defer wg.Wait()
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	wg.Go(func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-pubCtx.Done():
				return
			case <-t.C:
				srv.Publish(1)
			}
		}
	})

	d, err := openDaemon(ctx, cfg, log, env)
	if err != nil {
		return err
	}
	return d.serve(ctx, nil)
}

package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify"
)

func cmdTestNotify(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "test-notify", "[--config FILE] NAME", "Send one test notification through the named notifier and print the result.")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		f.Usage()
		return &exitError{2, ""}
	}
	log, err := f.logger(env.stderr)
	if err != nil {
		return err
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	name := f.Arg(0)
	nc, ok := cfg.Notifier(name)
	if !ok {
		return &exitError{1, fmt.Sprintf("crier: no notifier named %q in %s", name, cfg.Path)}
	}
	if err := sendTest(ctx, nc, notify.Deps{Stdout: env.stdout, StateDir: cfg.StateDir, Log: log}); err != nil {
		return &exitError{1, err.Error()}
	}
	fmt.Fprintf(env.stdout, "%s (%s): sent\n", name, nc.Type)
	return nil
}

func cmdDeadLetters(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "deadletters", "[--config FILE]", "List notifications that could not be delivered (the daemon must be stopped).")
	if err := f.Parse(args); err != nil {
		return err
	}
	_, st, err := f.openConfigStore(env)
	if err != nil {
		return err
	}
	defer st.Close()
	dead, err := st.DeadLetters()
	if err != nil {
		return err
	}
	if len(dead) == 0 {
		fmt.Fprintln(env.stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tNOTIFIER\tFEED\tTITLE\tERROR")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.DiedAt.Local().Format("2006-01-02 15:04"), d.Notifier,
			d.Notification.Feed, crier.Truncate(d.Notification.Title, 60), crier.Truncate(d.Reason, 80))
	}
	return tw.Flush()
}

func cmdRedeliver(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "redeliver", "[--config FILE] [--all | ID…]", "Move dead letters back to the outbox (the daemon must be stopped); the daemon sends them when it next runs.")
	all := f.Bool("all", false, "redeliver every dead letter")
	if err := f.Parse(args); err != nil {
		return err
	}
	var ids []uint64
	for _, a := range f.Args() {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return &exitError{2, fmt.Sprintf("crier redeliver: %q is not a dead letter ID (see crier deadletters)", a)}
		}
		ids = append(ids, id)
	}
	if *all == (len(ids) > 0) {
		return &exitError{2, "crier redeliver: give --all or one or more IDs (see crier deadletters)"}
	}
	_, st, err := f.openConfigStore(env)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Redeliver(ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "moved %d dead letters back to the outbox\n", n)
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// corruptMessage is the one line a command prints when the state file is
// corrupt: which file, and what to do about it.
func corruptMessage(err error) error {
	var ce *bolt.CorruptError
	if !errors.As(err, &ce) {
		return err
	}
	return corruptExit{&exitError{1, fmt.Sprintf("crier: %v: run `crier store repair` to keep what can be read "+
		"(the damaged file is kept beside it), or move it aside to start afresh "+
		"(queued notifications and dead letters are then lost, and items published while crier was down are not announced)", ce)}, ce}
}

// corruptExit is the exit a corrupt state file causes; it is still
// bolt.ErrCorrupt to callers that add advice of their own.
type corruptExit struct {
	*exitError
	cause error
}

func (c corruptExit) Unwrap() []error { return []error{c.exitError, c.cause} }

func cmdStore(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "store", "[--config FILE] check|repair",
		"check: say whether the state file (crier.db) is sound.\n"+
			"repair: copy everything readable of a corrupt state file into a new one; the damaged file is kept\n"+
			"as crier.db.corrupt-TIME. The daemon must be stopped.")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 || (f.Arg(0) != "check" && f.Arg(0) != "repair") {
		return &exitError{2, "crier store: give check or repair"}
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	if err := fileStoreOnly(cfg, "store"); err != nil {
		return err
	}
	path := stateFile(cfg)
	if _, err := os.Stat(path); err != nil {
		return &exitError{1, fmt.Sprintf("crier store: no state file: %v", err)}
	}
	if f.Arg(0) == "check" {
		switch err := bolt.Check(path); {
		case err == nil:
			fmt.Fprintf(env.stdout, "%s: OK\n", path)
			return nil
		case errors.Is(err, bolt.ErrLocked):
			return &exitError{1, fmt.Sprintf("crier store: %s is in use by the running daemon, which checked it when it started; stop it to check again", path)}
		default:
			return corruptMessage(err)
		}
	}
	rep, err := bolt.Repair(path, time.Now())
	if errors.Is(err, bolt.ErrLocked) {
		return &exitError{1, fmt.Sprintf("crier store: %s is in use by the running daemon: stop it first (systemctl stop crier)", path)}
	}
	if err != nil {
		return err
	}
	if rep.Healthy {
		fmt.Fprintf(env.stdout, "%s is not corrupt: nothing to repair\n", path)
		return nil
	}
	fmt.Fprintf(env.stdout, "repaired %s: kept %d keys; the damaged file is %s\n", path, rep.Kept, rep.MovedTo)
	for _, l := range rep.Lost {
		fmt.Fprintf(env.stdout, "lost %s\n  %s\n", l, lossMeaning(l))
	}
	return nil
}

// lossMeaning says what losing part of a bucket means to the user.
func lossMeaning(lost string) string {
	top, _, _ := strings.Cut(lost, "/")
	top, _, _ = strings.Cut(top, ":")
	switch top {
	case "seen":
		return "that feed's remembered items: those still on the feed may be announced once more"
	case "outbox":
		return "queued notifications for that notifier: they will not be sent"
	case "dead":
		return "dead letters: they can no longer be redelivered"
	case "feeds":
		return "poll state (validators, failures, backoff): those feeds are polled afresh"
	case "latest", "held", "recent":
		return "bookkeeping that the next polls and sends rebuild"
	}
	return "part of the file that could not be read"
}

func cmdBackup(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "backup", "[--config FILE] FILE",
		"Write a consistent copy of the state file (crier.db) to FILE. Works while the daemon runs:\n"+
			"then the copy comes from its API (http.listen), else straight from the file.")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return &exitError{2, "crier backup: give the FILE to write"}
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	if err := fileStoreOnly(cfg, "backup"); err != nil {
		return err
	}
	dest := f.Arg(0)
	path := stateFile(cfg)
	if _, err := os.Stat(path); err != nil {
		return &exitError{1, fmt.Sprintf("crier backup: no state file: %v", err)}
	}
	source := path
	err = writeAtomically(dest, func(w io.Writer) error {
		st, err := bolt.Open(path, bolt.Options{LockTimeout: 100 * time.Millisecond})
		if errors.Is(err, bolt.ErrLocked) {
			source = "the running daemon at " + cfg.HTTP.Listen
			return backupFromDaemon(ctx, cfg, w)
		}
		if err != nil {
			return corruptMessage(err)
		}
		defer st.Close()
		_, err = st.WriteBackup(w)
		return err
	})
	if err != nil {
		return err
	}
	// What was written must open: a copy cut short is no backup.
	if err := bolt.Check(dest); err != nil {
		return fmt.Errorf("the backup in %s is not sound: %w", dest, err)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "backed up %s to %s (%d bytes, from %s)\n", path, dest, fi.Size(), source)
	return nil
}

// writeAtomically writes dest through a temporary file beside it, so that
// a failed backup never replaces a good one.
func writeAtomically(dest string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*")
	if err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write backup %s: %w", dest, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write backup %s: %w", dest, err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	return nil
}

// backupFromDaemon streams GET /api/backup from the running daemon.
func backupFromDaemon(ctx context.Context, cfg *crier.Config, w io.Writer) error {
	addr := cfg.HTTP.Listen
	if addr == "" {
		return &exitError{1, fmt.Sprintf("crier backup: the daemon is running and holds %s, and it has no http.listen to ask for a copy: set http.listen (e.g. 127.0.0.1:8080) or stop it", stateFile(cfg))}
	}
	resp, err := daemonGet(ctx, cfg, "/api/backup", 0)
	if err != nil {
		return fmt.Errorf("backup from the daemon at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("backup from the daemon at %s: HTTP %d: %s", addr, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup from the daemon at %s: %w", addr, err)
	}
	return nil
}

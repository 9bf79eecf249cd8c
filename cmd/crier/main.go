// Command crier polls feeds and pushes every new headline to the user's
// notifiers. This file holds the command line; the daemon's parts live in
// the feeds, store and notify packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	_ "time/tzdata" // quiet_hours and CRON_TZ work on minimal systems without zoneinfo

	"github.com/crierd/crier"
)

// exitError carries a process exit code through the command functions.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

type command struct {
	name, args, help string
	run              func(ctx context.Context, env *cliEnv, args []string) error
}

func commands() []command {
	return []command{
		{"init", "[--config FILE] [--feed URL] …", "ask for a feed and a notifier, send a test push, write the config", cmdInit},
		{"run", "[--config FILE] [--once]", "run the daemon (or poll every feed once with --once)", cmdRun},
		{"check", "[--config FILE] [-q]", "validate the config without touching the store or the network", cmdCheck},
		{"test-notify", "[--config FILE] NAME", "send one test notification through the named notifier", cmdTestNotify},
		{"status", "[--config FILE]", "print every feed's state (from the running daemon, or the store)", cmdStatus},
		{"explain", "[--config FILE] ITEM-LINK", "say why an item was or was not pushed (asks the daemon when it runs)", cmdExplain},
		{"deadletters", "[--config FILE]", "list notifications that could not be delivered", cmdDeadLetters},
		{"redeliver", "[--config FILE] [--all | ID…]", "move dead letters back to the outbox", cmdRedeliver},
		{"backup", "[--config FILE] FILE", "write a consistent copy of the state file, also while the daemon runs", cmdBackup},
		{"store", "[--config FILE] check|repair", "check the state file, or salvage a corrupt one", cmdStore},
		{"migrate", "[--config FILE]", "create or update the PostgreSQL schema of a fleet (store.postgres)", cmdMigrate},
		{"import-opml", "[--config FILE] [--write] FILE", "print an OPML file's feeds as YAML, or add them to the config", cmdImportOPML},
		{"export-opml", "[--config FILE] [-o FILE]", "write the configured feeds as OPML 2.0", cmdExportOPML},
		{"discover", "URL", "print the feeds a web page advertises, as YAML for the config", cmdDiscover},
		{"demo", "", "run crier against a built-in local feed, printing headlines here", cmdDemo},
		{"healthz", "[--config FILE] [--url URL]", "exit 0 if the running daemon's /healthz says it is healthy", cmdHealthz},
		{"completion", "bash|zsh|fish", "print the shell completion script", cmdCompletion},
		{"man", "", "print the manual page (roff)", cmdMan},
		{"version", "", "print the version, commit and build date", cmdVersion},
	}
}

// cliEnv is what every command gets from the process.
type cliEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
	// stdin feeds crier init's prompts, asked only when stdinTTY says a
	// person is there to answer them.
	stdin    io.Reader
	stdinTTY bool
	// onFlags, when set, sees every command's flag set before it parses:
	// completions and the man page list the flags the commands really take.
	onFlags func(*flag.FlagSet)
}

func main() {
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv, stdin: os.Stdin, stdinTTY: isTerminal(os.Stdin)}
	os.Exit(realMain(env, os.Args[1:]))
}

func realMain(env *cliEnv, args []string) int {
	if len(args) == 0 {
		usage(env.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env.stdout)
		return 0
	case "--version", "-version":
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signalContext()
		defer stop()
		err := c.run(ctx, env, args[1:])
		var ee *exitError
		var ce crier.ConfigErrors
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ce):
			// FILE:LINE: … lines, as an editor or journalctl shows them.
			fmt.Fprintln(env.stderr, ce.Error())
			return 1
		case errors.As(err, &ee):
			if ee.msg != "" {
				fmt.Fprintln(env.stderr, ee.msg)
			}
			return ee.code
		default:
			fmt.Fprintf(env.stderr, "crier %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.stderr, "crier: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "crier %s: never miss a story.\n\nUsage:\n", crier.Version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  crier %-12s %-32s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintf(w, "\nEvery command takes --help. The config is --config FILE, else $CRIER_CONFIG,\nelse $CONFIGURATION_DIRECTORY/config.yaml, else ~/.config/crier/config.yaml.\n")
}

// signalContext ends on SIGINT or SIGTERM; a second signal exits at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
			return
		}
		select {
		case <-ch:
			fmt.Fprintln(os.Stderr, "crier: second signal, exiting now")
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(ch); close(done); cancel() }
}

// flags is the flag set every command shares.
type flags struct {
	*flag.FlagSet
	config    string
	logFormat string
	logLevel  string
}

func newFlags(env *cliEnv, name, args, help string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(env.stderr)
	f.StringVar(&f.config, "config", "", "config `file` (default: $CRIER_CONFIG, $CONFIGURATION_DIRECTORY/config.yaml, ~/.config/crier/config.yaml)")
	f.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.Usage = func() {
		fmt.Fprintf(f.Output(), "Usage: crier %s %s\n\n%s\n\nFlags:\n", name, args, help)
		f.PrintDefaults()
	}
	if env.onFlags != nil {
		env.onFlags(f.FlagSet)
	}
	return f
}

func (f *flags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

// loadConfig reads the config named by --config or found in the default places.
func (f *flags) loadConfig(env *cliEnv) (*crier.Config, error) {
	path := f.config
	if path == "" {
		home, _ := os.UserHomeDir()
		var looked []string
		path, looked = crier.DefaultConfigPath(env.getenv, home)
		if _, err := os.Stat(path); err != nil {
			return nil, &exitError{1, "crier: no config file found; looked in:\n  " + strings.Join(looked, "\n  ") + "\nwrite one (see config.example.yaml) or pass --config FILE"}
		}
	}
	cfg, err := crier.LoadFile(path, crier.LoadOptions{Env: env.getenv})
	if err != nil {
		var ce crier.ConfigErrors
		if errors.As(err, &ce) {
			return nil, &exitError{1, ce.Error()}
		}
		return nil, err
	}
	return cfg, nil
}

func cmdVersion(_ context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "version", "", "print the version, commit and build date")
	if err := f.Parse(args); err != nil {
		return err
	}
	b := crier.CurrentBuild()
	// The first line stays "crier VERSION" for scripts that read it.
	fmt.Fprintf(env.stdout, "crier %s\ncommit: %s\ndate:   %s\ngo:     %s %s/%s\n",
		b.Version, b.Commit, b.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/crierd/crier"
)

// exTempFail is sysexits.h's EX_TEMPFAIL: "try again later".
const exTempFail = 75

// execStderrTail is how much of a failed command's stderr an error quotes.
const execStderrTail = 500

// execWaitDelay bounds how long Wait waits for pipes after the command
// exited or was killed (a daemonised grandchild may hold them open).
const execWaitDelay = 2 * time.Second

// Exec runs a command (argv, no shell) for each notification with the
// JSON Document on stdin. Exit 0 is success, exit 75 (EX_TEMPFAIL) and a
// timeout are temporary failures, any other exit is permanent.
type Exec struct {
	base
	argv    []string
	secrets secrets // what its stderr may print back
}

// NewExec builds an exec notifier.
func NewExec(cfg crier.NotifierConfig) (*Exec, error) {
	argv := cfg.Lists["command"]
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return nil, fmt.Errorf("notifier %s: option command is required", cfg.Name)
	}
	b, err := newBase(cfg, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &Exec{base: b, argv: append([]string(nil), argv...), secrets: execSecrets(argv, os.Environ())}, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(strings.ToValidUTF8(string(t.b), "\uFFFD"))
}

// Send runs the command for n. Its error quotes the command's stderr,
// with the credentials in its arguments and environment masked.
func (e *Exec) Send(ctx context.Context, n crier.Notification) error {
	return e.secrets.scrubErr(e.send(ctx, n))
}

func (e *Exec) send(ctx context.Context, n crier.Notification) error {
	text, err := e.render.render(n)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(newDocument(e.cfg, n, text))
	if err != nil {
		return Permanent(fmt.Errorf("notifier %s: %w", e.name, err))
	}
	timedOut := fmt.Errorf("timed out after %s", e.timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, e.timeout, timedOut)
	defer cancel()

	// Twice the tail is kept: it is cut after masking, so that a cut
	// through a secret cannot leave a piece the mask no longer finds.
	stderr := &tailBuffer{max: 2 * execStderrTail}
	cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
	cmd.Stdin = bytes.NewReader(append(doc, '\n'))
	cmd.Stderr = stderr
	// Its own process group, killed as a whole, so that a shell script's
	// children do not outlive a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = execWaitDelay

	what := fmt.Sprintf("notifier %s (exec %s)", e.name, e.argv[0])
	if err := cmd.Start(); err != nil {
		// Missing or not executable: retrying will not fix the config.
		return Permanent(fmt.Errorf("%s: %w", what, err))
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		// The cause tells this timeout from the caller's cancellation; a
		// clock reading after Wait could not (under load it lagged the
		// deadline and the timeout went unnamed).
		cause := context.Cause(ctx)
		if errors.Is(cause, context.DeadlineExceeded) { // the caller's deadline came first
			cause = fmt.Errorf("timed out: %w", cause)
		}
		return Temporary(fmt.Errorf("%s: %w%s", what, cause, e.stderrNote(stderr)), 0)
	}
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == exTempFail {
		return Temporary(fmt.Errorf("%s: exit %d (temporary failure)%s", what, exTempFail, e.stderrNote(stderr)), 0)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited 0 but left something holding its stderr.
		return nil
	}
	return Permanent(fmt.Errorf("%s: %w%s", what, err, e.stderrNote(stderr)))
}

// stderrNote is the masked tail of the command's stderr, to quote in an
// error.
func (e *Exec) stderrNote(t *tailBuffer) string {
	s := e.secrets.scrub(t.String())
	if cut := len(s) - execStderrTail; cut > 0 {
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		s = strings.TrimSpace(s[cut:])
	}
	if s != "" {
		return ": " + s
	}
	return ""
}

package notify

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// script writes an executable shell script into dir. A child process
// writes it: a file this process had open for writing can be inherited by
// a parallel test's fork, and executing it then fails with "text file busy".
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	cmd := exec.Command("/bin/sh", "-c", `cat > "$0" && chmod 755 "$0"`, path)
	cmd.Stdin = strings.NewReader("#!/bin/sh\n" + body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writing %s: %v: %s", path, err, out)
	}
	return path
}

func execConfig(argv []string, kv ...string) crier.NotifierConfig {
	cfg := svcConfig("run", "exec", kv...)
	cfg.Lists["command"] = argv
	return cfg
}

func TestExecOutcomes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	long := strings.Repeat("x", 2000)
	tests := []struct {
		name      string
		body      string
		ok        bool
		permanent bool
		errHas    []string
		errLacks  []string
	}{
		{"exit 0", "cat >/dev/null\nexit 0\n", true, false, nil, nil},
		{"exit 75", "echo 'try later' >&2\nexit 75\n", false, false, []string{"exit 75", "try later"}, nil},
		{"exit 1", "echo 'bad config' >&2\nexit 1\n", false, true, []string{"exit status 1", "bad config"}, nil},
		{"long stderr", "echo 'HEAD" + long + "' >&2\necho TAIL >&2\nexit 2\n", false, true, []string{"TAIL"}, []string{"HEAD"}},
		{"ignores stdin", "exit 0\n", true, false, nil, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := script(t, dir, "s"+strconv.Itoa(i), tt.body)
			e := must(NewExec(execConfig([]string{path})))
			err := e.Send(context.Background(), svcItem())
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("succeeded")
			}
			if Classify(err).Permanent != tt.permanent {
				t.Errorf("permanent = %v, want %v: %v", Classify(err).Permanent, tt.permanent, err)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q: %v", s, err)
				}
			}
			for _, s := range tt.errLacks {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error has %q: %.200s", s, err)
				}
			}
			if len(err.Error()) > execStderrTail+200 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestExecStdinDocument(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "got.json")
	path := script(t, dir, "save", `cat > "$1"`+"\n")
	cfg := execConfig([]string{path, out})
	cfg.TitleTemplate = "{{.Feed | upper}}"
	e := must(NewExec(cfg))
	if err := e.Send(context.Background(), svcItem()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var d Document
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("stdin is not the JSON document: %v\n%s", err, data)
	}
	if d.Kind != "item" || d.Title != "Go 1.26 is released" || d.Link != "https://go.dev/blog/go1.26" || d.Text.Title != "GO BLOG" ||
		d.ID != "g:tag:blog.golang.org,2013:blog.golang.org/go1.26" {
		t.Errorf("document %+v", d)
	}
}

// TestExecTimeoutKillsTheGroup: a hanging command, and a child it left
// in the background holding stderr, are both killed at the timeout.
func TestExecTimeoutKillsTheGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	path := script(t, dir, "hang", `sleep 60 &
echo $! > "$1"
sleep 60
`)
	e := must(NewExec(execConfig([]string{path, pidFile}, "timeout", "300ms")))
	start := time.Now()
	err := e.Send(context.Background(), svcItem())
	took := time.Since(start)
	if err == nil || Classify(err).Permanent {
		t.Fatalf("err = %v, want temporary", err)
	}
	if !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error does not say it timed out: %v", err)
	}
	if took > 3*time.Second {
		t.Errorf("send took %v with a 300ms timeout", took)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background child %d outlived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports whether pid has exited (a zombie waiting for its
// new parent to reap it counts as gone).
func processGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	// The state follows the parenthesised command name.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

func TestExecCancelledContextIsTemporary(t *testing.T) {
	t.Parallel()
	path := script(t, t.TempDir(), "hang", "sleep 60\n")
	e := must(NewExec(execConfig([]string{path})))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Send(ctx, svcItem())
	if err == nil || Classify(err).Permanent || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v, want a prompt temporary error", err, time.Since(start))
	}
}

func TestExecMissingCommandIsPermanent(t *testing.T) {
	t.Parallel()
	e := must(NewExec(execConfig([]string{filepath.Join(t.TempDir(), "nope")})))
	if err := e.Send(context.Background(), svcItem()); err == nil || !Classify(err).Permanent {
		t.Fatalf("err = %v, want permanent", err)
	}
	if _, err := NewExec(execConfig(nil)); err == nil {
		t.Error("NewExec accepted an empty command")
	}
}

func TestExecTemplateError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	cfg := execConfig([]string{script(t, dir, "touch", `touch "$1"`+"\n"), marker})
	cfg.MessageTemplate = "{{.Nope}}"
	e := must(NewExec(cfg))
	if err := e.Send(context.Background(), svcItem()); err == nil || !Classify(err).Permanent {
		t.Fatalf("err = %v, want permanent", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran")
	}
}

func TestExecHostile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := script(t, dir, "save", `cat > "$1"`+"\n")
	for name, n := range hostileNotifications() {
		out := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		e := must(NewExec(execConfig([]string{path, out})))
		if err := e.Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var d Document
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: not JSON: %v", name, err)
		}
		noBidi(t, name+" text", d.Text.Title+d.Text.Message)
	}
}

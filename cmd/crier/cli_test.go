package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(env map[string]string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := realMain(&cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}, args)
	return code, stdout.String(), stderr.String()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, "state_dir: "+dir+"\nnotifiers:\n  - {type: console}\nfeeds:\n  - url: https://example.org/rss\n    schedule: \"*/5 * * * *\"\n")
	code, out, errOut := runCLI(nil, "check", "--config", good)
	if code != 0 || !strings.Contains(out, "good.yaml: OK") || !strings.Contains(out, "example.org/rss") ||
		!strings.Contains(out, "*/5 * * * *") || !strings.Contains(out, "console (console)") {
		t.Errorf("check good config: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "crier.db")); !os.IsNotExist(err) {
		t.Errorf("check touched the store: %v", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	writeConfig(t, bad, "notifiers:\n  - {type: console}\nfeeds:\n  - url: https://example.org/rss\n    schedule: \"TZ=\"\n  - url: https://example.org/rss\n    notify: [phone]\n")
	code, out, errOut = runCLI(nil, "check", "--config", bad)
	if code != 1 || out != "" {
		t.Fatalf("check bad config: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{bad + ":5: feeds[0].schedule:", bad + ":6: feeds[1].url:", bad + ":7: feeds[1].notify"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("errors lack %q:\n%s", want, errOut)
		}
	}
}

func TestMissingConfigSaysWhereItLooked(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": filepath.Join(home, "xdg"), "HOME": home}
	code, _, errOut := runCLI(env, "check")
	if code != 1 || !strings.Contains(errOut, "no config file found") || !strings.Contains(errOut, filepath.Join(home, "xdg", "crier", "config.yaml")) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	if code, out, _ := runCLI(nil, "--version"); code != 0 || !strings.HasPrefix(out, "crier ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, out, _ := runCLI(nil, "--help"); code != 0 || !strings.Contains(out, "crier run") || !strings.Contains(out, "crier demo") {
		t.Errorf("--help: %d %q", code, out)
	}
	for _, c := range commands() {
		code, _, errOut := runCLI(nil, c.name, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: crier "+c.name) {
			t.Errorf("%s --help: exit %d\n%s", c.name, code, errOut)
		}
	}
	if code, _, errOut := runCLI(nil, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
}

package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testClient has a transport of its own: httptest servers closing in
// parallel tests close http.DefaultTransport's connections, even one under
// a request in flight ("CloseIdleConnections called").
var testClient = &http.Client{Transport: &http.Transport{}}

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

// TestCheckBuildsNotifiersAsRunDoes: a config check passes must start. A
// Pushover token of the wrong shape used to pass check and fail run
// ("invalid API token"), so the unit restarted forever. Both now build
// the notifiers with the same code and report the same error, at the
// notifier's line and naming it once.
func TestCheckBuildsNotifiersAsRunDoes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeConfig(t, path, "state_dir: "+dir+`
notifiers:
  - {type: console}
  - name: phone
    type: pushover
    token: not-a-pushover-token
    user: uQiRzpo4DXghDmr9QzzfQu27cmVRsG
feeds:
  - url: https://example.org/rss
`)
	for _, args := range [][]string{{"check"}, {"check", "-q"}, {"run", "--once"}} {
		code, out, errOut := runCLI(nil, append(args, "--config", path)...)
		if code != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, want 1 and nothing", args, code, out)
		}
		if want := path + ":4: notifier phone: "; !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "token") {
			t.Errorf("%v: stderr %q, want it to start %q and to say what is wrong with the token", args, errOut, want)
		}
		if n := strings.Count(errOut, "phone"); n != 1 {
			t.Errorf("%v: stderr names the notifier %d times, want once: %q", args, n, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "crier.db")); !os.IsNotExist(err) {
		t.Errorf("a config that cannot start created the store: %v", err)
	}
}

// TestCheckQuiet: the unit runs `crier check -q` before every start and
// reload; on success it puts one line in the journal, not the feed table.
func TestCheckQuiet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeConfig(t, path, "state_dir: "+dir+"\nnotifiers:\n  - {type: console}\nfeeds:\n  - url: https://example.org/rss\n  - url: https://example.org/atom\n")
	code, out, errOut := runCLI(nil, "check", "-q", "--config", path)
	if want := "config OK: 2 feeds, 1 notifier (" + path + ")\n"; code != 0 || out != want || errOut != "" {
		t.Errorf("check -q: exit %d, stdout %q, stderr %q; want 0, %q and nothing", code, out, errOut, want)
	}
}

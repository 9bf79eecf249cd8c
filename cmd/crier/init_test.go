package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/notify/servicefake"
)

// hostileTitle is what a web page may put in a feed's title: ${VAR} that
// the loader would expand, a literal $${, quotes, a comment sign.
const hostileTitle = `News ${HOME} $$${x} "quoted" # not a comment`

// newSite serves a web page advertising two feeds, and the feeds.
func newSite(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Site</title>
<link rel="alternate" type="application/rss+xml" title="%s" href="/feed.xml?a=$b&amp;c=${HOME}">
<link rel="alternate" type="application/atom+xml" title="Comments" href="/comments.xml">
</head><body>hello</body></html>`, strings.ReplaceAll(hostileTitle, `"`, "&quot;"))
	})
	rss := `<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>http://example.org/</link>
<item><title>One</title><link>http://example.org/1</link><guid>1</guid></item></channel></rss>`
	mux.HandleFunc("/feed.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, rss)
	})
	mux.HandleFunc("/comments.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, rss)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// initEnv is a process environment for crier init: state and config under dir.
type initEnv struct {
	dir string
	env map[string]string
}

func newInitEnv(t *testing.T) *initEnv {
	dir := t.TempDir()
	return &initEnv{dir: dir, env: map[string]string{
		"XDG_STATE_HOME":  filepath.Join(dir, "state"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "xdg"),
	}}
}

func (e *initEnv) getenv(k string) (string, bool) {
	v, ok := e.env[k]
	return v, ok
}

// run runs crier with stdin (nil: none) as a terminal or not.
func (e *initEnv) run(stdin io.Reader, tty bool, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := realMain(&cliEnv{stdout: &stdout, stderr: &stderr, getenv: e.getenv, stdin: stdin, stdinTTY: tty}, args)
	return code, stdout.String(), stderr.String()
}

// load reads a written config with the real loader and checks that
// `crier check` accepts it.
func (e *initEnv) load(t *testing.T, path string) *crier.Config {
	t.Helper()
	cfg, err := crier.LoadFile(path, crier.LoadOptions{Env: e.getenv})
	if err != nil {
		text, _ := os.ReadFile(path)
		t.Fatalf("written config does not load: %v\n%s", err, text)
	}
	if code, out, errOut := e.run(nil, false, "check", "--config", path); code != 0 || !strings.Contains(out, ": OK") {
		t.Errorf("crier check: exit %d\n%s%s", code, out, errOut)
	}
	return cfg
}

func TestInitWithFlags(t *testing.T) {
	t.Parallel()
	site := newSite(t)
	push := pushoverfake.New()
	defer push.Close()
	ntfy := servicefake.NewNtfy(true)
	defer ntfy.Close()

	for _, tc := range []struct {
		name       string
		args       []string
		notifier   string            // the notifier's type
		files      map[string]string // secret files written next to the config
		inConfig   []string          // the written text has these
		notInText  []string          // and not these
		wantStdout string
		arrived    func() int
	}{
		{
			name:      "pushover, secrets in files",
			args:      []string{"--notifier", "pushover", "--pushover-token", pushoverfake.Token, "--pushover-user", pushoverfake.User, "--pushover-api-url", push.Endpoint()},
			notifier:  "pushover",
			files:     map[string]string{"pushover-token": pushoverfake.Token, "pushover-user": pushoverfake.User},
			inConfig:  []string{"token_file: pushover-token", "user_file: pushover-user"},
			notInText: []string{pushoverfake.Token, pushoverfake.User},
			arrived:   func() int { return len(push.Messages()) },
		},
		{
			name:     "ntfy with a token, inline",
			args:     []string{"--notifier", "ntfy", "--ntfy-topic", "crier-news", "--ntfy-url", ntfy.URL(), "--ntfy-token", servicefake.NtfyToken, "--secret-files=false"},
			notifier: "ntfy",
			inConfig: []string{"topic: crier-news", "token: " + servicefake.NtfyToken},
			arrived:  func() int { return len(ntfy.Messages()) },
		},
		{
			name:       "console",
			args:       []string{"--notifier", "console"},
			notifier:   "console",
			wantStdout: "crier test notification",
		},
		{
			name:     "jsonl, no test",
			args:     []string{"--notifier", "jsonl", "--no-test"},
			notifier: "jsonl",
			inConfig: []string{"path: notifications.jsonl"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newInitEnv(t)
			path := filepath.Join(e.dir, "etc", "config.yaml")
			before := 0
			if tc.arrived != nil {
				before = tc.arrived()
			}
			args := append([]string{"init", "--config", path, "--feed", site.URL + "/"}, tc.args...)
			code, out, errOut := e.run(nil, false, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if tc.arrived != nil && tc.arrived()-before != 1 {
				t.Errorf("%d test pushes arrived, want 1\n%s%s", tc.arrived()-before, out, errOut)
			}
			if !strings.Contains(out, tc.wantStdout) || !strings.Contains(out, "wrote "+path) {
				t.Errorf("stdout lacks %q or the path:\n%s", tc.wantStdout, out)
			}
			cfg := e.load(t, path)
			// The first feed the page advertises, its title and URL
			// exactly as published: nothing expanded.
			if len(cfg.Feeds) != 1 || cfg.Feeds[0].Name != hostileTitle || cfg.Feeds[0].URL != site.URL+"/feed.xml?a=$b&c=${HOME}" {
				t.Errorf("feeds: %+v", cfg.Feeds)
			}
			if len(cfg.Notifiers) != 1 || cfg.Notifiers[0].Type != tc.notifier {
				t.Errorf("notifiers: %+v", cfg.Notifiers)
			}
			text, _ := os.ReadFile(path)
			for _, want := range append(tc.inConfig, "# ", "crier check") {
				if !strings.Contains(string(text), want) {
					t.Errorf("config lacks %q:\n%s", want, text)
				}
			}
			for _, bad := range tc.notInText {
				if strings.Contains(string(text), bad) {
					t.Errorf("config holds the secret %q:\n%s", bad, text)
				}
			}
			for name, secret := range tc.files {
				fi, err := os.Stat(filepath.Join(e.dir, "etc", name))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("secret file %s: %v %v", name, fi, err)
				}
				if b, _ := os.ReadFile(filepath.Join(e.dir, "etc", name)); strings.TrimSpace(string(b)) != secret {
					t.Errorf("secret file %s holds %q", name, b)
				}
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("config mode: %v %v", fi, err)
			}
		})
	}
	if r := ntfy.Rejections(); len(r) > 0 {
		t.Errorf("ntfy refused requests: %q", r)
	}
	if n := push.Requests(); n != len(push.Messages()) {
		t.Errorf("pushover refused %d of %d requests", n-len(push.Messages()), n)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	site := newSite(t)
	e := newInitEnv(t)
	// No --config: the default path.
	path := filepath.Join(e.env["XDG_CONFIG_HOME"], "crier", "config.yaml")
	if home, _ := os.UserHomeDir(); home != "" {
		if _, err := os.Stat(filepath.Join(home, ".config", "crier", "config.yaml")); err == nil {
			t.Skip("this machine's user has a crier config, which the default path would find")
		}
	}
	args := []string{"init", "--feed", site.URL, "--notifier", "console", "--no-test"}
	if code, out, errOut := e.run(nil, false, args...); code != 0 || !strings.Contains(out, path) {
		t.Fatalf("first init: exit %d\n%s%s", code, out, errOut)
	}
	e.load(t, path)
	if err := os.WriteFile(path, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.run(nil, false, args...)
	if b, _ := os.ReadFile(path); code != 1 || string(b) != "# mine\n" || !strings.Contains(errOut, "--force") {
		t.Errorf("second init: exit %d, file %q\n%s", code, b, errOut)
	}
	if code, out, errOut := e.run(nil, false, append(args, "--force")...); code != 0 {
		t.Errorf("init --force: exit %d\n%s%s", code, out, errOut)
	}
	e.load(t, path)
}

func TestInitWithoutTerminal(t *testing.T) {
	t.Parallel()
	e := newInitEnv(t)
	path := filepath.Join(e.dir, "config.yaml")
	for _, args := range [][]string{
		{"init", "--config", path},
		{"init", "--config", path, "--feed", "http://127.0.0.1:1/"},
		{"init", "--config", path, "--feed", "http://127.0.0.1:1/", "--notifier", "pushover", "--pushover-token", "x"},
		{"init", "--config", path, "--feed", "http://127.0.0.1:1/", "--notifier", "ntfy"},
	} {
		code, _, errOut := e.run(strings.NewReader("https://example.org/\n"), false, args...)
		if code != 2 || !strings.Contains(errOut, "no terminal") || !strings.Contains(errOut, "--") {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%q wrote a config", args)
		}
	}
	if code, _, errOut := e.run(nil, false, "init", "--config", path, "--feed", "x", "--notifier", "carrier-pigeon"); code != 2 || !strings.Contains(errOut, "pushover, ntfy, console or jsonl") {
		t.Errorf("unknown notifier: exit %d\n%s", code, errOut)
	}
}

// pipeStdin is a stdin backed by a real pipe, holding the answers.
func pipeStdin(t *testing.T, answers ...string) io.Reader {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	go func() {
		defer w.Close()
		io.WriteString(w, strings.Join(answers, "\n")+"\n")
	}()
	return r
}

func TestInitInteractive(t *testing.T) {
	t.Parallel()
	site := newSite(t)
	push := pushoverfake.New()
	defer push.Close()
	ntfy := servicefake.NewNtfy(false)
	defer ntfy.Close()

	t.Run("ntfy", func(t *testing.T) {
		e := newInitEnv(t)
		path := filepath.Join(e.dir, "config.yaml")
		stdin := pipeStdin(t,
			strings.TrimPrefix(site.URL, "http://")+"/nope", // not found: asked again
			site.URL+"/",
			"5", // no such choice: asked again
			"2", // Comments
			"ntfy",
			ntfy.URL(),
			"", // the suggested topic
			"", // no token
		)
		code, out, errOut := e.run(stdin, true, "init", "--config", path)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		for _, prompt := range []string{"Feed or web page URL", "1) " + hostileTitle, "2) Comments", "Notifier", "ntfy topic"} {
			if !strings.Contains(errOut, prompt) {
				t.Errorf("no prompt %q:\n%s", prompt, errOut)
			}
		}
		cfg := e.load(t, path)
		if cfg.Feeds[0].Name != "Comments" || cfg.Feeds[0].URL != site.URL+"/comments.xml" {
			t.Errorf("feed %+v, want the second one", cfg.Feeds[0])
		}
		msgs := ntfy.Messages()
		if len(msgs) != 1 || cfg.Notifiers[0].Options["topic"] != msgs[0].Topic || !strings.HasPrefix(msgs[0].Topic, "crier-") {
			t.Errorf("ntfy got %+v; notifier %+v", msgs, cfg.Notifiers[0])
		}
	})

	t.Run("pushover, secrets inline", func(t *testing.T) {
		e := newInitEnv(t)
		path := filepath.Join(e.dir, "config.yaml")
		stdin := pipeStdin(t, pushoverfake.Token, pushoverfake.User, "n")
		code, out, errOut := e.run(stdin, true, "init", "--config", path, "--feed", site.URL+"/feed.xml?a=$b&c=${HOME}",
			"--notifier", "pushover", "--pushover-api-url", push.Endpoint())
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		cfg := e.load(t, path)
		if cfg.Feeds[0].URL != site.URL+"/feed.xml?a=$b&c=${HOME}" || cfg.Feeds[0].Name != "News" {
			t.Errorf("a feed URL is taken as is, named by its title: %+v", cfg.Feeds[0])
		}
		if len(push.Messages()) != 1 {
			t.Errorf("pushover got %d messages", len(push.Messages()))
		}
		if _, err := os.Stat(filepath.Join(e.dir, "pushover-token")); err == nil {
			t.Error("answered n, yet a secret file was written")
		}
	})

	t.Run("stdin ends", func(t *testing.T) {
		e := newInitEnv(t)
		code, _, errOut := e.run(pipeStdin(t), true, "init", "--config", filepath.Join(e.dir, "config.yaml"))
		if code != 1 || !strings.Contains(errOut, "no answer") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
	})
}

// TestInitForTheService: secrets go where the unit's LoadCredential=
// looks, and the config is readable by the service's dynamic user.
func TestInitForTheService(t *testing.T) {
	t.Parallel()
	site := newSite(t)
	push := pushoverfake.New()
	defer push.Close()
	e := newInitEnv(t)
	etc := filepath.Join(e.dir, "etc", "crier")
	path := filepath.Join(etc, "config.yaml")
	code, out, errOut := e.run(nil, false, "init", "--service", "--config", path, "--feed", site.URL,
		"--notifier", "pushover", "--pushover-token", pushoverfake.Token, "--pushover-user", pushoverfake.User,
		"--pushover-api-url", push.Endpoint(), "--secret-files=false")
	if code != 0 || len(push.Messages()) != 1 || !strings.Contains(out, "systemctl") {
		t.Fatalf("exit %d, %d pushes\n%s%s", code, len(push.Messages()), out, errOut)
	}
	for file, mode := range map[string]os.FileMode{
		etc: 0o755, path: 0o644,
		filepath.Join(etc, "credentials"): 0o700, filepath.Join(etc, "credentials", "pushover-token"): 0o600,
	} {
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want mode %o", file, fi, err, mode)
		}
	}
	text, _ := os.ReadFile(path)
	if !strings.Contains(string(text), "token_file: ${CREDENTIALS_DIRECTORY}/pushover-token") || strings.Contains(string(text), pushoverfake.Token) {
		t.Errorf("config:\n%s", text)
	}
	e.env["CREDENTIALS_DIRECTORY"] = filepath.Join(etc, "credentials")
	e.load(t, path)
}

// TestInitFailedPush: the config is written, and the user is told what
// failed and how to try again.
func TestInitFailedPush(t *testing.T) {
	t.Parallel()
	site := newSite(t)
	ntfy := servicefake.NewNtfy(true) // no token given: 401
	defer ntfy.Close()
	e := newInitEnv(t)
	path := filepath.Join(e.dir, "config.yaml")
	code, _, errOut := e.run(nil, false, "init", "--config", path, "--feed", site.URL, "--notifier", "ntfy", "--ntfy-url", ntfy.URL(), "--ntfy-topic", "news")
	if code != 1 || !strings.Contains(errOut, "test push failed") || !strings.Contains(errOut, "crier test-notify --config "+path+" ntfy") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	e.load(t, path)
}

package crier

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fakeEnv returns an Env function answering from m only.
func fakeEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// fakeFiles returns a ReadFile answering from m, with the OS's error for
// anything else.
func fakeFiles(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if v, ok := m[p]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func testOptions(env, files map[string]string) LoadOptions {
	return LoadOptions{Env: fakeEnv(env), ReadFile: fakeFiles(files), Home: "/home/u"}
}

func loadString(t *testing.T, src string, env, files map[string]string) (*Config, error) {
	t.Helper()
	return Load(strings.NewReader(src), "/etc/crier/config.yaml", testOptions(env, files))
}

func mustLoad(t *testing.T, src string, env, files map[string]string) *Config {
	t.Helper()
	cfg, err := loadString(t, src, env, files)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// uncommentExample turns on what config.example.yaml ships commented out
// (one notifier of each type, the API token), as a user would.
func uncommentExample(data []byte) string {
	s := regexp.MustCompile(`(?m)^  # (- |  )`).ReplaceAllString(string(data), "  $1")
	s = strings.Replace(s, "  # public_url: ", "  public_url: ", 1)
	return strings.Replace(s, "  # token_file: ${CREDENTIALS_DIRECTORY}/api-token", "  token_file: ${CREDENTIALS_DIRECTORY}/api-token", 1)
}

// TestExampleConfig loads the example with everything in it turned on:
// it documents every option, and every one must load. (That it starts as
// shipped under the unit is cmd/crier's TestExampleConfigStartsUnderTheUnit.)
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"CREDENTIALS_DIRECTORY": "/run/credentials/crier.service",
		"STATE_DIRECTORY":       "/var/lib/crier",
		"NTFY_TOKEN":            "tk_ntfy",
		"DISCORD_WEBHOOK_URL":   "https://discord.com/api/webhooks/1/abc",
		"WEBHOOK_TOKEN":         "hooktoken",
	}
	var read []string
	opt := LoadOptions{
		Env:  fakeEnv(env),
		Home: "/home/u",
		ReadFile: func(p string) ([]byte, error) {
			read = append(read, p)
			if strings.HasSuffix(p, "slack-webhook") {
				return []byte("https://hooks.slack.com/services/T/B/x\n"), nil
			}
			return []byte("secret-of-" + filepath.Base(p) + "\n"), nil
		},
	}
	cfg, err := Load(strings.NewReader(uncommentExample(data)), "config.example.yaml", opt)
	if err != nil {
		t.Fatalf("the example config does not load:\n%v", err)
	}

	if cfg.StateDir != "/var/lib/crier" || cfg.Retention != 90*24*time.Hour {
		t.Errorf("state_dir %q retention %v", cfg.StateDir, cfg.Retention)
	}
	if cfg.HTTP.Token != "secret-of-api-token" || cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.HTTP.MaxBody != 10<<20 {
		t.Errorf("http = %+v", cfg.HTTP)
	}
	if cfg.HTTP.PublicURL != "https://crier.example.org" {
		t.Errorf("http.public_url = %q", cfg.HTTP.PublicURL)
	}
	wantTypes := []string{"pushover", "jsonl", "console", "ntfy", "gotify", "telegram", "discord", "slack", "webhook", "email", "exec"}
	var types []string
	for _, n := range cfg.Notifiers {
		types = append(types, n.Type)
	}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("notifier types = %v, want one of each: %v", types, wantTypes)
	}
	phone, _ := cfg.Notifier("phone")
	if phone.Options["token"] != "secret-of-pushover-token" || phone.Options["user"] != "secret-of-pushover-user" {
		t.Errorf("pushover secrets = %q, %q", phone.Options["token"], phone.Options["user"])
	}
	if phone.Options["retry"] != "1m0s" || phone.QuietHours == nil || phone.QuietHours.From != 22*time.Hour {
		t.Errorf("pushover retry %q quiet hours %+v", phone.Options["retry"], phone.QuietHours)
	}
	if log, _ := cfg.Notifier("log"); log.Options["path"] != "/var/lib/crier/notifications.jsonl" || log.Burst == nil || *log.Burst != 0 {
		t.Errorf("jsonl = %+v", log)
	}
	if slack, _ := cfg.Notifier("slack"); slack.Options["webhook_url"] != "https://hooks.slack.com/services/T/B/x" || slack.Options["blocks"] != "true" {
		t.Errorf("slack options = %v", slack.Options)
	}
	if wh, _ := cfg.Notifier("webhook"); wh.Maps["headers"]["Authorization"] != "Bearer hooktoken" {
		t.Errorf("webhook headers = %v", wh.Maps)
	}
	if em, _ := cfg.Notifier("email"); em.Options["port"] != "587" || !slices.Equal(em.Lists["to"], []string{"me@example.org"}) {
		t.Errorf("email = %v %v", em.Options, em.Lists)
	}
	if !slices.Contains(read, "/run/credentials/crier.service/smtp-password") {
		t.Errorf("password_file not read; read %v", read)
	}

	if len(cfg.Feeds) != 4 {
		t.Fatalf("got %d feeds, want 4", len(cfg.Feeds))
	}
	if f := cfg.Feeds[0]; f.Name != "www.rt.com/rss/news" || len(f.Notify) != len(wantTypes) {
		t.Errorf("feed 0 name %q notify %v", f.Name, f.Notify)
	}
	if f := cfg.Feeds[0]; f.WebSub != WebSubAuto || f.WebSubFallback != time.Hour || cfg.Feeds[3].WebSub != WebSubOff {
		t.Errorf("websub: feed 0 %q %v, status page %q", f.WebSub, f.WebSubFallback, cfg.Feeds[3].WebSub)
	}
	lwn := cfg.Feeds[2]
	if lwn.Name != "LWN" || lwn.Priority == nil || *lwn.Priority != -1 || lwn.AlertAfter != 48*time.Hour || len(lwn.Rules) != 2 {
		t.Errorf("LWN = %+v", lwn)
	}
	if !lwn.Rules[0].Match.Match("Security updates for Tuesday") || lwn.Rules[0].Match.Match("Kernel prepatch") {
		t.Errorf("LWN rule 0 matches the wrong things")
	}
	if !cfg.Feeds[1].Include.Match("Rust 2.0 released") || cfg.Feeds[1].Include.Match("trust me") {
		t.Errorf("HN include matches the wrong things")
	}
}

// TestLoadErrors checks that each kind of problem is reported, at its
// line, with a message that names what is wrong. Each want entry must be
// a substring of one error line, in order, and nothing else may be reported.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOME_TOKEN": "x"}
	files := map[string]string{"/etc/crier/token": "tok\n", "/etc/crier/empty": "\n"}
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level key", "notifiers: [{type: console}]\nfeed:\n  - url: https://a.example/\n",
			[]string{":2: feed: unknown key"}},
		{"unknown feed key", `notifiers: [{type: console}]
feeds:
  - url: https://a.example/
    shedule: "@hourly"
`, []string{":4: feeds[0].shedule: unknown key"}},
		{"unknown notifier key", `notifiers:
  - type: console
    colour: red
`, []string{":3: notifiers[0].colour: unknown key"}},
		{"duplicate key", `notifiers: [{type: console}]
retention: 1d
retention: 2d
`, []string{":3: retention: duplicate key (first at line 2)"}},
		{"bad schedule", `notifiers: [{type: console}]
defaults:
  schedule: "every 10 minutes"
`, []string{`:3: defaults.schedule: invalid schedule "every 10 minutes"`}},
		{"bare TZ", `notifiers: [{type: console}]
feeds:
  - url: https://a.example/
    schedule: "TZ="
  - url: https://b.example/
    schedule: "CRON_TZ=UTC"
`, []string{":4: feeds[0].schedule: invalid schedule", ":6: feeds[1].schedule: invalid schedule \"CRON_TZ=UTC\": a time zone prefix needs a schedule"}},
		{"bad duration", `notifiers: [{type: console}]
defaults:
  timeout: 30
  max_backoff: 1 hour
retention: 0s
`, []string{`:3: defaults.timeout: invalid duration "30"`, `:4: defaults.max_backoff: invalid duration "1 hour"`, ":5: retention: must be greater than 0"}},
		{"bad size", `notifiers: [{type: console}]
http:
  max_body: 10 megs
`, []string{`:3: http.max_body: invalid size "10 megs"`}},
		{"duplicate url", `notifiers: [{type: console}]
feeds:
  - name: one
    url: https://a.example/feed
  - name: two
    url: https://a.example/feed
`, []string{`:6: feeds[1].url: duplicate feed url "https://a.example/feed" (first at line 4)`}},
		{"duplicate name", `notifiers: [{type: console}]
feeds:
  - name: News
    url: https://a.example/feed
  - name: News
    url: https://b.example/feed
  - url: https://c.example/x?a=1
  - url: https://c.example/x?a=2
`, []string{`:5: feeds[1].name: duplicate feed name "News" (first at line 3)`,
			`:8: feeds[3].name: duplicate feed name "c.example/x" (first at line 7) (the name comes from the url`}},
		{"duplicate notifier name", `notifiers:
  - type: console
  - type: console
`, []string{`:3: notifiers[1].name: duplicate notifier name "console" (first at line 2) (the name defaults to the type`}},
		{"unknown notifier in notify", `notifiers: [{name: phone, type: console}]
defaults:
  notify: [phone, pager]
alerts:
  notify: [mail]
feeds:
  - url: https://a.example/
    notify: [phon]
    rules:
      - match: x
        notify: [sms]
`, []string{`:3: defaults.notify[1]: unknown notifier "pager" (notifiers: phone)`,
			`:5: alerts.notify[0]: unknown notifier "mail"`,
			`:8: feeds[0].notify[0]: unknown notifier "phon"`,
			`:11: feeds[0].rules[0].notify[0]: unknown notifier "sms"`}},
		{"missing secret", `notifiers:
  - type: pushover
    user: u
`, []string{":2: notifiers[0].token: missing secret: set token or token_file"}},
		{"secret twice", `notifiers:
  - type: gotify
    url: https://g.example
    token: abc
    token_file: /etc/crier/token
`, []string{":5: notifiers[0].token_file: give token or token_file, not both (token is at line 4)"}},
		{"unreadable _file", `notifiers:
  - type: gotify
    url: https://g.example
    token_file: /etc/crier/nope
  - type: telegram
    chat_id: 1
    token_file: /etc/crier/empty
`, []string{":4: notifiers[0].token_file: open /etc/crier/nope: file does not exist",
			":7: notifiers[1].token_file: the file is empty"}},
		{"unset variable", `notifiers:
  - type: gotify
    url: https://${GOTIFY_HOST}/
    token: ${HOME_TOKEN}${NOPE}
`, []string{":3: notifiers[0].url: environment variable GOTIFY_HOST is not set",
			":4: notifiers[0].token: environment variable NOPE is not set"}},
		{"bad variable syntax", `notifiers: [{type: console}]
http:
  user_agent: "crier ${oops"
`, []string{":3: http.user_agent: unterminated ${"}},
		{"priority out of range", `notifiers:
  - type: console
    priority: 3
feeds:
  - url: https://a.example/
    priority: -3
    rules:
      - match: x
        priority: high
`, []string{":3: notifiers[0].priority: 3 is out of range -2..2",
			":6: feeds[0].priority: -3 is out of range -2..2",
			`:9: feeds[0].rules[0].priority: expected a whole number, got "high"`}},
		{"bad regex", `notifiers: [{type: console}]
defaults:
  include:
    - fine
    - /([a-z]/
feeds:
  - url: https://a.example/
    rules:
      - match: "/a(/"
        priority: 1
`, []string{`:5: defaults.include[1]: bad pattern "/([a-z]/"`, `:9: feeds[0].rules[0].match: bad pattern "/a(/"`}},
		{"bad rule", `notifiers: [{type: console}]
feeds:
  - url: https://a.example/
    rules:
      - priority: 1
      - match: x
`, []string{":5: feeds[0].rules[0].match: missing match", ":6: feeds[0].rules[1]: a rule needs priority or notify"}},
		{"bad template", `notifiers:
  - type: console
    title_template: "{{.Title"
    message_template: "{{.Summary | shout}}"
  - name: typo
    type: console
    title_template: "{{.Titel}}"
  - type: webhook
    url: https://h.example/
    template: "{{end}}"
`, []string{`:3: notifiers[0].title_template: template: title_template:1: unclosed action`,
			`:4: notifiers[0].message_template: template: message_template:1: function "shout" not defined`,
			`:7: notifiers[1].title_template: template: title_template:1:2: executing "title_template" at <.Titel>: can't evaluate field Titel`,
			`:10: notifiers[2].template: template: template:1: unexpected {{end}}`}},
		{"bad quiet_hours", `notifiers:
  - name: a
    type: console
    quiet_hours: {from: "22:00", to: "22:00"}
  - name: b
    type: console
    quiet_hours: {from: "25:00", to: "7"}
  - name: c
    type: console
    quiet_hours: {from: "22:00", tz: Mars/Olympus}
`, []string{`:4: notifiers[0].quiet_hours.to: from and to are both 22:00`,
			`:7: notifiers[1].quiet_hours.from: expected a time of day HH:MM`,
			`:7: notifiers[1].quiet_hours.to: expected a time of day HH:MM`,
			`:10: notifiers[2].quiet_hours.tz: unknown time zone "Mars/Olympus"`}},
		{"digest with quiet_hours", `notifiers:
  - type: console
    quiet_hours: {from: "22:00", to: "07:00"}
    digest: "0 3 * * *"
  - name: often
    type: console
    digest: "@every 1h"
`, []string{`:4: notifiers[0].digest: digest and quiet_hours cannot be combined`,
			`:7: notifiers[1].digest: a digest needs calendar times`}},
		{"pushover emergency", `notifiers:
  - type: pushover
    token: t
    user: u
    priority: 2
  - name: p2
    type: pushover
    token: t
    user: u
    retry: 10
    expire: 4h
`, []string{":2: notifiers[0].retry: priority 2 (emergency) needs retry and expire",
			":2: notifiers[0].expire: priority 2 (emergency) needs retry and expire",
			":10: notifiers[1].retry: must be at least 30s",
			":11: notifiers[1].expire: must be at most 3h"}},
		{"no notifiers", "feeds: []\n", []string{":1: notifiers: at least one notifier is required"}},
		{"empty notifiers", "notifiers: []\n", []string{":1: notifiers: at least one notifier is required"}},
		{"null type", "notifiers: [{type}]\n", []string{":1: notifiers[0].type: missing type"}},
		{"wrong types", `notifiers:
  type: console
feeds:
  - url: https://a.example/
    notify: phone
    include: {a: b}
`, []string{":2: notifiers: expected a list, got a mapping",
			`:5: feeds[0].notify: expected a list, got "phone"`,
			":6: feeds[0].include: expected a list, got a mapping"}},
		{"bad type and missing keys", `notifiers:
  - type: carrier-pigeon
    loft: roof
  - name: x
  - type: ntfy
  - type: email
    host: mail.example
    from: not an address
    to: []
    tls: ssl
    port: 99999
`, []string{`:2: notifiers[0].type: unknown notifier type "carrier-pigeon" (one of: console, discord`,
			":4: notifiers[1].type: missing type",
			":5: notifiers[2].topic: missing required key topic",
			`:8: notifiers[3].from: invalid address "not an address"`,
			":9: notifiers[3].to: must not be empty",
			`:10: notifiers[3].tls: "ssl" is not one of: starttls, tls, none`,
			":11: notifiers[3].port: 99999 is out of range 1..65535"}},
		{"bad urls", `notifiers:
  - type: discord
    webhook_url: hooks.example/secret-token
  - type: ntfy
    url: ftp://ntfy.example
    topic: t
feeds:
  - url: /relative/feed
  - name: no url
`, []string{":3: notifiers[0].webhook_url: expected an absolute http:// or https:// URL",
			`:5: notifiers[1].url: expected an absolute http:// or https:// URL, got "ftp://ntfy.example"`,
			`:8: feeds[0].url: expected an absolute http:// or https:// URL, got "/relative/feed"`,
			":9: feeds[1].url: missing url"}},
		{"bad http", `notifiers: [{type: console}]
http:
  concurrency: 0
  listen: localhost
  per_host: two
`, []string{":3: http.concurrency: 0 is out of range (must be >= 1)",
			`:4: http.listen: expected host:port`,
			`:5: http.per_host: expected a whole number, got "two"`}},
		{"yaml syntax", "notifiers:\n  - type: console\n    name: [a\n", []string{":2: YAML syntax: did not find expected ',' or ']'"}},
		{"yaml tab", "notifiers:\n\t- type: console\n", []string{":2: YAML syntax: found character that cannot start any token"}},
		{"two documents", "notifiers: [{type: console}]\n---\nfeeds: []\n", []string{":2: a config holds one YAML document"}},
		{"not a mapping", "- a\n- b\n", []string{":1: expected a mapping, got a list"}},
		{"bad bool", `notifiers: [{type: console}]
defaults:
  respect_ttl: sometimes
`, []string{`:3: defaults.respect_ttl: expected true or false, got "sometimes"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadString(t, tt.src, env, files)
			if err == nil {
				t.Fatalf("Load succeeded (%d feeds), want errors %q", len(cfg.Feeds), tt.want)
			}
			var ces ConfigErrors
			if !errors.As(err, &ces) {
				t.Fatalf("error is %T, want ConfigErrors: %v", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], "/etc/crier/config.yaml:") || !strings.Contains(got[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestManyErrorsGolden checks that one run reports every problem of a
// badly broken file, sorted by line.
func TestManyErrorsGolden(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "config", "many-errors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(strings.NewReader(string(src)), "many-errors.yaml", testOptions(nil, nil))
	if err == nil {
		t.Fatal("Load succeeded on a broken config")
	}
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "config", "many-errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("errors differ from %s (go test -update to accept):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	_, err := loadString(t, `notifiers:
  - type: slack
    webhook_url: not-a-url-but-s3cr3t
`, nil, nil)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error = %v; want an error that does not quote the secret", err)
	}
}

// TestURLsNeedAHost: a URL crier could never reach is a load error at its
// line, for feeds and for notifiers, secret or not.
func TestURLsNeedAHost(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https:/example.com/rss", "http://", "http:///rss", "https://:443/rss", "http://@/rss"} {
		src := "notifiers:\n" +
			"  - {type: console}\n" +
			"  - type: webhook\n    url: \"" + u + "\"\n" +
			"  - type: discord\n    webhook_url: \"" + u + "\"\n" +
			"  - type: ntfy\n    topic: news\n    url: \"" + u + "\"\n" +
			"feeds:\n  - url: \"" + u + "\"\n"
		_, err := loadString(t, src, nil, nil)
		for _, want := range []string{":4: notifiers[1].url:", ":6: notifiers[2].webhook_url:", ":9: notifiers[3].url:", ":11: feeds[0].url:"} {
			if err == nil || !strings.Contains(err.Error(), "/etc/crier/config.yaml"+want) {
				t.Errorf("%q: want an error at %q, got:\n%v", u, want, err)
			}
		}
	}
}

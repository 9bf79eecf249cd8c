package crier

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadAppliesDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `notifiers:
  - type: pushover
    token: t
    user: u
  - type: jsonl
    path: log/items.jsonl
feeds:
  - url: https://www.rt.com/rss/news/
  - url: https://example.org
  - name: Slow
    url: https://slow.example/feed
    schedule: "@daily"
    timeout: 2m
    notify: [jsonl]
`, nil, nil)

	if cfg.Path != "/etc/crier/config.yaml" {
		t.Errorf("Path = %q", cfg.Path)
	}
	if cfg.StateDir != "/home/u/.local/state/crier" {
		t.Errorf("StateDir = %q", cfg.StateDir)
	}
	if cfg.Retention != 90*24*time.Hour {
		t.Errorf("Retention = %v", cfg.Retention)
	}
	wantUA := "crier/" + Version + " (+https://github.com/crierd/crier)"
	h := cfg.HTTP
	if h.UserAgent != wantUA || h.Concurrency != 8 || h.PerHost != 2 || h.MaxBody != 10<<20 || h.Listen != "" || h.Token != "" {
		t.Errorf("HTTP = %+v, want defaults with user agent %q", h, wantUA)
	}
	d := cfg.Defaults
	if d.Schedule != "@every 10m" || d.Timeout != 30*time.Second || d.Burst != 5 || d.MaxItems != 500 ||
		d.MaxBackoff != 24*time.Hour || d.AlertAfter != 24*time.Hour || d.StaleAfter != 0 || d.Backfill != 0 || d.RespectTTL {
		t.Errorf("Defaults = %+v", d)
	}
	if len(cfg.Alerts.Notify) != 0 {
		t.Errorf("Alerts.Notify = %v, want none", cfg.Alerts.Notify)
	}

	po, jl := cfg.Notifiers[0], cfg.Notifiers[1]
	if po.Name != "pushover" || jl.Name != "jsonl" {
		t.Errorf("notifier names = %q, %q; want their types", po.Name, jl.Name)
	}
	if po.Line != 2 || jl.Line != 5 {
		t.Errorf("notifier lines = %d, %d; want 2, 5", po.Line, jl.Line)
	}
	if po.Burst != nil || jl.Burst == nil || *jl.Burst != 0 {
		t.Errorf("burst: pushover %v, jsonl %v; want nil and 0", po.Burst, jl.Burst)
	}
	if po.Option("api_url", "") != "https://api.pushover.net/1" || po.Options["timeout"] != "10s" {
		t.Errorf("pushover options = %v", po.Options)
	}
	if got := jl.Options["path"]; got != "/home/u/.local/state/crier/log/items.jsonl" {
		t.Errorf("jsonl path = %q, want it under state_dir", got)
	}

	rt, ex, slow := cfg.Feeds[0], cfg.Feeds[1], cfg.Feeds[2]
	if rt.Name != "www.rt.com/rss/news" || ex.Name != "example.org" {
		t.Errorf("feed names = %q, %q; want host+path", rt.Name, ex.Name)
	}
	if rt.Line != 8 || slow.Line != 10 {
		t.Errorf("feed lines = %d, %d", rt.Line, slow.Line)
	}
	if !slices.Equal(rt.Notify, []string{"pushover", "jsonl"}) {
		t.Errorf("feed notify = %v, want every notifier in config order", rt.Notify)
	}
	if rt.Schedule != "@every 10m" || rt.Timeout != 30*time.Second || rt.Burst != 5 || rt.MaxItems != 500 || rt.Priority != nil {
		t.Errorf("feed did not get the defaults: %+v", rt)
	}
	if slow.Schedule != "@daily" || slow.Timeout != 2*time.Minute || !slices.Equal(slow.Notify, []string{"jsonl"}) {
		t.Errorf("feed overrides lost: %+v", slow)
	}
}

func TestLoadDefaultsSectionReachesFeeds(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `notifiers: [{name: a, type: console}, {name: b, type: console}]
defaults:
  notify: [b]
  burst: 0
  include: [go]
  exclude: [/^ad:/]
  respect_ttl: yes
  stale_after: 7d
feeds:
  - url: https://a.example/
  - url: https://b.example/
    include: []
    notify: [a]
`, nil, nil)
	a, b := cfg.Feeds[0], cfg.Feeds[1]
	if !slices.Equal(a.Notify, []string{"b"}) || !slices.Equal(b.Notify, []string{"a"}) {
		t.Errorf("notify = %v, %v; want defaults.notify then the feed's own", a.Notify, b.Notify)
	}
	if a.Burst != 0 || !a.RespectTTL || a.StaleAfter != 7*24*time.Hour {
		t.Errorf("feed a = %+v", a)
	}
	if !a.Include.Match("Go 1.26") || !a.Exclude.Match("AD: buy now") || a.Exclude.Match("bad: news") {
		t.Errorf("feed a matchers wrong: include %v exclude %v", a.Include.Patterns, a.Exclude.Patterns)
	}
	if !b.Include.Empty() {
		t.Errorf("feed b include = %v, want its empty override", b.Include.Patterns)
	}
}

func TestLoadPathsAndSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{"STATE_DIRECTORY": "/var/lib/crier:/var/lib/other", "TOPIC": "news", "DIR": "/run/creds"}
	files := map[string]string{
		"/etc/crier/ntfy.pass":   "hunter2 \n",
		"/run/creds/api":         "apitoken\n",
		"/home/u/.secrets/token": "gtok",
	}
	cfg := mustLoad(t, `http:
  token_file: ${DIR}/api
  listen: unix:/run/crier/http.sock
  max_body: 1.5MiB
notifiers:
  - type: ntfy
    topic: crier-${TOPIC}
    password_file: ntfy.pass
    tags: [a, b]
  - type: gotify
    url: https://g.example/
    token_file: ~/.secrets/token
  - &base
    name: mail
    type: email
    host: smtp.example
    from: crier@example.org
    to: [a@example.org]
    tls: TLS
  - <<: *base
    name: mail2
    port: "465"
`, env, files)
	if cfg.StateDir != "/var/lib/crier" {
		t.Errorf("StateDir = %q, want the first $STATE_DIRECTORY entry", cfg.StateDir)
	}
	if cfg.HTTP.Token != "apitoken" || cfg.HTTP.MaxBody != 1572864 || cfg.HTTP.Listen != "unix:/run/crier/http.sock" {
		t.Errorf("HTTP = %+v", cfg.HTTP)
	}
	ntfy := cfg.Notifiers[0]
	if ntfy.Options["topic"] != "crier-news" || ntfy.Options["password"] != "hunter2" || ntfy.Options["url"] != "https://ntfy.sh" {
		t.Errorf("ntfy options = %v", ntfy.Options)
	}
	if !slices.Equal(ntfy.Lists["tags"], []string{"a", "b"}) {
		t.Errorf("ntfy tags = %v", ntfy.Lists["tags"])
	}
	if cfg.Notifiers[1].Options["token"] != "gtok" {
		t.Errorf("gotify token = %q, want it read from ~/.secrets/token", cfg.Notifiers[1].Options["token"])
	}
	m1, m2 := cfg.Notifiers[2], cfg.Notifiers[3]
	if m1.Options["tls"] != "tls" || m1.Options["port"] != "587" || m1.Options["per"] != "item" {
		t.Errorf("mail options = %v", m1.Options)
	}
	if m2.Name != "mail2" || m2.Options["host"] != "smtp.example" || m2.Options["port"] != "465" {
		t.Errorf("merged mail2 = %q %v", m2.Name, m2.Options)
	}
}

func TestLoadEscapedDollar(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `notifiers:
  - type: webhook
    url: https://h.example/
    template: '{"x": "$${NOT_A_VAR}", "y": "cost $5"}'
feeds:
  - url: https://a.example/
    include: ["/end$/"]
`, nil, nil)
	if got := cfg.Notifiers[0].Options["template"]; got != `{"x": "${NOT_A_VAR}", "y": "cost $5"}` {
		t.Errorf("template = %q", got)
	}
	if !cfg.Feeds[0].Include.Match("the end") || cfg.Feeds[0].Include.Match("endless") {
		t.Errorf("regex anchor lost: %v", cfg.Feeds[0].Include.Patterns)
	}
}

func TestLoadNotifierOptionForms(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `notifiers:
  - type: pushover
    token: t
    user: u
    priority: 2
    retry: 60
    expire: 2h
  - type: telegram
    token: t
    chat_id: -100123
    link_preview: on
  - type: webhook
    url: https://h.example/
    method: put
    timeout: 5s
  - type: exec
    command: [notify-send, crier]
    quiet_hours: {from: "23:30", to: "6:00", tz: UTC}
`, nil, nil)
	po, tg, wh, ex := cfg.Notifiers[0], cfg.Notifiers[1], cfg.Notifiers[2], cfg.Notifiers[3]
	if po.Priority != 2 || po.Options["retry"] != "1m0s" || po.Options["expire"] != "2h0m0s" {
		t.Errorf("pushover = %d %v", po.Priority, po.Options)
	}
	if tg.Options["chat_id"] != "-100123" || tg.Options["link_preview"] != "true" {
		t.Errorf("telegram options = %v", tg.Options)
	}
	if wh.Options["method"] != "PUT" || wh.Options["timeout"] != "5s" {
		t.Errorf("webhook options = %v", wh.Options)
	}
	if ex.Options["timeout"] != "30s" || !slices.Equal(ex.Lists["command"], []string{"notify-send", "crier"}) {
		t.Errorf("exec = %v %v", ex.Options, ex.Lists)
	}
	q := ex.QuietHours
	if q == nil || q.From != 23*time.Hour+30*time.Minute || q.To != 6*time.Hour || q.Location != time.UTC {
		t.Errorf("quiet hours = %+v", q)
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	if _, err := LoadFile(t.TempDir()+"/missing.yaml", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("LoadFile(missing) = %v, want an error naming the file", err)
	}
}

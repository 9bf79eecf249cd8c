package crier

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func defaultConfig() *Config {
	return &Config{
		Defaults: Defaults{
			Schedule:   "@every 10m",
			Timeout:    30 * time.Second,
			Burst:      5,
			MaxItems:   500,
			MaxBackoff: 24 * time.Hour,
			AlertAfter: 24 * time.Hour,
			WebSub:     WebSubAuto,

			WebSubFallback: time.Hour,
		},
		Retention: 90 * 24 * time.Hour,
		HTTP: HTTPConfig{
			Concurrency: 8,
			PerHost:     2,
			MaxBody:     10 << 20,
			UserAgent:   "crier/" + Version + " (+" + ProjectURL + ")",
		},
	}
}

func (l *loader) config(root *yaml.Node) *Config {
	cfg := defaultConfig()
	es, ok := l.entries(root, "")
	if !ok {
		return cfg
	}
	sec := map[string]entry{}
	for _, e := range es {
		switch e.key {
		case "state_dir", "defaults", "retention", "http", "alerts", "notifiers", "feeds", "store":
			sec[e.key] = e
		default:
			l.unknown(e, "")
		}
	}

	cfg.StateDir = defaultStateDir(l.opt.Env, l.opt.Home)
	if e, ok := sec["state_dir"]; ok {
		if s, ok := l.str(e.v, "state_dir"); ok && s != "" {
			cfg.StateDir = l.path(s, l.dir)
		}
	}
	if cfg.StateDir == "" {
		l.errf(root, "state_dir", "no home directory and no $STATE_DIRECTORY: set state_dir")
	}
	if e, ok := sec["retention"]; ok {
		if d, ok := l.duration(e.v, "retention", 1); ok {
			cfg.Retention = d
		}
	}
	if e, ok := sec["http"]; ok {
		l.httpConfig(e.v, &cfg.HTTP)
	}
	if e, ok := sec["store"]; ok {
		l.storeConfig(e.v, &cfg.Store)
		if cfg.Store.Postgres != nil && cfg.HTTP.PublicURL != "" {
			// A hub verifies and pushes to one callback; which worker
			// of a fleet answers for a subscription is not decided yet.
			l.errf(e.k, "store.postgres", "WebSub (http.public_url) is not supported with a PostgreSQL store yet: remove http.public_url, and feeds are polled")
		}
	}
	if e, ok := sec["alerts"]; ok {
		es, _ := l.entries(e.v, "alerts")
		for _, a := range es {
			if a.key == "notify" {
				cfg.Alerts.Notify = l.notifierNames(a.v, "alerts.notify")
				continue
			}
			l.unknown(a, "alerts")
		}
	}

	e, ok := sec["notifiers"]
	before := len(l.errs)
	if ok {
		cfg.Notifiers = l.notifiers(e.v, cfg.StateDir)
	}
	if len(cfg.Notifiers) == 0 && len(l.errs) == before {
		at := root
		if ok {
			at = e.k
		}
		l.errf(at, "notifiers", "at least one notifier is required")
	}

	if e, ok := sec["defaults"]; ok {
		es, _ := l.entries(e.v, "defaults")
		for _, d := range es {
			if !l.setting(&cfg.Defaults, d, "defaults") {
				l.unknown(d, "defaults")
			}
		}
	}
	if e, ok := sec["feeds"]; ok {
		cfg.Feeds = l.feeds(e.v, cfg)
	}
	l.checkRefs(cfg)
	return cfg
}

// checkRefs reports notifier names that name no notifier.
func (l *loader) checkRefs(cfg *Config) {
	var known []string
	for _, n := range cfg.Notifiers {
		known = append(known, n.Name)
	}
	for _, r := range l.refs {
		switch {
		case slices.Contains(known, r.name):
		case len(known) == 0:
			l.errf(r.node, r.field, "unknown notifier %q", r.name)
		default:
			l.errf(r.node, r.field, "unknown notifier %q (notifiers: %s)", r.name, strings.Join(known, ", "))
		}
	}
}

func (l *loader) httpConfig(n *yaml.Node, h *HTTPConfig) {
	es, _ := l.entries(n, "http")
	secret := secretEntries{}
	var publicURL entry
	for _, e := range es {
		f := sub("http", e.key)
		switch e.key {
		case "concurrency":
			if v, ok := l.integer(e.v, f, 1, maxInt); ok {
				h.Concurrency = v
			}
		case "per_host":
			if v, ok := l.integer(e.v, f, 1, maxInt); ok {
				h.PerHost = v
			}
		case "max_body":
			if s, ok := l.str(e.v, f); ok {
				if v, err := ParseSize(s); err != nil {
					l.errf(e.v, f, "%v", err)
				} else if v <= 0 {
					l.errf(e.v, f, "must be greater than 0")
				} else {
					h.MaxBody = v
				}
			}
		case "user_agent":
			if s, ok := l.str(e.v, f); ok && strings.TrimSpace(s) != "" {
				h.UserAgent = s
			}
		case "listen":
			if s, ok := l.str(e.v, f); ok {
				if err := checkListen(s); err != nil {
					l.errf(e.v, f, "%v", err)
				} else {
					h.Listen = s
				}
			}
		case "token", "token_file":
			secret[e.key] = e
		case "public_url":
			publicURL = e
			if s, ok := l.str(e.v, f); ok {
				if err := checkPublicURL(s); err != nil {
					l.errf(e.v, f, "%v", err)
				} else {
					h.PublicURL = strings.TrimRight(strings.TrimSpace(s), "/")
				}
			}
		default:
			l.unknown(e, "http")
		}
	}
	h.Token = l.secret(secret, "token", "http", false, n)
	if h.PublicURL != "" && h.Listen == "" {
		l.errf(publicURL.v, "http.public_url", "needs http.listen: hubs post to crier's listener (directly or through a reverse proxy)")
	}
}

func checkListen(s string) error {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if p == "" {
			return fmt.Errorf("unix: needs a socket path, e.g. unix:/run/crier/http.sock")
		}
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("expected host:port (e.g. 127.0.0.1:8080) or unix:/path, got %q", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// checkURL accepts absolute http(s) URLs with a host name only: anything
// else ("https:/x", "http://", "https://:443/") is a typo crier could never
// fetch or post to.
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("expected an absolute http:// or https:// URL, got %q", s)
	}
	return u, nil
}

// secretEntries holds KEY and KEY_file entries of one mapping until both
// have been seen.
type secretEntries map[string]entry

// secret resolves KEY or KEY_file to the secret's value, reporting a
// missing required secret at the entry's line (at). It returns "" when the
// secret is absent or broken (already reported).
func (l *loader) secret(s secretEntries, key, field string, required bool, at *yaml.Node) string {
	plain, hasPlain := s[key]
	file, hasFile := s[key+"_file"]
	var v string
	var ok bool
	switch {
	case hasPlain && hasFile:
		l.errf(file.k, sub(field, key+"_file"), "give %s or %s_file, not both (%s is at line %d)", key, key, key, plain.k.Line)
		return ""
	case hasFile:
		v, _ = l.readSecret(file.v, sub(field, key+"_file"))
		return v
	case hasPlain:
		v, ok = l.str(plain.v, sub(field, key))
		if ok || isNull(plain.v) {
			if v == "" && required {
				l.errf(plain.v, sub(field, key), "missing secret: must not be empty")
			}
		}
		return v
	}
	if required {
		l.errf(at, sub(field, key), "missing secret: set %s or %s_file", key, key)
	}
	return ""
}

// checkPublicURL accepts the base of the WebSub callback URLs: an absolute
// http(s) URL to which crier appends /websub/ID.
func checkPublicURL(s string) error {
	u, err := checkURL(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("no query or fragment: crier appends /websub/ID to it, got %q", s)
	}
	return nil
}

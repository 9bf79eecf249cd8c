package crier

import (
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// setting parses one of the keys that `defaults:` and a feed share into d.
// It returns false when e is not one of them.
func (l *loader) setting(d *Defaults, e entry, field string) bool {
	f := sub(field, e.key)
	switch e.key {
	case "schedule":
		if s, ok := l.schedule(e.v, f); ok {
			d.Schedule = s
		}
	case "backfill":
		if v, ok := l.integer(e.v, f, 0, maxInt); ok {
			d.Backfill = v
		}
	case "notify":
		d.Notify = l.notifierNames(e.v, f)
	case "timeout":
		if v, ok := l.duration(e.v, f, 1); ok {
			d.Timeout = v
		}
	case "burst":
		if v, ok := l.integer(e.v, f, 0, maxInt); ok {
			d.Burst = v
		}
	case "include":
		if m, ok := l.matcher(e.v, f, false); ok {
			d.Include = m
		}
	case "exclude":
		if m, ok := l.matcher(e.v, f, false); ok {
			d.Exclude = m
		}
	case "max_items":
		if v, ok := l.integer(e.v, f, 1, maxInt); ok {
			d.MaxItems = v
		}
	case "max_backoff":
		if v, ok := l.duration(e.v, f, 1); ok {
			d.MaxBackoff = v
		}
	case "respect_ttl":
		if v, ok := l.boolean(e.v, f); ok {
			d.RespectTTL = v
		}
	case "alert_after":
		if v, ok := l.duration(e.v, f, 0); ok {
			d.AlertAfter = v
		}
	case "stale_after":
		if v, ok := l.duration(e.v, f, 0); ok {
			d.StaleAfter = v
		}
	case "websub":
		if s, ok := l.str(e.v, f); ok {
			if v, err := canonical(optSpec{oneOf: []string{WebSubAuto, WebSubOff}}, strings.TrimSpace(s)); err != nil {
				l.errf(e.v, f, "%v", err)
			} else {
				d.WebSub = v
			}
		}
	case "websub_fallback":
		// Under a minute would poll as often as without a hub.
		if v, ok := l.duration(e.v, f, time.Minute); ok {
			d.WebSubFallback = v
		}
	case "same_story":
		if v, ok := l.sameStory(e.v, f); ok {
			d.SameStory = v
		}
	default:
		return false
	}
	return true
}

func (l *loader) schedule(n *yaml.Node, field string) (string, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return "", false
	}
	if err := ValidSchedule(s); err != nil {
		l.errf(n, field, "%v", err)
		return "", false
	}
	return strings.TrimSpace(s), true
}

// matcher compiles a list of patterns, or a single one when single is
// allowed, checking each on its own so a bad regex is reported at its line.
func (l *loader) matcher(n *yaml.Node, field string, single bool) (Matcher, bool) {
	n = resolve(n)
	var pats, fields []string
	var nodes []*yaml.Node
	if single && n.Kind == yaml.ScalarNode && !isNull(n) {
		p, ok := l.str(n, field)
		if !ok {
			return Matcher{}, false
		}
		pats, fields, nodes = []string{p}, []string{field}, []*yaml.Node{n}
	} else {
		ps, ok := l.list(n, field)
		if !ok {
			return Matcher{}, false
		}
		pats, nodes = ps, n.Content
		for i := range ps {
			fields = append(fields, index(field, i))
		}
	}
	ok := true
	for i, p := range pats {
		if _, err := NewMatcher([]string{p}); err != nil {
			l.errf(nodes[i], fields[i], "bad pattern %q: %v", p, err)
			ok = false
		}
	}
	if !ok {
		return Matcher{}, false
	}
	m, _ := NewMatcher(pats)
	return m, true
}

func (l *loader) feeds(n *yaml.Node, cfg *Config) []Feed {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n, "feeds", "expected a list, got %s", kindName(n))
		return nil
	}
	all := make([]string, 0, len(cfg.Notifiers))
	for _, nc := range cfg.Notifiers {
		all = append(all, nc.Name)
	}
	names := map[string]int{}
	urls := map[string]int{}
	var out []Feed
	for i, item := range n.Content {
		field := index("feeds", i)
		f, fn, ok := l.feed(item, field, cfg.Defaults)
		if !ok {
			continue
		}
		if first, dup := names[f.Name]; dup {
			hint := ""
			if fn.derived {
				hint = " (the name comes from the url: give one feed a name)"
			}
			l.errf(fn.name, sub(field, "name"), "duplicate feed name %q (first at line %d)%s", f.Name, first, hint)
		} else {
			names[f.Name] = fn.name.Line
		}
		if first, dup := urls[f.URL]; dup {
			l.errf(fn.url, sub(field, "url"), "duplicate feed url %q (first at line %d)", f.URL, first)
		} else {
			urls[f.URL] = fn.url.Line
		}
		if len(f.Notify) == 0 {
			f.Notify = slices.Clone(cfg.Defaults.Notify)
		}
		if len(f.Notify) == 0 {
			f.Notify = slices.Clone(all)
		}
		out = append(out, f)
	}
	return out
}

// feedNodes remembers where a feed's name and url came from, for the
// duplicate checks.
type feedNodes struct {
	name, url *yaml.Node
	derived   bool // the name was made from the url
}

func (l *loader) feed(n *yaml.Node, field string, d Defaults) (Feed, feedNodes, bool) {
	n = resolve(n)
	es, ok := l.entries(n, field)
	if !ok {
		return Feed{}, feedNodes{}, false
	}
	s := d
	s.Notify = nil // the feed falls back to defaults.notify later
	f := Feed{Line: n.Line}
	var fn feedNodes
	for _, e := range es {
		if l.setting(&s, e, field) {
			continue
		}
		fk := sub(field, e.key)
		switch e.key {
		case "name":
			if v, ok := l.str(e.v, fk); ok && strings.TrimSpace(v) != "" {
				f.Name, fn.name = strings.TrimSpace(v), e.v
			}
		case "url":
			fn.url = e.v
			if v, ok := l.str(e.v, fk); ok {
				v = strings.TrimSpace(v)
				if _, err := checkURL(v); err != nil {
					l.errf(e.v, fk, "%v", err)
				} else {
					f.URL = v
				}
			} else if isNull(e.v) {
				l.errf(e.v, fk, "must not be empty")
			}
		case "priority":
			if v, ok := l.integer(e.v, fk, -2, 2); ok {
				f.Priority = &v
			}
		case "rules":
			f.Rules = l.rules(e.v, fk)
		default:
			l.unknown(e, field)
		}
	}
	if fn.url == nil {
		l.errf(n, sub(field, "url"), "missing url")
	}
	if f.URL == "" {
		return Feed{}, feedNodes{}, false
	}
	if f.Name == "" {
		u, _ := checkURL(f.URL)
		f.Name = u.Host + strings.TrimRight(u.Path, "/")
		fn.name, fn.derived = fn.url, true
	}
	f.Schedule, f.Notify, f.Backfill, f.Timeout = s.Schedule, s.Notify, s.Backfill, s.Timeout
	f.Burst, f.Include, f.Exclude, f.MaxItems = s.Burst, s.Include, s.Exclude, s.MaxItems
	f.SameStory = s.SameStory
	f.MaxBackoff, f.RespectTTL, f.AlertAfter, f.StaleAfter = s.MaxBackoff, s.RespectTTL, s.AlertAfter, s.StaleAfter
	f.WebSub, f.WebSubFallback = s.WebSub, s.WebSubFallback
	return f, fn, true
}

func (l *loader) rules(n *yaml.Node, field string) []Rule {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n, field, "expected a list, got %s", kindName(n))
		return nil
	}
	var out []Rule
	for i, item := range n.Content {
		rf := index(field, i)
		es, ok := l.entries(item, rf)
		if !ok {
			continue
		}
		var r Rule
		var hasMatch, good = false, true
		for _, e := range es {
			fk := sub(rf, e.key)
			switch e.key {
			case "match":
				hasMatch = true
				m, ok := l.matcher(e.v, fk, true)
				if ok && m.Empty() {
					l.errf(e.v, fk, "needs at least one pattern")
					ok = false
				}
				r.Match, good = m, good && ok
			case "priority":
				if v, ok := l.integer(e.v, fk, -2, 2); ok {
					r.Priority = &v
				}
			case "notify":
				if names := l.notifierNames(e.v, fk); len(names) > 0 {
					r.Notify = names
				}
			default:
				l.unknown(e, rf)
			}
		}
		if !hasMatch {
			l.errf(resolve(item), sub(rf, "match"), "missing match")
			good = false
		}
		if !hasKey(es, "priority") && !hasKey(es, "notify") {
			l.errf(resolve(item), rf, "a rule needs priority or notify (or both)")
			good = false
		}
		if good {
			out = append(out, r)
		}
	}
	return out
}

func hasKey(es []entry, key string) bool {
	for _, e := range es {
		if e.key == key {
			return true
		}
	}
	return false
}

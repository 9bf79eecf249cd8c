package crier

import (
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// optKind says how a type-specific option is checked and stored.
type optKind int

const (
	optString   optKind = iota
	optURL              // absolute http(s)
	optBool             // stored "true"/"false"
	optInt              // stored in decimal
	optDuration         // stored as time.Duration.String(), readable by time.ParseDuration
	optSeconds          // like optDuration, but a bare number means seconds
	optList             // Lists[key]
	optMap              // Maps[key]
	optTemplate         // a text/template with TemplateFuncs
	optPath             // relative to state_dir
	optAddress          // an e-mail address
	optMethod           // an HTTP method, stored upper-case
)

type optSpec struct {
	kind     optKind
	secret   bool // may be given as KEY_file instead
	required bool
	def      string
	oneOf    []string
	min, max int // optInt
}

// notifierSchemas lists every notifier type and its options. `timeout` is
// accepted by every type; the table gives it only where it has a default.
func notifierSchemas() map[string]map[string]optSpec {
	return map[string]map[string]optSpec{
		"pushover": {
			"token":   {secret: true, required: true},
			"user":    {secret: true, required: true},
			"sound":   {},
			"device":  {},
			"api_url": {kind: optURL, def: "https://api.pushover.net/1"},
			"retry":   {kind: optSeconds},
			"expire":  {kind: optSeconds},
			"timeout": {kind: optDuration, def: "10s"},
		},
		"jsonl":   {"path": {kind: optPath, required: true}},
		"console": {},
		"ntfy": {
			"url":      {kind: optURL, def: "https://ntfy.sh"},
			"topic":    {required: true},
			"token":    {secret: true},
			"user":     {},
			"password": {secret: true},
			"tags":     {kind: optList},
		},
		"gotify": {
			"url":   {kind: optURL, required: true},
			"token": {secret: true, required: true},
		},
		"telegram": {
			"token":        {secret: true, required: true},
			"chat_id":      {required: true},
			"api_url":      {kind: optURL, def: "https://api.telegram.org"},
			"link_preview": {kind: optBool, def: "false"},
		},
		"discord": {"webhook_url": {kind: optURL, secret: true, required: true}},
		"slack": {
			"webhook_url": {kind: optURL, secret: true, required: true},
			"blocks":      {kind: optBool, def: "false"},
		},
		"webhook": {
			"url":      {kind: optURL, required: true},
			"method":   {kind: optMethod, def: "POST"},
			"headers":  {kind: optMap},
			"template": {kind: optTemplate},
		},
		"email": {
			"host":     {required: true},
			"port":     {kind: optInt, def: "587", min: 1, max: 65535},
			"username": {},
			"password": {secret: true},
			"from":     {kind: optAddress, required: true},
			"to":       {kind: optList, required: true},
			"tls":      {oneOf: []string{"starttls", "tls", "none"}, def: "starttls"},
			"per":      {oneOf: []string{"item"}, def: "item"},
			"list_id":  {},
		},
		"exec": {
			"command": {kind: optList, required: true},
			"timeout": {kind: optDuration, def: "30s"},
		},
	}
}

func (l *loader) notifiers(n *yaml.Node, stateDir string) []NotifierConfig {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n, "notifiers", "expected a list, got %s", kindName(n))
		return nil
	}
	seen := map[string]int{}
	var out []NotifierConfig
	for i, item := range n.Content {
		field := index("notifiers", i)
		nc, nameNode, ok := l.notifier(item, field, stateDir)
		if !ok {
			continue
		}
		if first, dup := seen[nc.Name]; dup {
			hint := ""
			if nameNode == nil {
				hint = " (the name defaults to the type: give each a name)"
				nameNode = resolve(item)
			}
			l.errf(nameNode, sub(field, "name"), "duplicate notifier name %q (first at line %d)%s", nc.Name, first, hint)
			continue
		}
		seen[nc.Name] = nc.Line
		out = append(out, nc)
	}
	return out
}

// notifier parses one entry. It returns the config even when options are
// wrong, so that its name still counts and references to it do not pile
// up as follow-on errors.
func (l *loader) notifier(n *yaml.Node, field, stateDir string) (NotifierConfig, *yaml.Node, bool) {
	n = resolve(n)
	es, ok := l.entries(n, field)
	if !ok {
		return NotifierConfig{}, nil, false
	}
	nc := NotifierConfig{
		Line:    n.Line,
		Options: map[string]string{},
		Lists:   map[string][]string{},
		Maps:    map[string]map[string]string{},
	}
	schemas := notifierSchemas()
	var schema map[string]optSpec
	if i := slices.IndexFunc(es, func(e entry) bool { return e.key == "type" }); i < 0 {
		l.errf(n, sub(field, "type"), "missing type (one of: %s)", strings.Join(slices.Sorted(maps.Keys(schemas)), ", "))
	} else if t, ok := l.str(es[i].v, sub(field, "type")); ok {
		t = strings.ToLower(strings.TrimSpace(t))
		if s, known := schemas[t]; known {
			nc.Type, schema = t, s
			if _, has := schema["timeout"]; !has {
				schema["timeout"] = optSpec{kind: optDuration}
			}
		} else {
			l.errf(es[i].v, sub(field, "type"), "unknown notifier type %q (one of: %s)", t, strings.Join(slices.Sorted(maps.Keys(schemas)), ", "))
		}
	}

	var nameNode *yaml.Node
	secrets := secretEntries{}
	given := map[string]*yaml.Node{}
	for _, e := range es {
		fk := sub(field, e.key)
		switch e.key {
		case "type":
		case "name":
			if v, ok := l.str(e.v, fk); ok && strings.TrimSpace(v) != "" {
				nc.Name, nameNode = strings.TrimSpace(v), e.v
			}
		case "priority":
			if v, ok := l.integer(e.v, fk, -2, 2); ok {
				nc.Priority = v
			}
		case "burst":
			if v, ok := l.integer(e.v, fk, 0, maxInt); ok {
				nc.Burst = &v
			}
		case "quiet_hours":
			nc.QuietHours = l.quietHours(e.v, fk)
		case "title_template", "message_template":
			if v, ok := l.str(e.v, fk); ok {
				if err := parseTemplate(e.key, v); err != nil {
					l.errf(e.v, fk, "%v", err)
				} else if e.key == "title_template" {
					nc.TitleTemplate = v
				} else {
					nc.MessageTemplate = v
				}
			}
		case "digest":
			if v, ok := l.schedule(e.v, fk); ok {
				nc.Digest = v
			}
		default:
			if schema == nil {
				continue // the type is wrong: its options cannot be judged
			}
			base, isFile := strings.CutSuffix(e.key, "_file")
			if spec, ok := schema[e.key]; ok && !spec.secret {
				given[e.key] = e.v
				l.option(&nc, e.key, spec, e.v, fk, stateDir)
			} else if ok || (isFile && schema[base].secret) {
				secrets[e.key] = e
			} else {
				l.unknown(e, field)
			}
		}
	}
	if nc.Name == "" {
		nc.Name = nc.Type
	}
	if schema == nil {
		return nc, nameNode, nc.Name != ""
	}

	for _, key := range slices.Sorted(maps.Keys(schema)) {
		spec := schema[key]
		if spec.secret {
			l.secretOption(&nc, key, spec, secrets, field, n)
			continue
		}
		if given[key] != nil {
			continue
		}
		if spec.required {
			l.errf(n, sub(field, key), "missing required key %s", key)
		} else if spec.def != "" {
			nc.Options[key] = spec.def
		}
	}
	if nc.Type == "jsonl" && nc.Burst == nil {
		zero := 0 // its log is meant to keep every item
		nc.Burst = &zero
	}
	if nc.Type == "pushover" {
		l.pushoverEmergency(&nc, given, field, n)
	}
	return nc, nameNode, true
}

// secretOption stores a secret option, checking URL secrets without ever
// quoting the secret in a message.
func (l *loader) secretOption(nc *NotifierConfig, key string, spec optSpec, secrets secretEntries, field string, at *yaml.Node) {
	v := l.secret(secrets, key, field, spec.required, at)
	if v == "" {
		return
	}
	if spec.kind == optURL {
		if _, err := checkURL(v); err != nil {
			e, ok := secrets[key]
			if !ok {
				e = secrets[key+"_file"]
			}
			l.errf(e.v, sub(field, e.key), "expected an absolute http:// or https:// URL")
			return
		}
	}
	nc.Options[key] = v
}

// pushoverEmergency checks what Pushover demands of priority 2 messages.
func (l *loader) pushoverEmergency(nc *NotifierConfig, given map[string]*yaml.Node, field string, at *yaml.Node) {
	if n := given["retry"]; n != nil {
		if d, err := time.ParseDuration(nc.Options["retry"]); err == nil && d < 30*time.Second {
			l.errf(n, sub(field, "retry"), "must be at least 30s (Pushover's minimum)")
		}
	}
	if n := given["expire"]; n != nil {
		if d, err := time.ParseDuration(nc.Options["expire"]); err == nil && d > 3*time.Hour {
			l.errf(n, sub(field, "expire"), "must be at most 3h (Pushover's maximum)")
		}
	}
	if nc.Priority == 2 {
		for _, k := range []string{"retry", "expire"} {
			if given[k] == nil {
				l.errf(at, sub(field, k), "priority 2 (emergency) needs retry and expire")
			}
		}
	}
}

// option checks and stores one non-secret type-specific option.
func (l *loader) option(nc *NotifierConfig, key string, spec optSpec, v *yaml.Node, field, stateDir string) {
	switch spec.kind {
	case optList:
		list, ok := l.list(v, field)
		if !ok {
			return
		}
		if spec.required && len(list) == 0 {
			l.errf(v, field, "must not be empty")
			return
		}
		if key == "to" {
			for i, a := range list {
				if _, err := mail.ParseAddress(a); err != nil {
					l.errf(resolve(v).Content[i], index(field, i), "invalid address %q: %v", a, err)
				}
			}
		}
		nc.Lists[key] = list
		return
	case optMap:
		es, ok := l.entries(v, field)
		if !ok {
			return
		}
		m := map[string]string{}
		for _, e := range es {
			if s, ok := l.str(e.v, sub(field, e.key)); ok {
				m[e.key] = s
			}
		}
		nc.Maps[key] = m
		return
	}
	s, ok := l.str(v, field)
	if !ok {
		if isNull(v) && spec.required {
			l.errf(v, field, "must not be empty")
		}
		return
	}
	s = strings.TrimSpace(s)
	if s == "" && spec.required {
		l.errf(v, field, "must not be empty")
		return
	}
	c, err := canonical(spec, s)
	if err != nil {
		l.errf(v, field, "%v", err)
		return
	}
	if spec.kind == optPath {
		c = l.path(c, stateDir)
	}
	nc.Options[key] = c
}

// canonical checks s against spec and returns the form notifiers read.
func canonical(spec optSpec, s string) (string, error) {
	if len(spec.oneOf) > 0 {
		if v := strings.ToLower(s); slices.Contains(spec.oneOf, v) {
			return v, nil
		}
		return "", fmt.Errorf("%q is not one of: %s", s, strings.Join(spec.oneOf, ", "))
	}
	switch spec.kind {
	case optURL:
		_, err := checkURL(s)
		return s, err
	case optBool:
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			return "true", nil
		case "false", "no", "off":
			return "false", nil
		}
		return "", fmt.Errorf("expected true or false, got %q", s)
	case optInt:
		v, err := strconv.Atoi(s)
		if err != nil {
			return "", fmt.Errorf("expected a whole number, got %q", s)
		}
		if v < spec.min || v > spec.max {
			return "", fmt.Errorf("%d is out of range %d..%d", v, spec.min, spec.max)
		}
		return strconv.Itoa(v), nil
	case optSeconds:
		if n, err := strconv.Atoi(s); err == nil {
			s = strconv.Itoa(n) + "s"
		}
		fallthrough
	case optDuration:
		d, err := ParseDuration(s)
		if err != nil {
			return "", err
		}
		if d <= 0 {
			return "", fmt.Errorf("must be greater than 0")
		}
		return d.String(), nil
	case optTemplate:
		return s, parseTemplate("template", s)
	case optAddress:
		_, err := mail.ParseAddress(s)
		if err != nil {
			return "", fmt.Errorf("invalid address %q: %v", s, err)
		}
		return s, nil
	case optMethod:
		m := strings.ToUpper(s)
		if strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return "", fmt.Errorf("invalid HTTP method %q", s)
		}
		return m, nil
	}
	return s, nil
}

func (l *loader) quietHours(n *yaml.Node, field string) *QuietHours {
	es, ok := l.entries(n, field)
	if !ok {
		return nil
	}
	q := &QuietHours{Location: time.Local}
	var from, to *yaml.Node
	good := true
	for _, e := range es {
		fk := sub(field, e.key)
		switch e.key {
		case "from", "to":
			s, ok := l.str(e.v, fk)
			if !ok {
				good = false
				continue
			}
			d, err := parseClock(s)
			if err != nil {
				l.errf(e.v, fk, "%v", err)
				good = false
				continue
			}
			if e.key == "from" {
				q.From, from = d, e.v
			} else {
				q.To, to = d, e.v
			}
		case "tz":
			if s, ok := l.str(e.v, fk); ok && s != "" {
				loc, err := time.LoadLocation(s)
				if err != nil {
					l.errf(e.v, fk, "unknown time zone %q", s)
					good = false
					continue
				}
				q.Location = loc
			}
		default:
			l.unknown(e, field)
		}
	}
	if good && (from == nil || to == nil) {
		l.errf(resolve(n), field, "needs both from and to (HH:MM)")
		return nil
	}
	if good && q.From == q.To {
		l.errf(to, sub(field, "to"), "from and to are both %s: the window would be empty", to.Value)
		return nil
	}
	if !good {
		return nil
	}
	return q
}

// parseClock reads "HH:MM" as an offset from midnight.
func parseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("expected a time of day HH:MM (00:00..23:59), got %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

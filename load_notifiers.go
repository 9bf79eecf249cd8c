package crier

import (
	"maps"
	"slices"
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

// imagesOption is `images`, taken by every type that can show an item's
// picture: on unless turned off.
var imagesOption = optSpec{kind: optBool, def: "true"}

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
			"images":  imagesOption,
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
			"images":   imagesOption,
		},
		"gotify": {
			"url":    {kind: optURL, required: true},
			"token":  {secret: true, required: true},
			"images": imagesOption,
		},
		"telegram": {
			"token":        {secret: true, required: true},
			"chat_id":      {required: true},
			"api_url":      {kind: optURL, def: "https://api.telegram.org"},
			"link_preview": {kind: optBool, def: "false"},
			"images":       imagesOption,
		},
		"discord": {
			"webhook_url": {kind: optURL, secret: true, required: true},
			"images":      imagesOption,
		},
		"slack": {
			"webhook_url": {kind: optURL, secret: true, required: true},
			"blocks":      {kind: optBool, def: "false"},
			"images":      imagesOption,
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
			"images":   imagesOption,
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
	if i := slices.IndexFunc(es, func(e entry) bool { return e.key == "type" }); i < 0 || isNull(es[i].v) {
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

	var nameNode, digestNode *yaml.Node
	sameStorySet := false
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
		case "same_story":
			if v, ok := l.sameStory(e.v, fk); ok {
				nc.SameStory = v
				sameStorySet = true
			}
		case "window":
			if v, ok := l.duration(e.v, fk, 1); ok {
				nc.Window = v
			}
		case "escalate":
			nc.Escalate = l.escalate(e.v, fk)
		case "title_template", "message_template":
			if v, ok := l.str(e.v, fk); ok {
				if err := checkNotificationTemplate(e.key, v); err != nil {
					l.errf(e.v, fk, "%v", err)
				} else if e.key == "title_template" {
					nc.TitleTemplate = v
				} else {
					nc.MessageTemplate = v
				}
			}
		case "digest":
			if v, ok := l.schedule(e.v, fk); ok {
				if strings.Contains(v, "@every") {
					// @every counts from whenever it is asked, so it has
					// no fixed times to gather news until.
					l.errf(e.v, fk, "a digest needs calendar times (e.g. \"0 8 * * *\"), not @every")
					continue
				}
				nc.Digest = v
				digestNode = e.v
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
	if nc.Digest != "" && nc.QuietHours != nil {
		// A digest already chooses when it arrives; holding it again for
		// quiet hours would make that choice a lie.
		l.errf(digestNode, sub(field, "digest"), "digest and quiet_hours cannot be combined: schedule the digest outside the quiet hours instead")
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
	if nc.Type == "jsonl" && !sameStorySet {
		nc.SameStory = SameStoryOff // its log keeps every item, marked with its story
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

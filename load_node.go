package crier

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// loader walks the YAML node tree by hand rather than decoding into
// structs: that is what lets it report every problem at once, each at its
// own line, and treat unknown keys as errors.
type loader struct {
	file   string
	dir    string // relative paths in the config resolve against it
	opt    LoadOptions
	errs   ConfigErrors
	refs   []notifierRef // notifier names used before all notifiers are known
	merges int           // merge keys expanded so far
}

// notifierRef is a notifier name mentioned somewhere, checked at the end.
type notifierRef struct {
	name  string
	node  *yaml.Node
	field string
}

func (l *loader) errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	l.errs = append(l.errs, ConfigError{File: l.file, Line: line, Field: field, Problem: fmt.Sprintf(format, args...)})
}

func sub(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n = resolve(n); {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

type entry struct {
	key  string
	k, v *yaml.Node
}

// entries returns the pairs of mapping n in order, with YAML merge keys
// (<<: *anchor) expanded and duplicate keys reported. ok is false when n is
// not a mapping; null counts as an empty mapping.
func (l *loader) entries(n *yaml.Node, field string) ([]entry, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		l.errf(n, field, "expected a mapping, got %s", kindName(n))
		return nil, false
	}
	var out, merged []entry
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, l.mergeEntries(v, field)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.errf(k, field, "expected a key, got %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.errf(k, sub(field, k.Value), "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, entry{k.Value, k, v})
	}
	// Explicit keys win over merged ones, earlier merges over later ones.
	for _, e := range merged {
		if _, dup := seen[e.key]; !dup {
			seen[e.key] = e.k
			out = append(out, e)
		}
	}
	return out, true
}

// maxMerges bounds merge-key expansion: nested merges of merges can
// otherwise grow exponentially, like the "billion laughs" attack.
const maxMerges = 10000

func (l *loader) mergeEntries(v *yaml.Node, field string) []entry {
	v = resolve(v)
	l.merges++
	if l.merges == maxMerges {
		l.errf(v, field, "too many merge keys (<<) expanded; simplify the anchors")
	}
	if l.merges >= maxMerges {
		return nil
	}
	if v.Kind == yaml.SequenceNode {
		var out []entry
		for _, m := range v.Content {
			out = append(out, l.mergeEntries(m, field)...)
		}
		return out
	}
	es, _ := l.entries(v, field)
	return es
}

// unknown reports a key the schema does not have.
func (l *loader) unknown(e entry, field string) {
	l.errf(e.k, sub(field, e.key), "unknown key")
}

// str returns the text of a scalar with ${VAR} expanded. ok is false when
// the value is null (unset) or wrong; only the latter is reported.
func (l *loader) str(n *yaml.Node, field string) (string, bool) {
	n = resolve(n)
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		l.errf(n, field, "expected a single value, got %s", kindName(n))
		return "", false
	}
	return l.expand(n, field)
}

// expand replaces ${NAME} with the environment variable NAME; "$${" is a
// literal "${". Any other '$' is left alone so regexes keep their anchors.
func (l *loader) expand(n *yaml.Node, field string) (string, bool) {
	s := n.Value
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				l.errf(n, field, "unterminated ${ (write $${ for a literal ${)")
				return "", false
			}
			name := s[i+2 : i+end]
			i += end + 1
			if !validVarName(name) {
				l.errf(n, field, "invalid variable name in ${%s} (write $${ for a literal ${)", name)
				ok = false
				continue
			}
			v, set := l.opt.Env(name)
			if !set {
				l.errf(n, field, "environment variable %s is not set", name)
				ok = false
				continue
			}
			b.WriteString(v)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), ok
}

// EscapeVars returns s written so that the loader reads it back as
// exactly s: every "${" becomes "$${", the loader's literal "${". Anything
// crier writes into a config from text it did not get from the user (an
// OPML export, a web page) goes through it, so that a "${CRIER_SECRET}"
// in a feed's title or URL can never pull a secret out of the environment.
// Other '$' need no escape: the loader only ever expands "${".
func EscapeVars(s string) string { return strings.ReplaceAll(s, "${", "$${") }

// UnescapeVars is the inverse of EscapeVars: the text as Load reads it,
// for values that hold no variables.
func UnescapeVars(s string) string { return strings.ReplaceAll(s, "$${", "${") }

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func (l *loader) integer(n *yaml.Node, field string, min, max int) (int, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		l.errf(n, field, "expected a whole number, got %q", s)
		return 0, false
	}
	if v < min || v > max {
		l.errf(n, field, "%d is out of range %s", v, rangeText(min, max))
		return 0, false
	}
	return v, true
}

func rangeText(min, max int) string {
	if max == maxInt {
		return fmt.Sprintf("(must be >= %d)", min)
	}
	return fmt.Sprintf("%d..%d", min, max)
}

const maxInt = int(^uint(0) >> 1)

func (l *loader) boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	l.errf(n, field, "expected true or false, got %q", s)
	return false, false
}

// duration parses a value with ParseDuration and checks it is >= min.
func (l *loader) duration(n *yaml.Node, field string, min time.Duration) (time.Duration, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		l.errf(n, field, "%v", err)
		return 0, false
	}
	if d < min {
		if min <= 0 {
			l.errf(n, field, "must not be negative")
		} else if min == 1 {
			l.errf(n, field, "must be greater than 0")
		} else {
			l.errf(n, field, "%s is too short (minimum %s)", s, min)
		}
		return 0, false
	}
	return d, true
}

// list returns a sequence of scalars; null is an empty list.
func (l *loader) list(n *yaml.Node, field string) ([]string, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n, field, "expected a list, got %s", kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		s, good := l.str(c, index(field, i))
		if !good {
			if isNull(c) {
				l.errf(c, index(field, i), "empty list entry")
			}
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// path expands a leading ~ and anchors a relative path at base.
func (l *loader) path(p, base string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = filepath.Join(l.opt.Home, p[1:])
	}
	if !filepath.IsAbs(p) && base != "" {
		p = filepath.Join(base, p)
	}
	return p
}

// notifierNames reads a list of notifier names, remembering each to check
// once every notifier is known.
func (l *loader) notifierNames(n *yaml.Node, field string) []string {
	names, ok := l.list(n, field)
	if !ok {
		return names
	}
	seq := resolve(n)
	for i, name := range names {
		l.refs = append(l.refs, notifierRef{name: name, node: seq.Content[i], field: index(field, i)})
	}
	return names
}

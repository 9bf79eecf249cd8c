package crier

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// sameStory reads `same_story: off | link | similar`.
func (l *loader) sameStory(n *yaml.Node, field string) (SameStory, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return SameStoryLink, false
	}
	m, ok := ParseSameStory(strings.ToLower(strings.TrimSpace(s)))
	if !ok {
		l.errf(n, field, "expected off, link or similar, got %q", s)
	}
	return m, ok
}

// escalate reads `escalate: {sources: 3, within: 30m, priority: 1}`.
func (l *loader) escalate(n *yaml.Node, field string) *Escalate {
	es, ok := l.entries(n, field)
	if !ok {
		return nil
	}
	e := Escalate{Sources: 3, Within: 30 * time.Minute, Priority: 1}
	for _, x := range es {
		f := sub(field, x.key)
		switch x.key {
		case "sources":
			if v, ok := l.integer(x.v, f, 2, maxInt); ok {
				e.Sources = v
			}
		case "within":
			if v, ok := l.duration(x.v, f, 1); ok {
				e.Within = v
			}
		case "priority":
			if v, ok := l.integer(x.v, f, -2, 2); ok {
				e.Priority = v
			}
		default:
			l.unknown(x, field)
		}
	}
	return &e
}

package crier

import (
	"strings"
	"unicode/utf8"
)

// Truncate shortens s to at most max runes, ending with an ellipsis when
// it cut something. Invalid UTF-8 is replaced first so a service that
// validates its input never rejects a headline.
func Truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return "…"
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return strings.TrimRight(s[:i], " \t\n") + "…"
		}
		n++
	}
	return s
}

package main

import (
	"regexp"
	"testing"
)

// The release build's stamping is tested end to end in packaging/; this is
// the shape a bug report gets.
func TestVersionPrintsVersionCommitAndDate(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(nil, "version")
	want := regexp.MustCompile(`^crier dev\ncommit: \S+\ndate:   \S+\ngo:     go\S+ \w+/\w+\n$`)
	if code != 0 || !want.MatchString(out) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %s", code, out, errOut, want)
	}
}

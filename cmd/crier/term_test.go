package main

import (
	"os"
	"testing"
)

// TestIsTerminal: neither a pipe nor /dev/null (where services and CI
// point stdin) is a terminal to ask questions on.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for name, f := range map[string]*os.File{"pipe": r, "/dev/null": null} {
		if isTerminal(f) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
}

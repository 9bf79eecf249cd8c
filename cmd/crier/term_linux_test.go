package main

import (
	"os"
	"testing"
)

// TestIsTerminalOnPty: a pseudo-terminal, as a user's shell has, is one;
// without this case an isTerminal that always says no would pass.
func TestIsTerminalOnPty(t *testing.T) {
	t.Parallel()
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal on this machine: %v", err)
	}
	defer pty.Close()
	if !isTerminal(pty) {
		t.Error("a pseudo-terminal is not taken for a terminal")
	}
}

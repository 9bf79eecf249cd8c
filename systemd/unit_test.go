// Package systemd holds crier's unit file; this test keeps it honest.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the bar: "OK" and at most 1.5.
const maxExposure = 1.5

func analyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not installed (CI must install Debian's systemd)")
		}
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	return path
}

// unitWithBinary writes the unit with its ExecStart pointing at a real
// executable, since verify insists the binary exists.
func unitWithBinary(t *testing.T) string {
	t.Helper()
	unit, err := os.ReadFile("crier.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "crier")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "crier.service")
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/crier", bin)
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnitVerifies(t *testing.T) {
	sa := analyze(t)
	unit := unitWithBinary(t)
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), "crier.service:") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestUnitSecurityScore(t *testing.T) {
	sa := analyze(t)
	unit := unitWithBinary(t)
	out, err := exec.Command(sa, "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\w+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f %s", score, m[2])
	if score > maxExposure || string(m[2]) != "OK" {
		t.Fatalf("exposure %.1f %s, want <= %.1f OK\n%s", score, m[2], maxExposure, out)
	}
}

func TestUnitHasContract(t *testing.T) {
	unit, err := os.ReadFile("crier.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "DynamicUser=yes",
		"StateDirectory=crier", "StateDirectoryMode=0700", "ConfigurationDirectory=crier", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "PrivateTmp=yes", "PrivateDevices=yes", "PrivateUsers=yes",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "CapabilityBoundingSet=",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).Match(unit) {
			t.Errorf("unit lacks %q", line)
		}
	}
	if !regexp.MustCompile(`(?m)^WatchdogSec=\S+`).Match(unit) || !regexp.MustCompile(`(?m)^LoadCredential=`).Match(unit) {
		t.Error("unit lacks WatchdogSec= or LoadCredential=")
	}
}

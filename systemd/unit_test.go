// Package systemd holds crier's unit file; this test keeps it honest.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// unitDirectives parses the unit file into section -> directives in order.
func unitDirectives(t *testing.T) map[string][][2]string {
	t.Helper()
	unit, err := os.ReadFile("crier.service")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][2]string{}
	section := ""
	for _, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section] = append(out[section], [2]string{k, v})
		}
	}
	return out
}

func values(directives [][2]string, key string) []string {
	var vs []string
	for _, d := range directives {
		if d[0] == key {
			vs = append(vs, d[1])
		}
	}
	return vs
}

// timeSpan reads the systemd time spans this unit uses ("10s", "5min").
func timeSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"min", time.Minute}, {"s", time.Second}, {"h", time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.Atoi(n)
			if err == nil {
				return time.Duration(v) * u.d
			}
		}
	}
	t.Fatalf("cannot read time span %q", s)
	return 0
}

// TestUnitRefusesBadConfigs: a reload with a broken config must fail (the
// check runs before the HUP, and systemctl reload reports its FILE:LINE
// errors), and a config that cannot start must not restart forever: the
// start limit must be reachable at the restart interval.
func TestUnitRefusesBadConfigs(t *testing.T) {
	u := unitDirectives(t)
	svc := u["Service"]
	if got := values(svc, "ExecStartPre"); len(got) != 1 || got[0] != "/usr/local/bin/crier check -q" {
		t.Errorf("ExecStartPre = %q, want the one-line check", got)
	}
	if got, want := values(svc, "ExecReload"), []string{"/usr/local/bin/crier check -q", "/bin/kill -HUP $MAINPID"}; !slices.Equal(got, want) {
		t.Errorf("ExecReload = %q, want %q (the check first)", got, want)
	}
	interval, burst := values(u["Unit"], "StartLimitIntervalSec"), values(u["Unit"], "StartLimitBurst")
	restart := values(svc, "RestartSec")
	if len(interval) != 1 || len(burst) != 1 || len(restart) != 1 {
		t.Fatalf("[Unit] StartLimitIntervalSec=%q StartLimitBurst=%q, [Service] RestartSec=%q: want one of each", interval, burst, restart)
	}
	n, err := strconv.Atoi(burst[0])
	if err != nil || n < 1 {
		t.Fatalf("StartLimitBurst=%q", burst[0])
	}
	// systemd refuses the start after n that fall in the interval; at
	// RestartSec apart that one must fall in it too, or it never stops.
	if took := time.Duration(n) * timeSpan(t, restart[0]); took >= timeSpan(t, interval[0]) {
		t.Errorf("%d starts take %s at RestartSec=%s, beyond StartLimitIntervalSec=%s: the limit is never hit", n, took, restart[0], interval[0])
	}
}

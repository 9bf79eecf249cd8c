package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dpkgTool finds dpkg or dpkg-deb: skipped where missing, but CI runs on
// Debian, where the dpkg package has both, and must not skip silently.
func dpkgTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (CI runs on Debian, where dpkg has it)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDebVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"1.2.3-rc.1", "1.2.3~rc.1"},
		{"1.2.3-4-gabcdef0", "1.2.3+git4.abcdef0"},
		{"1.2.3-4-gabcdef0-dirty", "1.2.3+git4.abcdef0.dirty"},
		{"1.2.3-dirty", "1.2.3+dirty"},
		{"0.0.0-dev", "0.0.0~dev"},
		{"dev", "0.0.0~dev"},
	}
	for _, tt := range tests {
		if got := DebVersion(tt.in); got != tt.want {
			t.Errorf("DebVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// What apt does with them: a pre-release before its release, a build
	// between tags after the tag and before the next release.
	dpkg := dpkgTool(t, "dpkg")
	order := []string{"0.0.0~dev", "1.2.3~rc.1", "1.2.3", "1.2.3+dirty", "1.2.3+git4.abcdef0", "1.2.3+git4.abcdef0.dirty", "1.2.4"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command(dpkg, "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg says %s is not older than %s", order[i-1], order[i])
		}
	}
}

// TestDeb builds the .deb as `make deb` does and inspects it as an admin
// would before installing it.
func TestDeb(t *testing.T) {
	dpkg := dpkgTool(t, "dpkg-deb")
	bin := releaseBinary(t)
	out := t.TempDir()
	paths := crierPackage(t, "deb", "--arch", "amd64", "--version", "1.2.3-rc.1", "--binary", bin, "--date", stamped.date, "--out", out)
	deb := filepath.Join(out, "crier_1.2.3~rc.1_amd64.deb")
	if len(paths) != 1 || paths[0] != deb {
		t.Fatalf("crier-package wrote %v, want %s", paths, deb)
	}

	info := run(t, dpkg, "--info", deb)
	for _, want := range []string{"Package: crier", "Version: 1.2.3~rc.1", "Architecture: amd64", "Section: net", "Homepage: https://github.com/crierd/crier"} {
		if !regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(want) + `$`).MatchString(info) {
			t.Errorf("control lacks %q:\n%s", want, info)
		}
	}
	// A static binary needs nothing from the system.
	if m := regexp.MustCompile(`(?m)^ (Pre-)?Depends:.*$`).FindString(info); m != "" {
		t.Errorf("control has %q; the binary is static", m)
	}

	// Files, modes, owners: exactly the binary, the unit and the config.
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(run(t, dpkg, "--contents", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		files = append(files, f[0]+" "+f[1]+" "+f[5])
	}
	sort.Strings(files)
	wantFiles := []string{
		"-rw-r--r-- root/root ./etc/crier/config.yaml",
		"-rw-r--r-- root/root ./lib/systemd/system/crier.service",
		"-rwxr-xr-x root/root ./usr/bin/crier",
	}
	if strings.Join(files, "\n") != strings.Join(wantFiles, "\n") {
		t.Errorf("package files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(wantFiles, "\n"))
	}

	control := t.TempDir()
	run(t, dpkg, "--control", deb, control)
	conffiles, _ := os.ReadFile(filepath.Join(control, "conffiles"))
	if string(conffiles) != "/etc/crier/config.yaml\n" {
		t.Errorf("conffiles %q, want only /etc/crier/config.yaml", conffiles)
	}
	entries, _ := os.ReadDir(control)
	for _, e := range entries {
		switch e.Name() {
		case "control", "md5sums", "conffiles", "postinst", "prerm":
		default:
			t.Errorf("unexpected control file %s", e.Name())
		}
	}
	// The scripts README promises: an upgrade restarts a running crier,
	// a removal stops it. DynamicUser: nothing is created at install
	// time, no user, no directory.
	for name, want := range map[string]string{"postinst": "systemctl try-restart crier.service", "prerm": "systemctl stop crier.service"} {
		script, err := os.ReadFile(filepath.Join(control, name))
		if err != nil {
			t.Errorf("the package has no %s: %v", name, err)
			continue
		}
		commands := regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAll(script, nil)
		if !bytes.Contains(commands, []byte(want)) {
			t.Errorf("%s does not run %q:\n%s", name, want, script)
		}
		if m := regexp.MustCompile(`\b(useradd|adduser|groupadd|addgroup|mkdir|install|chown|chmod|systemd-sysusers|systemd-tmpfiles)\b`).Find(commands); m != nil {
			t.Errorf("%s runs %s:\n%s", name, m, script)
		}
		if !bytes.Contains(script, []byte("/run/systemd/system")) {
			t.Errorf("%s does not check that systemd is running:\n%s", name, script)
		}
	}

	root := t.TempDir()
	run(t, dpkg, "-x", deb, root)
	unit, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/crier.service"))
	for _, want := range []string{"ExecStartPre=/usr/bin/crier check -q", "ExecStart=/usr/bin/crier run", "ExecReload=/usr/bin/crier check -q", "DynamicUser=yes"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(unit) {
			t.Errorf("packaged unit lacks %q", want)
		}
	}
	if bytes.Contains(unit, []byte("/usr/local/")) {
		t.Error("packaged unit still names /usr/local/")
	}
	manual, _ := os.ReadFile("../systemd/crier.service")
	if got := strings.ReplaceAll(string(unit), "/usr/bin/crier", "/usr/local/bin/crier"); got != string(manual) {
		t.Error("packaged unit differs from systemd/crier.service in more than the binary's path")
	}
	config, _ := os.ReadFile(filepath.Join(root, "etc/crier/config.yaml"))
	example, _ := os.ReadFile("../config.example.yaml")
	if !bytes.Equal(config, example) {
		t.Error("/etc/crier/config.yaml is not config.example.yaml")
	}
	if got := run(t, filepath.Join(root, "usr/bin/crier"), "version"); !strings.HasPrefix(got, "crier "+stamped.version+"\n") {
		t.Errorf("packaged binary says %q", got)
	}
}

// TestDebInstallUpgradeRemove lets dpkg install the package into an empty
// root, as apt would: it must create nothing but its files, keep an
// edited config across an upgrade, and leave the config on remove.
func TestDebInstallUpgradeRemove(t *testing.T) {
	dpkg := dpkgTool(t, "dpkg")
	bin := releaseBinary(t)
	out := t.TempDir()
	first := crierPackage(t, "deb", "--version", "1.2.3-rc.1", "--binary", bin, "--out", out)[0]
	second := crierPackage(t, "deb", "--version", "1.2.3", "--binary", bin, "--out", out)[0]
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	// The maintainer scripts run on this machine (there is no chroot to
	// run them in): a fake systemctl keeps them off a real systemd.
	fakeBin := t.TempDir()
	os.WriteFile(filepath.Join(fakeBin, "systemctl"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	dpkgIn := func(args ...string) {
		t.Helper()
		cmd := exec.Command(dpkg, append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root", "--force-architecture", "--log=/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+fakeBin+":"+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	files := func() []string {
		var got []string
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			rel, _ := filepath.Rel(root, path)
			if rel == "var/lib/dpkg" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				got = append(got, rel)
			}
			return nil
		})
		sort.Strings(got)
		return got
	}
	config := filepath.Join(root, "etc/crier/config.yaml")

	dpkgIn("--install", first)
	if got, want := files(), []string{"etc/crier/config.yaml", "lib/systemd/system/crier.service", "usr/bin/crier"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after install: %v, want %v", got, want)
	}
	mine := []byte("# my feeds\nnotifiers:\n  - {type: console}\n")
	os.WriteFile(config, mine, 0o644)
	dpkgIn("--install", second)
	if got, _ := os.ReadFile(config); !bytes.Equal(got, mine) {
		t.Errorf("the upgrade replaced the edited config:\n%s", got)
	}
	dpkgIn("--remove", "crier")
	if got := files(); strings.Join(got, " ") != "etc/crier/config.yaml" {
		t.Errorf("after remove: %v, want only the config", got)
	}
	dpkgIn("--purge", "crier")
	if got := files(); len(got) != 0 {
		t.Errorf("after purge: %v", got)
	}
}

package packaging

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Stamped is what the test release build is stamped with.
var stamped = struct{ version, commit, date string }{"1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-12-04T15:09:00Z"}

// crierBinary is built once for every test in this package, by the
// Makefile's own build target, so the test checks what `make` ships.
var crierBinary string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "crier-packaging-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		crierBinary = filepath.Join(dir, "crier")
		return m.Run()
	}())
}

// makeBuild runs `make build` once, however many tests ask.
var makeBuild = sync.OnceValues(func() ([]byte, error) {
	if _, err := exec.LookPath("make"); err != nil {
		return nil, err
	}
	return exec.Command("make", "-C", "..", "build", "BIN="+crierBinary,
		"VERSION="+stamped.version, "COMMIT="+stamped.commit, "DATE="+stamped.date).CombinedOutput()
})

// releaseBinary is crier for this machine, built by the Makefile.
func releaseBinary(t *testing.T) string {
	t.Helper()
	out, err := makeBuild()
	if err != nil {
		if _, lookErr := exec.LookPath("make"); lookErr != nil && os.Getenv("CI") == "" {
			t.Skip("make not installed")
		}
		t.Fatalf("make build: %v\n%s", err, out)
	}
	return crierBinary
}

// packageTool is crier-package as `make deb` and `make image` run it. The
// tests run it as a program, not in-process: compressing a 15 MB binary
// under the race detector would take minutes.
var packageTool = sync.OnceValues(func() ([]byte, error) {
	return exec.Command("go", "build", "-o", filepath.Join(filepath.Dir(crierBinary), "crier-package"), "./cmd/crier-package").CombinedOutput()
})

// crierPackage runs crier-package and returns the paths it wrote.
func crierPackage(t *testing.T, args ...string) []string {
	t.Helper()
	if out, err := packageTool(); err != nil {
		t.Fatalf("go build ./packaging/cmd/crier-package: %v\n%s", err, out)
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(crierBinary), "crier-package"), append(args, "--root", "..")...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crier-package %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Fields(string(out))
}

func TestReleaseBuildIsStampedStaticAndTrimmed(t *testing.T) {
	bin := releaseBinary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("crier version: %v\n%s", err, out)
	}
	want := fmt.Sprintf("crier %s\ncommit: %s\ndate:   %s\ngo:     %s linux/%s\n",
		stamped.version, stamped.commit, stamped.date, runtime.Version(), runtime.GOARCH)
	if string(out) != want {
		t.Errorf("crier version:\n%s\nwant:\n%s", out, want)
	}

	// Static: no dynamic loader, so it runs on scratch and any distribution.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP): built with cgo?")
		}
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// (-trimpath keeps -ldflags out of the record; `crier version` above shows they applied.)
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}
	root, _ := filepath.Abs("..")
	if data, _ := os.ReadFile(bin); strings.Contains(string(data), root) {
		t.Errorf("the binary contains the build path %s", root)
	}
}

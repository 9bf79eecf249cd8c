// Package packaging builds crier's release artefacts from a built binary:
// the .deb (through nfpm) and the container image (through
// go-containerregistry). `make deb` and `make image` run it by way of
// packaging/cmd/crier-package.
package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

// DebOptions says what to package.
type DebOptions struct {
	Version string // as the binary was stamped: 1.2.3, 1.2.3-rc.1, git describe's 1.2.3-4-gHASH
	Arch    string // amd64, arm64 or armv7
	Binary  string // the static linux binary for Arch
	Root    string // the repository: systemd/crier.service, config.example.yaml, packaging/
	Date    string // RFC 3339, the files' mtime (the commit's time, for reproducible packages); empty: now
}

// manualBinary is where README's manual install and systemd/crier.service
// put the binary; a package owns /usr/bin instead.
const (
	manualBinary  = "/usr/local/bin/crier"
	packageBinary = "/usr/bin/crier"
)

// debArch maps the Makefile's ARCH to Debian's architecture names.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64", "armv7": "armhf"}

// BuildDeb writes crier_VERSION_ARCH.deb into outDir and returns its path.
func BuildDeb(opt DebOptions, outDir string) (string, error) {
	arch, ok := debArch[opt.Arch]
	if !ok {
		return "", fmt.Errorf("deb: architecture %q: want amd64, arm64 or armv7", opt.Arch)
	}
	mtime := time.Now()
	if opt.Date != "" {
		var err error
		if mtime, err = time.Parse(time.RFC3339, opt.Date); err != nil {
			return "", fmt.Errorf("deb: date: %w", err)
		}
	}
	root, err := filepath.Abs(opt.Root)
	if err != nil {
		return "", err
	}
	binary, err := filepath.Abs(opt.Binary)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(binary); err != nil {
		return "", fmt.Errorf("deb: the binary: %w", err)
	}
	tmp, err := os.MkdirTemp("", "crier-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	unit, err := packagedUnit(filepath.Join(root, "systemd", "crier.service"), filepath.Join(tmp, "crier.service"))
	if err != nil {
		return "", err
	}

	version := DebVersion(opt.Version)
	vars := map[string]string{"DEB_ARCH": arch, "DEB_VERSION": version, "BINARY": binary, "UNIT": unit, "ROOT": root}
	dir := filepath.Join(root, "packaging")
	config, err := nfpm.ParseFileWithEnvMapping(filepath.Join(dir, "nfpm.yaml"), func(name string) string { return vars[name] })
	if err != nil {
		return "", fmt.Errorf("deb: packaging/nfpm.yaml: %w", err)
	}
	info, err := config.Get("deb")
	if err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}
	for _, script := range []*string{&info.Scripts.PreInstall, &info.Scripts.PostInstall, &info.Scripts.PreRemove, &info.Scripts.PostRemove} {
		if *script != "" {
			*script = filepath.Join(dir, *script)
		}
	}
	info.MTime = mtime
	// Umask applies to files without a file_info mode; none are.
	info.Umask = 0o022
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(outDir, fmt.Sprintf("crier_%s_%s.deb", version, arch))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("deb: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, nil
}

// packagedUnit writes the unit with the package's binary path to dst.
// systemd/crier.service stays as it is for manual installs.
func packagedUnit(src, dst string) (string, error) {
	unit, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("deb: the unit: %w", err)
	}
	if !strings.Contains(string(unit), manualBinary) {
		return "", fmt.Errorf("deb: %s no longer names %s; update packaging/deb.go", src, manualBinary)
	}
	text := strings.ReplaceAll(string(unit), manualBinary, packageBinary)
	return dst, os.WriteFile(dst, []byte(text), 0o644)
}

var (
	betweenTags = regexp.MustCompile(`^(\d+\.\d+\.\d+)-(\d+)-g([0-9a-f]+)$`)
	notInDeb    = regexp.MustCompile(`[^A-Za-z0-9.+~]`)
)

// DebVersion turns a release version into one apt orders correctly:
// 1.2.3-rc.1 becomes 1.2.3~rc.1 (before 1.2.3), git describe's 1.2.3-4-gHASH
// becomes 1.2.3+git4.HASH (after 1.2.3, before 1.2.4), -dirty becomes
// +dirty, and a version that is no number at all (dev) 0.0.0~dev.
func DebVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0.0.0-" + v
	}
	v, dirty := strings.CutSuffix(v, "-dirty")
	if m := betweenTags.FindStringSubmatch(v); m != nil {
		v = m[1] + "+git" + m[2] + "." + m[3]
	} else if base, pre, ok := strings.Cut(v, "-"); ok {
		v = base + "~" + notInDeb.ReplaceAllString(pre, ".")
	}
	if dirty {
		if strings.Contains(v, "+") {
			v += ".dirty"
		} else {
			v += "+dirty"
		}
	}
	return v
}

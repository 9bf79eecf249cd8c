package packaging

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageOptions says what to put in the container image.
type ImageOptions struct {
	Version string // as the binary was stamped
	Commit  string // optional: the image's revision label
	Arch    string // amd64, arm64 or armv7
	Binary  string // the static linux binary for Arch
	Root    string // the repository: packaging/image/
	Date    string // RFC 3339: file times and the image's creation time; empty: now
	CACerts string // the CA bundle the fetcher trusts; default the build host's
}

// The image's contract; packaging/Containerfile says the same.
const (
	imageUser    = "65532:65532" // distroless's "nonroot"
	imageUID     = 65532
	imageBinary  = "/usr/bin/crier"
	imageState   = "/var/lib/crier"
	imagePort    = "8080/tcp"
	hostCACerts  = "/etc/ssl/certs/ca-certificates.crt"
	imageCACerts = "/etc/ssl/certs/ca-certificates.crt"
)

func imageConfig(version string) v1.Config {
	return v1.Config{
		User: imageUser,
		// Named as under systemd, so one config serves both: a config at
		// /etc/crier/config.yaml, state in the volume, secrets from
		// docker/podman secrets.
		Env:          []string{"CONFIGURATION_DIRECTORY=/etc/crier", "STATE_DIRECTORY=" + imageState, "CREDENTIALS_DIRECTORY=/run/secrets"},
		Volumes:      map[string]struct{}{imageState: {}},
		ExposedPorts: map[string]struct{}{imagePort: {}},
		// `docker run crier:V check` runs another command; no arguments runs the daemon.
		Entrypoint: []string{imageBinary},
		Cmd:        []string{"run"},
		// No shell or curl in the image: the binary asks its own listener.
		Healthcheck: &v1.HealthConfig{
			Test:     []string{"CMD", imageBinary, "healthz"},
			Interval: 30 * time.Second, Timeout: 10 * time.Second, StartPeriod: 30 * time.Second, Retries: 3,
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "crier",
			"org.opencontainers.image.version": version,
			"org.opencontainers.image.source":  "https://github.com/crierd/crier",
		},
	}
}

var platforms = map[string]v1.Platform{
	"amd64": {OS: "linux", Architecture: "amd64"},
	"arm64": {OS: "linux", Architecture: "arm64", Variant: "v8"},
	"armv7": {OS: "linux", Architecture: "arm", Variant: "v7"},
}

// BuildImage writes the image twice into outDir: crier_VERSION_ARCH.image.tar
// for `docker load` / `podman load`, tagged crier:VERSION, and the OCI
// image layout crier_VERSION_ARCH.oci/ for skopeo, crane or podman. It
// returns both paths.
func BuildImage(opt ImageOptions, outDir string) ([]string, error) {
	platform, ok := platforms[opt.Arch]
	if !ok {
		return nil, fmt.Errorf("image: architecture %q: want amd64, arm64 or armv7", opt.Arch)
	}
	created := time.Now().UTC().Truncate(time.Second)
	if opt.Date != "" {
		var err error
		if created, err = time.Parse(time.RFC3339, opt.Date); err != nil {
			return nil, fmt.Errorf("image: date: %w", err)
		}
	}
	img, err := buildImage(opt, platform, created)
	if err != nil {
		return nil, err
	}
	tag, err := name.NewTag("crier:" + imageTag(opt.Version))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(outDir, fmt.Sprintf("crier_%s_%s", imageTag(opt.Version), opt.Arch))
	archive := base + ".image.tar"
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		return nil, fmt.Errorf("image: %s: %w", archive, err)
	}
	dir := base + ".oci"
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("image: %s: %w", dir, err)
	}
	if err := lp.AppendImage(img, layout.WithPlatform(platform), layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": imageTag(opt.Version),
	})); err != nil {
		return nil, fmt.Errorf("image: %s: %w", dir, err)
	}
	return []string{archive, dir}, nil
}

func buildImage(opt ImageOptions, platform v1.Platform, created time.Time) (v1.Image, error) {
	files, err := imageFiles(opt)
	if err != nil {
		return nil, err
	}
	layerTar, err := tarLayer(files, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: created}, CreatedBy: "crier-package image", Comment: "static crier binary, config, CA certificates",
	}})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Created = v1.Time{Time: created}
	cf.Config = imageConfig(opt.Version)
	if opt.Commit != "" {
		cf.Config.Labels["org.opencontainers.image.revision"] = opt.Commit
	}
	cf.Config.Labels["org.opencontainers.image.created"] = created.Format(time.RFC3339)
	return mutate.ConfigFile(img, cf)
}

// imageFile is one entry of the image's only layer.
type imageFile struct {
	path     string // without the leading slash
	mode     int64
	uid      int
	dir      bool
	contents []byte
}

func imageFiles(opt ImageOptions) ([]imageFile, error) {
	read := func(path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		return b, nil
	}
	caPath := opt.CACerts
	if caPath == "" {
		caPath = hostCACerts
	}
	binary, err := read(opt.Binary)
	if err != nil {
		return nil, err
	}
	// A feed fetcher needs the CA certificates; time zones are in the binary (time/tzdata).
	ca, err := read(caPath)
	if err != nil {
		return nil, fmt.Errorf("%w (apt-get install ca-certificates)", err)
	}
	dir := filepath.Join(opt.Root, "packaging", "image")
	config, err := read(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, err
	}
	passwd, err := read(filepath.Join(dir, "passwd"))
	if err != nil {
		return nil, err
	}
	group, err := read(filepath.Join(dir, "group"))
	if err != nil {
		return nil, err
	}
	d := func(path string) imageFile { return imageFile{path: path, mode: 0o755, dir: true} }
	f := func(path string, b []byte) imageFile { return imageFile{path: path, mode: 0o644, contents: b} }
	return []imageFile{
		d("etc"),
		d("etc/crier"),
		f("etc/crier/config.yaml", config),
		f("etc/group", group),
		f("etc/passwd", passwd),
		d("etc/ssl"),
		d("etc/ssl/certs"),
		f(imageCACerts[1:], ca),
		// Scratch has no /tmp; os.TempDir users (crier demo) need one.
		{path: "tmp", mode: 0o1777, dir: true},
		d("usr"),
		d("usr/bin"),
		{path: imageBinary[1:], mode: 0o755, contents: binary},
		d("var"),
		d("var/lib"),
		// Private to crier, as StateDirectoryMode=0700 under systemd; a
		// new named volume copies this owner and mode.
		{path: imageState[1:], mode: 0o700, uid: imageUID, dir: true},
	}, nil
}

func tarLayer(files []imageFile, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: layer: %w", err)
		}
		if _, err := tw.Write(f.contents); err != nil {
			return nil, fmt.Errorf("image: layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	return buf.Bytes(), nil
}

var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// imageTag is the version as a tag may spell it (no "+" or "~").
func imageTag(version string) string {
	return notInTag.ReplaceAllString(version, "-")
}

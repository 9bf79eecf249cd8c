package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImage builds the image as `make image` does, reads it back from the
// OCI layout as a registry client would, and checks what `docker inspect`
// and `docker run` would show.
func TestImage(t *testing.T) {
	bin := releaseBinary(t)
	out := t.TempDir()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644)
	paths := crierPackage(t, "image", "--arch", "amd64", "--version", "1.2.3-rc.1", "--commit", stamped.commit,
		"--binary", bin, "--date", stamped.date, "--ca-certs", ca, "--out", out)
	wantPaths := []string{filepath.Join(out, "crier_1.2.3-rc.1_amd64.image.tar"), filepath.Join(out, "crier_1.2.3-rc.1_amd64.oci")}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Fatalf("wrote %v, want %v", paths, wantPaths)
	}

	idx, err := layout.ImageIndexFromPath(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 1 {
		t.Fatalf("layout holds %d images, want 1", len(manifest.Manifests))
	}
	desc := manifest.Manifests[0]
	if desc.Platform == nil || desc.Platform.String() != "linux/amd64" || desc.Annotations["org.opencontainers.image.ref.name"] != "1.2.3-rc.1" {
		t.Errorf("layout entry: platform %v, annotations %v", desc.Platform, desc.Annotations)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	// The docker-load archive is the same image.
	loaded, err := tarball.ImageFromPath(paths[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustDigest(t, img), mustDigest(t, loaded); a != b {
		t.Errorf("the .image.tar holds %s, the layout %s", b, a)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if uid, _, _ := strings.Cut(c.User, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("runs as user %q, want non-root", c.User)
	}
	if hc := c.Healthcheck; hc == nil || !reflect.DeepEqual(hc.Test, []string{"CMD", "/usr/bin/crier", "healthz"}) || hc.Interval == 0 {
		t.Errorf("healthcheck %+v", hc)
	}
	if _, ok := c.Volumes["/var/lib/crier"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v, want /var/lib/crier", c.Volumes)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/bin/crier"}) || !reflect.DeepEqual(c.Cmd, []string{"run"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	for _, env := range []string{"CONFIGURATION_DIRECTORY=/etc/crier", "STATE_DIRECTORY=/var/lib/crier"} {
		if !contains(c.Env, env) {
			t.Errorf("env %q lacks %s", c.Env, env)
		}
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Created.Format(time.RFC3339) != stamped.date ||
		c.Labels["org.opencontainers.image.version"] != "1.2.3-rc.1" || c.Labels["org.opencontainers.image.revision"] != stamped.commit {
		t.Errorf("platform %s/%s, created %s, labels %v", cf.OS, cf.Architecture, cf.Created, c.Labels)
	}

	// One layer: exactly these files, owners and modes.
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want 1", len(layers), err)
	}
	rootfs := t.TempDir()
	var listing []string
	contents := map[string][]byte{}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		listing = append(listing, fmt.Sprintf("%s %o %d:%d", h.Name, h.Mode, h.Uid, h.Gid))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(filepath.Join(rootfs, h.Name), 0o755)
			continue
		}
		b, _ := io.ReadAll(tr)
		contents[h.Name] = b
		os.WriteFile(filepath.Join(rootfs, h.Name), b, os.FileMode(h.Mode))
	}
	sort.Strings(listing)
	want := []string{
		"etc/ 755 0:0", "etc/crier/ 755 0:0", "etc/crier/config.yaml 644 0:0", "etc/group 644 0:0", "etc/passwd 644 0:0",
		"etc/ssl/ 755 0:0", "etc/ssl/certs/ 755 0:0", "etc/ssl/certs/ca-certificates.crt 644 0:0",
		"tmp/ 1777 0:0", "usr/ 755 0:0", "usr/bin/ 755 0:0", "usr/bin/crier 755 0:0",
		"var/ 755 0:0", "var/lib/ 755 0:0", "var/lib/crier/ 700 65532:65532",
	}
	if !reflect.DeepEqual(listing, want) {
		t.Errorf("layer:\n%s\nwant:\n%s", strings.Join(listing, "\n"), strings.Join(want, "\n"))
	}
	if caWant, _ := os.ReadFile(ca); !bytes.Equal(contents["etc/ssl/certs/ca-certificates.crt"], caWant) {
		t.Error("the CA bundle is not the one given")
	}
	if uid, _, _ := strings.Cut(c.User, ":"); !strings.Contains(string(contents["etc/passwd"]), ":"+uid+":") {
		t.Errorf("/etc/passwd has no entry for the image's user %s", c.User)
	}

	// The image's own binary and config, run as the image runs them: the
	// daemon starts and its HEALTHCHECK command says healthy.
	crier := filepath.Join(rootfs, "usr/bin/crier")
	config := filepath.Join(rootfs, "etc/crier/config.yaml")
	env := append(os.Environ(), "STATE_DIRECTORY="+filepath.Join(rootfs, "var/lib/crier"), "CRIER_CONFIG="+config)
	check := exec.Command(crier, "check")
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("crier check of the image's config: %v\n%s", err, out)
	}
	// The same config with a free port instead of 8080, which may be taken here.
	addr := freeLoopback(t)
	text := strings.Replace(string(contents["etc/crier/config.yaml"]), "listen: 0.0.0.0:8080", "listen: 0.0.0.0:"+addr[strings.LastIndex(addr, ":")+1:], 1)
	if text == string(contents["etc/crier/config.yaml"]) {
		t.Fatal("the image's config no longer says listen: 0.0.0.0:8080")
	}
	os.WriteFile(config, []byte(text), 0o644)
	daemon := exec.Command(crier, c.Cmd...)
	daemon.Env = env
	var logs bytes.Buffer
	daemon.Stderr = &logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(os.Interrupt)
		daemon.Wait()
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		health := exec.Command(crier, c.Healthcheck.Test[2:]...)
		health.Env = env
		out, err := health.CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck never passed: %v\n%s\ndaemon log:\n%s", err, out, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestContainerfileMatchesTheBuilder: people who build with docker or
// podman get the image `make image` builds.
func TestContainerfileMatchesTheBuilder(t *testing.T) {
	f, err := os.Open("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var final []string // the instructions of the last stage
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") {
			continue
		}
		line += text
		if strings.HasSuffix(line, "\\") {
			line = strings.TrimSuffix(line, "\\") + " "
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			final = []string{line}
		} else if line != "" {
			final = append(final, line)
		}
		line = ""
	}
	if len(final) == 0 || final[0] != "FROM scratch" {
		t.Fatalf("the final stage is %q, want FROM scratch", final)
	}
	want := imageConfig("")
	got := v1.Config{Volumes: map[string]struct{}{}, ExposedPorts: map[string]struct{}{}}
	jsonArgs := func(s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Errorf("%q: want the JSON form: %v", s, err)
		}
		return v
	}
	var copied []string
	for _, in := range final[1:] {
		op, args, _ := strings.Cut(in, " ")
		switch op {
		case "USER":
			got.User = args
		case "ENV":
			got.Env = append(got.Env, strings.Fields(args)...)
		case "VOLUME":
			got.Volumes[args] = struct{}{}
		case "EXPOSE":
			got.ExposedPorts[args] = struct{}{}
		case "ENTRYPOINT":
			got.Entrypoint = jsonArgs(args)
		case "CMD":
			got.Cmd = jsonArgs(args)
		case "HEALTHCHECK":
			hc := &v1.HealthConfig{}
			for {
				opt, rest, _ := strings.Cut(args, " ")
				k, v, ok := strings.Cut(strings.TrimPrefix(opt, "--"), "=")
				if !ok {
					break
				}
				args = rest
				switch k {
				case "interval":
					hc.Interval, _ = time.ParseDuration(v)
				case "timeout":
					hc.Timeout, _ = time.ParseDuration(v)
				case "start-period":
					hc.StartPeriod, _ = time.ParseDuration(v)
				case "retries":
					hc.Retries, _ = strconv.Atoi(v)
				}
			}
			cmd, rest, _ := strings.Cut(args, " ")
			hc.Test = append([]string{cmd}, jsonArgs(rest)...)
			got.Healthcheck = hc
		case "COPY":
			copied = append(copied, args)
		default:
			t.Errorf("final stage has %s, which the test does not compare", op)
		}
	}
	want.Labels = nil
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("Containerfile says\n%s\nthe builder\n%s", g, w)
	}
	for _, c := range []string{"packaging/image/passwd packaging/image/group /etc/", "packaging/image/config.yaml /etc/crier/config.yaml"} {
		if !contains(copied, c) {
			t.Errorf("Containerfile does not COPY %s", c)
		}
	}
}

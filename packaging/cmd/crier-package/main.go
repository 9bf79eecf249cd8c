// Command crier-package turns a built crier binary into a release artefact:
//
//	crier-package deb   --arch ARCH --version V --binary FILE [--date D] [--out DIR]
//	crier-package image --arch ARCH --version V --binary FILE [--commit C] [--date D] [--out DIR] [--ca-certs FILE]
//
// Both take --root DIR, the crier repository (default: the current directory).
//
// The Makefile's deb and image targets run it; see packaging/.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/crierd/crier/packaging"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crier-package:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "deb" && args[0] != "image") {
		return fmt.Errorf("usage: crier-package deb|image --arch ARCH --version V --binary FILE [--commit C] [--date RFC3339] [--out DIR] [--root DIR] [--ca-certs FILE]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	arch := fs.String("arch", "amd64", "amd64, arm64 or armv7")
	version := fs.String("version", "", "the version the binary was stamped with")
	binary := fs.String("binary", "", "the static linux binary for --arch")
	commit := fs.String("commit", "", "the git commit (image label)")
	date := fs.String("date", "", "the commit's time (RFC 3339): file times, for reproducible output; default now")
	out := fs.String("out", "dist", "output directory")
	root := fs.String("root", ".", "the crier repository")
	caCerts := fs.String("ca-certs", "", "image: the CA bundle to ship (default: this machine's /etc/ssl/certs/ca-certificates.crt)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *version == "" || *binary == "" {
		return fmt.Errorf("%s: --version and --binary are required", args[0])
	}
	var paths []string
	var err error
	switch args[0] {
	case "deb":
		var path string
		path, err = packaging.BuildDeb(packaging.DebOptions{Version: *version, Arch: *arch, Binary: *binary, Root: *root, Date: *date}, *out)
		paths = []string{path}
	case "image":
		paths, err = packaging.BuildImage(packaging.ImageOptions{Version: *version, Commit: *commit, Arch: *arch, Binary: *binary, Root: *root, Date: *date, CACerts: *caCerts}, *out)
	}
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Println(p)
	}
	return nil
}

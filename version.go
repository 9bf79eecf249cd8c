package crier

import "runtime/debug"

// Version, Commit and Date are stamped by release builds (see the Makefile):
//
//	-ldflags "-X github.com/crierd/crier.Version=1.2.3 -X github.com/crierd/crier.Commit=… -X github.com/crierd/crier.Date=…"
//
// Version is what the User-Agent and the status page show; an unstamped
// build says "dev" there. Commit and Date are only read through
// CurrentBuild, which fills in what the toolchain recorded.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Build says which source a binary was built from, for `crier version` and
// bug reports.
type Build struct {
	Version string
	Commit  string // a git revision, "-dirty" when built with uncommitted changes
	Date    string // the commit's time (RFC 3339), so rebuilding gives the same binary
}

// CurrentBuild is the stamped values, else what the Go toolchain recorded
// (`go install …@v1.2.3` records the module version; `go build` in a git
// checkout the revision and its time), else "dev" and "unknown".
func CurrentBuild() Build {
	bi, _ := debug.ReadBuildInfo()
	return buildFrom(Version, Commit, Date, bi)
}

func buildFrom(version, commit, date string, bi *debug.BuildInfo) Build {
	b := Build{Version: version, Commit: commit, Date: date}
	if bi != nil {
		if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		var revision, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value
			}
		}
		if b.Commit == "" && revision != "" {
			b.Commit = revision
			if modified == "true" {
				b.Commit += "-dirty"
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

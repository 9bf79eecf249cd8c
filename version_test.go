package crier

import (
	"runtime/debug"
	"testing"
)

func TestBuildInfoFallsBackToTheToolchainsRecord(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name                  string
		version, commit, date string // as stamped with -ldflags -X
		bi                    *debug.BuildInfo
		want                  Build
	}{
		{"stamped wins", "1.2.3", "abc123", "2026-01-02T03:04:05Z",
			&debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs("vcs.revision", "fff", "vcs.time", "2020-01-01T00:00:00Z")},
			Build{"1.2.3", "abc123", "2026-01-02T03:04:05Z"}},
		{"go build in a checkout", "dev", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "0123456789abcdef", "vcs.time", "2026-12-04T15:09:00Z", "vcs.modified", "false")},
			Build{"dev", "0123456789abcdef", "2026-12-04T15:09:00Z"}},
		{"uncommitted changes", "dev", "", "",
			&debug.BuildInfo{Settings: vcs("vcs.revision", "0123456789abcdef", "vcs.time", "2026-12-04T15:09:00Z", "vcs.modified", "true")},
			Build{"dev", "0123456789abcdef-dirty", "2026-12-04T15:09:00Z"}},
		{"go install module@version", "dev", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			Build{"v1.4.0", "unknown", "unknown"}},
		{"no build info at all", "dev", "", "", nil, Build{"dev", "unknown", "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildFrom(tt.version, tt.commit, tt.date, tt.bi); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

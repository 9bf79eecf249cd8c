package crier

import "testing"

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"Breaking news today", 10, "Breaking…"},
		{"naïve café crème", 8, "naïve c…"},
		{"日本語のニュース", 4, "日本語…"},
		{"bad \xff byte", 20, "bad \uFFFD byte"},
		{"abc", 1, "…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := Truncate(tt.in, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

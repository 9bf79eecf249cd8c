package web

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
)

// GET /api/backup hands out the whole state file, feed URLs with their
// credentials included: off loopback only with the token, and what comes
// back is a state file bbolt opens.
func TestBackupAccess(t *testing.T) {
	t.Parallel()
	s, d, _ := outFixture(t)
	remote := serve(t, outHandler(s, d, "tok"), listenerRemote)
	local := serve(t, outHandler(s, d, "tok"), listenerLoopback)
	for _, tt := range []struct {
		name string
		url  string
		hdr  map[string]string
		want int
	}{
		{"remote without token", remote.URL, nil, http.StatusForbidden},
		{"remote with a wrong token", remote.URL, map[string]string{"Authorization": "Bearer nope"}, http.StatusForbidden},
		{"remote with the token", remote.URL, map[string]string{"Authorization": "Bearer tok"}, http.StatusOK},
		{"loopback", local.URL, nil, http.StatusOK},
	} {
		resp, body := get(t, tt.url+"/api/backup", tt.hdr)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
			continue
		}
		if tt.want != http.StatusOK {
			continue
		}
		path := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
		if err != nil {
			t.Errorf("%s: the copy (%d bytes) does not open: %v", tt.name, len(body), err)
			continue
		}
		buckets := 0
		err = db.View(func(tx *bbolt.Tx) error {
			return tx.ForEach(func([]byte, *bbolt.Bucket) error { buckets++; return nil })
		})
		db.Close()
		if err != nil {
			t.Errorf("%s: reading the copy: %v", tt.name, err)
		}
		if buckets == 0 {
			t.Errorf("%s: the copy holds no buckets", tt.name)
		}
	}
}

package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crierd/crier/notify/pushoverfake"
)

// TestStatusHidesFeedSecrets: a feed whose URL carries credentials fails;
// neither the daemon's log nor `crier status` shows them, and both still
// name the feed so the user can tell which one it is.
func TestStatusHidesFeedSecrets(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	private := newTestFeed(t, "rss", 3)
	private.setStatus(http.StatusInternalServerError)
	h := newHarness(t, push, map[string]*testFeed{"Private": private})
	plain := private.srv.URL + "/feed"
	h.edit(plain, strings.Replace(plain, "://", "://reader:hunter2@", 1)+"?token=s3cr3t-t0k3n&edition=uk")

	code, out, logs := h.crier("run", "--once")
	if !strings.Contains(logs, "poll failed") {
		t.Fatalf("run --once: exit %d, no failed poll logged\n%s%s", code, out, logs)
	}
	_, status, errOut := h.crier("status")
	for what, text := range map[string]string{"log": logs, "status": status + errOut} {
		for _, secret := range []string{"hunter2", "s3cr3t-t0k3n"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q:\n%s", what, secret, text)
			}
		}
		if !strings.Contains(text, "/feed?token=***&edition=uk") {
			t.Errorf("%s does not name the feed's (redacted) URL:\n%s", what, text)
		}
	}
	if !strings.Contains(status, "HTTP 500") {
		t.Errorf("status does not say why the feed fails:\n%s", status)
	}
}

package notify

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
)

// The item's picture rides along as Pushover's multipart attachment; a
// picture that cannot be had, for whatever reason, costs the push nothing.
func TestPushoverAttachesImage(t *testing.T) {
	t.Parallel()
	host := newImageHost(t)
	for _, tc := range []struct {
		name, path string
		kv         []string
		limit      int64 // overrides the fetcher's cap when > 0
		wantFile   string
		wantLog    string
	}{
		{name: "picture attached", path: "/photo.png", wantFile: "photo.png"},
		{name: "untyped picture sniffed", path: "/untyped.png", wantFile: "untyped.png"},
		{name: "404", path: "/missing.png", wantLog: "HTTP 404"},
		{name: "too large", path: "/huge.jpg", wantLog: "more than the 5242880"},
		{name: "not an image", path: "/page.html", wantLog: "not a picture"},
		{name: "timeout", path: "/slow.jpg", wantLog: "deadline exceeded"},
		{name: "refused by Pushover, sent again without", path: "/huge-chunked.jpg", limit: 6 << 20,
			wantLog: "attachment is too large"},
		{name: "images off", path: "/untouched.png", kv: []string{"images", "false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := pushoverfake.New()
			defer fake.Close()
			var log logBuffer
			p := newTestPushover(t, fake, slog.New(slog.NewTextHandler(&log, nil)), tc.kv...)
			if p.images != nil {
				p.images = newImageFetcher("", pushoverMaxAttachment, true)
				if tc.path == "/slow.jpg" {
					p.images.timeout = 200 * time.Millisecond
				}
				if tc.limit > 0 {
					p.images.limit = tc.limit
				}
			}
			n := sampleItem()
			n.Image = host.URL + tc.path
			if err := p.Send(context.Background(), n); err != nil {
				t.Fatalf("send: %v", err)
			}
			msgs := fake.Messages()
			if len(msgs) != 1 || msgs[0].Title != "Go Blog" {
				t.Fatalf("%d messages arrived, want the one push: %+v", len(msgs), msgs)
			}
			m := msgs[0]
			if tc.wantFile != "" {
				if !bytes.Equal(m.Attachment, pngBytes) || m.AttachmentType != "image/png" || m.AttachmentName != tc.wantFile {
					t.Errorf("attachment %q %q %d bytes, want %s, image/png, the picture", m.AttachmentName, m.AttachmentType, len(m.Attachment), tc.wantFile)
				}
			} else if m.Attachment != nil {
				t.Errorf("an attachment of %d bytes arrived, want none", len(m.Attachment))
			}
			if tc.wantLog != "" && !strings.Contains(log.String(), tc.wantLog) {
				t.Errorf("log does not say %q:\n%s", tc.wantLog, log.String())
			}
			if len(tc.kv) > 0 && host.Hits(tc.path) != 0 {
				t.Errorf("images: false still fetched the picture")
			}
		})
	}
}

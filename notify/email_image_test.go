package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/crierd/crier/notify/servicefake"
)

// An item's picture is embedded in the mail as a cid: image, so the mail
// client loads nothing remote; a picture that cannot be had leaves the
// mail as it was without one.
func TestEmailEmbedsImage(t *testing.T) {
	t.Parallel()
	host := newImageHost(t)
	m := servicefake.StartMailpit(t)
	for _, tc := range []struct {
		marker, path, images string
		embedded             bool
	}{
		{"embedded", "/photo.png", "true", true},
		{"missing", "/missing.png", "true", false},
		{"not a picture", "/page.html", "true", false},
		{"images off", "/untouched.png", "false", false},
	} {
		e := must(NewEmail(emailConfig(m, "images", tc.images)))
		if e.pictures != nil {
			e.pictures = newImageFetcher("", emailMaxImage, true)
		}
		n := svcItem()
		n.Title = "Picture test " + tc.marker
		n.Image = host.URL + tc.path
		if err := e.Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", tc.marker, err)
		}
		msg := m.Only(t, "Picture test "+tc.marker)
		if !strings.Contains(msg.Text, "https://go.dev/blog/go1.26") || !strings.Contains(msg.HTML, `<a href="https://go.dev/blog/go1.26">`) {
			t.Errorf("%s: the text lost its link:\n%s\n%s", tc.marker, msg.Text, msg.HTML)
		}
		if strings.Contains(msg.HTML, host.URL) {
			t.Errorf("%s: the HTML loads the picture remotely:\n%s", tc.marker, msg.HTML)
		}
		if !tc.embedded {
			if len(msg.Inline) != 0 || len(msg.Attachments) != 0 || strings.Contains(msg.HTML, "cid:") {
				t.Errorf("%s: a picture part without a picture: %+v %+v", tc.marker, msg.Inline, msg.Attachments)
			}
			continue
		}
		if len(msg.Inline) != 1 || len(msg.Attachments) != 0 {
			t.Fatalf("%s: inline %+v attachments %+v, want the one inline picture", tc.marker, msg.Inline, msg.Attachments)
		}
		in := msg.Inline[0]
		if in.ContentType != "image/png" || in.Size != len(pngBytes) || in.FileName != "photo.png" ||
			!strings.Contains(msg.HTML, `src="cid:`+in.ContentID+`"`) {
			t.Errorf("%s: inline part %+v; HTML:\n%s", tc.marker, in, msg.HTML)
		}
	}
	if host.Hits("/untouched.png") != 0 {
		t.Error("images: false still fetched the picture")
	}
}

package notify

import (
	"context"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func setupGotify(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(*testing.T, crier.Notification)) {
	fake := servicefake.NewGotify()
	t.Cleanup(fake.Close)
	cfg = withDefault(cfg, "url", fake.URL(), "token", servicefake.GotifyToken)
	nt := must(NewGotify(cfg, fake.Client()))
	return nt, fake, func(t *testing.T, n crier.Notification) {
		m := lastAccepted(t, fake.Messages())
		noBidi(t, "title", m.Title)
		noBidi(t, "message", m.Message)
		if m.ContentType() != "text/plain" {
			t.Errorf("contentType %q, want text/plain (no markdown rendering of headlines)", m.ContentType())
		}
		if m.ClickURL() != webLink(n.Link) {
			t.Errorf("click url %q, want %q", m.ClickURL(), webLink(n.Link))
		}
	}
}

func TestGotifyFields(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewGotify()
	defer fake.Close()
	for _, tt := range []struct {
		prio, want int
	}{{-2, 0}, {-1, 2}, {0, 5}, {1, 8}, {2, 10}} {
		cfg := svcConfig("g", "gotify", "url", fake.URL()+"/", "token", servicefake.GotifyToken)
		cfg.Priority = tt.prio
		nt := must(NewGotify(cfg, fake.Client()))
		if err := nt.Send(context.Background(), svcItem()); err != nil {
			t.Fatal(err)
		}
		msgs := fake.Messages()
		m := msgs[len(msgs)-1]
		if m.Priority != tt.want {
			t.Errorf("priority %d -> %d, want %d", tt.prio, m.Priority, tt.want)
		}
		if m.TokenVia != "header" || m.Title != "Go Blog" || m.ClickURL() != "https://go.dev/blog/go1.26" {
			t.Errorf("got %+v", m)
		}
	}
}

func TestGotifyWrongTokenIsPermanent(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewGotify()
	defer fake.Close()
	nt := must(NewGotify(svcConfig("g", "gotify", "url", fake.URL(), "token", "nope"), fake.Client()))
	if err := nt.Send(context.Background(), svcItem()); err == nil || !Classify(err).Permanent {
		t.Fatalf("err = %v, want permanent", err)
	}
}

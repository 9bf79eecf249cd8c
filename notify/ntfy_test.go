package notify

import (
	"context"
	"slices"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func setupNtfy(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(*testing.T, crier.Notification)) {
	fake := servicefake.NewNtfy(true)
	t.Cleanup(fake.Close)
	cfg = withDefault(cfg, "url", fake.URL(), "topic", "crier-news", "token", servicefake.NtfyToken)
	nt := must(NewNtfy(cfg, fake.Client()))
	return nt, fake, func(t *testing.T, n crier.Notification) {
		m := lastAccepted(t, fake.Messages())
		noBidi(t, "title", m.Title)
		noBidi(t, "message", m.Message)
		if len(m.Message) > servicefake.NtfyMaxMessage {
			t.Errorf("message is %d bytes", len(m.Message))
		}
		if m.Click != webLink(n.Link) {
			t.Errorf("click = %q, want %q", m.Click, webLink(n.Link))
		}
	}
}

func TestNtfyFields(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewNtfy(true)
	defer fake.Close()
	p2 := 2
	tests := []struct {
		name  string
		cfg   crier.NotifierConfig
		n     crier.Notification
		check func(t *testing.T, m servicefake.NtfyMessage)
	}{
		{"bearer item", svcConfig("a", "ntfy", "token", servicefake.NtfyToken), svcItem(), func(t *testing.T, m servicefake.NtfyMessage) {
			want := servicefake.NtfyMessage{Topic: "crier-news", Title: "Go Blog", Click: "https://go.dev/blog/go1.26", Priority: 3, Auth: "bearer",
				Message: "Go 1.26 is released\nToday the Go team is very happy to announce the release of Go 1.26.", Tags: []string{"rss"}}
			if m.Topic != want.Topic || m.Title != want.Title || m.Click != want.Click || m.Priority != want.Priority ||
				m.Auth != want.Auth || m.Message != want.Message || !slices.Equal(m.Tags, want.Tags) {
				t.Errorf("got  %+v\nwant %+v", m, want)
			}
		}},
		{"basic auth, notifier priority", func() crier.NotifierConfig {
			c := svcConfig("b", "ntfy", "user", servicefake.NtfyUser, "password", servicefake.NtfyPassword)
			c.Priority = -2
			return c
		}(), svcItem(), func(t *testing.T, m servicefake.NtfyMessage) {
			if m.Auth != "basic" || m.Priority != 1 {
				t.Errorf("auth %q priority %d, want basic 1", m.Auth, m.Priority)
			}
		}},
		{"notification priority wins", svcConfig("c", "ntfy", "token", servicefake.NtfyToken),
			func() crier.Notification { n := svcItem(); n.Priority = &p2; return n }(), func(t *testing.T, m servicefake.NtfyMessage) {
				if m.Priority != 5 {
					t.Errorf("priority %d, want 5", m.Priority)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Options["url"] = fake.URL()
			cfg.Options["topic"] = "crier-news"
			cfg.Lists["tags"] = []string{"rss"}
			nt := must(NewNtfy(cfg, fake.Client()))
			if err := nt.Send(context.Background(), tt.n); err != nil {
				t.Fatal(err)
			}
			msgs := fake.Messages()
			tt.check(t, msgs[len(msgs)-1])
		})
	}
}

func TestNtfyWrongCredentialsArePermanent(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewNtfy(true)
	defer fake.Close()
	nt := must(NewNtfy(svcConfig("x", "ntfy", "url", fake.URL(), "topic", "t", "token", "tk_wrong"), fake.Client()))
	err := nt.Send(context.Background(), svcItem())
	if err == nil || !Classify(err).Permanent {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestNtfyPriorityMap(t *testing.T) {
	t.Parallel()
	for p, want := range map[int]int{-3: 1, -2: 1, -1: 2, 0: 3, 1: 4, 2: 5, 9: 5} {
		if got := ntfyPriority(p); got != want {
			t.Errorf("ntfyPriority(%d) = %d, want %d", p, got, want)
		}
	}
}

func TestNewNtfyRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]crier.NotifierConfig{
		"no topic":     svcConfig("x", "ntfy"),
		"topic path":   svcConfig("x", "ntfy", "topic", "a/b"),
		"bad url":      svcConfig("x", "ntfy", "topic", "t", "url", "ftp://x"),
		"token & user": svcConfig("x", "ntfy", "topic", "t", "token", "tk", "user", "u"),
		"bad timeout":  svcConfig("x", "ntfy", "topic", "t", "timeout", "soon"),
		"bad template": func() crier.NotifierConfig {
			c := svcConfig("x", "ntfy", "topic", "t")
			c.TitleTemplate = "{{"
			return c
		}(),
	} {
		if _, err := NewNtfy(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

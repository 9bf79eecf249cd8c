package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/feeds/hubfake"
	"github.com/crierd/crier/notify/pushoverfake"
)

// TestWebSubPushEndToEnd runs the real daemon against a hub: the first
// poll discovers the hub, crier subscribes and answers the hub's
// verification, and a story the hub pushes reaches the phone in seconds,
// with polls an hour apart. A push under a wrong signature is dropped.
func TestWebSubPushEndToEnd(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	hub := hubfake.New(t, hubfake.Options{})
	feed := newTestFeed(t, "atom", 3)
	feed.hub = hub.URL
	fetches := counted(feed)
	h := newHarness(t, push, map[string]*testFeed{"News": feed})

	// The first poll waits out the feed's stable jitter (up to a minute
	// at @every 1h): pick a feed path whose jitter is under a second.
	path := ""
	for i := 0; path == ""; i++ {
		if p := fmt.Sprintf("/feed%d", i); feeds.Jitter(feed.srv.URL+p, time.Hour) < time.Second {
			path = p
		}
	}
	topic := feed.srv.URL + path
	base := "http://" + freeAddr(t)
	cfg, _ := os.ReadFile(h.config)
	text := strings.Replace(string(cfg), `schedule: "@every 1m"`, `schedule: "@every 1h"`, 1)
	text = strings.Replace(text, "url: "+feed.srv.URL+"/feed\n", "url: "+topic+"\n", 1)
	text += fmt.Sprintf("http:\n  listen: %s\n  public_url: %s\n", strings.TrimPrefix(base, "http://"), base)
	writeConfig(t, h.config, text)

	cmd := h.crierProcess("run")
	defer cmd.Process.Kill()
	ctx := context.Background()

	// The first poll seeds the feed silently and finds the hub; crier
	// subscribes and the hub verifies the callback.
	ev, err := hub.Next(ctx, 30*time.Second)
	if err != nil {
		t.Fatalf("%v\nchild log tail:\n%s", err, tail(childLog(h), 3000))
	}
	if ev.Mode != "subscribe" || ev.Topic != topic || !ev.Verified || !strings.HasPrefix(ev.Callback, base+"/websub/") {
		t.Fatalf("verification: %+v, want a verified subscribe to %s with a callback under %s/websub/", ev, topic, base)
	}
	if got := websubState(t, base, topic); got != "active" {
		t.Errorf("/api/feeds websub state %q, want active", got)
	}

	// A push under a wrong secret is acknowledged (§8) and dropped.
	forged := strings.Replace(fetchFeed(t, topic), "<entry>", `<entry><title>forged story</title><link href="https://evil.example/x"/><id>urn:forged</id><updated>2026-01-09T00:00:00Z</updated></entry><entry>`, 1)
	status, err := hubfake.Deliver(ctx, ev.Callback, hub.URL, topic, "application/atom+xml", []byte(forged), "sha256", "not the secret")
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("forged push: status %d, err %v; want 202 Accepted", status, err)
	}

	// The publisher posts a story and pings its hub, which pushes the
	// new document to crier, signed.
	story := feed.add()
	if got := hub.Publish(topic, "application/atom+xml", []byte(fetchFeed(t, topic))); got[ev.Callback] != http.StatusAccepted {
		t.Fatalf("hub delivery statuses %v, want 202 from %s", got, ev.Callback)
	}
	waitPushed(t, push, story)

	if n := fetches.Load(); n != 3 {
		// The seeding poll, and the test's two reads of the document.
		t.Errorf("feed fetched %d times, want 3: a poll, not the push, may have found the story", n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	counts := delivered(push)
	if counts[story] != 1 || len(counts) != 1 {
		t.Errorf("pushed %v, want %q once and nothing else", counts, story)
	}
	log := childLog(h)
	if !strings.Contains(log, "websub: push rejected") {
		t.Errorf("the forged push was not logged as rejected; child log tail:\n%s", tail(log, 3000))
	}
}

func fetchFeed(t *testing.T, url string) string {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// websubState is the websub state /api/feeds shows for the feed at url,
// "" when it shows none.
func websubState(t *testing.T, base, url string) string {
	t.Helper()
	resp, err := testClient.Get(base + "/api/feeds")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Feeds []struct {
			URL    string
			WebSub *struct{ State string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("/api/feeds: %v", err)
	}
	for _, f := range body.Feeds {
		if f.URL == url && f.WebSub != nil {
			return f.WebSub.State
		}
	}
	return ""
}

func childLog(h *harness) string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
	return string(b)
}

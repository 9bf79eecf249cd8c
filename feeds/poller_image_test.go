package feeds

import (
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// A new item's picture is queued with its notification and is still there
// after a restart, so a push delivered later can show it.
func TestPollQueuesItemImage(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	withImage := func(body string) string {
		body = strings.Replace(body, `<rss version="2.0"`, `<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"`, 1)
		return strings.Replace(body, "<guid>urn:poll:2</guid>", `<guid>urn:poll:2</guid><media:thumbnail url="https://cdn.example/2.jpg"/>`, 1)
	}
	srv := newPLServer(t, plServe(withImage(plRSS(1, 1, ""))))
	f := plFeed("a", srv.URL+"/a")
	if _, _, err := e.poll(t, srv, f, false); err != nil {
		t.Fatal(err)
	}
	srv.Set(plServe(withImage(plRSS(1, 2, ""))))
	e.clock.Add(plInterval)
	if res, _, err := e.poll(t, srv, f, false); err != nil || res.Queued != 1 {
		t.Fatalf("second poll: %+v, %v; want one queued", res, err)
	}
	path := e.store.Path()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		if en.Notification.Kind == crier.KindItem {
			got = append(got, en.Notification.Title+" "+en.Notification.Image)
		}
	}
	if want := "Story 2 https://cdn.example/2.jpg"; len(got) != 1 || got[0] != want {
		t.Fatalf("queued after a restart: %q, want [%q]", got, want)
	}
}

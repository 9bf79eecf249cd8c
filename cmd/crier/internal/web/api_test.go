package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		healthy  bool
		reason   string
		code     int
		wantBody string
	}{
		{true, "", http.StatusOK, "ok\n"},
		{false, "scheduler silent for 4m0s", http.StatusServiceUnavailable, "scheduler silent for 4m0s\n"},
	} {
		d := &fakeDaemon{healthy: tc.healthy, reason: tc.reason}
		srv := serve(t, NewHandler(Options{Store: openStore(t, nil), Daemon: d}), listenerRemote)
		r := do(t, "GET", srv.URL+"/healthz", "", nil)
		if r.code != tc.code || r.body != tc.wantBody {
			t.Errorf("healthy=%v: got %d %q, want %d %q", tc.healthy, r.code, r.body, tc.code, tc.wantBody)
		}
	}
}

func TestAPIFeeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerRemote)
	r := do(t, "GET", srv.URL+"/api/feeds", "", nil)
	if r.code != http.StatusOK || r.ct != "application/json" {
		t.Fatalf("GET /api/feeds: %d %s %s", r.code, r.ct, r.body)
	}
	got := decode[struct {
		Feeds []map[string]any `json:"feeds"`
	}](t, r).Feeds
	if len(got) != len(f.daemon.feeds) {
		t.Fatalf("%d feeds, want %d", len(got), len(f.daemon.feeds))
	}
	// Every documented field is present in every feed, even when empty.
	fields := []string{"name", "url", "schedule", "title", "link", "last_poll", "last_success", "next_poll",
		"status", "status_text", "last_error", "last_status", "failures", "failing_since", "backoff_until",
		"gone", "moved_to", "new_today", "new_total", "last_new", "items"}
	byName := map[string]map[string]any{}
	for _, fv := range got {
		for _, k := range fields {
			if _, ok := fv[k]; !ok {
				t.Errorf("feed %v lacks field %q", fv["name"], k)
			}
		}
		byName[fv["name"].(string)] = fv
	}
	next := f.now.Add(7 * time.Minute).Format(time.RFC3339)
	backoffEnds := f.now.Add(2 * time.Hour)
	// The slow feed is next fetched at the first schedule tick after its backoff.
	slowNext, _ := feeds.NextPoll("*/10 * * * *", backoffEnds)
	for _, tc := range []struct {
		feed, status, text string
		failures           float64
		newToday           float64
		nextPoll           any
	}{
		{"good", "ok", "ok", 0, 4, next},
		{"broken", "error", "HTTP 500: server on fire", 1, 0, next},
		{"slow", "backoff", "backing off until " + clock(backoffEnds) + ": HTTP 429", 3, 0, slowNext.Format(time.RFC3339)},
		{"gone", "gone", "gone (410)", 1, 0, nil},
		{"moved", "moved", "moved to https://new.example/feed", 0, 0, next},
		{"fresh", "pending", "not polled yet", 0, 0, next},
	} {
		fv := byName[tc.feed]
		if fv["status"] != tc.status || fv["status_text"] != tc.text || fv["failures"] != tc.failures ||
			fv["new_today"] != tc.newToday || fv["next_poll"] != tc.nextPoll {
			t.Errorf("feed %s: status %v %q failures %v new_today %v next_poll %v\nwant %s %q %v %v %v",
				tc.feed, fv["status"], fv["status_text"], fv["failures"], fv["new_today"], fv["next_poll"],
				tc.status, tc.text, tc.failures, tc.newToday, tc.nextPoll)
		}
	}
	if byName["fresh"]["last_poll"] != nil || byName["good"]["last_poll"] != f.now.Add(-3*time.Minute).Format(time.RFC3339) {
		t.Errorf("last_poll: fresh %v, good %v", byName["fresh"]["last_poll"], byName["good"]["last_poll"])
	}
}

func TestAPIOutboxDeadLettersStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerRemote)

	out := decode[struct {
		Queues  []map[string]any `json:"queues"`
		Entries []map[string]any `json:"entries"`
	}](t, do(t, "GET", srv.URL+"/api/outbox", "", nil))
	if len(out.Queues) != 1 || out.Queues[0]["notifier"] != "phone" || out.Queues[0]["depth"] != 1.0 ||
		out.Queues[0]["oldest_age_seconds"] != 3600.0 {
		t.Errorf("queues: %v", out.Queues)
	}
	if len(out.Entries) != 1 || out.Entries[0]["title"] != "Still queued" || out.Entries[0]["next_try"] != nil {
		t.Errorf("entries: %v", out.Entries)
	}

	dead := decode[struct {
		DeadLetters []map[string]any `json:"dead_letters"`
	}](t, do(t, "GET", srv.URL+"/api/deadletters", "", nil)).DeadLetters
	if len(dead) != 1 || dead[0]["id"] != float64(f.deadID) || dead[0]["title"] != hostileTitle ||
		dead[0]["reason"] != "pushover: HTTP 400: invalid user key" || dead[0]["notifier"] != "phone" || dead[0]["feed"] != "good" {
		t.Errorf("dead letters: %v", dead)
	}

	st := decode[map[string]any](t, do(t, "GET", srv.URL+"/api/status", "", nil))
	want := map[string]any{
		"healthy": true, "health_reason": "", "feeds": 7.0, "failing": 4.0, "outbox": 1.0,
		"outbox_by_notifier": map[string]any{"phone": 1.0}, "dead_letters": 1.0,
		"last_poll": f.now.Add(-time.Minute).Format(time.RFC3339),
	}
	for k, v := range want {
		if fmt.Sprint(st[k]) != fmt.Sprint(v) {
			t.Errorf("status %s = %v, want %v", k, st[k], v)
		}
	}
}

func TestWriteAccess(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	for _, tc := range []struct {
		name  string
		kind  listenerKind
		token string // configured
		hdr   map[string]string
		code  int
		msg   string // in the 403's error
	}{
		{"loopback needs no token", listenerLoopback, "", nil, 200, ""},
		{"unix needs no token", listenerUnix, "", nil, 200, ""},
		{"loopback with token configured", listenerLoopback, token, nil, 200, ""},
		{"remote without token configured", listenerRemote, "", nil, 403, "loopback or unix-socket"},
		{"remote without header", listenerRemote, token, nil, 403, "Authorization: Bearer"},
		{"remote with token", listenerRemote, token, map[string]string{"Authorization": "Bearer " + token}, 200, ""},
		{"remote with wrong token", listenerRemote, token, map[string]string{"Authorization": "Bearer " + token + "x"}, 403, "wrong bearer token"},
		{"remote with basic auth", listenerRemote, token, map[string]string{"Authorization": "Basic " + token}, 403, "wrong bearer token"},
		{"loopback with wrong token", listenerLoopback, token, map[string]string{"Authorization": "Bearer nope"}, 403, "wrong bearer token"},
		{"loopback from another origin", listenerLoopback, "", map[string]string{"Origin": "https://evil.example"}, 403, "cross-origin"},
		{"loopback under a rebound name", listenerLoopback, "", map[string]string{"Host": "evil.example:8080"}, 403, "DNS rebinding"},
		{"loopback as localhost", listenerLoopback, "", map[string]string{"Host": "localhost:9"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &fakeDaemon{healthy: true, feeds: []crier.Feed{feed("good", "https://good.example/feed")}}
			srv := serve(t, NewHandler(Options{Store: openStore(t, nil), Daemon: d, Token: tc.token}), tc.kind)
			for _, call := range []struct{ path, body string }{
				{"/api/redeliver", `{"all":true}`},
				{"/api/poll?feed=good", ""},
			} {
				r := do(t, "POST", srv.URL+call.path, call.body, tc.hdr)
				if r.code != tc.code || (tc.msg != "" && !strings.Contains(r.body, tc.msg)) {
					t.Errorf("POST %s: %d %s, want %d %q", call.path, r.code, r.body, tc.code, tc.msg)
				}
			}
			if _, polled := d.counts(); (tc.code == 200) != (len(polled) == 1) {
				t.Errorf("polled %v after a %d", polled, tc.code)
			}
		})
	}
}

func TestWrongMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerLoopback)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/redeliver"}, {"GET", "/api/poll"}, {"POST", "/api/feeds"},
		{"DELETE", "/api/outbox"}, {"POST", "/healthz"}, {"PUT", "/"},
	} {
		if r := do(t, c.method, srv.URL+c.path, "", nil); r.code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", c.method, c.path, r.code)
		}
	}
	if r := do(t, "GET", srv.URL+"/nope", "", nil); r.code != http.StatusNotFound {
		t.Errorf("GET /nope: %d, want 404", r.code)
	}
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A second dead letter, so that redelivering one leaves one.
	es, err := f.store.Enqueue(crierDelivery("phone", "Another casualty"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Bury("phone", es[0].ID, "gave up"); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, f.handler(""), listenerLoopback)
	post := func(body string) reply { return do(t, "POST", srv.URL+"/api/redeliver", body, nil) }

	for _, bad := range []string{``, `{}`, `{"ids":[]}`, `{"ids":[1],"all":true}`, `{"id":1}`, `nonsense`} {
		if r := post(bad); r.code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s, want 400", bad, r.code, r.body)
		}
	}
	if r := post(`{"ids":[999999]}`); r.code != http.StatusNotFound {
		t.Errorf("unknown id: %d %s, want 404", r.code, r.body)
	}

	r := post(fmt.Sprintf(`{"ids":[%d]}`, f.deadID))
	if r.code != 200 || decode[map[string]int](t, r)["redelivered"] != 1 {
		t.Fatalf("redeliver one: %d %s", r.code, r.body)
	}
	dead, _ := f.store.DeadLetters()
	pending, _ := f.store.Outbox()
	if len(dead) != 1 || dead[0].ID != es[0].ID {
		t.Errorf("dead letters after redelivering %d: %v", f.deadID, dead)
	}
	if !slices.ContainsFunc(pending, func(e crier.Entry) bool { return e.ID == f.deadID && e.Attempts == 0 }) {
		t.Errorf("outbox after redeliver lacks entry %d: %v", f.deadID, pending)
	}
	if kicks, _ := f.daemon.counts(); kicks != 1 {
		t.Errorf("dispatcher kicked %d times, want 1", kicks)
	}

	r = post(`{"all":true}`)
	if r.code != 200 || decode[map[string]int](t, r)["redelivered"] != 1 {
		t.Fatalf("redeliver all: %d %s", r.code, r.body)
	}
	if dead, _ := f.store.DeadLetters(); len(dead) != 0 {
		t.Errorf("dead letters left after all: %v", dead)
	}
	if kicks, _ := f.daemon.counts(); kicks != 2 {
		t.Errorf("dispatcher kicked %d times, want 2", kicks)
	}
}

func TestPoll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		query  string
		poll   func(ctx context.Context, name string) (feeds.Result, error)
		code   int
		result string
		polled bool
	}{
		{"ok", "?feed=good", nil, 200, "ok", true},
		{"not modified", "?feed=good", func(context.Context, string) (feeds.Result, error) {
			return feeds.Result{Feed: "good", NotModified: true, Status: 304}, nil
		}, 200, "not_modified", true},
		{"failed", "?feed=good", func(context.Context, string) (feeds.Result, error) {
			err := errors.New("feed good (https://good.example/feed): HTTP 500")
			return feeds.Result{Feed: "good", Status: 500, Err: err}, err
		}, 502, "error", true},
		{"too slow", "?feed=good", func(ctx context.Context, _ string) (feeds.Result, error) {
			<-ctx.Done()
			return feeds.Result{}, ctx.Err()
		}, 504, "error", true},
		{"unknown feed", "?feed=nope", nil, 404, "", false},
		{"no feed", "", nil, 400, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &fakeDaemon{healthy: true, feeds: []crier.Feed{feed("good", "https://good.example/feed")}, poll: tc.poll}
			h := NewHandler(Options{Store: openStore(t, nil), Daemon: d, PollTimeout: 100 * time.Millisecond})
			srv := serve(t, h, listenerLoopback)
			r := do(t, "POST", srv.URL+"/api/poll"+tc.query, "", nil)
			if r.code != tc.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tc.code)
			}
			if _, polled := d.counts(); tc.polled != slices.Equal(polled, []string{"good"}) {
				t.Errorf("PollNow calls %v", polled)
			}
			if tc.result == "" {
				return
			}
			v := decode[map[string]any](t, r)
			if v["feed"] != "good" || v["result"] != tc.result || (tc.result == "error") != (v["error"] != "") {
				t.Errorf("reply %v, want feed good result %s", v, tc.result)
			}
		})
	}
}

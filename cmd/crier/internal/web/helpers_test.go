package web

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/store/bolt"
)

// fakeDaemon stands in for the scheduler and dispatcher.
type fakeDaemon struct {
	mu      sync.Mutex
	feeds   []crier.Feed
	next    map[string]time.Time // by feed ID
	healthy bool
	reason  string
	kicks   int
	polled  []string
	poll    func(ctx context.Context, name string) (feeds.Result, error)

	notifiers []string
	tested    []string
	testErr   error // what TestNotify answers
}

// testClient has a transport of its own: httptest servers closing in
// parallel tests close http.DefaultTransport's connections, even one under
// a request in flight ("CloseIdleConnections called").
var testClient = &http.Client{Transport: &http.Transport{}}

func (d *fakeDaemon) Notifiers() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.notifiers...)
}

func (d *fakeDaemon) TestNotify(_ context.Context, notifier string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tested = append(d.tested, notifier)
	return d.testErr
}

func (d *fakeDaemon) Feeds() []crier.Feed {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]crier.Feed(nil), d.feeds...)
}

func (d *fakeDaemon) NextPoll(feedID string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.next[feedID]
}

func (d *fakeDaemon) PollNow(ctx context.Context, name string) (feeds.Result, error) {
	d.mu.Lock()
	d.polled = append(d.polled, name)
	poll := d.poll
	d.mu.Unlock()
	if poll == nil {
		return feeds.Result{Feed: name, Status: 200, Items: 3, New: 1, Queued: 1}, nil
	}
	return poll(ctx, name)
}

func (d *fakeDaemon) Healthy(time.Time) (bool, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.healthy, d.reason
}

func (d *fakeDaemon) Kick() {
	d.mu.Lock()
	d.kicks++
	d.mu.Unlock()
}

func (d *fakeDaemon) counts() (kicks int, polled []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kicks, append([]string(nil), d.polled...)
}

func openStore(t *testing.T, now func() time.Time) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "crier.db"), bolt.Options{NoSync: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func feed(name, url string) crier.Feed {
	return crier.Feed{Name: name, URL: url, Schedule: "*/10 * * * *", Notify: []string{"phone"}}
}

const hostileTitle = `<script>document.title="pwned"</script>Big <b>news</b> & more`

// fixture is a state file with a feed in each state, a delivered headline,
// a queued notification and a dead letter, all as the daemon would leave them.
type fixture struct {
	now    time.Time
	store  *bolt.Store
	daemon *fakeDaemon
	deadID uint64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	clockAt := now.Add(-time.Hour) // the store's clock: entries are an hour old
	s := openStore(t, func() time.Time { return clockAt })
	hostileName := `<img src=x onerror=alert(1)>`
	d := &fakeDaemon{healthy: true, next: map[string]time.Time{}, notifiers: []string{"phone", "mail"}, feeds: []crier.Feed{
		feed("good", "https://good.example/feed"),
		feed("broken", "https://broken.example/feed"),
		feed("slow", "https://slow.example/feed"),
		feed("gone", "https://gone.example/feed"),
		feed("moved", "https://moved.example/feed"),
		feed("fresh", "https://fresh.example/feed"),
		feed(hostileName, "javascript:alert(1)"),
	}}
	for _, f := range d.feeds {
		d.next[f.FeedID()] = now.Add(7 * time.Minute)
	}
	today := now.Local().Format(time.DateOnly)
	states := map[string]crier.FeedState{
		"good":      {LastPoll: now.Add(-3 * time.Minute), LastSuccess: now.Add(-3 * time.Minute), LastStatus: 200, NewToday: 4, NewDay: today, Items: 20, Title: "Good News"},
		"broken":    {LastPoll: now.Add(-time.Minute), LastError: "HTTP 500: server on fire", Failures: 1, LastStatus: 500},
		"slow":      {LastPoll: now.Add(-time.Minute), LastError: "HTTP 429", Failures: 3, BackoffUntil: now.Add(2 * time.Hour), NewToday: 9, NewDay: "2001-01-01"},
		"gone":      {LastPoll: now.Add(-time.Minute), LastError: "HTTP 410", Failures: 1, Gone: true, LastStatus: 410},
		"moved":     {LastPoll: now.Add(-time.Minute), LastSuccess: now.Add(-time.Minute), MovedTo: "https://new.example/feed"},
		hostileName: {LastPoll: now.Add(-time.Minute), LastError: hostileTitle, Failures: 1},
	}
	// "good" was seeded with one item, then brought two new ones.
	goodID := d.feeds[0].FeedID()
	for _, keys := range [][]string{{"a"}, {"a", "b", "c"}} {
		var items []crier.Item
		for _, k := range keys {
			items = append(items, crier.Item{Keys: []string{k}, Title: k})
		}
		if _, err := s.Ingest(goodID, crier.FeedState{}, items, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range d.feeds {
		if st, ok := states[f.Name]; ok {
			st.URL = f.URL
			if err := s.SaveFeedState(f.FeedID(), st); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := func(title string) crier.Delivery {
		return crier.Delivery{Notifier: "phone", Notification: crier.Notification{
			Kind: crier.KindItem, Feed: "good", Title: title, Link: "https://good.example/1",
		}}
	}
	es, err := s.Enqueue(n("Delivered headline"), n(hostileTitle), n("Still queued"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done("phone", es[0].ID); err != nil {
		t.Fatal(err)
	}
	// The same story through a second notifier: one story on the page.
	mail := n("Delivered headline")
	mail.Notifier = "mail"
	em, err := s.Enqueue(mail)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done("mail", em[0].ID); err != nil {
		t.Fatal(err)
	}
	s.RecordPoll(2*time.Second, false)
	s.RecordPoll(4*time.Second, true)
	if err := s.Bury("phone", es[1].ID, "pushover: HTTP 400: invalid user key"); err != nil {
		t.Fatal(err)
	}
	return &fixture{now: now, store: s, daemon: d, deadID: es[1].ID}
}

// serve starts h behind a listener of the given kind, as Listen would mark it.
func serve(t *testing.T, h http.Handler, kind listenerKind) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return withListener(context.Background(), kind) }
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) handler(token string) http.Handler {
	return NewHandler(Options{Store: f.store, Daemon: f.daemon, Token: token, Now: func() time.Time { return f.now }})
}

type reply struct {
	code int
	body string
	ct   string
}

func do(t *testing.T, method, url, body string, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, string(b), resp.Header.Get("Content-Type")}
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

func crierDelivery(notifier, title string) crier.Delivery {
	return crier.Delivery{Notifier: notifier, Notification: crier.Notification{Kind: crier.KindItem, Feed: "good", Title: title}}
}

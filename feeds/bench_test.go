package feeds_test

// Benchmarks of the whole poll pipeline against generated feeds served by
// feedgen in a child process, so that rusage, allocation counts and heap
// sizes are crier's alone. See /work/notes/perf.md (README "Performance")
// for the command and the numbers.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/feeds/feedgen"
	"github.com/crierd/crier/notify"
	"github.com/crierd/crier/store/bolt"
	"github.com/mmcdole/gofeed"
)

// benchConcurrency is the daemon's default http.concurrency.
const benchConcurrency = 8

// benchFeedOptions shape the served feeds: 20–50 items of ~1.5 KB of
// article HTML, ~80 KB a feed on average, a third each RSS, Atom and JSON.
func benchFeedOptions(n int) feedgen.Options {
	return feedgen.Options{Feeds: n, MinItems: 20, MaxItems: 50, DescBytes: 1500, Validators: true, Control: true}
}

func benchFeedCount(tb testing.TB) int {
	v := os.Getenv("CRIER_BENCH_FEEDS")
	if v == "" {
		return 200
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("CRIER_BENCH_FEEDS=%q: want a positive count", v)
	}
	return n
}

// benchChildEnv makes TestBenchFeedServerChild serve feeds instead of
// skipping; its value is "feeds,descBytes,minItems,maxItems".
const benchChildEnv = "CRIER_BENCH_FEEDGEN_CHILD"

// TestBenchFeedServerChild is the benchmarks' feed server when run as a
// child process; it serves until its stdin closes.
func TestBenchFeedServerChild(t *testing.T) {
	spec := os.Getenv(benchChildEnv)
	if spec == "" {
		t.Skip("the benchmarks' feed server process")
	}
	var o feedgen.Options
	if _, err := fmt.Sscanf(spec, "%d,%d,%d,%d", &o.Feeds, &o.DescBytes, &o.MinItems, &o.MaxItems); err != nil {
		t.Fatalf("%s=%q: %v", benchChildEnv, spec, err)
	}
	o.Validators, o.Control = true, true
	srv, err := feedgen.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	srv.Warm()
	fmt.Fprintln(os.Stdout, "feedgen-url "+srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

// urlLine catches the child's "feedgen-url" line.
type urlLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	url  chan string
}

func (w *urlLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if u, ok := strings.CutPrefix(line, "feedgen-url "); ok && strings.HasPrefix(u, "http://") {
			w.once.Do(func() { w.url <- strings.TrimSpace(u) })
		}
	}
	return len(p), nil
}

// startFeedServer runs feedgen in a child process for the rest of tb.
func startFeedServer(tb testing.TB, o feedgen.Options) feedgen.Remote {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchFeedServerChild$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d,%d,%d", benchChildEnv, o.Feeds, o.DescBytes, o.MinItems, o.MaxItems))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out := &urlLine{url: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start feed server: %v", err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	select {
	case u := <-out.url:
		return feedgen.Remote{URL: u}
	case <-time.After(time.Minute):
		tb.Fatal("feed server did not start within a minute")
	}
	return feedgen.Remote{}
}

// benchPipe is the daemon's wiring (cmd/crier/daemon.go) over a temp state
// dir: loaded config, real store with fsync, jsonl notifier behind the real
// dispatcher, real fetcher and poller.
type benchPipe struct {
	cfg    *crier.Config
	st     *bolt.Store
	poller *feeds.Poller
	disp   *notify.Dispatcher
	sent   atomic.Int64 // notifications the notifier accepted
	lat    *benchLatency
	stop   func()
}

// benchConfig writes the benchmark's config; sameStory, when given, is
// the defaults' same_story.
func benchConfig(tb testing.TB, dir string, urls []string, sameStory ...string) *crier.Config {
	tb.Helper()
	var y strings.Builder
	fmt.Fprintf(&y, "state_dir: %s\nhttp:\n  concurrency: %d\n", dir, benchConcurrency)
	// Every generated feed is on one loopback host; real feeds are on
	// many, so the per-host limit must not be what bounds the benchmark.
	fmt.Fprintf(&y, "  per_host: %d\n", benchConcurrency)
	for _, s := range sameStory {
		fmt.Fprintf(&y, "defaults:\n  same_story: %s\n", s)
	}
	y.WriteString("notifiers:\n  - name: log\n    type: jsonl\n    path: notifications.jsonl\nfeeds:\n")
	for i, u := range urls {
		fmt.Fprintf(&y, "  - name: news-%d\n    url: %s\n", i, u)
	}
	path := filepath.Join(dir, "crier.yaml")
	cfg, err := crier.Load(strings.NewReader(y.String()), path, crier.LoadOptions{
		Env:  func(string) (string, bool) { return "", false },
		Home: dir,
	})
	if err != nil {
		tb.Fatalf("load config: %v", err)
	}
	return cfg
}

func newBenchPipe(tb testing.TB, cfg *crier.Config, lat *benchLatency) *benchPipe {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(cfg.StateDir, "crier.db"), bolt.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	p := &benchPipe{cfg: cfg, st: st, lat: lat}
	notifiers := map[string]notify.Notifier{}
	burst := map[string]int{}
	stories := feeds.StoryPolicy{Notifiers: map[string]feeds.NotifierStory{}}
	for _, nc := range cfg.Notifiers {
		stories.Notifiers[nc.Name] = feeds.NotifierStory{Mode: nc.SameStory, Window: nc.Window, Escalate: nc.Escalate}
		n, err := notify.Build(nc, notify.Deps{StateDir: cfg.StateDir})
		if err != nil {
			tb.Fatal(err)
		}
		notifiers[nc.Name] = benchNotifier{n, p}
		if nc.Burst != nil {
			burst[nc.Name] = *nc.Burst
		}
	}
	p.disp = notify.NewDispatcher(st, notifiers, notify.DispatcherOptions{Burst: burst})
	var s crier.Recorder = st
	if lat != nil {
		s = benchStore{st, lat}
	}
	fetcher := feeds.NewFetcher(nil, feeds.FetchOptions{MaxBody: cfg.HTTP.MaxBody, UserAgent: cfg.HTTP.UserAgent, PerHost: cfg.HTTP.PerHost})
	p.poller = feeds.NewPoller(fetcher, s, feeds.PollerOptions{
		Concurrency:   cfg.HTTP.Concurrency,
		NotifierBurst: burst,
		Queued:        p.disp.Kick,
		Interval:      func(f crier.Feed) time.Duration { return feeds.Interval(f.Schedule) },
	})
	p.poller.SetRouting(feeds.Routing{NotifierBurst: burst, Stories: stories})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.disp.Run(ctx)
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			_ = st.Close()
		})
	}
	tb.Cleanup(p.stop)
	return p
}

// benchNotifier counts deliveries and, when measuring, notes the latency
// from the commit that queued a notification to this call.
type benchNotifier struct {
	notify.Notifier
	p *benchPipe
}

func (n benchNotifier) Send(ctx context.Context, no crier.Notification) error {
	if n.p.lat != nil {
		n.p.lat.sent(no.ItemID)
	}
	err := n.Notifier.Send(ctx, no)
	if err == nil {
		n.p.sent.Add(1)
	}
	return err
}

// poll runs one PollAll and fails unless every feed came out as want says.
func (p *benchPipe) poll(tb testing.TB, want func(feeds.Result) bool) {
	tb.Helper()
	for _, r := range feeds.PollAll(context.Background(), p.poller, p.cfg.Feeds) {
		if r.Err != nil || !want(r) {
			tb.Fatalf("unexpected poll result for %s: %+v", r.Feed, r)
		}
	}
}

// waitSent waits until the notifier has accepted n notifications in all and
// the outbox is empty again.
func (p *benchPipe) waitSent(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if p.sent.Load() >= n {
			counts, err := p.st.OutboxCounts()
			if err != nil {
				tb.Fatal(err)
			}
			if len(counts) == 0 {
				return
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	tb.Fatalf("%d of %d notifications delivered after 5 minutes", p.sent.Load(), n)
}

func (p *benchPipe) storeBytes() int64 {
	fi, err := os.Stat(p.st.Path())
	if err != nil {
		return 0
	}
	return fi.Size()
}

var (
	wantSeeded = func(r feeds.Result) bool { return r.Status == 200 && r.Items >= 20 && r.Queued == 0 }
	want304    = func(r feeds.Result) bool { return r.NotModified }
	wantSame   = func(r feeds.Result) bool { return r.Unchanged }
	wantChurn  = func(r feeds.Result) bool { return r.New == 2 && r.Queued == 2 }
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter sums what the timed cycles of one sub-benchmark cost.
type meter struct {
	cycles      int
	wall, cpu   time.Duration
	allocs      uint64
	cpu0, wall0 time.Duration
	t0          time.Time
	m0          uint64
}

func (m *meter) start(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.m0 = ms.Mallocs
	m.cpu0, m.t0 = cpuTime(), time.Now()
	b.StartTimer()
}

func (m *meter) stop(b *testing.B) {
	b.StopTimer()
	m.wall += time.Since(m.t0)
	m.cpu += cpuTime() - m.cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.allocs += ms.Mallocs - m.m0
	m.cycles++
}

func (m *meter) cpuPer() time.Duration  { return m.cpu / time.Duration(max(m.cycles, 1)) }
func (m *meter) wallPer() time.Duration { return m.wall / time.Duration(max(m.cycles, 1)) }

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkPipeline measures one poll cycle (PollAll over every feed at
// the daemon's concurrency) in each situation a daemon meets, next to the
// floor: a bare loop of GETs and gofeed parses. "churn" includes delivering
// its notifications (jsonl, fsync'd) through the running dispatcher;
// drain-ms/cycle is the part of its wall time after PollAll returned.
func BenchmarkPipeline(b *testing.B) {
	n := benchFeedCount(b)
	remote := startFeedServer(b, benchFeedOptions(n))
	ctx := context.Background()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = remote.FeedURL(i)
	}
	heap0 := liveHeap()
	base := map[string]*meter{}
	report := func(b *testing.B, m *meter, p *benchPipe, floor string) {
		b.ReportMetric(ms(m.cpuPer()), "cpu-ms/cycle")
		b.ReportMetric(ms(m.wallPer()), "wall-ms/cycle")
		b.ReportMetric(float64(m.allocs)/float64(max(m.cycles, 1)), "allocs/cycle")
		heap := liveHeap()
		b.ReportMetric(float64(int64(heap)-int64(heap0))/float64(n), "heap-B/feed")
		if p != nil {
			b.ReportMetric(float64(p.storeBytes()), "store-B")
		}
		if f := base[floor]; f != nil && floor != "" {
			b.ReportMetric(float64(m.cpuPer())/float64(f.cpuPer()), "cpu-ratio")
			b.ReportMetric(float64(m.wallPer())/float64(f.wallPer()), "wall-ratio")
		}
		if p != nil {
			runtime.KeepAlive(p)
		}
	}

	bare := func(name string, validators bool) {
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			bl := newBareLoop(urls)
			if validators {
				bl.run(b, ctx) // learn the ETags
			}
			var m meter
			for range b.N {
				m.start(b)
				got := bl.run(b, ctx)
				m.stop(b)
				if validators && got.notModified != n || !validators && got.parsed != n {
					b.Fatalf("bare loop: %+v", got)
				}
				if !validators {
					clear(bl.etags)
				}
			}
			base[name] = &m
			report(b, &m, nil, "")
			runtime.KeepAlive(bl)
		})
	}
	bare("bare-parse", false)
	bare("bare-304", true)

	seeded := func(b *testing.B) *benchPipe {
		p := newBenchPipe(b, benchConfig(b, b.TempDir(), urls), nil)
		p.poll(b, wantSeeded)
		return p
	}
	b.Run("cold", func(b *testing.B) {
		b.StopTimer()
		var m meter
		var p *benchPipe
		for range b.N {
			if p != nil {
				p.stop()
			}
			p = newBenchPipe(b, benchConfig(b, b.TempDir(), urls), nil)
			m.start(b)
			p.poll(b, wantSeeded)
			m.stop(b)
		}
		report(b, &m, p, "bare-parse")
	})
	// The first warm cycle after a 200 also commits each feed's new status
	// (LastStatus 200 -> 304); the cycles after it change only poll times,
	// whose commits the store defers. The timed cycles are the steady ones;
	// first-cpu-ms reports the first.
	primed := func(b *testing.B, want func(feeds.Result) bool) (*benchPipe, *meter) {
		p := seeded(b)
		var first meter
		first.start(b)
		p.poll(b, want)
		first.stop(b)
		b.ResetTimer() // ns/op covers the steady cycles only
		return p, &first
	}
	b.Run("warm-304", func(b *testing.B) {
		b.StopTimer()
		p, first := primed(b, want304)
		var m meter
		for range b.N {
			m.start(b)
			p.poll(b, want304)
			m.stop(b)
		}
		report(b, &m, p, "bare-304")
		b.ReportMetric(ms(first.cpuPer()), "first-cpu-ms")
	})
	b.Run("warm-200", func(b *testing.B) {
		b.StopTimer()
		if err := remote.SetValidators(ctx, false); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = remote.SetValidators(ctx, true) }()
		p, first := primed(b, wantSame)
		var m meter
		for range b.N {
			m.start(b)
			p.poll(b, wantSame)
			m.stop(b)
		}
		report(b, &m, p, "bare-parse")
		b.ReportMetric(ms(first.cpuPer()), "first-cpu-ms")
	})
	// churn runs with the default same_story (link); churn-off is crier
	// before stories, churn-similar adds headline matching. cpu-vs-off
	// is the cost of stories.
	churn := func(name, sameStory string) {
		b.Run(name, func(b *testing.B) {
			churnCycles(b, remote, urls, sameStory, base, report)
		})
	}
	churn("churn-off", "off")
	churn("churn", "link")
	churn("churn-similar", "similar")
}

func churnCycles(b *testing.B, remote feedgen.Remote, urls []string, sameStory string, base map[string]*meter,
	report func(*testing.B, *meter, *benchPipe, string)) {
	ctx := context.Background()
	n := len(urls)
	{
		b.StopTimer()
		p := newBenchPipe(b, benchConfig(b, b.TempDir(), urls, sameStory), nil)
		p.poll(b, wantSeeded)
		var m meter
		var drain time.Duration
		for range b.N {
			if err := remote.Publish(ctx, 2); err != nil {
				b.Fatal(err)
			}
			want := p.sent.Load() + int64(2*n)
			m.start(b)
			p.poll(b, wantChurn)
			polled := time.Now()
			p.waitSent(b, want)
			drain += time.Since(polled)
			m.stop(b)
		}
		report(b, &m, p, "bare-parse")
		b.ReportMetric(ms(drain)/float64(b.N), "drain-ms/cycle")
		if off := base["churn-off"]; off != nil && sameStory != "off" {
			b.ReportMetric(float64(m.cpuPer())/float64(off.cpuPer()), "cpu-vs-off")
		}
		if sameStory == "off" {
			base["churn-off"] = &m
		}
	}
}

// bareLoop is the floor: GET each feed with its validators and hand the
// body to gofeed, nothing else.
type bareLoop struct {
	urls   []string
	etags  []string
	client *http.Client
}

func newBareLoop(urls []string) *bareLoop {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = benchConcurrency
	return &bareLoop{urls: urls, etags: make([]string, len(urls)), client: &http.Client{Transport: t}}
}

type bareResult struct{ parsed, notModified int }

func (l *bareLoop) run(b *testing.B, ctx context.Context) bareResult {
	var parsed, notMod atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, benchConcurrency)
	for i, u := range l.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if l.etags[i] != "" {
				req.Header.Set("If-None-Match", l.etags[i])
			}
			resp, err := l.client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusNotModified {
				notMod.Add(1)
				return
			}
			l.etags[i] = resp.Header.Get("ETag")
			if _, err := gofeed.NewParser().Parse(resp.Body); err != nil {
				b.Error(err)
				return
			}
			parsed.Add(1)
		}()
	}
	wg.Wait()
	return bareResult{int(parsed.Load()), int(notMod.Load())}
}

// benchStore notes when each queued notification's transaction committed.
type benchStore struct {
	*bolt.Store
	lat *benchLatency
}

func (s benchStore) Ingest(feedID string, st crier.FeedState, items []crier.Item,
	plan func([]crier.NewItem, bool) []crier.Delivery) (crier.IngestResult, error) {
	var ids []string
	res, err := s.Store.Ingest(feedID, st, items, func(fresh []crier.NewItem, first bool) []crier.Delivery {
		ds := plan(fresh, first)
		ids = ids[:0]
		for _, d := range ds {
			ids = append(ids, d.Notification.ItemID)
		}
		return ds
	})
	if err == nil {
		s.lat.committed(ids)
	}
	return res, err
}

func (s benchStore) IngestStories(feedID string, st crier.FeedState, items []crier.Item, window time.Duration,
	plan func([]crier.NewItem, bool, crier.StoryIndex) ([]crier.Delivery, error)) (crier.IngestResult, error) {
	var ids []string
	res, err := s.Store.IngestStories(feedID, st, items, window, func(fresh []crier.NewItem, first bool, stx crier.StoryIndex) ([]crier.Delivery, error) {
		ds, err := plan(fresh, first, stx)
		ids = ids[:0]
		for _, d := range ds {
			ids = append(ids, d.Notification.ItemID)
		}
		return ds, err
	})
	if err == nil {
		s.lat.committed(ids)
	}
	return res, err
}

// benchLatency pairs commits with sends by item ID.
type benchLatency struct {
	mu     sync.Mutex
	commit map[string]time.Time
	took   []time.Duration
}

func (l *benchLatency) committed(ids []string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.commit[id] = now
	}
}

func (l *benchLatency) sent(id string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// The notifier can be called before Ingest has returned to the
	// wrapper: the commit happened, only its note is late. Count it as 0.
	if t, ok := l.commit[id]; ok {
		l.took = append(l.took, now.Sub(t))
		delete(l.commit, id)
	} else {
		l.took = append(l.took, 0)
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// BenchmarkNotifyLatency measures the time from the store commit that
// queues a notification to the notifier's Send call (jsonl), through the
// real poller, Queued hook, Kick and dispatcher. Each op is 20 rounds of
// 2 new items on each of 50 feeds (2000 notifications). "spread" polls the
// feeds one after another, as the scheduler's jitter spreads them; "burst"
// polls them all at once with PollAll, so notifications queue up behind
// each other's fsyncs.
func BenchmarkNotifyLatency(b *testing.B) {
	const feedsN, rounds = 50, 20
	remote := startFeedServer(b, benchFeedOptions(feedsN))
	ctx := context.Background()
	urls := make([]string, feedsN)
	for i := range urls {
		urls[i] = remote.FeedURL(i)
	}
	for _, mode := range []string{"spread", "burst"} {
		b.Run(mode, func(b *testing.B) {
			lat := &benchLatency{commit: map[string]time.Time{}}
			p := newBenchPipe(b, benchConfig(b, b.TempDir(), urls), lat)
			p.poll(b, wantSeeded)
			b.ResetTimer()
			for range b.N {
				for range rounds {
					b.StopTimer()
					if err := remote.Publish(ctx, 2); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					want := p.sent.Load() + 2*feedsN
					if mode == "burst" {
						p.poll(b, wantChurn)
					} else {
						for _, f := range p.cfg.Feeds {
							if r, err := p.poller.Poll(ctx, f, false); err != nil || !wantChurn(r) {
								b.Fatalf("poll %s: %+v", f.Name, r)
							}
						}
					}
					p.waitSent(b, want)
				}
			}
			b.StopTimer()
			lat.mu.Lock()
			took := slices.Clone(lat.took)
			lat.mu.Unlock()
			slices.Sort(took)
			b.ReportMetric(float64(len(took)), "notifications")
			b.ReportMetric(ms(percentile(took, 0.50)), "p50-ms")
			b.ReportMetric(ms(percentile(took, 0.99)), "p99-ms")
			b.ReportMetric(ms(took[len(took)-1]), "max-ms")
		})
	}
}

// BenchmarkSteadyHeap10k measures the heap a daemon with 10 000 configured
// feeds holds between polls: loaded config, scheduler with every feed
// scheduled, poller, dispatcher and store, after every feed has been
// polled once (seeded) and once more (304). Items are small (20 items of
// ~300 B) to keep the run short; the steady heap does not hold items.
func BenchmarkSteadyHeap10k(b *testing.B) {
	const feedsN = 10000
	remote := startFeedServer(b, feedgen.Options{Feeds: feedsN, MinItems: 20, MaxItems: 20, DescBytes: 300})
	urls := make([]string, feedsN)
	for i := range urls {
		urls[i] = remote.FeedURL(i)
	}
	for range b.N {
		b.StopTimer()
		heap0 := liveHeap()
		b.StartTimer()
		p := newBenchPipe(b, benchConfig(b, b.TempDir(), urls), nil)
		sched := feeds.NewScheduler(p.poller, nil, nil)
		if err := sched.Apply(p.cfg.Feeds); err != nil {
			b.Fatal(err)
		}
		p.poll(b, wantSeeded)
		p.poll(b, want304)
		b.StopTimer()
		heap := liveHeap() - heap0
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(heap)/feedsN, "heap-B/feed")
		b.ReportMetric(float64(p.storeBytes())/(1<<20), "store-MiB")
		runtime.KeepAlive(sched)
		p.stop()
	}
}

// BenchmarkDayOfPolling is a day of polling at a 15-minute interval: 96
// churn cycles (2 new items per feed, delivered) over 200 feeds. It fails
// when the live heap trends upward: the mean of the last quarter of cycles
// may exceed that of the second quarter by at most 10%. RSS is reported
// split into anonymous memory (heap, stacks) and file pages (the bbolt
// mmap, which grows with the seen-item history until retention prunes it).
func BenchmarkDayOfPolling(b *testing.B) {
	const feedsN, cycles = 200, 96
	remote := startFeedServer(b, benchFeedOptions(feedsN))
	ctx := context.Background()
	urls := make([]string, feedsN)
	for i := range urls {
		urls[i] = remote.FeedURL(i)
	}
	for range b.N {
		p := newBenchPipe(b, benchConfig(b, b.TempDir(), urls), nil)
		p.poll(b, wantSeeded)
		heap := make([]float64, cycles)
		anon := make([]float64, cycles)
		file := make([]float64, cycles)
		for c := range cycles {
			if err := remote.Publish(ctx, 2); err != nil {
				b.Fatal(err)
			}
			want := p.sent.Load() + 2*feedsN
			p.poll(b, wantChurn)
			p.waitSent(b, want)
			heap[c] = float64(liveHeap())
			anon[c], file[c] = rss()
		}
		q := cycles / 4
		mean := func(xs []float64) float64 {
			s := 0.0
			for _, x := range xs {
				s += x
			}
			return s / float64(len(xs))
		}
		h2, h4 := mean(heap[q:2*q]), mean(heap[3*q:])
		b.ReportMetric(h2/(1<<20), "heap-q2-MiB")
		b.ReportMetric(h4/(1<<20), "heap-q4-MiB")
		b.ReportMetric(mean(anon[q:2*q])/(1<<20), "rss-anon-q2-MiB")
		b.ReportMetric(mean(anon[3*q:])/(1<<20), "rss-anon-q4-MiB")
		b.ReportMetric(mean(file[q:2*q])/(1<<20), "rss-file-q2-MiB")
		b.ReportMetric(mean(file[3*q:])/(1<<20), "rss-file-q4-MiB")
		b.ReportMetric(float64(p.storeBytes())/(1<<20), "store-MiB")
		if h4 > 1.10*h2 {
			b.Errorf("live heap grows: second quarter %.1f MiB, last quarter %.1f MiB", h2/(1<<20), h4/(1<<20))
		}
		p.stop()
	}
}

// rss reads the process's resident anonymous and file-backed memory.
func rss() (anon, file float64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			continue
		}
		switch k {
		case "RssAnon":
			anon = kb * 1024
		case "RssFile":
			file = kb * 1024
		}
	}
	return anon, file
}

package notify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// The lease tests run two dispatchers as two workers of a fleet run them:
// one outbox (a bbolt file), one lease table (fakeLeases), one fake clock
// that judges the leases. Each worker has its own notifier, and both
// deliver to one service, which sees what a user would: every message
// once, in order, and never two sends of one lane at once.

// fakeLeases is LaneLeases as a shared store keeps it, in memory, with
// expiry on the test's clock. A killed owner's calls fail, as a dead
// worker's would; its leases run out like any other.
type fakeLeases struct {
	now func() time.Time

	mu      sync.Mutex
	lanes   map[string]fakeLease
	killed  map[string]bool
	refused map[string]int // HoldLane answered false, by owner
	failed  map[string]int // calls of killed owners
}

type fakeLease struct {
	owner string
	until time.Time
}

var errKilled = errors.New("worker killed")

func newFakeLeases(now func() time.Time) *fakeLeases {
	return &fakeLeases{now: now, lanes: map[string]fakeLease{}, killed: map[string]bool{}, refused: map[string]int{}, failed: map[string]int{}}
}

func (f *fakeLeases) HoldLane(_ context.Context, notifier, owner string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[owner] {
		f.failed[owner]++
		return false, errKilled
	}
	now := f.now()
	if cur, ok := f.lanes[notifier]; ok && cur.owner != owner && cur.until.After(now) {
		f.refused[owner]++
		return false, nil
	}
	f.lanes[notifier] = fakeLease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

func (f *fakeLeases) ReleaseLane(_ context.Context, notifier, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[owner] {
		return errKilled
	}
	if f.lanes[notifier].owner == owner {
		delete(f.lanes, notifier)
	}
	return nil
}

func (f *fakeLeases) kill(owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed[owner] = true
}

func (f *fakeLeases) holder(notifier string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lanes[notifier].owner
}

func (f *fakeLeases) failures(owner string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed[owner]
}

func (f *fakeLeases) refusals(owner string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused[owner]
}

// laneService is the one service both workers' notifiers deliver to.
type laneService struct {
	mu       sync.Mutex
	got      []string       // titles, in delivery order
	by       map[string]int // deliveries by worker
	inFlight int            // sends in progress
	most     int            // the most there ever were
	during   func(n int)    // runs inside the n-th send (from 1)
}

// worker returns worker's notifier for the service.
func (s *laneService) worker(name string) Notifier {
	return &recordingNotifier{fn: func(_ context.Context, _ int, n crier.Notification) error {
		s.mu.Lock()
		s.inFlight++
		s.most = max(s.most, s.inFlight)
		s.got = append(s.got, n.Title)
		s.by[name]++
		during, count := s.during, len(s.got)
		s.mu.Unlock()
		if during != nil {
			during(count)
		}
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
		return nil
	}}
}

func (s *laneService) sentBy(worker string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.by[worker]
}

func (s *laneService) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func titles(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

type leaseWorld struct {
	clk    *fakeClock
	store  crier.Outbox
	leases *fakeLeases
	svc    *laneService
}

const testLease = 2 * time.Minute

// run starts worker's dispatcher for the lane "phone". cancel ends its Run
// as a process's end would (a send in flight finishes, then the loop
// returns); done is closed when Run has returned.
func (w *leaseWorld) run(t *testing.T, worker string) (d *Dispatcher, cancel context.CancelFunc, done <-chan struct{}) {
	t.Helper()
	d = NewDispatcher(w.store, map[string]Notifier{"phone": w.svc.worker(worker)}, DispatcherOptions{
		Now: w.clk.Now, Leases: w.leases, Owner: worker, LeaseTTL: testLease, Recheck: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	closed := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(closed)
	}()
	t.Cleanup(func() { cancel(); <-closed })
	return d, cancel, closed
}

func newLeaseWorld(t *testing.T) (*leaseWorld, func(...string)) {
	t.Helper()
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	w := &leaseWorld{clk: clk, store: s, leases: newFakeLeases(clk.Now), svc: &laneService{by: map[string]int{}}}
	return w, func(ts ...string) { enqueueAll(t, s, "phone", feedNews("x", ts...)...) }
}

// Two workers on one outbox never send on a lane at once and never send
// an entry twice, while the holder's sends move the clock far enough that
// it must renew its lease.
func TestLeasedLaneSendsOneWorkerAtATime(t *testing.T) {
	t.Parallel()
	w, enqueue := newLeaseWorld(t)
	w.svc.during = func(int) { w.clk.Set(w.clk.Now().Add(testLease / 4)) }
	enqueue(titles("p", 20)...)
	a, _, _ := w.run(t, "a")
	b, _, _ := w.run(t, "b")
	eventually(t, "the first 20", func() bool { return len(w.svc.delivered()) >= 20 })
	enqueue(titles("q", 10)...)
	a.Kick()
	b.Kick()
	eventually(t, "all 30", func() bool { return len(w.svc.delivered()) >= 30 })

	want := append(titles("p", 20), titles("q", 10)...)
	if got := w.svc.delivered(); !slices.Equal(got, want) {
		t.Errorf("service got\n%s\nwant each once, in order\n%s", strings.Join(got, ","), strings.Join(want, ","))
	}
	w.svc.mu.Lock()
	defer w.svc.mu.Unlock()
	if w.svc.most != 1 {
		t.Errorf("%d sends on the lane at once, want 1", w.svc.most)
	}
}

// A worker that dies holding a lane (no release) keeps it until its lease
// runs out: the other sends nothing before, and after carries on where the
// dead one stopped, in order.
func TestLeasedLaneMovesWhenItsHolderDies(t *testing.T) {
	t.Parallel()
	w, enqueue := newLeaseWorld(t)
	enqueue(titles("p", 6)...)
	killA := make(chan context.CancelFunc, 1)
	w.svc.during = func(n int) {
		if n == 3 { // a dies in its third send, which the service takes
			w.leases.kill("a")
			(<-killA)()
		}
	}
	_, cancelA, aDone := w.run(t, "a")
	killA <- cancelA
	<-aDone
	if got := w.svc.delivered(); len(got) != 3 || w.leases.holder("phone") != "a" {
		t.Fatalf("a died after sending %q, holding the lane: %q; want 3 sends and a's lease left", got, w.leases.holder("phone"))
	}
	w.run(t, "b")
	eventually(t, "b asking for the lane", func() bool { return w.leases.refusals("b") >= 3 })
	if got := w.svc.delivered(); len(got) != 3 {
		t.Fatalf("while the dead worker's lease ran: %q, want its 3 sends only", got)
	}

	w.clk.Set(w.clk.Now().Add(testLease))
	eventually(t, "b's sends", func() bool { return len(w.svc.delivered()) == 6 })
	if got, want := w.svc.delivered(), titles("p", 6); !slices.Equal(got, want) {
		t.Errorf("service got %q, want %q", got, want)
	}
	if w.svc.sentBy("b") != 3 || w.leases.holder("phone") != "b" {
		t.Errorf("b delivered %d and holds %q, want the 3 left and the lane", w.svc.sentBy("b"), w.leases.holder("phone"))
	}
}

// A worker that stops cleanly releases its lanes: another takes them at
// once, without waiting for the lease to run out.
func TestLeasedLaneReleasedAtStop(t *testing.T) {
	t.Parallel()
	w, enqueue := newLeaseWorld(t)
	enqueue(titles("p", 2)...)
	a, _, aDone := w.run(t, "a")
	eventually(t, "a's sends", func() bool { return len(w.svc.delivered()) == 2 })
	a.Stop()
	<-aDone
	if h := w.leases.holder("phone"); h != "" {
		t.Fatalf("after a stopped the lane is held by %q", h)
	}
	w.run(t, "b")
	enqueue(titles("q", 2)...)
	eventually(t, "b's sends", func() bool { return len(w.svc.delivered()) == 4 })
	if w.svc.sentBy("b") != 2 {
		t.Errorf("b delivered %d, want the 2 queued after a stopped", w.svc.sentBy("b"))
	}
}

// A worker cut off from the lease store keeps sending only while its
// lease surely lasts: no send starts with less than a third of it left,
// so every send ends before another worker can take the lane.
func TestLeasedLaneStopsBeforeItsLeaseEnds(t *testing.T) {
	t.Parallel()
	w, enqueue := newLeaseWorld(t)
	enqueue(titles("p", 8)...)
	step := testLease / 6
	var mu sync.Mutex
	var started []time.Time // when each of a's sends started
	w.svc.during = func(n int) {
		mu.Lock()
		started = append(started, w.clk.Now())
		mu.Unlock()
		if n == 1 {
			w.leases.kill("a") // a loses the store; the service still works
		}
		w.clk.Set(w.clk.Now().Add(step))
	}
	t0 := w.clk.Now()
	_, _, _ = w.run(t, "a")
	// Two failed renewals let a send on; from the third it waits.
	eventually(t, "a waiting for its lease", func() bool { return w.leases.failures("a") >= 6 })
	mu.Lock()
	defer mu.Unlock()
	for i, at := range started {
		if left := t0.Add(testLease).Sub(at); left < testLease/3 {
			t.Errorf("send %d started with %s of the lease left, want at least a third", i+1, left)
		}
	}
	if len(started) != 5 {
		t.Errorf("a sent %d times without renewing, want 5 (while a third of its %s lease was left)", len(started), testLease)
	}
}

// Drain (run --once, the last flush) sends only on lanes no other worker
// holds, counts the rest as pending, and gives back the lanes it took.
func TestLeasedDrain(t *testing.T) {
	t.Parallel()
	w, enqueue := newLeaseWorld(t)
	enqueue(titles("p", 3)...)
	if ok, err := w.leases.HoldLane(context.Background(), "phone", "a", testLease); !ok || err != nil {
		t.Fatalf("setup: a takes the lane: %v %v", ok, err)
	}
	b := NewDispatcher(w.store, map[string]Notifier{"phone": w.svc.worker("b")}, DispatcherOptions{
		Now: w.clk.Now, Leases: w.leases, Owner: "b", LeaseTTL: testLease,
	})
	res, err := b.Drain(context.Background())
	if err != nil || res != (DrainResult{Pending: 3}) || len(w.svc.delivered()) != 0 {
		t.Fatalf("drain beside a's lease: %+v, %v, sent %q; want nothing sent, 3 pending", res, err, w.svc.delivered())
	}
	w.clk.Set(w.clk.Now().Add(testLease))
	res, err = b.Drain(context.Background())
	if err != nil || res != (DrainResult{Delivered: 3}) {
		t.Fatalf("drain after a's lease ran out: %+v, %v; want 3 delivered", res, err)
	}
	if h := w.leases.holder("phone"); h != "" {
		t.Errorf("after Drain the lane is held by %q", h)
	}
}

package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"medledger"
)

// A stream builds one sender's txs. Ordered streams (a medledger account)
// number them from 1 after the account's nonce; the baseline's are
// unordered.
type stream interface {
	// build returns the seq-th tx of the stream (seq starts at 1).
	build(seq uint64) ([]byte, error)
	// kind names the operation, for the per-kind counts of a mixed run.
	kind() string
}

// pending is a tx submitted and not yet seen committed successfully.
type pending struct {
	raw    []byte
	hash   [32]byte
	seq    uint64
	first  time.Time // first submission: latency runs from here
	last   time.Time // last (re)submission
	failed bool      // committed with an error code: to be resent
	s      *sender
}

// sender submits one stream's txs with at most window in flight, in order.
type sender struct {
	st      stream
	via     *submitter
	ordered bool
	queue   []*pending // in seq order; committed ones are removed
	next    uint64
	wake    chan struct{}
	ready   [][]byte // txs signed before the clock started, in seq order
	ok      int      // txs seen committed with a zero code
	resend  bool     // a tx failed or was rejected out of order
}

// runner submits txs from many senders and counts what commits. A tx
// counts once its block is seen with a zero result code; one that commits
// with an error, is dropped from the mempool or is rejected out of order
// is resubmitted, byte for byte, in its sender's order (DESIGN §6).
type runner struct {
	senders    []*sender
	tracker    chain
	window     int
	staleAfter time.Duration

	budget   atomic.Int64 // txs left to create; <0 means unlimited
	stopping atomic.Bool

	failed     chan struct{} // closed by the first fatal error
	mu         sync.Mutex
	inflight   map[[32]byte]*pending
	stats      *stats
	lastCommit time.Time
	fatal      error
}

func newRunner(tracker chain, window int, st *stats) *runner {
	r := &runner{failed: make(chan struct{}), tracker: tracker, window: window, staleAfter: 20 * time.Second, inflight: make(map[[32]byte]*pending), stats: st}
	r.budget.Store(-1)
	return r
}

func (r *runner) add(st stream, via *submitter, ordered bool) {
	r.senders = append(r.senders, &sender{st: st, via: via, ordered: ordered, next: 1, wake: make(chan struct{}, 1)})
}

// prebuild signs up to n txs, spread over the senders, on every core
// before the clock starts: clients sign on their own machines, so the
// signing should not take CPU from the node under test.
func (r *runner) prebuild(n int) error {
	if len(r.senders) == 0 || n <= 0 {
		return nil
	}
	per := (n + len(r.senders) - 1) / len(r.senders)
	return parallel(context.Background(), len(r.senders), runtime.NumCPU(), func(i int) error {
		s := r.senders[i]
		s.ready = make([][]byte, 0, per)
		for seq := s.next; seq < s.next+uint64(per); seq++ {
			raw, err := s.st.build(seq)
			if err != nil {
				return err
			}
			s.ready = append(s.ready, raw)
		}
		return nil
	})
}

// take reserves one tx of the budget.
func (r *runner) take() bool {
	if r.stopping.Load() {
		return false
	}
	for {
		b := r.budget.Load()
		if b < 0 {
			return true
		}
		if b == 0 {
			return false
		}
		if r.budget.CompareAndSwap(b, b-1) {
			return true
		}
	}
}

func (r *runner) fail(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
		close(r.failed)
	}
	r.mu.Unlock()
	r.stopping.Store(true)
}

func (r *runner) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

// run drives every sender and the tracker until the budget is spent or
// ctx's deadline passes (stop), then drains: it waits up to drain for
// what is in flight to commit. It returns the txs never seen committed.
func (r *runner) run(ctx context.Context, stop <-chan struct{}, drain time.Duration) (uncommitted int, err error) {
	from, err := r.tracker.height(ctx)
	if err != nil {
		return 0, err
	}
	tctx, cancelTracker := context.WithCancel(context.Background())
	trackerDone := make(chan error, 1)
	go func() { trackerDone <- r.track(tctx, from) }()

	go func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		r.stopping.Store(true)
	}()
	dctx, cancelDrain := context.WithCancel(context.Background())
	defer cancelDrain()
	var wg sync.WaitGroup
	for _, s := range r.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.send(dctx, s)
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	// Once creation stops, give what is in flight drain to commit.
	select {
	case <-allDone:
	case <-waitStopping(&r.stopping, allDone):
		select {
		case <-allDone:
		case <-r.failed:
			cancelDrain()
			<-allDone
		case <-time.After(drain):
			cancelDrain()
			<-allDone
		}
	}
	cancelTracker()
	if terr := <-trackerDone; terr != nil && !errors.Is(terr, context.Canceled) {
		r.fail(terr)
	}
	r.mu.Lock()
	uncommitted = len(r.inflight)
	r.mu.Unlock()
	return uncommitted, r.err()
}

// waitStopping returns a channel closed once stopping is set (or done is).
func waitStopping(b *atomic.Bool, done <-chan struct{}) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for !b.Load() {
			select {
			case <-done:
				close(c)
				return
			case <-t.C:
			}
		}
		close(c)
	}()
	return c
}

// send is one sender's loop.
func (r *runner) send(ctx context.Context, s *sender) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for ctx.Err() == nil {
		r.mu.Lock()
		q := s.queue[:0]
		for _, p := range s.queue {
			if _, ok := r.inflight[p.hash]; ok || p.failed {
				q = append(q, p)
			}
		}
		s.queue = q
		resend := s.resend
		s.resend = false
		stale := len(q) > 0 && time.Since(q[0].last) > r.staleAfter
		var todo []*pending
		if resend || stale {
			todo = append(todo, q...)
		}
		if stale && !resend {
			// Accepted, yet in no block for staleAfter: a mempool
			// dropped it without saying so.
			r.stats.vanished.Add(1)
		}
		free := r.window - len(q)
		r.mu.Unlock()
		for _, p := range todo {
			if !r.submit(ctx, s, p) {
				break
			}
		}
		if len(todo) == 0 || !s.ordered {
			for ; free > 0 && r.take(); free-- {
				var raw []byte
				var err error
				if len(s.ready) > 0 {
					raw, s.ready = s.ready[0], s.ready[1:]
				} else if raw, err = s.st.build(s.next); err != nil {
					r.fail(err)
					return
				}
				r.stats.built.Add(1)
				r.stats.builtBytes.Add(int64(len(raw)))
				p := &pending{raw: raw, hash: sha256.Sum256(raw), seq: s.next, s: s}
				s.next++
				r.mu.Lock()
				s.queue = append(s.queue, p)
				r.inflight[p.hash] = p
				r.mu.Unlock()
				if !r.submit(ctx, s, p) {
					break
				}
			}
		}
		r.mu.Lock()
		empty := len(s.queue) == 0
		r.mu.Unlock()
		if empty && (r.stopping.Load() || r.budget.Load() == 0) {
			return
		}
		retry.Reset(250 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-retry.C:
		}
	}
}

// submit sends one tx, retrying while the mempool is full. It reports
// false when the sender should stop submitting for now (a rejection that a
// resend in order will mend).
func (r *runner) submit(ctx context.Context, s *sender, p *pending) bool {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		now := time.Now()
		r.mu.Lock()
		if p.first.IsZero() {
			p.first = now
		}
		p.last = now
		p.failed = false
		r.inflight[p.hash] = p
		r.mu.Unlock()
		code, log, err := s.via.submit(ctx, p.raw)
		switch {
		case err == nil && code == medledger.KindOK:
			return true
		case err == nil && code == medledger.KindUnavailable:
			// The mempool is full: wait for a block to make room.
			r.stats.full.Add(1)
			sleep(ctx, 50*time.Millisecond)
		case err == nil && code == medledger.KindBadNonce && s.ordered:
			// Out of order: an earlier tx of this sender was dropped.
			// Resend from the first uncommitted one.
			r.stats.rejected.Add(1)
			r.mu.Lock()
			s.resend = true
			r.mu.Unlock()
			sleep(ctx, 100*time.Millisecond)
			return false
		case err == nil:
			r.fail(fmt.Errorf("%s tx rejected: %s", s.st.kind(), log))
			return false
		default:
			if attempt >= 20 || ctx.Err() != nil {
				if ctx.Err() == nil {
					r.fail(fmt.Errorf("submitting a tx: %w", err))
				}
				return false
			}
			sleep(ctx, 100*time.Millisecond)
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// track follows the chain from height from and settles the txs it finds.
func (r *runner) track(ctx context.Context, from int64) error {
	h := from
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		top, err := r.tracker.height(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		for h < top {
			b, err := r.tracker.block(ctx, h+1)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				break
			}
			h++
			r.settle(b, time.Now())
		}
	}
}

// settle records a committed block's txs.
func (r *runner) settle(b *block, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.blocks.Add(1)
	for i, hash := range b.Hashes {
		p, ok := r.inflight[hash]
		if !ok || p.failed {
			continue
		}
		delete(r.inflight, hash)
		if b.Codes[i] != 0 {
			// Committed with an error (an earlier tx of its sender
			// was dropped): resend in order.
			p.failed = true
			p.s.resend = true
			r.stats.failed.Add(1)
		} else {
			r.stats.commit(p.s.st.kind(), now.Sub(p.first), now)
			p.s.ok++
			if c, ok := p.s.st.(interface{ committed(seq uint64) }); ok {
				c.committed(p.seq)
			}
			r.lastCommit = now
		}
		select {
		case p.s.wake <- struct{}{}:
		default:
		}
	}
}

// account is what an ordered stream signs as: the account and its nonce
// before the run.
type account interface {
	account() (medledger.ID, uint64)
}

// checkNonces compares what the runner counted with the chain: each
// account's committed nonce must have moved by exactly the txs counted for
// it, since a nonce moves only when a tx succeeds.
func (r *runner) checkNonces(ctx context.Context, nonce func(context.Context, medledger.ID) (uint64, error)) error {
	for _, s := range r.senders {
		a, ok := s.st.(account)
		if !ok {
			continue
		}
		id, base := a.account()
		n, err := nonce(ctx, id)
		if err != nil {
			return err
		}
		if n-base != uint64(s.ok) {
			return fmt.Errorf("counted %d committed %s txs from %s, but its nonce moved by %d (from %d)", s.ok, s.st.kind(), id, n-base, base)
		}
	}
	return nil
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

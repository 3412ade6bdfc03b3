package blob

// Peer replication (DESIGN §2: the blob store "pulls missing blobs from peer
// nodes and checks their hash"). A record's ciphertext and key wraps are
// uploaded to one node; every other node pulls them from its peers once the
// anchor commits, so that a reader can read through any node.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"medledger"
)

// Job is one blob to replicate: the anchored version's blob, its record
// (for the erasure check) and the organisation that authored it (whose
// gateway is asked first; empty if not known).
type Job struct {
	Blob   medledger.BlobID
	Record string
	Org    string
}

// Peers is what the replicator needs to know of the network and the chain.
// The node implements it over committed state and its configuration.
type Peers interface {
	// Sources returns the API base URLs to pull j from, best first: the
	// authoring organisation's gateway, then every other peer. It never
	// includes this node.
	Sources(ctx context.Context, j Job) ([]string, error)
	// Erased reports whether the record was erased: its blob must then
	// never be stored, and what was stored is deleted.
	Erased(record string) (bool, error)
}

// Backoff is a capped exponential retry schedule with jitter.
type Backoff struct {
	Base time.Duration // delay after the first failure
	Max  time.Duration // cap
}

// DefaultBackoff retries after about 1 s, 2 s, 4 s … up to 5 minutes.
var DefaultBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute}

// Delay returns the wait before retry number attempt (1 for the first
// retry): Base·2^(attempt-1), capped at Max, then jittered down by up to
// half, so that the nodes that missed the same blob do not retry in step.
// jitter is a number in [0, 1).
func (b Backoff) Delay(attempt int, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	return d - time.Duration(float64(d/2)*jitter)
}

// ReplicatorOptions configures a Replicator.
type ReplicatorOptions struct {
	Store medledger.BlobStore
	Peers Peers
	// Key signs replica requests: the node's validator key, which peers
	// accept if it is in the validator set or an active organisation's.
	Key ed25519.PrivateKey
	// Client makes the requests; nil means a client without a timeout of
	// its own (each request gets RequestTimeout).
	Client *http.Client
	// Workers pulling at once; zero means 2.
	Workers int
	// Backoff is the retry schedule; zero means DefaultBackoff.
	Backoff Backoff
	// MaxAttempts is how many rounds over every source a job gets before
	// it is given up until the next start (whose catch-up scan queues it
	// again); zero means 40.
	MaxAttempts int
	// RequestTimeout bounds one pull of a blob from one source; zero
	// means 2 minutes.
	RequestTimeout time.Duration
	Log            *slog.Logger
}

// Replicator pulls the blobs and key wraps this node lacks from its peers.
// Its queue is fed by Enqueue (anchors as they commit, and a catch-up scan
// at start) and drained by Run's workers; failed jobs are retried with
// backoff. Pull fetches at once, for a reader waiting on the gateway.
// Erasure wins over replication: Forget drops queued work for an erased
// record, and a blob is checked against erasure after it is stored.
type Replicator struct {
	o   ReplicatorOptions
	log *slog.Logger

	mu      sync.Mutex
	pending map[medledger.BlobID]*entry // queued, in flight or waiting to retry
	ready   []medledger.BlobID
	wake    chan struct{}

	pulledBlobs prometheus.Counter
	pulledWraps prometheus.Counter
	bytes       prometheus.Counter
	failures    *prometheus.CounterVec
	retries     prometheus.Counter
	abandoned   prometheus.Counter
	lastSuccess prometheus.Gauge
	onDemand    *prometheus.CounterVec
}

type entry struct {
	job      Job
	attempts int
	queued   bool // in ready
}

// Failure reasons, the label of the failures counter.
const (
	FailUnreachable  = "unreachable"   // transport error or timeout
	FailNotServed    = "not_served"    // the source answered 404 (not held or not anchored there yet)
	FailRefused      = "refused"       // the source refused this node (401, 403)
	FailStatus       = "status"        // any other non-200 answer
	FailHashMismatch = "hash_mismatch" // bytes that do not hash to the blob ID
	FailTooLarge     = "too_large"
	FailBadWraps     = "bad_wraps" // a malformed wraps answer
	FailStore        = "store"     // the local store failed
	FailNoSources    = "no_sources"
)

// NewReplicator returns a replicator; Run starts its workers.
func NewReplicator(o ReplicatorOptions) *Replicator {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 40
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 2 * time.Minute
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "medledger", Subsystem: "replication", Name: name, Help: help}
	}
	return &Replicator{o: o, log: log, pending: map[medledger.BlobID]*entry{}, wake: make(chan struct{}, 1),
		pulledBlobs: prometheus.NewCounter(opts("blobs_pulled_total", "Blobs pulled from peers and stored.")),
		pulledWraps: prometheus.NewCounter(opts("wraps_pulled_total", "Key wraps pulled from peers and stored.")),
		bytes:       prometheus.NewCounter(opts("bytes_pulled_total", "Ciphertext bytes pulled from peers and stored.")),
		failures:    prometheus.NewCounterVec(opts("failures_total", "Failed pulls from one source, by reason."), []string{"reason"}),
		retries:     prometheus.NewCounter(opts("retries_total", "Jobs scheduled again after every source failed.")),
		abandoned:   prometheus.NewCounter(opts("abandoned_total", "Jobs given up after MaxAttempts, until the next start.")),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "medledger", Subsystem: "replication", Name: "last_success_timestamp_seconds", Help: "Unix time of the last blob or wrap pulled."}),
		onDemand:    prometheus.NewCounterVec(opts("on_demand_total", "Pulls for a waiting reader, by result."), []string{"result"}),
	}
}

// Register registers the replicator's metrics with reg.
func (r *Replicator) Register(reg prometheus.Registerer) error {
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "medledger", Subsystem: "replication", Name: "pending", Help: "Blobs queued, being pulled or waiting to retry."},
		func() float64 { return float64(r.Pending()) })
	for _, c := range []prometheus.Collector{pending, r.pulledBlobs, r.pulledWraps, r.bytes, r.failures, r.retries, r.abandoned, r.lastSuccess, r.onDemand} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Pending is how many jobs are queued, in flight or waiting to retry.
func (r *Replicator) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Enqueue queues a blob to pull. It never blocks, so it can be called
// from the commit path. A blob already queued is not queued twice.
func (r *Replicator) Enqueue(j Job) {
	r.mu.Lock()
	if e, ok := r.pending[j.Blob]; ok {
		if e.job.Org == "" {
			e.job.Org = j.Org
		}
		r.mu.Unlock()
		return
	}
	r.pending[j.Blob] = &entry{job: j, queued: true}
	r.ready = append(r.ready, j.Blob)
	r.mu.Unlock()
	r.signal()
}

// Forget drops the queued work for record's blobs: the record was erased.
// A pull already in flight checks erasure after it stores.
func (r *Replicator) Forget(record string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range r.pending {
		if e.job.Record == record {
			delete(r.pending, id)
		}
	}
}

func (r *Replicator) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// next takes the next ready job, or reports false when there is none.
func (r *Replicator) next() (Job, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.ready) > 0 {
		id := r.ready[0]
		r.ready = r.ready[1:]
		e, ok := r.pending[id]
		if !ok || !e.queued {
			continue // forgotten
		}
		e.queued = false
		if len(r.ready) > 0 {
			r.signal() // wake another worker
		}
		return e.job, true
	}
	r.ready = nil
	return Job{}, false
}

// Run runs the workers until ctx ends.
func (r *Replicator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx)
		}()
	}
	wg.Wait()
}

func (r *Replicator) work(ctx context.Context) {
	for {
		j, ok := r.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
				continue
			}
		}
		err := r.replicate(ctx, j, "")
		if ctx.Err() != nil {
			return
		}
		r.done(j, err)
	}
}

// done removes a finished job, or schedules its retry.
func (r *Replicator) done(j Job, err error) {
	r.mu.Lock()
	e, ok := r.pending[j.Blob]
	if !ok {
		r.mu.Unlock()
		return // forgotten meanwhile
	}
	if err == nil {
		delete(r.pending, j.Blob)
		r.mu.Unlock()
		return
	}
	e.attempts++
	if e.attempts >= r.o.MaxAttempts {
		delete(r.pending, j.Blob)
		r.mu.Unlock()
		r.abandoned.Inc()
		r.log.Error("replication: giving up on a blob until the next start", "blob", j.Blob, "record", j.Record, "attempts", e.attempts, "err", err)
		return
	}
	attempt := e.attempts
	r.mu.Unlock()
	delay := r.o.Backoff.Delay(attempt, rand.Float64())
	r.retries.Inc()
	r.log.Warn("replication: pull failed; retrying", "blob", j.Blob, "record", j.Record, "attempt", attempt, "in", delay, "err", err)
	time.AfterFunc(delay, func() {
		r.mu.Lock()
		e, ok := r.pending[j.Blob]
		if ok && !e.queued {
			e.queued = true
			r.ready = append(r.ready, j.Blob)
		}
		r.mu.Unlock()
		if ok {
			r.signal()
		}
	})
}

// Pull fetches, for a reader waiting now, what this node lacks of j: the
// blob if it is missing, and the wraps peers hold for it, until one source
// has a wrap for wantKey (any wraps if wantKey is empty). The caller bounds
// it with ctx.
func (r *Replicator) Pull(ctx context.Context, j Job, wantKey string) error {
	err := r.replicate(ctx, j, wantKey)
	result := "ok"
	if err != nil {
		result = "failed"
	}
	r.onDemand.WithLabelValues(result).Inc()
	return err
}

// errErased ends a job: the record was erased.
var errErased = medledger.Errorf(medledger.KindGone, "the record was erased")

// replicate pulls j from its sources in order. In the background (wantKey
// empty) a blob already held is done, since its uploader put every wrap
// next to it; otherwise each source's wraps are merged in until wantKey is
// held.
func (r *Replicator) replicate(ctx context.Context, j Job, wantKey string) error {
	if erased, err := r.o.Peers.Erased(j.Record); err != nil {
		return err
	} else if erased {
		return r.erased(j)
	}
	have, err := r.o.Store.Has(ctx, j.Blob)
	if err != nil {
		return err
	}
	if have {
		// Held with its wraps (an upload always brings them): nothing
		// to do unless a reader waits for a wrap that came later.
		if wantKey == "" {
			if ws, err := r.o.Store.Wraps(ctx, j.Blob); err == nil && len(ws) > 0 {
				return nil
			}
		} else if _, err := r.o.Store.GetWrap(ctx, j.Blob, wantKey); err == nil {
			return nil
		}
	}
	sources, err := r.o.Peers.Sources(ctx, j)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		r.failures.WithLabelValues(FailNoSources).Inc()
		return medledger.Errorf(medledger.KindUnavailable, "no peer to pull blob %s from", j.Blob)
	}
	var errs []error
	for _, src := range sources {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stored, done, err := r.pullFrom(ctx, src, j, wantKey, have)
		have = have || stored
		if err != nil {
			errs = append(errs, err)
			if !stored {
				continue
			}
		}
		if erased, err := r.o.Peers.Erased(j.Record); err != nil {
			return err
		} else if erased {
			// Erased while we pulled: shredding may already have run,
			// so delete what we stored.
			return r.erased(j)
		}
		if done {
			return nil
		}
	}
	if len(errs) == 0 {
		return medledger.Errorf(medledger.KindNotFound, "no peer holds a wrap of blob %s for reader key %s", j.Blob, wantKey)
	}
	return errors.Join(errs...)
}

// erased deletes whatever of j is stored and ends the job.
func (r *Replicator) erased(j Job) error {
	r.Forget(j.Record)
	if err := r.o.Store.Delete(context.Background(), j.Blob); err != nil {
		return err
	}
	return errErased
}

// pullFrom pulls the blob (unless held) and the wraps from one source.
// stored reports whether it stored the blob; done whether the job needs no
// further source.
func (r *Replicator) pullFrom(ctx context.Context, src string, j Job, wantKey string, have bool) (stored, done bool, err error) {
	if !have {
		if err := r.pullBlob(ctx, src, j.Blob); err != nil {
			return false, false, err
		}
		stored = true
	}
	wraps, err := r.fetchWraps(ctx, src, j.Blob)
	if err != nil {
		// A blob stored without its wraps is kept: the next source, or
		// the retry, brings them.
		return stored, false, err
	}
	got := false
	for key, w := range wraps {
		if _, err := r.o.Store.GetWrap(ctx, j.Blob, key); err == nil {
			got = got || key == wantKey
			continue // wraps are never overwritten
		}
		if err := r.o.Store.PutWrap(ctx, j.Blob, key, w); err != nil {
			if medledger.IsKind(err, medledger.KindInvalid) || medledger.IsKind(err, medledger.KindTooLarge) {
				r.failures.WithLabelValues(FailBadWraps).Inc()
				continue
			}
			r.failures.WithLabelValues(FailStore).Inc()
			return stored, false, err
		}
		r.pulledWraps.Inc()
		r.lastSuccess.SetToCurrentTime()
		got = got || key == wantKey
	}
	return stored, wantKey == "" || got, nil
}

// get performs a signed replica GET of path on src.
func (r *Replicator) get(ctx context.Context, src, path string) (*http.Response, error) {
	u, err := url.JoinPath(src, path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	sig := ed25519.Sign(r.o.Key, medledger.ReplicaSignBytes(http.MethodGet, req.URL.RequestURI(), now))
	req.Header.Set(medledger.HeaderNode, hex.EncodeToString(r.o.Key.Public().(ed25519.PublicKey)))
	req.Header.Set(medledger.HeaderTime, strconv.FormatInt(now, 10))
	req.Header.Set(medledger.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	resp, err := r.o.Client.Do(req)
	if err != nil {
		r.failures.WithLabelValues(FailUnreachable).Inc()
		return nil, medledger.Errorf(medledger.KindUnavailable, "peer %s: %v", src, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		reason := FailStatus
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusGone:
			reason = FailNotServed
		case http.StatusUnauthorized, http.StatusForbidden:
			reason = FailRefused
		}
		r.failures.WithLabelValues(reason).Inc()
		return nil, medledger.Errorf(medledger.KindUnavailable, "peer %s answered %d", src, resp.StatusCode)
	}
	return resp, nil
}

// pullBlob streams the blob from src into the store, which checks its
// hash and size.
func (r *Replicator) pullBlob(ctx context.Context, src string, id medledger.BlobID) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.RequestTimeout)
	defer cancel()
	resp, err := r.get(ctx, src, "/v1/replica/blobs/"+id.String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := r.o.Store.Put(ctx, id, resp.Body)
	if err != nil {
		reason := FailStore
		switch {
		case medledger.IsKind(err, medledger.KindInvalid):
			reason = FailHashMismatch
		case medledger.IsKind(err, medledger.KindTooLarge):
			reason = FailTooLarge
		case ctx.Err() != nil || !errors.As(err, new(*medledger.Error)):
			// The peer broke off or stalled: Put failed reading.
			reason = FailUnreachable
		}
		r.failures.WithLabelValues(reason).Inc()
		return fmt.Errorf("pulling blob %s from %s: %w", id, src, err)
	}
	r.pulledBlobs.Inc()
	r.bytes.Add(float64(n))
	r.lastSuccess.SetToCurrentTime()
	return nil
}

// fetchWraps returns every wrap src holds for the blob.
func (r *Replicator) fetchWraps(ctx context.Context, src string, id medledger.BlobID) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.get(ctx, src, "/v1/replica/blobs/"+id.String()+"/wraps")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body medledger.ReplicaWraps
	// Bound the answer: a few thousand readers' wraps at most.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil || body.Blob != id {
		r.failures.WithLabelValues(FailBadWraps).Inc()
		return nil, medledger.Errorf(medledger.KindUnavailable, "peer %s sent malformed wraps of blob %s", src, id)
	}
	return body.Wraps, nil
}

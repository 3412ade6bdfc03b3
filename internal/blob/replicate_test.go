package blob_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"medledger"
	"medledger/internal/blob"
)

func TestBackoffSchedule(t *testing.T) {
	b := blob.Backoff{Base: time.Second, Max: 30 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := b.Delay(i+1, 0); got != w {
			t.Errorf("Delay(%d, 0) = %v, want %v", i+1, got, w)
		}
		// Jitter takes off up to half, never more, never adds.
		if got := b.Delay(i+1, 0.999999); got < w/2 || got > w/2+time.Millisecond {
			t.Errorf("Delay(%d, ~1) = %v, want about %v", i+1, got, w/2)
		}
	}
	if got := b.Delay(1000, 0); got != b.Max {
		t.Errorf("Delay(1000) = %v, want the cap %v", got, b.Max)
	}
	if got := b.Delay(0, 0); got != b.Base {
		t.Errorf("Delay(0) = %v, want %v", got, b.Base)
	}
}

// peer is a fake node serving the replica endpoints for one blob. It
// checks the node signature the way the API does.
type peer struct {
	t       *testing.T
	key     ed25519.PublicKey // the only node key it accepts
	blob    []byte            // what it serves as the blob (nil: 404)
	wraps   map[string][]byte
	failN   atomic.Int32 // answer 503 this many more times
	hits    atomic.Int32
	srv     *httptest.Server
	refused atomic.Int32
}

func newPeer(t *testing.T, key ed25519.PublicKey, body []byte, wraps map[string][]byte) *peer {
	p := &peer{t: t, key: key, blob: body, wraps: wraps}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *peer) serve(w http.ResponseWriter, r *http.Request) {
	p.hits.Add(1)
	pub, _ := hex.DecodeString(r.Header.Get(medledger.HeaderNode))
	unix, _ := strconv.ParseInt(r.Header.Get(medledger.HeaderTime), 10, 64)
	sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(medledger.HeaderSignature))
	if !ed25519.PublicKey(pub).Equal(p.key) || !ed25519.Verify(pub, medledger.ReplicaSignBytes(r.Method, r.URL.RequestURI(), unix), sig) {
		p.refused.Add(1)
		http.Error(w, "unsigned", http.StatusUnauthorized)
		return
	}
	if p.failN.Add(-1) >= 0 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if p.blob == nil {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/wraps") {
		id, _ := medledger.ParseBlobID(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/replica/blobs/"), "/wraps"))
		json.NewEncoder(w).Encode(medledger.ReplicaWraps{Blob: id, Wraps: p.wraps})
		return
	}
	w.Write(p.blob)
}

// fakePeers is a blob.Peers with fixed sources and a switchable erasure.
type fakePeers struct {
	mu      sync.Mutex
	sources []string
	erased  bool
}

func (f *fakePeers) Sources(context.Context, blob.Job) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sources, nil
}

func (f *fakePeers) Erased(string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.erased, nil
}

func nodeKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// metric reads a counter or gauge from reg; labels as name=value pairs.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func newReplicator(t *testing.T, store medledger.BlobStore, peers blob.Peers, key ed25519.PrivateKey) (*blob.Replicator, *prometheus.Registry) {
	r := blob.NewReplicator(blob.ReplicatorOptions{Store: store, Peers: peers, Key: key,
		Backoff: blob.Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	reg := prometheus.NewRegistry()
	if err := r.Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r, reg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A peer serving bytes that do not hash to the blob ID is counted as a
// failure and the blob comes from the next source, with its wraps.
func TestReplicatorRejectsCorruptPeer(t *testing.T) {
	key := nodeKey(t)
	pub := key.Public().(ed25519.PublicKey)
	body := randBytes(200<<10, 7)
	id := medledger.BlobIDOf(body)
	bad := append([]byte(nil), body...)
	bad[1000] ^= 1
	wraps := map[string][]byte{"patientkey": []byte("wrap-p"), "authorkey": []byte("wrap-a")}
	corrupt := newPeer(t, pub, bad, map[string][]byte{"patientkey": []byte("forged")})
	good := newPeer(t, pub, body, wraps)
	store := blob.NewMem(0)
	r, reg := newReplicator(t, store, &fakePeers{sources: []string{corrupt.srv.URL, good.srv.URL}}, key)

	r.Enqueue(blob.Job{Blob: id, Record: "rec1", Org: "lab"})
	waitFor(t, "the blob and its wraps", func() bool {
		ws, _ := store.Wraps(t.Context(), id)
		return r.Pending() == 0 && len(ws) == 2
	})
	rc, _, err := store.Open(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	for k, want := range wraps {
		if got, err := store.GetWrap(t.Context(), id, k); err != nil || string(got) != string(want) {
			t.Errorf("wrap %s = %q, %v; want the good peer's %q", k, got, err, want)
		}
	}
	if n := metric(t, reg, "medledger_replication_failures_total", "reason", blob.FailHashMismatch); n != 1 {
		t.Errorf("hash mismatches counted = %v, want 1", n)
	}
	if n := metric(t, reg, "medledger_replication_blobs_pulled_total"); n != 1 {
		t.Errorf("blobs pulled = %v, want 1", n)
	}
	if n := metric(t, reg, "medledger_replication_bytes_pulled_total"); n != float64(len(body)) {
		t.Errorf("bytes pulled = %v, want %d", n, len(body))
	}
	if n := metric(t, reg, "medledger_replication_wraps_pulled_total"); n != 2 {
		t.Errorf("wraps pulled = %v, want 2", n)
	}
	if corrupt.refused.Load()+good.refused.Load() != 0 {
		t.Errorf("a peer refused the replicator's signature")
	}
}

// Every source failing makes the job retry with backoff until one answers.
func TestReplicatorRetries(t *testing.T) {
	key := nodeKey(t)
	body := randBytes(10<<10, 8)
	id := medledger.BlobIDOf(body)
	p := newPeer(t, key.Public().(ed25519.PublicKey), body, map[string][]byte{"k1": []byte("w")})
	p.failN.Store(3)
	store := blob.NewMem(0)
	r, reg := newReplicator(t, store, &fakePeers{sources: []string{p.srv.URL}}, key)
	r.Enqueue(blob.Job{Blob: id, Record: "rec1"})
	if r.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", r.Pending())
	}
	if v := metric(t, reg, "medledger_replication_pending"); v != 1 {
		t.Fatalf("pending gauge = %v, want 1", v)
	}
	waitFor(t, "the blob", func() bool { ok, _ := store.Has(t.Context(), id); return ok && r.Pending() == 0 })
	if n := metric(t, reg, "medledger_replication_retries_total"); n < 3 {
		t.Errorf("retries = %v, want at least 3", n)
	}
	if n := metric(t, reg, "medledger_replication_failures_total", "reason", blob.FailStatus); n != 3 {
		t.Errorf("status failures = %v, want 3", n)
	}
	if v := metric(t, reg, "medledger_replication_last_success_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success = %v, want about now", v)
	}
}

// A peer that refuses the node (wrong key) is a failure; nothing is stored.
func TestReplicatorSignsRequests(t *testing.T) {
	key, other := nodeKey(t), nodeKey(t)
	body := randBytes(1000, 9)
	id := medledger.BlobIDOf(body)
	p := newPeer(t, other.Public().(ed25519.PublicKey), body, nil)
	store := blob.NewMem(0)
	r, reg := newReplicator(t, store, &fakePeers{sources: []string{p.srv.URL}}, key)
	if err := r.Pull(t.Context(), blob.Job{Blob: id, Record: "r"}, ""); err == nil {
		t.Fatal("pull from a peer that refuses this node succeeded")
	}
	if ok, _ := store.Has(t.Context(), id); ok {
		t.Fatal("stored a blob from a refusing peer")
	}
	if n := metric(t, reg, "medledger_replication_failures_total", "reason", blob.FailRefused); n != 1 {
		t.Errorf("refusals = %v, want 1", n)
	}
}

// Erasure wins: a job for an erased record stores nothing, and a blob
// stored while its record was erased is deleted again.
func TestReplicatorErasureWins(t *testing.T) {
	key := nodeKey(t)
	body := randBytes(1000, 10)
	id := medledger.BlobIDOf(body)
	p := newPeer(t, key.Public().(ed25519.PublicKey), body, map[string][]byte{"k": []byte("w")})
	store := blob.NewMem(0)
	peers := &fakePeers{sources: []string{p.srv.URL}, erased: true}
	r, _ := newReplicator(t, store, peers, key)
	if err := r.Pull(t.Context(), blob.Job{Blob: id, Record: "r"}, "k"); !medledger.IsKind(err, medledger.KindGone) {
		t.Fatalf("pull of an erased record: %v, want gone", err)
	}
	if p.hits.Load() != 0 {
		t.Fatalf("asked a peer for an erased record's blob")
	}

	// Erased between the pull and the check after it.
	peers.mu.Lock()
	peers.erased = false
	peers.mu.Unlock()
	p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/wraps") {
			peers.mu.Lock()
			peers.erased = true // the erasure commits while the bytes travel
			peers.mu.Unlock()
		}
		p.serve(w, r)
	})
	if err := r.Pull(t.Context(), blob.Job{Blob: id, Record: "r"}, ""); !medledger.IsKind(err, medledger.KindGone) {
		t.Fatalf("pull erased meanwhile: %v, want gone", err)
	}
	if ok, _ := store.Has(t.Context(), id); ok {
		t.Fatal("kept a blob whose record was erased during the pull")
	}

	// Forget drops queued work.
	peers.mu.Lock()
	peers.erased = false
	peers.mu.Unlock()
	p.srv.Config.Handler = http.HandlerFunc(p.serve)
	p.failN.Store(1000)
	r.Enqueue(blob.Job{Blob: id, Record: "r"})
	r.Forget("r")
	waitFor(t, "the queue to empty", func() bool { return r.Pending() == 0 })
}

// An on-demand pull for a wrap added later merges wraps from every source
// until one has the wanted key.
func TestReplicatorPullsLaterWrap(t *testing.T) {
	key := nodeKey(t)
	pub := key.Public().(ed25519.PublicKey)
	body := randBytes(1000, 11)
	id := medledger.BlobIDOf(body)
	store := blob.NewMem(0)
	if _, err := store.Put(t.Context(), id, strings.NewReader(string(body))); err != nil {
		t.Fatal(err)
	}
	if err := store.PutWrap(t.Context(), id, "patient", []byte("wp")); err != nil {
		t.Fatal(err)
	}
	stale := newPeer(t, pub, body, map[string][]byte{"patient": []byte("wp")})
	fresh := newPeer(t, pub, body, map[string][]byte{"patient": []byte("other"), "grantee": []byte("wg")})
	r, reg := newReplicator(t, store, &fakePeers{sources: []string{stale.srv.URL, fresh.srv.URL}}, key)
	if err := r.Pull(t.Context(), blob.Job{Blob: id, Record: "r"}, "grantee"); err != nil {
		t.Fatal(err)
	}
	if w, err := store.GetWrap(t.Context(), id, "grantee"); err != nil || string(w) != "wg" {
		t.Fatalf("grantee wrap: %q %v", w, err)
	}
	if w, _ := store.GetWrap(t.Context(), id, "patient"); string(w) != "wp" {
		t.Fatalf("a held wrap was overwritten: %q", w)
	}
	if n := metric(t, reg, "medledger_replication_on_demand_total", "result", "ok"); n != 1 {
		t.Errorf("on-demand ok = %v", n)
	}
	// No source has the key: an error, quickly.
	if err := r.Pull(t.Context(), blob.Job{Blob: id, Record: "r"}, "nobody"); err == nil {
		t.Fatal("pull of a wrap no peer holds succeeded")
	}
}

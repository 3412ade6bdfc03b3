package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"medledger"
)

// chainStub answers the outbox's status checks and resubmissions. The
// outbox's behaviour against a real node (kill -9, restart, every served
// read's access tx committed) is tested in internal/node and
// internal/faults; this stands in for the dispositions a real chain gives
// rarely (a tx expired or refused).
type chainStub struct {
	mu        sync.Mutex
	status    map[string]string // absent: unknown
	answer    medledger.Kind    // CheckTx's code for a resubmission
	submitted []string
}

func (c *chainStub) Broadcast(_ context.Context, tx []byte) (*medledger.TxStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.submitted = append(c.submitted, hex.EncodeToString(medledger.TxHash(tx)))
	if c.answer != medledger.KindOK {
		return &medledger.TxStatus{Status: medledger.TxRejected, Code: c.answer}, nil
	}
	return &medledger.TxStatus{Status: medledger.TxPending}, nil
}

func (c *chainStub) TxStatus(_ context.Context, hash []byte) (*medledger.TxStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.status[hex.EncodeToString(hash)]
	if !ok {
		st = medledger.TxUnknown
	}
	return &medledger.TxStatus{Hash: hash, Status: st}, nil
}

func (c *chainStub) Height() int64 { return 1 }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testTx(i int) []byte { return fmt.Appendf(nil, "access tx %04d", i) }

func key(tx []byte) string { return hex.EncodeToString(medledger.TxHash(tx)) }

func open(t *testing.T, dir string, c Chain) *Outbox {
	t.Helper()
	o, err := OpenOutbox(dir, c, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func pending(t *testing.T, o *Outbox) []string {
	t.Helper()
	p, err := o.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keys(txs ...[]byte) []string {
	var out []string
	for _, tx := range txs {
		out = append(out, key(tx))
	}
	slices.Sort(out)
	return out
}

// TestOutboxSurvivesCrash adds txs from many goroutines and reopens the
// directory without closing the outbox, as after kill -9: every tx an Add
// acknowledged is there, a removed one is not, and a torn record at the
// end of a segment (a crash mid-write) loses only itself.
func TestOutboxSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, &chainStub{})
	var txs [][]byte
	for i := range 200 {
		txs = append(txs, testTx(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(txs))
	for _, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- o.Add(tx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	o.Remove(txs[7])
	want := keys(slices.Delete(slices.Clone(txs), 7, 8)...)
	if got := pending(t, o); !slices.Equal(got, want) {
		t.Fatalf("%d pending, want %d", len(got), len(want))
	}
	t.Logf("200 concurrent adds took %d fsyncs", o.batches)

	// "Crash": reopen while o still has its segment open.
	o2 := open(t, dir, &chainStub{})
	if got := pending(t, o2); !slices.Equal(got, want) {
		t.Fatalf("after a crash, %d pending, want %d", len(got), len(want))
	}
	// A torn record at the end of the segment o2 writes.
	last := testTx(999)
	if err := o2.Add(last); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, segmentName(o2.seg))
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	o3 := open(t, dir, &chainStub{})
	if got := pending(t, o3); !slices.Equal(got, want) {
		t.Fatalf("after a torn write, %d pending, want the %d before it", len(got), len(want))
	}
	if err := o3.Add(last); err != nil {
		t.Fatalf("adding after a torn segment: %v", err)
	}
	if err := o3.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o3.Add(testTx(1000)); !errors.Is(err, ErrOutboxClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	o4 := open(t, dir, &chainStub{})
	if got := pending(t, o4); !slices.Contains(got, key(last)) || len(got) != len(want)+1 {
		t.Fatalf("after a clean close, %d pending, want %d", len(got), len(want)+1)
	}
}

// TestOutboxFlush checks each disposition: a committed tx is dropped, a
// pending one kept, an unknown one resubmitted, and one the chain refuses
// or lets expire is set aside in a file named for why and never submitted
// again, even after a restart. Once nothing is pending, the drained
// segments are deleted.
func TestOutboxFlush(t *testing.T) {
	dir := t.TempDir()
	c := &chainStub{status: map[string]string{}}
	o := open(t, dir, c)
	o.segmentSize = 64 // a segment per batch or two
	committed, waiting, unknown, expired := testTx(1), testTx(2), testTx(3), testTx(4)
	for _, tx := range [][]byte{committed, waiting, unknown, expired} {
		if err := o.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	c.status[key(committed)] = medledger.TxCommitted
	c.status[key(waiting)] = medledger.TxPending
	ctx := context.Background()
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := pending(t, o), keys(waiting, unknown, expired); !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
	if got, want := c.submitted, keys(unknown, expired); !slices.Equal(got, want) {
		t.Fatalf("resubmitted %v, want %v", got, want)
	}

	c.status[key(unknown)] = medledger.TxCommitted
	c.answer = medledger.KindExpired
	c.submitted = nil
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := pending(t, o), keys(waiting); !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
	if o.Expired() != 1 {
		t.Fatalf("expired = %d, want 1", o.Expired())
	}
	if b, err := os.ReadFile(filepath.Join(dir, key(expired)+".expired")); err != nil || string(b) != string(expired) {
		t.Fatalf("the expired tx was not set aside: %v", err)
	}
	// A restart neither brings back the expired tx nor the committed ones
	// that were dropped from a live segment.
	o2 := open(t, dir, c)
	if got := pending(t, o2); !slices.Contains(got, key(waiting)) || slices.Contains(got, key(expired)) {
		t.Fatalf("after a restart, pending %v", got)
	}

	c.status[key(waiting)] = medledger.TxCommitted
	c.status[key(committed)] = medledger.TxCommitted
	if err := o2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, o2); len(got) != 0 {
		t.Fatalf("pending %v, want none", got)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) != 1 || filepath.Base(logs[0]) != segmentName(o2.seg) {
		t.Fatalf("segments left once drained: %v, want only the active %s", logs, segmentName(o2.seg))
	}
}

// TestOutboxAdoptsFiles moves txs kept one per file, the outbox's earlier
// layout, into the log.
func TestOutboxAdoptsFiles(t *testing.T) {
	dir := t.TempDir()
	tx := testTx(5)
	if err := os.WriteFile(filepath.Join(dir, key(tx)+".tx"), tx, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := open(t, dir, &chainStub{})
	if got := pending(t, o); !slices.Equal(got, keys(tx)) {
		t.Fatalf("pending %v, want the adopted tx", got)
	}
	for _, pattern := range []string{"*.tx", ".tmp-*"} {
		if left, _ := filepath.Glob(filepath.Join(dir, pattern)); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	}
	o2 := open(t, dir, &chainStub{})
	if got := pending(t, o2); !slices.Equal(got, keys(tx)) {
		t.Fatalf("after reopening, pending %v", got)
	}
}

// BenchmarkOutboxAdd measures durable adds from many concurrent readers
// and reports how many adds shared each fsync.
func BenchmarkOutboxAdd(b *testing.B) {
	o, err := OpenOutbox(b.TempDir(), &chainStub{}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var n sync.Mutex
	i := 0
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Lock()
			i++
			tx := testTx(i)
			n.Unlock()
			if err := o.Add(tx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(max(o.batches, 1)), "adds/fsync")
}

package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"medledger"
)

// Outbox is the durable queue of access txs. A tx is written (fsynced)
// before it is submitted and before any byte of the record is served, and
// dropped only once the chain has committed it. After a crash, the outbox
// resubmits whatever it still holds, so every read that was served ends up
// with a committed access event (DESIGN §8).
//
// The outbox is a log of numbered segment files, as a database's
// write-ahead log is: Add appends a record, and concurrent Adds share one
// write and one fsync (group commit), so that a busy gateway pays an fsync
// per batch of reads rather than a file creation, two fsyncs and a rename
// per read. The txs not yet committed are also held in memory. A segment
// is deleted once it and every older one hold no such tx; Remove appends a
// tombstone, which therefore never outlives the entry it cancels. A crash
// can tear the last records of a segment: they were never acknowledged,
// so reading a segment stops at the first record that does not check.
type Outbox struct {
	dir   string
	chain Chain
	log   *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a batch is durable
	f       *os.File   // the active segment
	seg     int        // its number
	size    int64      // its length
	buf     []byte     // records appended and not yet written
	queued  uint64     // batches handed out: the batch buf will be written as
	durable uint64     // the last batch written and fsynced
	syncing bool       // an Add is writing a batch
	err     error      // a write or fsync failed: the outbox takes no more
	closed  bool
	pending map[string]outboxEntry // hex tx hash
	live    map[int]int            // segment → its txs still pending
	expired int                    // txs that timed out before committing (should stay 0)
	batches int                    // writes (each one fsync) so far

	segmentSize int64 // the size at which a new segment starts
}

type outboxEntry struct {
	tx  []byte
	seg int
}

// Chain is what the gateway needs of the consensus engine.
type Chain interface {
	Broadcast(ctx context.Context, tx []byte) (*medledger.TxStatus, error)
	TxStatus(ctx context.Context, hash []byte) (*medledger.TxStatus, error)
	Height() int64
}

const (
	recordTx        = 1 // an access tx to submit
	recordTombstone = 2 // the sha256 of a tx that will never be served
	recordHeader    = 9 // kind, payload length, CRC-32C of kind, length and payload

	// segmentSize is the size at which the outbox starts a new segment.
	segmentSize = 4 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrOutboxClosed is returned by an Add after Close.
var ErrOutboxClosed = errors.New("the outbox is closed")

// OpenOutbox opens the outbox in dir, creating it, and reads back what a
// previous run left in it.
func OpenOutbox(dir string, chain Chain, log *slog.Logger) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	o := &Outbox{dir: dir, chain: chain, log: log, pending: make(map[string]outboxEntry), live: make(map[int]int), segmentSize: segmentSize}
	o.cond = sync.NewCond(&o.mu)
	segs, err := o.segments()
	if err != nil {
		return nil, err
	}
	for _, n := range segs {
		if err := o.replay(n); err != nil {
			return nil, err
		}
		o.seg = n
	}
	// A new segment for this run: the last one may end in a torn record.
	if err := o.rotate(); err != nil {
		return nil, err
	}
	if err := o.adoptFiles(); err != nil {
		o.Close()
		return nil, err
	}
	o.trim()
	return o, nil
}

func segmentName(n int) string { return fmt.Sprintf("%08d.log", n) }

// segments lists the segment numbers in dir, oldest first.
func (o *Outbox) segments() ([]int, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		if num, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

// replay reads segment n's records into the pending set.
func (o *Outbox) replay(n int) error {
	b, err := os.ReadFile(filepath.Join(o.dir, segmentName(n)))
	if err != nil {
		return err
	}
	o.live[n] += 0
	for len(b) > 0 {
		kind, payload, rest, ok := decodeRecord(b)
		if !ok {
			o.log.Warn("outbox: a segment ends in a torn record, from a crash before it was acknowledged; ignoring the rest", "segment", segmentName(n), "bytes", len(b))
			break
		}
		b = rest
		switch kind {
		case recordTx:
			o.track(payload, n)
		case recordTombstone:
			o.untrack(hex.EncodeToString(payload))
		}
	}
	return nil
}

// adoptFiles moves txs kept one per file (the outbox's earlier layout)
// into the log.
func (o *Outbox) adoptFiles() error {
	names, err := filepath.Glob(filepath.Join(o.dir, "*.tx"))
	if err != nil || len(names) == 0 {
		return err
	}
	for _, name := range names {
		tx, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if err := o.Add(tx); err != nil {
			return err
		}
		if err := os.Remove(name); err != nil {
			return err
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(o.dir, ".tmp-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return syncDir(o.dir)
}

func decodeRecord(b []byte) (kind byte, payload, rest []byte, ok bool) {
	if len(b) < recordHeader {
		return 0, nil, nil, false
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(n) > uint64(len(b)-recordHeader) {
		return 0, nil, nil, false
	}
	end := recordHeader + int(n)
	crc := crc32.Update(crc32.Checksum(b[:5], crcTable), crcTable, b[recordHeader:end])
	if crc != binary.BigEndian.Uint32(b[5:9]) {
		return 0, nil, nil, false
	}
	return b[0], b[recordHeader:end], b[end:], true
}

func appendRecord(buf []byte, kind byte, payload []byte) []byte {
	var h [recordHeader]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:5], uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(h[:5], crcTable), crcTable, payload)
	binary.BigEndian.PutUint32(h[5:9], crc)
	return append(append(buf, h[:]...), payload...)
}

// track adds tx, written to segment seg, to the pending set. o.mu is held
// (or the outbox is being opened).
func (o *Outbox) track(tx []byte, seg int) {
	key := hex.EncodeToString(medledger.TxHash(tx))
	if old, ok := o.pending[key]; ok {
		o.live[old.seg]--
	}
	o.pending[key] = outboxEntry{tx: tx, seg: seg}
	o.live[seg]++
}

// untrack drops a tx from the pending set; it reports whether it was there.
func (o *Outbox) untrack(key string) bool {
	e, ok := o.pending[key]
	if !ok {
		return false
	}
	delete(o.pending, key)
	o.live[e.seg]--
	return true
}

// trim deletes the oldest segments while they hold no pending tx. o.mu is
// held (or the outbox is being opened).
func (o *Outbox) trim() {
	segs := make([]int, 0, len(o.live))
	for n := range o.live {
		segs = append(segs, n)
	}
	sort.Ints(segs)
	for _, n := range segs {
		if n == o.seg || o.live[n] > 0 {
			return
		}
		if err := os.Remove(filepath.Join(o.dir, segmentName(n))); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.log.Warn("outbox: removing a drained segment failed", "segment", segmentName(n), "err", err)
			return
		}
		delete(o.live, n)
	}
}

// rotate starts a new segment. o.mu is held, or no other goroutine uses
// the outbox yet.
func (o *Outbox) rotate() error {
	n := o.seg + 1
	f, err := os.OpenFile(filepath.Join(o.dir, segmentName(n)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(o.dir); err != nil {
		f.Close()
		return err
	}
	if o.f != nil {
		o.f.Close()
	}
	o.f, o.seg, o.size = f, n, 0
	o.live[n] += 0
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Add stores tx durably: it returns once tx is on disk.
func (o *Outbox) Add(tx []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.usable(); err != nil {
		return err
	}
	tx = bytes.Clone(tx)
	o.buf = appendRecord(o.buf, recordTx, tx)
	o.track(tx, o.seg)
	if err := o.commit(); err != nil {
		// Not durable, so not to be served or submitted.
		o.untrack(hex.EncodeToString(medledger.TxHash(tx)))
		return err
	}
	return nil
}

// Remove drops a tx that will never be served (CheckTx refused it), so
// that a restart does not submit it.
func (o *Outbox) Remove(tx []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.tombstone(hex.EncodeToString(medledger.TxHash(tx))); err != nil {
		o.log.Error("outbox: recording a refused access tx failed; a restart may submit it", "err", err)
	}
}

// tombstone drops key from the pending set for good. o.mu is held.
func (o *Outbox) tombstone(key string) error {
	if !o.untrack(key) {
		return nil
	}
	if err := o.usable(); err != nil {
		return err
	}
	hash, _ := hex.DecodeString(key)
	o.buf = appendRecord(o.buf, recordTombstone, hash)
	err := o.commit()
	o.trim()
	return err
}

func (o *Outbox) usable() error {
	if o.closed {
		return ErrOutboxClosed
	}
	if o.err != nil {
		return medledger.Errorf(medledger.KindUnavailable, "the access log cannot be written: %v", o.err)
	}
	return nil
}

// commit makes the records in o.buf durable and returns once they are.
// o.mu is held. The first caller to find no batch being written writes
// every record appended so far, with one write and one fsync, while later
// callers append to the next batch and wait.
func (o *Outbox) commit() error {
	o.queued++
	mine := o.queued
	for o.syncing && o.durable < mine && o.err == nil {
		o.cond.Wait()
	}
	for o.durable < mine && o.err == nil {
		o.syncing = true
		batch, upto := o.buf, o.queued
		o.buf = nil
		f := o.f
		o.mu.Unlock()
		_, err := f.Write(batch)
		if err == nil {
			err = f.Sync()
		}
		o.mu.Lock()
		o.syncing = false
		if err != nil {
			o.err = err
			o.log.Error("outbox: writing the access log failed; reads are refused until the node restarts", "err", err)
		} else {
			o.durable = upto
			o.batches++
			o.size += int64(len(batch))
			if o.size >= o.segmentSize {
				if err := o.rotate(); err != nil {
					o.log.Warn("outbox: starting a new segment failed; appending to the old one", "err", err)
				}
			}
		}
		o.cond.Broadcast()
	}
	if o.durable < mine {
		return medledger.Errorf(medledger.KindUnavailable, "the access log cannot be written: %v", o.err)
	}
	return nil
}

// Close closes the active segment; later Adds fail.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.syncing {
		o.cond.Wait()
	}
	if o.closed {
		return nil
	}
	o.closed = true
	if o.f == nil {
		return nil
	}
	return o.f.Close()
}

// Pending lists the hashes of the txs still in the outbox.
func (o *Outbox) Pending() ([]string, error) {
	o.mu.Lock()
	out := make([]string, 0, len(o.pending))
	for k := range o.pending {
		out = append(out, k)
	}
	o.mu.Unlock()
	sort.Strings(out)
	return out, nil
}

// Expired returns how many access txs timed out before they committed.
func (o *Outbox) Expired() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.expired
}

// committed drops txs the chain has committed; they need no tombstone (a
// restart that submits one again is told it is a duplicate).
func (o *Outbox) committed(key string) {
	o.mu.Lock()
	o.untrack(key)
	o.trim()
	o.mu.Unlock()
}

// setAside keeps a tx the chain will never commit in a file of its own,
// named for why, and drops it from the log.
func (o *Outbox) setAside(key string, tx []byte, why string) {
	if err := os.WriteFile(filepath.Join(o.dir, key+"."+why), tx, 0o600); err != nil {
		o.log.Error("outbox: keeping an access tx the chain will not commit failed", "tx", key, "err", err)
	}
	o.mu.Lock()
	if err := o.tombstone(key); err != nil {
		o.log.Error("outbox: dropping an access tx the chain will not commit failed", "tx", key, "err", err)
	}
	o.mu.Unlock()
}

// Flush checks every pending tx once: committed ones are dropped, ones the
// node does not know are resubmitted.
func (o *Outbox) Flush(ctx context.Context) error {
	names, err := o.Pending()
	if err != nil {
		return err
	}
	for _, name := range names {
		hash, err := hex.DecodeString(name)
		if err != nil {
			continue
		}
		st, err := o.chain.TxStatus(ctx, hash)
		if err != nil {
			return err
		}
		switch st.Status {
		case medledger.TxCommitted:
			o.committed(name)
			continue
		case medledger.TxPending:
			continue
		}
		o.mu.Lock()
		e, ok := o.pending[name]
		o.mu.Unlock()
		if !ok {
			continue
		}
		st, err = o.chain.Broadcast(ctx, e.tx)
		if err != nil {
			o.log.Warn("outbox: resubmitting an access tx failed; will retry", "tx", name, "err", err)
			continue
		}
		if st.Status == medledger.TxRejected {
			switch st.Code {
			case medledger.KindDuplicate:
				// Already committed; the next pass sees it in the index.
			case medledger.KindExpired:
				o.mu.Lock()
				o.expired++
				o.mu.Unlock()
				o.log.Error("outbox: an access tx timed out before it committed; the read it logs was served", "tx", name)
				o.setAside(name, e.tx, "expired")
			default:
				o.log.Error("outbox: the chain refused an access tx", "tx", name, "code", st.Code, "log", st.Log)
				o.setAside(name, e.tx, "refused")
			}
			continue
		}
		o.log.Info("outbox: resubmitted an access tx", "tx", name)
	}
	return nil
}

// Run flushes the outbox every interval until ctx ends, first at once.
func (o *Outbox) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := o.Flush(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("outbox flush", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var _ io.Closer = (*Outbox)(nil)

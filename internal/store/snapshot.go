package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cosmos/iavl"
	dbm "github.com/cosmos/iavl/db"
)

// Snapshots
//
// Export writes the tree of one committed version as a byte stream cut into
// chunks; Import rebuilds that version in an empty store. A node joining the
// network restores the state this way (CometBFT state sync) instead of
// replaying every block.
//
// The stream, format 1, is
//
//	"medledger/snapshot\n" uvarint(format) uvarint(version)
//	then per tree node, in IAVL's export order (depth-first, post-order):
//	  'n' height(1 byte) uvarint(node version) uvarint(len) key
//	      and, for a leaf (height 0), uvarint(len) value
//	then 'e' uvarint(node count) uvarint(len) root hash
//
// It depends only on the tree of that version, so every node exports the
// same bytes for the same height. Chunks are consecutive slices of the
// stream, each of exactly the chunk size but the last.
//
// An export reads the version through its own IAVL node database, so it
// shares no in-memory nodes with the ledger's tree, and pins the version:
// Commit does not prune it (or anything after it) until the export ends.
//
// An import writes the nodes as they come and marks the store as importing
// (m/import). If the stream is bad, ends early or does not give the expected
// hash, or the process stops midway, every key is deleted again (at once, or
// at the next Open): the store is empty, never half-imported. After a good
// import the store is at the snapshot's version with an empty secondary
// index (IndexVersion 0), which the caller rebuilds from the state.

// SnapshotFormat is the number of the snapshot stream format Export writes
// and Import reads.
const SnapshotFormat uint32 = 1

// Chunk sizes: DefaultChunkSize unless the caller chooses, at most
// MaxChunkSize.
const (
	DefaultChunkSize = 4 << 20
	MaxChunkSize     = 16 << 20
)

// ErrBadSnapshot is returned (wrapped, with the reason) for a snapshot
// stream that cannot be imported.
var ErrBadSnapshot = errors.New("store: bad snapshot")

var (
	errClosing = errors.New("store: closing")

	snapshotMagic = []byte("medledger/snapshot\n")
	importKey     = []byte("m/import")
)

const (
	tagNode = 'n'
	tagEnd  = 'e'
	// maxField bounds a key or value in the stream; the ledger's are far
	// smaller (a tx is capped).
	maxField = 8 << 20
	// exportCacheSize is the node cache of an export's own node database.
	exportCacheSize = 10_000
)

// Export writes the committed version's tree as a snapshot stream of
// chunks of chunkSize bytes (0 for DefaultChunkSize; the last chunk may be
// shorter), calling emit for each in order, and returns the version's root
// hash. emit must not keep the chunk. Export may run in any goroutine while
// the ledger commits; Close stops it.
func (s *Store) Export(version int64, chunkSize int, emit func(chunk []byte) error) ([]byte, error) {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	if chunkSize < 0 || chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("store: chunk size %d out of range (1 to %d)", chunkSize, MaxChunkSize)
	}
	if err := s.pin(version); err != nil {
		return nil, err
	}
	defer s.unpin(version)

	ro := newReadOnlyTree(s.raw)
	defer ro.Close() // its node database only; the store's stays open
	tree, err := ro.GetImmutable(version)
	if err != nil {
		return nil, fmt.Errorf("store: export version %d: %w", version, err)
	}
	w := &chunker{size: chunkSize, emit: emit, buf: make([]byte, 0, chunkSize+1024)}
	w.bytes(snapshotMagic)
	w.uvarint(uint64(SnapshotFormat))
	w.uvarint(uint64(version))
	var count uint64
	if tree.Size() > 0 {
		exp, err := tree.Export()
		if err != nil {
			return nil, fmt.Errorf("store: export version %d: %w", version, err)
		}
		defer exp.Close()
		for {
			n, err := exp.Next()
			if errors.Is(err, iavl.ErrorExportDone) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("store: export version %d: %w", version, err)
			}
			if s.closing.Load() {
				return nil, errClosing
			}
			w.byte(tagNode)
			w.byte(byte(n.Height))
			w.uvarint(uint64(n.Version))
			w.field(n.Key)
			if n.Height == 0 {
				w.field(n.Value)
			}
			count++
			if err := w.flushFull(); err != nil {
				return nil, err
			}
		}
	}
	hash := tree.Hash()
	w.byte(tagEnd)
	w.uvarint(count)
	w.field(hash)
	if err := w.flushAll(); err != nil {
		return nil, err
	}
	return bytes.Clone(hash), nil
}

// newReadOnlyTree opens IAVL over the store's tree keys with a node
// database of its own, for reading committed versions only.
func newReadOnlyTree(raw dbm.DB) *iavl.MutableTree {
	return iavl.NewMutableTree(prefixDB{raw, treePrefix}, exportCacheSize, true, iavl.NewNopLogger())
}

// pin keeps version from being pruned until unpin, and registers an export
// that Close waits for. It fails if the version is not available.
func (s *Store) pin(version int64) error {
	// Under the read lock, Commit cannot be between choosing what to prune
	// and pruning it (it does both under the write lock).
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.immutable(version); err != nil {
		return err
	}
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	if s.closing.Load() {
		return errClosing
	}
	s.pins[version]++
	s.exports.Add(1)
	return nil
}

func (s *Store) unpin(version int64) {
	s.pinMu.Lock()
	if s.pins[version]--; s.pins[version] <= 0 {
		delete(s.pins, version)
	}
	s.pinMu.Unlock()
	s.exports.Done()
}

// pruneLimit lowers a prune target below every pinned version.
func (s *Store) pruneLimit(to int64) int64 {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	for v := range s.pins {
		to = min(to, v-1)
	}
	return to
}

// stopExports makes running exports fail and waits for them; new ones are
// refused.
func (s *Store) stopExports() {
	s.pinMu.Lock()
	s.closing.Store(true)
	s.pinMu.Unlock()
	s.exports.Wait()
}

// chunker cuts the stream into chunks of exactly size bytes.
type chunker struct {
	size int
	emit func([]byte) error
	buf  []byte
}

func (c *chunker) byte(b byte)      { c.buf = append(c.buf, b) }
func (c *chunker) bytes(b []byte)   { c.buf = append(c.buf, b...) }
func (c *chunker) uvarint(v uint64) { c.buf = binary.AppendUvarint(c.buf, v) }
func (c *chunker) field(b []byte)   { c.uvarint(uint64(len(b))); c.bytes(b) }
func (c *chunker) flushAll() error  { return c.flush(true) }
func (c *chunker) flushFull() error { return c.flush(false) }
func (c *chunker) flush(all bool) error {
	for len(c.buf) >= c.size || (all && len(c.buf) > 0) {
		n := min(c.size, len(c.buf))
		if err := c.emit(c.buf[:n]); err != nil {
			return err
		}
		c.buf = c.buf[:copy(c.buf, c.buf[n:])]
	}
	return nil
}

// Importer restores a snapshot into an empty store, chunk by chunk. It is
// for the ledger goroutine, like the other working-state methods. After
// any error the store is empty again and the importer is done.
type Importer struct {
	s       *Store
	version int64
	imp     *iavl.Importer

	buf        []byte // stream bytes not yet decoded
	headerSeen bool
	ended      bool
	nodes      uint64
	hash       []byte // from the end record
	err        error  // sticky
}

// Import starts restoring a snapshot of the given version and format into
// the store, which must be empty (no committed version, no pending writes).
func (s *Store) Import(version int64, format uint32) (*Importer, error) {
	if format != SnapshotFormat {
		return nil, fmt.Errorf("%w: format %d, this store reads format %d", ErrBadSnapshot, format, SnapshotFormat)
	}
	if version < 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadSnapshot, version)
	}
	if s.Version() != 0 || !s.tree.IsEmpty() {
		return nil, fmt.Errorf("store: import needs an empty store; this one is at version %d", s.Version())
	}
	if err := s.writeBatch(func(b dbm.Batch) error {
		return b.Set(importKey, binary.BigEndian.AppendUint64(nil, uint64(version)))
	}); err != nil {
		return nil, fmt.Errorf("store: import: %w", err)
	}
	imp, err := s.tree.Import(version)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("store: import: %w", err), s.clear())
	}
	return &Importer{s: s, version: version, imp: imp}, nil
}

// Write adds the next chunk of the stream. The stream may be cut anywhere.
func (im *Importer) Write(chunk []byte) error {
	if im.err != nil {
		return im.err
	}
	im.buf = append(im.buf, chunk...)
	for len(im.buf) > 0 {
		n, err := im.decode(im.buf)
		if err != nil {
			return im.fail(err)
		}
		if n == 0 {
			break // the record continues in the next chunk
		}
		im.buf = im.buf[n:]
	}
	if len(im.buf) > 2*maxField+64 {
		return im.fail(fmt.Errorf("%w: record too large", ErrBadSnapshot))
	}
	im.buf = append([]byte(nil), im.buf...) // do not pin a large chunk
	return nil
}

// errShort means the buffer ends inside a record.
var errShort = errors.New("short")

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = errShort
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.err = errShort
	case n < 0:
		r.err = fmt.Errorf("%w: bad varint", ErrBadSnapshot)
	default:
		r.off += n
	}
	return v
}

func (r *reader) field(limit int) []byte {
	n := r.uvarint()
	if r.err == nil && n > uint64(limit) {
		r.err = fmt.Errorf("%w: field of %d bytes", ErrBadSnapshot, n)
	}
	return r.next(int(n))
}

// decode decodes one record at the start of b and returns its length, or 0
// if b ends inside it.
func (im *Importer) decode(b []byte) (int, error) {
	r := &reader{b: b}
	if im.ended {
		return 0, fmt.Errorf("%w: data after the end record", ErrBadSnapshot)
	}
	if !im.headerSeen {
		magic := r.next(len(snapshotMagic))
		if r.err == nil && !bytes.Equal(magic, snapshotMagic) {
			return 0, fmt.Errorf("%w: not a medledger snapshot stream", ErrBadSnapshot)
		}
		format, version := r.uvarint(), r.uvarint()
		if r.err == errShort {
			return 0, nil
		} else if r.err != nil {
			return 0, r.err
		}
		if format != uint64(SnapshotFormat) || version != uint64(im.version) {
			return 0, fmt.Errorf("%w: stream of format %d version %d, expected format %d version %d", ErrBadSnapshot, format, version, SnapshotFormat, im.version)
		}
		im.headerSeen = true
		return r.off, nil
	}
	switch tag := r.next(1); {
	case r.err != nil:
		return 0, nil
	case tag[0] == tagNode:
		h := r.next(1)
		v := r.uvarint()
		key := r.field(maxField)
		var value []byte
		if r.err == nil && h[0] == 0 {
			value = r.field(maxField)
		}
		if r.err == errShort {
			return 0, nil
		} else if r.err != nil {
			return 0, r.err
		}
		height := int8(h[0])
		switch {
		case height < 0:
			return 0, fmt.Errorf("%w: node height %d", ErrBadSnapshot, height)
		case v < 1 || v > uint64(im.version):
			return 0, fmt.Errorf("%w: node version %d outside 1..%d", ErrBadSnapshot, v, im.version)
		case height == 0 && len(value) == 0:
			return 0, fmt.Errorf("%w: leaf without a value", ErrBadSnapshot)
		}
		node := &iavl.ExportNode{Key: bytes.Clone(key), Version: int64(v), Height: height}
		if height == 0 {
			node.Value = bytes.Clone(value)
		}
		if err := im.imp.Add(node); err != nil {
			return 0, fmt.Errorf("%w: node %d: %v", ErrBadSnapshot, im.nodes, err)
		}
		im.nodes++
		return r.off, nil
	case tag[0] == tagEnd:
		count := r.uvarint()
		hash := r.field(64)
		if r.err == errShort {
			return 0, nil
		} else if r.err != nil {
			return 0, r.err
		}
		if count != im.nodes {
			return 0, fmt.Errorf("%w: end record counts %d nodes, the stream had %d", ErrBadSnapshot, count, im.nodes)
		}
		im.hash, im.ended = bytes.Clone(hash), true
		return r.off, nil
	default:
		return 0, fmt.Errorf("%w: unknown record tag %#x", ErrBadSnapshot, tag[0])
	}
}

// Commit finishes the import: the stream must be complete and its tree must
// hash to wantHash (nil to accept the stream's own end record). The store
// is then at the snapshot's version, with an empty index to rebuild.
func (im *Importer) Commit(wantHash []byte) error {
	if im.err != nil {
		return im.err
	}
	if !im.ended {
		return im.fail(fmt.Errorf("%w: the stream ends early (after %d nodes)", ErrBadSnapshot, im.nodes))
	}
	if len(im.buf) > 0 {
		return im.fail(fmt.Errorf("%w: data after the end record", ErrBadSnapshot))
	}
	s := im.s
	s.mu.Lock()
	err := im.imp.Commit()
	s.mu.Unlock()
	if err != nil {
		return im.fail(fmt.Errorf("%w: %v", ErrBadSnapshot, err))
	}
	hash := s.tree.Hash()
	if !bytes.Equal(hash, im.hash) {
		return im.fail(fmt.Errorf("%w: the imported tree hashes to %X, the stream says %X", ErrBadSnapshot, hash, im.hash))
	}
	if wantHash != nil && !bytes.Equal(hash, wantHash) {
		return im.fail(fmt.Errorf("%w: the imported tree hashes to %X, expected %X", ErrBadSnapshot, hash, wantHash))
	}
	s.committed.Store(&commitInfo{version: im.version, hash: bytes.Clone(hash)})
	if err := s.ResetIndex(); err != nil {
		return im.fail(err)
	}
	if err := s.writeBatch(func(b dbm.Batch) error { return b.Delete(importKey) }); err != nil {
		return im.fail(fmt.Errorf("store: import: %w", err))
	}
	im.err = errors.New("store: import already committed")
	return nil
}

// Abort drops the import, leaving the store empty.
func (im *Importer) Abort() error {
	if im.err != nil {
		return nil
	}
	return im.end(errors.New("store: import aborted"))
}

// fail ends the import with err and empties the store.
func (im *Importer) fail(err error) error {
	if cerr := im.end(err); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// end makes err the importer's last word and empties the store.
func (im *Importer) end(err error) error {
	im.imp.Close()
	im.err = err
	im.buf = nil
	return im.s.clear()
}

// clear deletes every key of the store and reloads the (empty) tree.
func (s *Store) clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := clearAll(s.raw); err != nil {
		return fmt.Errorf("store: clearing a failed import: %w", err)
	}
	s.tree.Close() // its node database only
	s.tree = newTree(s.raw, s.opts)
	if _, err := s.tree.Load(); err != nil {
		return fmt.Errorf("store: clearing a failed import: %w", err)
	}
	s.committed.Store(&commitInfo{version: 0, hash: s.tree.Hash()})
	s.index.Discard()
	s.indexVersion.Store(0)
	return nil
}

// clearInterruptedImport empties the store if an import was under way when
// the process stopped.
func clearInterruptedImport(raw dbm.DB) error {
	marker, err := raw.Get(importKey)
	if err != nil || marker == nil {
		return err
	}
	if err := clearAll(raw); err != nil {
		return fmt.Errorf("store: clearing an interrupted import: %w", err)
	}
	return nil
}

// clearAll deletes every key of raw, the import marker last.
func clearAll(raw dbm.DB) error {
	for {
		var keys [][]byte
		err := iterate(raw.Iterator, nil, nil, func(k, _ []byte) bool {
			if !bytes.Equal(k, importKey) {
				keys = append(keys, bytes.Clone(k))
			}
			return len(keys) < 10_000
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		b := raw.NewBatch()
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				b.Close()
				return err
			}
		}
		err = b.WriteSync()
		b.Close()
		if err != nil {
			return err
		}
	}
	b := raw.NewBatch()
	defer b.Close()
	if err := b.Delete(importKey); err != nil {
		return err
	}
	return b.WriteSync()
}

// Package store implements state.Committer: an IAVL tree (github.com/cosmos/iavl)
// for the authenticated key space and plain keys for the secondary index, both
// in one Pebble database.
//
// # Layout
//
// One Pebble database per directory, split by key prefix:
//
//	s/<iavl key>       IAVL's own keys: nodes of every version, its fast index
//	                   of the latest values, its metadata
//	x/<index key>      secondary-index entries (state.Committer.Index)
//	m/index_version    8-byte big-endian version at which the index was last flushed
//
// OpenMem puts the same layout in IAVL's in-memory database.
//
// # Commit, the index and crashes
//
// Commit first saves the tree as version Version()+1 with IAVL's SaveVersion.
// The store makes IAVL write a version in a single Pebble batch (fsynced when
// Options.Sync), so a crash leaves the tree at either the old or the new
// version. Index writes are buffered in memory, readable through Index(), and
// flushed after SaveVersion in a second batch that also sets m/index_version
// to the new version. A crash between the two batches leaves
// IndexVersion() < Version() on reopen: the caller must then ResetIndex,
// rebuild the index from the authenticated state, and FlushIndex.
//
// # Proofs
//
// Prove returns a marshalled ics23.CommitmentProof (protobuf) in IAVL's ICS-23
// format (ics23.IavlSpec): an existence proof when the key is present at that
// version, a non-existence proof built from its neighbours when it is absent.
// A tree with no keys has no neighbours to prove absence with, so Prove
// returns an empty proof there, and client.VerifyState accepts absence with an
// empty proof only under the empty-tree hash, sha256 of the empty string
// (e3b0c442…b855), which is what IAVL reports as the hash of an empty tree,
// committed or not.
//
// # Concurrency
//
// One goroutine (the ledger) calls the working-state methods: Get, Iterate,
// Set, Delete, Index, WorkingHash, Commit, Rollback, ResetIndex, FlushIndex.
// Any goroutine may call GetAt, Prove, Version, Hash and IndexVersion at the
// same time. They read committed versions only, and keep reading while Commit
// writes the next version; they wait only while the ledger modifies the tree
// in memory (Set, Delete) or prunes old versions. Export (snapshot.go) also
// runs in any goroutine; the version it reads is not pruned until it ends.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cosmos/iavl"
	dbm "github.com/cosmos/iavl/db"

	"medledger"
	"medledger/internal/state"
)

// ErrVersionUnavailable is returned by GetAt and Prove for a version that was
// never committed or has been pruned. Its kind is KindUnavailable, so the
// API answers 503 (a fresh node before its first commit) rather than an
// internal error.
var ErrVersionUnavailable error = &medledger.Error{Kind: medledger.KindUnavailable, Msg: "store: version unavailable"}

var (
	treePrefix      = []byte("s/")
	indexPrefix     = []byte("x/")
	indexVersionKey = []byte("m/index_version")
)

// pebbleCacheSize is Pebble's block cache, behind IAVL's node cache.
var pebbleCacheSize int64 = 128 << 20

// Options configure a Store.
type Options struct {
	// CacheSize is how many IAVL nodes to keep in memory; 0 means 200,000.
	CacheSize int
	// KeepVersions is how many of the latest versions to keep; Commit prunes
	// older ones. 0 keeps every version. Proving a query at height H against
	// the header of H+1 needs at least 2.
	KeepVersions int64
	// Sync fsyncs every commit.
	Sync bool
}

// DefaultOptions returns a 200,000-node cache, every version kept, and fsync
// on commit.
func DefaultOptions() Options {
	return Options{CacheSize: 200_000, Sync: true}
}

// Store is the IAVL-on-Pebble state.Committer.
type Store struct {
	raw  dbm.DB // the whole key space: tree, index and metadata
	tree *iavl.MutableTree
	opts Options

	// mu guards the committed nodes, which IAVL mutates in place when the
	// working tree changes (Set, Delete) and when it prunes versions: those
	// hold it exclusively, GetAt and Prove hold it shared. The ledger's own
	// reads need no lock, as it is the only writer.
	mu        sync.RWMutex
	committed atomic.Pointer[commitInfo]
	closed    bool

	index        *state.Cache // buffered index writes over the flushed index
	indexVersion atomic.Int64

	// afterSave, if set (by tests), runs between SaveVersion and the index
	// flush; an error stops the commit there, as a crash would.
	afterSave func() error

	// Snapshot exports in progress (snapshot.go): the versions they pin
	// against pruning, and a count that Close waits for.
	pinMu   sync.Mutex
	pins    map[int64]int
	exports sync.WaitGroup
	closing atomic.Bool
}

type commitInfo struct {
	version int64
	hash    []byte
}

var _ state.Committer = (*Store)(nil)

// quietLogger drops Pebble's routine info lines (WAL replays, compactions),
// which it would otherwise print to standard error, and keeps its fatal
// errors fatal.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// Open opens or creates the store in dir and loads its latest version.
func Open(dir string, opts Options) (*Store, error) {
	cache := pebble.NewCache(pebbleCacheSize)
	defer cache.Unref() // the database holds its own reference
	db, err := pebble.Open(dir, &pebble.Options{Cache: cache, FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("store: open pebble: %w", err)
	}
	s, err := open(pebbleDB{db}, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenMem returns an empty store in memory, for tests and for checking that
// hashes do not depend on the backend.
func OpenMem() (*Store, error) {
	return open(dbm.NewMemDB(), DefaultOptions())
}

func open(raw dbm.DB, opts Options) (*Store, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultOptions().CacheSize
	}
	// A snapshot import that did not finish leaves nodes without a root.
	if err := clearInterruptedImport(raw); err != nil {
		return nil, err
	}
	tree := newTree(raw, opts)
	version, err := tree.Load()
	if err != nil {
		return nil, fmt.Errorf("store: load tree: %w", err)
	}
	s := &Store{raw: raw, tree: tree, opts: opts, pins: make(map[int64]int)}
	s.committed.Store(&commitInfo{version: version, hash: tree.Hash()})
	iv, err := raw.Get(indexVersionKey)
	if err != nil {
		return nil, fmt.Errorf("store: read index version: %w", err)
	}
	if iv != nil {
		if len(iv) != 8 {
			return nil, fmt.Errorf("store: bad index version %x", iv)
		}
		s.indexVersion.Store(int64(binary.BigEndian.Uint64(iv)))
	}
	s.index = state.NewCache(flushedIndex{raw})
	return s, nil
}

// newTree returns the IAVL tree over raw's tree keys, not yet loaded.
func newTree(raw dbm.DB, opts Options) *iavl.MutableTree {
	// IAVL's fast index (one plain key per tree key, latest version only)
	// makes the ledger's point reads one lookup instead of a walk down the
	// tree, for some 15% more commit time. Nothing else uses it: Iterate and
	// the committed-version readers walk the tree, which also keeps readers
	// off the fast index while Commit rewrites it.
	return iavl.NewMutableTree(prefixDB{raw, treePrefix}, opts.CacheSize, false, iavl.NewNopLogger(),
		iavl.SyncOption(opts.Sync),
		// One batch per version, so that SaveVersion is crash-atomic: IAVL
		// otherwise flushes every 100 KB, and a crash could leave part of a
		// version on disk.
		iavl.FlushThresholdOption(math.MaxInt/2),
	)
}

// Close closes the store, dropping uncommitted writes. It first stops any
// snapshot export and waits for it.
func (s *Store) Close() error {
	s.stopExports()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.tree.Close(), s.raw.Close())
}

// Get returns the working value at key, or nil.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, err := s.tree.Get(key)
	return bytes.Clone(v), err
}

// Iterate calls fn for the working keys in [start, end) in ascending order.
// fn may read and write the store.
func (s *Store) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	return iterate(func(start, end []byte) (dbm.Iterator, error) {
		// A walk of the working tree; tree.Iterator would use the fast
		// index, whose iterator sorts every pending write on each call.
		return iavl.NewIterator(start, end, true, s.tree.ImmutableTree), nil
	}, start, end, fn)
}

// Set writes value at key in the working tree.
func (s *Store) Set(key, value []byte) error {
	if len(value) == 0 {
		return state.ErrEmptyValue
	}
	// IAVL keeps the slices it is given.
	key, value = bytes.Clone(key), bytes.Clone(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.tree.Set(key, value)
	return err
}

// Delete removes key from the working tree.
func (s *Store) Delete(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, err := s.tree.Remove(key)
	return err
}

// Version is the latest committed version, 0 before the first commit.
func (s *Store) Version() int64 { return s.committed.Load().version }

// Hash is the root hash of the latest committed version. Before the first
// commit it is the empty-tree hash, sha256 of the empty string.
func (s *Store) Hash() []byte { return bytes.Clone(s.committed.Load().hash) }

// WorkingHash is the root hash Commit would return now. With no keys it is
// the empty-tree hash.
func (s *Store) WorkingHash() []byte { return bytes.Clone(s.tree.WorkingHash()) }

// Commit saves the working tree as version Version()+1, then flushes the
// index with that version as IndexVersion, then prunes (Options.KeepVersions).
// An error after the tree is saved still leaves the tree at the new version;
// the caller should stop and reopen.
func (s *Store) Commit() ([]byte, int64, error) {
	// SaveVersion mutates only the nodes the working tree created, which no
	// committed version reaches, so readers go on meanwhile.
	hash, version, err := s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("store: save version: %w", err)
	}
	s.committed.Store(&commitInfo{version: version, hash: bytes.Clone(hash)})
	hash = bytes.Clone(hash)
	if s.afterSave != nil {
		if err := s.afterSave(); err != nil {
			return hash, version, err
		}
	}
	if err := s.flushIndex(version); err != nil {
		return hash, version, err
	}
	if keep := s.opts.KeepVersions; keep > 0 && version > keep {
		// A version a snapshot export is reading stays, with those after it.
		s.mu.Lock()
		to := s.pruneLimit(version - keep)
		err := s.tree.DeleteVersionsTo(to)
		s.mu.Unlock()
		if err != nil {
			return hash, version, fmt.Errorf("store: prune to %d: %w", to, err)
		}
	}
	return hash, version, nil
}

// Rollback drops the uncommitted writes to the tree and the index.
func (s *Store) Rollback() {
	s.tree.Rollback()
	s.index.Discard()
}

// GetAt returns the value at key in a committed version, or nil.
func (s *Store) GetAt(key []byte, version int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.immutable(version)
	if err != nil {
		return nil, err
	}
	_, v, err := t.GetWithIndex(key) // a walk of the tree, not the fast index
	return bytes.Clone(v), err
}

// Prove returns the value at key in a committed version (nil if absent) and
// a marshalled ics23.CommitmentProof of it against that version's hash. The
// proof is empty if the version has no keys at all (see the package doc).
func (s *Store) Prove(key []byte, version int64) (value, proof []byte, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, err := s.immutable(version)
	if err != nil {
		return nil, nil, err
	}
	if t.Size() == 0 {
		return nil, nil, nil
	}
	p, err := t.GetProof(key)
	if err != nil {
		return nil, nil, fmt.Errorf("store: prove: %w", err)
	}
	if ex := p.GetExist(); ex != nil {
		value = bytes.Clone(ex.Value)
	}
	proof, err = p.Marshal()
	return value, proof, err
}

// immutable returns the tree of a committed version. s.mu must be held, so
// that the version cannot be pruned while the caller reads it.
func (s *Store) immutable(version int64) (*iavl.ImmutableTree, error) {
	if s.closed {
		return nil, errors.New("store: closed")
	}
	if version < 1 || version > s.Version() || !s.tree.VersionExists(version) {
		return nil, fmt.Errorf("%w: %d", ErrVersionUnavailable, version)
	}
	t, err := s.tree.GetImmutable(version)
	if errors.Is(err, iavl.ErrVersionDoesNotExist) {
		return nil, fmt.Errorf("%w: %d", ErrVersionUnavailable, version)
	}
	return t, err
}

// iterChunk bounds how many entries Iterate reads ahead. Reading in chunks
// keeps no iterator open while the callback runs, so the callback may write;
// starting small keeps early stops cheap.
const (
	iterChunkMin = 16
	iterChunkMax = 1024
)

// iterate calls fn for each entry in [start, end) of the iterators open
// returns, reading them chunk by chunk; fn sees copies.
func iterate(open func(start, end []byte) (dbm.Iterator, error), start, end []byte, fn func(key, value []byte) bool) error {
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	var (
		buf   []byte
		spans []int // key end, value end, per entry, as offsets into buf
	)
	for chunk := iterChunkMin; ; chunk = min(4*chunk, iterChunkMax) {
		it, err := open(start, end)
		if err != nil {
			return err
		}
		buf, spans = buf[:0], spans[:0]
		for ; it.Valid() && len(spans) < 2*chunk; it.Next() {
			buf = append(buf, it.Key()...)
			spans = append(spans, len(buf))
			buf = append(buf, it.Value()...)
			spans = append(spans, len(buf))
		}
		more := it.Valid()
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return err
		}
		var k []byte
		for i, from := 0, 0; i < len(spans); i += 2 {
			k = buf[from:spans[i]:spans[i]]
			if !fn(k, buf[spans[i]:spans[i+1]:spans[i+1]]) {
				return nil
			}
			from = spans[i+1]
		}
		if !more {
			return nil
		}
		start = append(bytes.Clone(k), 0) // the least key after k
	}
}

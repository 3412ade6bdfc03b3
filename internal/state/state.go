// Package state is the deterministic key-value contract the state machine runs
// on: point reads, ordered iteration, writes, and a per-tx cache that is either
// written through or discarded, so that a failed tx leaves no writes behind.
//
// Two key spaces exist. The authenticated space is what the app hash commits
// to and what queries prove. The index space holds secondary indexes derived
// from the authenticated space (patient → records, org → members); it is not
// part of the app hash, and the store can rebuild it from authenticated state.
//
// The package is pure: no clock, no randomness, no I/O, no goroutines.
package state

import (
	"bytes"
	"errors"
	"sort"
)

// Reader reads a key space.
type Reader interface {
	// Get returns the value at key, or nil if there is none.
	Get(key []byte) ([]byte, error)
	// Iterate calls fn for each key in [start, end) in ascending byte order.
	// A nil end means no upper bound. fn must not retain key or value, and
	// returns false to stop.
	Iterate(start, end []byte, fn func(key, value []byte) bool) error
}

// ReadWriter reads and writes a key space. Values are never nil or empty:
// an empty value is stored as a one-byte zero by convention of the caller.
type ReadWriter interface {
	Reader
	Set(key, value []byte) error
	Delete(key []byte) error
}

// Committer is a store the ledger commits blocks to.
type Committer interface {
	ReadWriter
	// Index is the secondary-index key space.
	Index() ReadWriter
	// Version is the last committed version (block height), 0 before the first.
	Version() int64
	// Hash is the root hash of the last committed version.
	Hash() []byte
	// WorkingHash is the root hash the pending writes would commit.
	WorkingHash() []byte
	// Commit makes the pending writes version Version()+1 and returns its hash.
	Commit() (hash []byte, version int64, err error)
}

// ErrEmptyValue is returned for a Set with an empty value.
var ErrEmptyValue = errors.New("state: empty value")

// PrefixEnd returns the first key after every key with the given prefix, for
// use as an Iterate end bound, or nil if there is none.
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Key joins parts with '/' into a key. Parts must not contain '/' where the
// key is parsed back.
func Key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return b
}

// Cache buffers writes over a parent. Reads see the buffered writes first.
// Write applies them to the parent in key order; dropping the cache discards
// them.
type Cache struct {
	parent Reader
	writes map[string][]byte // nil value marks a delete
}

// NewCache returns an empty cache over parent.
func NewCache(parent Reader) *Cache {
	return &Cache{parent: parent, writes: make(map[string][]byte)}
}

// Get implements Reader.
func (c *Cache) Get(key []byte) ([]byte, error) {
	if v, ok := c.writes[string(key)]; ok {
		return v, nil
	}
	return c.parent.Get(key)
}

// Set implements ReadWriter.
func (c *Cache) Set(key, value []byte) error {
	if len(value) == 0 {
		return ErrEmptyValue
	}
	c.writes[string(key)] = bytes.Clone(value)
	return nil
}

// Delete implements ReadWriter.
func (c *Cache) Delete(key []byte) error {
	c.writes[string(key)] = nil
	return nil
}

// Len returns how many keys the cache would write or delete.
func (c *Cache) Len() int { return len(c.writes) }

// sortedKeys returns the buffered keys in [start, end), sorted.
func (c *Cache) sortedKeys(start, end []byte) []string {
	keys := make([]string, 0, len(c.writes))
	for k := range c.writes {
		if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Iterate implements Reader, merging buffered writes with the parent's keys.
func (c *Cache) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	mine := c.sortedKeys(start, end)
	i := 0
	stopped := false
	// emit flushes buffered keys below limit (all of them for nil).
	emit := func(limit []byte) bool {
		for ; i < len(mine) && (limit == nil || mine[i] < string(limit)); i++ {
			if v := c.writes[mine[i]]; v != nil && !fn([]byte(mine[i]), v) {
				return false
			}
		}
		return true
	}
	err := c.parent.Iterate(start, end, func(k, v []byte) bool {
		if !emit(k) {
			stopped = true
			return false
		}
		if i < len(mine) && mine[i] == string(k) {
			i++ // overridden or deleted here
			if w := c.writes[string(k)]; w != nil {
				if !fn(k, w) {
					stopped = true
					return false
				}
			}
			return true
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil || stopped {
		return err
	}
	emit(nil)
	return nil
}

// Write applies the buffered writes to dst in ascending key order and
// empties the cache.
func (c *Cache) Write(dst ReadWriter) error {
	for _, k := range c.sortedKeys(nil, nil) {
		v := c.writes[k]
		var err error
		if v == nil {
			err = dst.Delete([]byte(k))
		} else {
			err = dst.Set([]byte(k), v)
		}
		if err != nil {
			return err
		}
	}
	clear(c.writes)
	return nil
}

// Discard drops the buffered writes.
func (c *Cache) Discard() { clear(c.writes) }

// Mem is an in-memory ReadWriter with no hashing, for tests of modules that
// do not need an app hash. The IAVL stores live in internal/store.
type Mem struct{ m map[string][]byte }

// NewMem returns an empty Mem.
func NewMem() *Mem { return &Mem{m: make(map[string][]byte)} }

// Get implements Reader.
func (m *Mem) Get(key []byte) ([]byte, error) { return m.m[string(key)], nil }

// Set implements ReadWriter.
func (m *Mem) Set(key, value []byte) error {
	if len(value) == 0 {
		return ErrEmptyValue
	}
	m.m[string(key)] = bytes.Clone(value)
	return nil
}

// Delete implements ReadWriter.
func (m *Mem) Delete(key []byte) error { delete(m.m, string(key)); return nil }

// Iterate implements Reader.
func (m *Mem) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	keys := make([]string, 0, len(m.m))
	for k := range m.m {
		if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), m.m[k]) {
			return nil
		}
	}
	return nil
}

// Batch is what a module's Apply writes to: the authenticated key space and
// the index key space, both buffered for the current tx.
type Batch struct {
	KV    ReadWriter
	Index ReadWriter
}

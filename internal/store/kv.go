package store

import (
	"bytes"
	"errors"

	"github.com/cockroachdb/pebble"
	dbm "github.com/cosmos/iavl/db"

	"medledger/internal/state"
)

// This file holds the two small key-value adapters the store is built from:
// pebbleDB gives IAVL a dbm.DB straight over Pebble, and prefixDB confines a
// dbm.DB to one key prefix.

var (
	errKeyEmpty    = errors.New("store: empty key")
	errValueNil    = errors.New("store: nil value")
	errBatchClosed = errors.New("store: batch already written or closed")
)

// pebbleDB implements dbm.DB over a Pebble database.
type pebbleDB struct{ db *pebble.DB }

var _ dbm.DB = pebbleDB{}

func (p pebbleDB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errKeyEmpty
	}
	v, closer, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A present key with an empty value must come back non-nil: IAVL stores
	// the root of an empty tree as an empty value.
	out := make([]byte, len(v))
	copy(out, v)
	return out, closer.Close()
}

func (p pebbleDB) Has(key []byte) (bool, error) {
	v, err := p.Get(key)
	return v != nil, err
}

func (p pebbleDB) Iterator(start, end []byte) (dbm.Iterator, error) {
	return p.newIter(start, end, false)
}

func (p pebbleDB) ReverseIterator(start, end []byte) (dbm.Iterator, error) {
	return p.newIter(start, end, true)
}

func (p pebbleDB) newIter(start, end []byte, reverse bool) (dbm.Iterator, error) {
	if (start != nil && len(start) == 0) || (end != nil && len(end) == 0) {
		return nil, errKeyEmpty
	}
	upper := end
	if start != nil && end != nil && bytes.Compare(start, end) > 0 {
		upper = start // Pebble rejects inverted bounds; the domain is empty
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	if reverse {
		it.Last()
	} else {
		it.First()
	}
	return &pebbleIter{it: it, start: start, end: end, reverse: reverse}, nil
}

func (p pebbleDB) Close() error { return p.db.Close() }

func (p pebbleDB) NewBatch() dbm.Batch { return &pebbleBatch{b: p.db.NewBatch()} }

// NewBatchWithSize ignores the size hint: the store asks IAVL for one batch
// per commit (see Open), and its threshold is far above any real batch.
func (p pebbleDB) NewBatchWithSize(int) dbm.Batch { return p.NewBatch() }

type pebbleIter struct {
	it         *pebble.Iterator
	start, end []byte
	reverse    bool
}

func (i *pebbleIter) Domain() ([]byte, []byte) { return i.start, i.end }
func (i *pebbleIter) Valid() bool              { return i.it.Valid() }
func (i *pebbleIter) Error() error             { return i.it.Error() }
func (i *pebbleIter) Close() error             { return i.it.Close() }

func (i *pebbleIter) Next() {
	if !i.it.Valid() {
		panic("store: Next on an invalid iterator")
	}
	if i.reverse {
		i.it.Prev()
	} else {
		i.it.Next()
	}
}

// Key and Value copy, because Pebble reuses its buffers on the next move.
func (i *pebbleIter) Key() []byte   { return bytes.Clone(i.it.Key()) }
func (i *pebbleIter) Value() []byte { return append([]byte{}, i.it.Value()...) }

type pebbleBatch struct{ b *pebble.Batch }

func (b *pebbleBatch) Set(key, value []byte) error {
	switch {
	case b.b == nil:
		return errBatchClosed
	case len(key) == 0:
		return errKeyEmpty
	case value == nil:
		return errValueNil
	}
	return b.b.Set(key, value, nil)
}

func (b *pebbleBatch) Delete(key []byte) error {
	switch {
	case b.b == nil:
		return errBatchClosed
	case len(key) == 0:
		return errKeyEmpty
	}
	return b.b.Delete(key, nil)
}

func (b *pebbleBatch) Write() error     { return b.commit(pebble.NoSync) }
func (b *pebbleBatch) WriteSync() error { return b.commit(pebble.Sync) }

func (b *pebbleBatch) commit(o *pebble.WriteOptions) error {
	if b.b == nil {
		return errBatchClosed
	}
	err := b.b.Commit(o)
	b.Close()
	return err
}

func (b *pebbleBatch) Close() error {
	if b.b != nil {
		b.b.Close()
		b.b = nil
	}
	return nil
}

func (b *pebbleBatch) GetByteSize() (int, error) {
	if b.b == nil {
		return 0, errBatchClosed
	}
	return b.b.Len(), nil
}

// prefixDB confines a dbm.DB to the keys under prefix, which it strips from
// the keys it returns. Closing it does not close the parent.
type prefixDB struct {
	db     dbm.DB
	prefix []byte
}

var _ dbm.DB = prefixDB{}

func (p prefixDB) key(k []byte) []byte {
	out := make([]byte, 0, len(p.prefix)+len(k))
	return append(append(out, p.prefix...), k...)
}

// bounds maps a domain of unprefixed keys onto the parent's key space.
func (p prefixDB) bounds(start, end []byte) ([]byte, []byte) {
	s, e := p.key(start), state.PrefixEnd(p.prefix)
	if end != nil {
		e = p.key(end)
	}
	return s, e
}

func (p prefixDB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errKeyEmpty
	}
	return p.db.Get(p.key(key))
}

func (p prefixDB) Has(key []byte) (bool, error) {
	if len(key) == 0 {
		return false, errKeyEmpty
	}
	return p.db.Has(p.key(key))
}

func (p prefixDB) Iterator(start, end []byte) (dbm.Iterator, error) {
	s, e := p.bounds(start, end)
	it, err := p.db.Iterator(s, e)
	if err != nil {
		return nil, err
	}
	return &prefixIter{Iterator: it, n: len(p.prefix), start: start, end: end}, nil
}

func (p prefixDB) ReverseIterator(start, end []byte) (dbm.Iterator, error) {
	s, e := p.bounds(start, end)
	it, err := p.db.ReverseIterator(s, e)
	if err != nil {
		return nil, err
	}
	return &prefixIter{Iterator: it, n: len(p.prefix), start: start, end: end}, nil
}

func (p prefixDB) Close() error { return nil }

func (p prefixDB) NewBatch() dbm.Batch { return prefixBatch{p.db.NewBatch(), p} }

func (p prefixDB) NewBatchWithSize(n int) dbm.Batch {
	return prefixBatch{p.db.NewBatchWithSize(n), p}
}

type prefixIter struct {
	dbm.Iterator
	n          int
	start, end []byte
}

func (i *prefixIter) Domain() ([]byte, []byte) { return i.start, i.end }
func (i *prefixIter) Key() []byte              { return i.Iterator.Key()[i.n:] }

type prefixBatch struct {
	dbm.Batch
	p prefixDB
}

func (b prefixBatch) Set(key, value []byte) error {
	if len(key) == 0 {
		return errKeyEmpty
	}
	return b.Batch.Set(b.p.key(key), value)
}

func (b prefixBatch) Delete(key []byte) error {
	if len(key) == 0 {
		return errKeyEmpty
	}
	return b.Batch.Delete(b.p.key(key))
}

package cometbft

import (
	"errors"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
)

// errDBClosed is what writes to a closed database return.
var errDBClosed = errors.New("cometbft database closed")

// closeSafeDB wraps one of CometBFT's databases so that a read after Close
// answers "not found" instead of an error. CometBFT v0.38 does not wait for
// its per-peer consensus routines on Stop; one can sleep up to
// peer_query_maj23_sleep_duration mid-iteration and then read the block
// store, which panics on any read error. "Not found" is an answer it
// handles. Reads hold the lock against Close, so none sees a half-closed
// database.
type closeSafeDB struct {
	mu     sync.RWMutex
	db     dbm.DB
	closed bool
}

func (c *closeSafeDB) Get(k []byte) ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, nil
	}
	return c.db.Get(k)
}

func (c *closeSafeDB) Has(k []byte) (bool, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false, nil
	}
	return c.db.Has(k)
}

func (c *closeSafeDB) write(f func() error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errDBClosed
	}
	return f()
}

func (c *closeSafeDB) Set(k, v []byte) error { return c.write(func() error { return c.db.Set(k, v) }) }
func (c *closeSafeDB) SetSync(k, v []byte) error {
	return c.write(func() error { return c.db.SetSync(k, v) })
}
func (c *closeSafeDB) Delete(k []byte) error { return c.write(func() error { return c.db.Delete(k) }) }
func (c *closeSafeDB) DeleteSync(k []byte) error {
	return c.write(func() error { return c.db.DeleteSync(k) })
}

func (c *closeSafeDB) Iterator(start, end []byte) (dbm.Iterator, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, errDBClosed
	}
	return c.db.Iterator(start, end)
}

func (c *closeSafeDB) ReverseIterator(start, end []byte) (dbm.Iterator, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, errDBClosed
	}
	return c.db.ReverseIterator(start, end)
}

// Close closes the database once.
func (c *closeSafeDB) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.db.Close()
}

func (c *closeSafeDB) NewBatch() dbm.Batch      { return c.db.NewBatch() }
func (c *closeSafeDB) Print() error             { return c.db.Print() }
func (c *closeSafeDB) Stats() map[string]string { return c.db.Stats() }
func (c *closeSafeDB) Compact(start, end []byte) error {
	return c.write(func() error { return c.db.Compact(start, end) })
}

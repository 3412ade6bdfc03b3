package blob

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sync"

	"medledger"
)

// Mem is a BlobStore in memory, for tests of other packages. It keeps the
// same rules as Dir and passes the same contract suite.
type Mem struct {
	limit int64
	mu    sync.RWMutex
	blobs map[medledger.BlobID][]byte
	wraps map[medledger.BlobID]map[string][]byte
}

var _ medledger.BlobStore = (*Mem)(nil)

// NewMem returns an empty in-memory store with the given size limit per blob;
// zero or less means DefaultMaxBlobSize.
func NewMem(limit int64) *Mem {
	if limit <= 0 {
		limit = DefaultMaxBlobSize
	}
	return &Mem{
		limit: limit,
		blobs: make(map[medledger.BlobID][]byte),
		wraps: make(map[medledger.BlobID]map[string][]byte),
	}
}

// Put implements medledger.BlobStore.
func (m *Mem) Put(ctx context.Context, id medledger.BlobID, r io.Reader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	b, ok := m.blobs[id]
	m.mu.RUnlock()
	if ok {
		return int64(len(b)), nil
	}
	var buf bytes.Buffer
	n, err := copyVerified(ctx, &buf, r, id, m.limit, func(err error) error { return ioError("write", id, err) })
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.blobs[id]; ok {
		return int64(len(b)), nil
	}
	m.blobs[id] = buf.Bytes()
	return n, nil
}

// Open implements medledger.BlobStore.
func (m *Mem) Open(ctx context.Context, id medledger.BlobID) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	m.mu.RLock()
	b, ok := m.blobs[id]
	m.mu.RUnlock()
	if !ok {
		return nil, 0, notFound(id)
	}
	// Stored slices are never modified (Corrupt replaces them), so the
	// reader needs no copy.
	return newVerifyingReader(id, int64(len(b)), bytes.NewReader(b), nil), int64(len(b)), nil
}

// Has implements medledger.BlobStore.
func (m *Mem) Has(ctx context.Context, id medledger.BlobID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.blobs[id]
	return ok, nil
}

// Delete implements medledger.BlobStore.
func (m *Mem) Delete(ctx context.Context, id medledger.BlobID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.wraps, id)
	delete(m.blobs, id)
	return nil
}

// PutWrap implements medledger.BlobStore.
func (m *Mem) PutWrap(ctx context.Context, id medledger.BlobID, readerKeyID string, wrap []byte) error {
	if err := checkWrap(readerKeyID, wrap); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[id]; !ok {
		return medledger.Errorf(medledger.KindNotFound, "blob %s not found: store the blob before its wraps", id)
	}
	w := m.wraps[id]
	if w == nil {
		w = make(map[string][]byte)
		m.wraps[id] = w
	}
	w[readerKeyID] = bytes.Clone(wrap)
	return nil
}

// GetWrap implements medledger.BlobStore.
func (m *Mem) GetWrap(ctx context.Context, id medledger.BlobID, readerKeyID string) ([]byte, error) {
	if err := ValidateReaderKeyID(readerKeyID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	w, ok := m.wraps[id][readerKeyID]
	if !ok {
		return nil, wrapNotFound(id, readerKeyID)
	}
	return bytes.Clone(w), nil
}

// Wraps implements medledger.BlobStore.
func (m *Mem) Wraps(ctx context.Context, id medledger.BlobID) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var keys []string
	for k := range m.wraps[id] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// Corrupt changes the stored bytes of blob id so that they no longer hash to
// id, as a failing disk would: it flips a bit of the last byte, or appends
// a byte to an empty blob. It is for tests of corruption handling, and
// reports whether the blob was stored.
func (m *Mem) Corrupt(id medledger.BlobID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok {
		return false
	}
	b = bytes.Clone(b)
	if len(b) == 0 {
		b = append(b, 0)
	} else {
		b[len(b)-1] ^= 1
	}
	m.blobs[id] = b
	return true
}

package medledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
)

// BlobID names a ciphertext blob: the sha256 of its bytes.
type BlobID [32]byte

// BlobIDOf returns the ID of b.
func BlobIDOf(b []byte) BlobID { return sha256.Sum256(b) }

// String returns lowercase hex.
func (id BlobID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is unset.
func (id BlobID) IsZero() bool { return id == BlobID{} }

// ParseBlobID parses 64 hex characters.
func ParseBlobID(s string) (BlobID, error) {
	var id BlobID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, Errorf(KindInvalid, "blob id must be 64 hex characters")
	}
	copy(id[:], b)
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id BlobID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *BlobID) UnmarshalText(b []byte) error {
	v, err := ParseBlobID(string(b))
	*id = v
	return err
}

// BlobStore keeps ciphertext blobs by content address, and next to each
// blob the wrapped content keys, one per reader key. It never sees
// plaintext or an unwrapped key. Errors carry kinds: KindNotFound for a
// missing blob or wrap, KindTooLarge over the size limit, KindInvalid for
// bytes that do not hash to their ID. Implementations are safe for
// concurrent use.
type BlobStore interface {
	// Put stores the ciphertext read from r under id, streaming, and
	// fails without storing anything if the bytes do not hash to id or
	// exceed the size limit. Putting a blob that exists is a no-op.
	Put(ctx context.Context, id BlobID, r io.Reader) (size int64, err error)
	// Open returns the blob and its size. The reader checks the hash as it
	// is read and returns an error instead of io.EOF if the bytes on disk
	// no longer match id.
	Open(ctx context.Context, id BlobID) (io.ReadCloser, int64, error)
	// Has reports whether the blob is stored.
	Has(ctx context.Context, id BlobID) (bool, error)
	// Delete removes the blob and every wrap for it. Deleting a missing
	// blob is not an error.
	Delete(ctx context.Context, id BlobID) error
	// PutWrap stores the wrapped content key of blob id for a reader key.
	PutWrap(ctx context.Context, id BlobID, readerKeyID string, wrap []byte) error
	// GetWrap returns the wrap of blob id for a reader key.
	GetWrap(ctx context.Context, id BlobID, readerKeyID string) ([]byte, error)
	// Wraps lists the reader key IDs that have a wrap for blob id, sorted.
	Wraps(ctx context.Context, id BlobID) ([]string, error)
}

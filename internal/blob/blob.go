// Package blob implements medledger.BlobStore: the node's content-addressed
// store of record ciphertext and, next to each blob, the wrapped content keys
// of its readers. It never sees plaintext or an unwrapped key.
//
// Dir keeps blobs in a directory and is the default backend. Mem keeps them
// in memory, for tests of other packages. Both pass the contract suite in
// package blobtest, which any further backend (S3-compatible storage, a
// replicating wrapper) must pass too.
//
// # Rules shared by every backend
//
//   - A blob is stored under the sha256 of its bytes. Put hashes while it
//     streams and stores nothing if the bytes do not hash to the ID
//     (KindInvalid) or exceed the size limit (KindTooLarge). It reads at most
//     limit+1 bytes from its reader and never holds a whole blob in memory
//     (Mem excepted: memory is where it stores blobs).
//   - Put of a blob that is already stored is a no-op: it returns the stored
//     size without reading r. It does not repair a stored copy that has gone
//     bad; Open reports that, and the caller deletes and fetches it again.
//   - Open's reader hashes what it returns. At the end of the blob it returns
//     a KindInvalid error instead of io.EOF if the bytes do not hash to the
//     ID. Bytes already returned before that error cannot be taken back: a
//     server streaming a blob must abort the response on a read error.
//   - A wrap can only be put for a stored blob (KindNotFound otherwise).
//     Delete removes the wraps first and then the blob, and is serialised
//     with PutWrap of the same blob, so no wrap outlives its blob: erasure by
//     crypto-shredding relies on that. Delete of a missing blob is not an
//     error. Wraps of a missing blob is an empty list, not an error.
//   - Reader key IDs are 1 to 64 characters of [a-z0-9] (seal.KeyID gives
//     25), so they are safe as file names and object keys (KindInvalid
//     otherwise). A wrap is 1 to MaxWrapSize bytes.
//   - Every method returns the context's error, unwrapped, when ctx is done
//     before it starts. Put also returns it when ctx is cancelled while Put
//     waits for its reader, even if a Read call is blocked: Put then returns
//     at once, removes what it wrote, and leaves that one Read call to finish
//     in the background; its result is discarded and r is not read again.
//   - Errors carry kinds (medledger.KindOf). A failing reader's error is
//     wrapped with %w, so errors.As finds it (http.MaxBytesError, say).
//     Messages name blob IDs and reader key IDs only, never content.
//
// # Dir layout
//
//	<dir>/blobs/ab/cd/abcd…(64 hex)   the ciphertext, mode 0600
//	<dir>/wraps/abcd…(64 hex)/<key>   one wrap per reader key ID, mode 0600
//	<dir>/tmp/.tmp-*                  files being written
//
// Directories are created with mode 0700. The two-level fan-out keeps any
// one directory under a few hundred entries up to tens of millions of blobs.
// Writes are atomic: Put and PutWrap write a temp file in <dir>/tmp, fsync
// it, rename it into place and fsync the directory it landed in (and any
// directory they had to create). A crash leaves either no blob or the whole
// blob, and at worst a stray temp file, which OpenDir removes. Temp files
// live in one directory of their own, on the same file system as blobs/ and
// wraps/, so that OpenDir cleans up with one ReadDir instead of walking every
// fan-out directory of a large store; OpenDir removes only names that start
// with ".tmp-". One process at a time may use a directory.
package blob

import (
	"errors"
	"fmt"
	"syscall"

	"medledger"
)

// DefaultMaxBlobSize is the size limit of a blob when none is configured.
const DefaultMaxBlobSize int64 = 64 << 20

// MaxWrapSize is the largest wrap a store accepts. A wrap of a 32-byte content
// key with ML-KEM-768+X25519 HPKE is about 1.2 KB; the limit leaves room for
// larger KEMs and metadata while keeping one wrap cheap to hold in memory.
const MaxWrapSize = 64 << 10

// MaxReaderKeyIDLen is the longest reader key ID a store accepts.
const MaxReaderKeyIDLen = 64

// Options configures a store.
type Options struct {
	// MaxBlobSize is the size limit of one blob in bytes. Zero means
	// DefaultMaxBlobSize.
	MaxBlobSize int64
}

func (o Options) limit() (int64, error) {
	switch {
	case o.MaxBlobSize < 0:
		return 0, medledger.Errorf(medledger.KindInvalid, "blob store: MaxBlobSize %d is negative", o.MaxBlobSize)
	case o.MaxBlobSize == 0:
		return DefaultMaxBlobSize, nil
	}
	return o.MaxBlobSize, nil
}

// ValidateReaderKeyID reports whether s can name a reader key in a store: 1 to
// MaxReaderKeyIDLen characters of lowercase ASCII letters and digits.
func ValidateReaderKeyID(s string) error {
	if len(s) == 0 || len(s) > MaxReaderKeyIDLen {
		return medledger.Errorf(medledger.KindInvalid, "reader key id must be 1 to %d characters, got %d", MaxReaderKeyIDLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return medledger.Errorf(medledger.KindInvalid, "reader key id has invalid character at %d: use a-z and 0-9", i)
		}
	}
	return nil
}

// checkWrap validates the arguments of PutWrap.
func checkWrap(readerKeyID string, wrap []byte) error {
	if err := ValidateReaderKeyID(readerKeyID); err != nil {
		return err
	}
	if len(wrap) == 0 {
		return medledger.Errorf(medledger.KindInvalid, "wrap for reader key %s is empty", readerKeyID)
	}
	if len(wrap) > MaxWrapSize {
		return medledger.Errorf(medledger.KindTooLarge, "wrap for reader key %s is %d bytes, over the limit of %d", readerKeyID, len(wrap), MaxWrapSize)
	}
	return nil
}

func notFound(id medledger.BlobID) error {
	return medledger.Errorf(medledger.KindNotFound, "blob %s not found", id)
}

func wrapNotFound(id medledger.BlobID, readerKeyID string) error {
	return medledger.Errorf(medledger.KindNotFound, "no wrap of blob %s for reader key %s", id, readerKeyID)
}

// errCorrupt is what Open's reader returns when the stored bytes no longer
// hash to their ID.
func errCorrupt(id medledger.BlobID) error {
	return medledger.Errorf(medledger.KindInvalid, "blob on disk does not match its id %s", id)
}

// ioError classifies a file-system error: a full disk is KindUnavailable
// (the node cannot take uploads now), anything else KindInternal. The
// message names the operation and the blob, and the OS error, whose path
// holds only the store directory and IDs.
func ioError(op string, id medledger.BlobID, err error) error {
	kind := medledger.KindInternal
	if errors.Is(err, syscall.ENOSPC) {
		kind = medledger.KindUnavailable
	}
	return medledger.Errorf(kind, "blob store: %s %s: %v", op, id, err)
}

// readError wraps an error from an upload's reader so that errors.As still
// finds it.
func readError(id medledger.BlobID, err error) error {
	return fmt.Errorf("blob %s: reading upload: %w", id, err)
}

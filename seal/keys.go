package seal

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"runtime"
)

// Sizes of the serialized account keys.
const (
	// EncKeySize is the size in bytes of a serialized encryption public key:
	// an ML-KEM-768 encapsulation key (1184 bytes) followed by an X25519
	// public key (32 bytes).
	EncKeySize = 1184 + 32

	// EncPrivateKeySize is the size in bytes of a serialized encryption
	// private key: the 32-byte MLKEM768-X25519 seed.
	EncPrivateKeySize = 32

	mlkem768PublicKeySize = 1184
)

// KeyIDLen is the length in characters of a key ID, including its "k" prefix.
const KeyIDLen = 1 + 24

// KEM returns the key encapsulation mechanism of account encryption keys:
// the ML-KEM-768 + X25519 hybrid (X-Wing) of crypto/hpke.
func KEM() hpke.KEM { return hpke.MLKEM768X25519() }

// GenerateSigningKey returns a fresh Ed25519 signing key pair.
func GenerateSigningKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: generate signing key: %w", err)
	}
	return pub, priv, nil
}

// GenerateEncryptionKey returns a fresh HPKE encryption private key for KEM.
func GenerateEncryptionKey() (hpke.PrivateKey, error) {
	k, err := KEM().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("seal: generate encryption key: %w", err)
	}
	return k, nil
}

// ErrInvalidKey reports an encryption key that does not parse.
var ErrInvalidKey = errors.New("seal: invalid encryption key")

// lowOrderProbe is a fixed X25519 scalar used to detect low-order points.
// X25519 clamps every scalar to a multiple of the cofactor, so the shared
// secret with a low-order point is all zeros for any scalar, and crypto/ecdh
// reports that as an error.
var lowOrderProbe = [32]byte{1}

// ParseEncryptionPublicKey parses a serialized encryption public key (as
// returned by hpke.PublicKey.Bytes). It rejects keys of the wrong size, an
// invalid ML-KEM encoding, and low-order X25519 points (which would make every
// later Seal to the key fail).
func ParseEncryptionPublicKey(b []byte) (hpke.PublicKey, error) {
	if len(b) != EncKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrInvalidKey, len(b), EncKeySize)
	}
	pk, err := KEM().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	x, err := ecdh.X25519().NewPublicKey(b[mlkem768PublicKeySize:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	probe, err := ecdh.X25519().NewPrivateKey(lowOrderProbe[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err) // cannot happen: any 32 bytes are a scalar
	}
	if _, err := probe.ECDH(x); err != nil {
		return nil, fmt.Errorf("%w: X25519 component is a low-order point", ErrInvalidKey)
	}
	return pk, nil
}

// ParseEncryptionPrivateKey parses a serialized encryption private key (as
// returned by hpke.PrivateKey.Bytes). The key keeps its own copy of b, so the
// caller may Zero b afterwards.
//
// The converse does not hold: in Go 1.26, Bytes on a MLKEM768X25519 private key
// returns the key's internal seed rather than a copy. Never Zero or modify the
// result of hpke.PrivateKey.Bytes; copy it first if it must be wiped.
func ParseEncryptionPrivateKey(b []byte) (hpke.PrivateKey, error) {
	if len(b) != EncPrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrInvalidKey, len(b), EncPrivateKeySize)
	}
	k, err := KEM().NewPrivateKey(b)
	if err != nil {
		// The underlying error never contains key material, but keep the
		// message generic all the same.
		return nil, fmt.Errorf("%w: private key does not parse", ErrInvalidKey)
	}
	return k, nil
}

var keyIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// KeyID returns a stable short identifier for a serialized public key of any
// kind (Ed25519 signing key or HPKE encryption key): "k" followed by the
// lowercase, unpadded base32 encoding of the first 15 bytes (120 bits) of
// sha256(pub), 25 characters in all. For example, the Ed25519 public key
// derived from the all-zero seed has key ID "kcopdsqhgjnkjc4rardm2bv2b".
// The ID depends only on the bytes given, so the same key always has the same
// ID, on every platform and in every version.
//
// Key IDs name keys, for instance to index the wrapped keys of a record by
// reader key. They are not account IDs: an account ID (medledger.AccountID)
// stays fixed across rotations, while each rotated key has its own key ID.
func KeyID(pub []byte) string {
	sum := sha256.Sum256(pub)
	return "k" + keyIDEncoding.EncodeToString(sum[:15])
}

// Zero overwrites b with zeros. It is best effort: the Go runtime may have
// copied the bytes elsewhere (for example when growing a slice or moving a
// stack), and immutable strings cannot be wiped at all.
func Zero(b []byte) {
	clear(b)
	// Keep b reachable until after the clear so the writes are not
	// eliminated as stores to dead memory.
	runtime.KeepAlive(b)
}

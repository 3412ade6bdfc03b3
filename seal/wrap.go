package seal

import (
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

const wrapLabel = "medledger/wrap/v1"

// WrapSize is the size in bytes of a wrapped content key: the 1120-byte
// MLKEM768-X25519 encapsulation (a 1088-byte ML-KEM-768 ciphertext and a
// 32-byte X25519 share) followed by the 32-byte content key sealed with
// ChaCha20-Poly1305 (48 bytes).
const WrapSize = 1088 + 32 + 32 + 16

var (
	// ErrWrongReader reports a wrapped key that does not open: it was made
	// for another encryption key, or for another record ID, version or
	// reader key ID than the WrapInfo given, or it was altered. HPKE gives
	// no way to tell these cases apart. Wrap and Unwrap also return it when
	// the WrapInfo names a reader key other than the key passed to them.
	ErrWrongReader = errors.New("seal: wrapped key does not open for this reader")

	// ErrInvalidInfo reports a WrapInfo that cannot be used: an empty record
	// ID or reader key ID, an oversized field, or, for Rewrap, a new info
	// whose record ID or version differs from the old one.
	ErrInvalidInfo = errors.New("seal: invalid wrap info")
)

// The HPKE suite of wrapped keys: KEM() with these.
func wrapKDF() hpke.KDF   { return hpke.HKDFSHA256() }
func wrapAEAD() hpke.AEAD { return hpke.ChaCha20Poly1305() }

// WrapInfo is what a wrapped key is bound to: it opens only with the same
// WrapInfo it was made with.
type WrapInfo struct {
	RecordID    string // the record whose content key is wrapped
	Version     uint32 // the record version; each version has its own key
	ReaderKeyID string // KeyID of the reader's encryption public key
}

// Bytes returns the HPKE info string of w:
//
//	"medledger/wrap/v1" ‖ 0x00 ‖ len(RecordID) ‖ RecordID ‖ Version ‖ len(ReaderKeyID) ‖ ReaderKeyID
//
// where lengths and Version are 4-byte big-endian integers. The encoding is
// injective: two different WrapInfos never give the same bytes. It panics if a
// field is 4 GiB or longer.
func (w WrapInfo) Bytes() []byte {
	b := make([]byte, 0, len(wrapLabel)+1+4+len(w.RecordID)+4+4+len(w.ReaderKeyID))
	b = append(b, wrapLabel...)
	b = append(b, 0)
	b = appendField(b, w.RecordID)
	b = binary.BigEndian.AppendUint32(b, w.Version)
	return appendField(b, w.ReaderKeyID)
}

func appendField(b []byte, s string) []byte {
	if uint64(len(s)) > math.MaxUint32 {
		panic("seal: WrapInfo field too long")
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func (w WrapInfo) validate() error {
	switch {
	case w.RecordID == "":
		return fmt.Errorf("%w: empty record ID", ErrInvalidInfo)
	case w.ReaderKeyID == "":
		return fmt.Errorf("%w: empty reader key ID", ErrInvalidInfo)
	case uint64(len(w.RecordID)) > math.MaxUint32, uint64(len(w.ReaderKeyID)) > math.MaxUint32:
		return fmt.Errorf("%w: field too long", ErrInvalidInfo)
	}
	return nil
}

// wrapTarget checks info and the reader's serialized public key, and that
// info names that key.
func wrapTarget(readerPub []byte, info WrapInfo) (hpke.PublicKey, error) {
	if err := info.validate(); err != nil {
		return nil, err
	}
	pub, err := ParseEncryptionPublicKey(readerPub)
	if err != nil {
		return nil, err
	}
	if id := KeyID(readerPub); info.ReaderKeyID != id {
		return nil, fmt.Errorf("%w: info.ReaderKeyID does not name the public key given (whose key ID is %s)", ErrWrongReader, id)
	}
	return pub, nil
}

// Wrap seals key to the reader whose serialized encryption public key is
// readerPub (as returned by hpke.PublicKey.Bytes), bound to info, and returns
// the wrapped key, WrapSize bytes long. info.ReaderKeyID must be
// KeyID(readerPub), or Wrap returns ErrWrongReader. Each call gives a
// different wrap. Wrap does not modify or keep key.
func Wrap(key *ContentKey, readerPub []byte, info WrapInfo) ([]byte, error) {
	if key == nil {
		return nil, errNilKey
	}
	pub, err := wrapTarget(readerPub, info)
	if err != nil {
		return nil, err
	}
	return sealKey(key, pub, info)
}

func sealKey(key *ContentKey, pub hpke.PublicKey, info WrapInfo) ([]byte, error) {
	w, err := hpke.Seal(pub, wrapKDF(), wrapAEAD(), info.Bytes(), key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: wrap content key: %w", err)
	}
	return w, nil
}

// Unwrap opens a wrapped key with the reader's encryption private key and the
// info it was wrapped for, and returns the content key, which the caller
// should Zero when done with it.
//
// If info.ReaderKeyID is not the key ID of reader's public key, Unwrap
// returns ErrWrongReader without trying. If the wrap does not open, because
// it was made for another key, for other info, or was altered, it also
// returns ErrWrongReader: these cases cannot be told apart. A wrap of the
// wrong size gives ErrFormat.
func Unwrap(wrap []byte, reader hpke.PrivateKey, info WrapInfo) (*ContentKey, error) {
	if reader == nil {
		return nil, fmt.Errorf("%w: nil private key", ErrInvalidKey)
	}
	if id := reader.KEM().ID(); id != KEM().ID() {
		return nil, fmt.Errorf("%w: private key is for KEM %#04x, want %#04x", ErrInvalidKey, id, KEM().ID())
	}
	if err := info.validate(); err != nil {
		return nil, err
	}
	if KeyID(reader.PublicKey().Bytes()) != info.ReaderKeyID {
		return nil, fmt.Errorf("%w: info.ReaderKeyID names another key", ErrWrongReader)
	}
	return unwrap(wrap, reader, info.Bytes())
}

// unwrap opens wrap with reader and the raw HPKE info, with no checks of the
// info against the key.
func unwrap(wrap []byte, reader hpke.PrivateKey, info []byte) (*ContentKey, error) {
	if len(wrap) != WrapSize {
		return nil, fmt.Errorf("%w: wrapped key is %d bytes, want %d", ErrFormat, len(wrap), WrapSize)
	}
	pt, err := hpke.Open(reader, wrapKDF(), wrapAEAD(), info, wrap)
	if err != nil {
		return nil, fmt.Errorf("%w: wrong key, wrong record ID, version or reader key ID, or altered wrap", ErrWrongReader)
	}
	defer Zero(pt)
	k := new(ContentKey)
	if len(pt) != len(k) {
		return nil, fmt.Errorf("%w: wrapped key holds %d bytes, want %d", ErrFormat, len(pt), len(k))
	}
	copy(k[:], pt)
	return k, nil
}

// Rewrap opens wrap with owner's private key and ownerInfo, and wraps the same
// content key for the reader whose serialized encryption public key is
// newReaderPub, bound to newInfo. It is how an existing record version is
// shared with a new grantee without re-encrypting it. newInfo must have the
// same RecordID and Version as ownerInfo (else ErrInvalidInfo), and
// newInfo.ReaderKeyID must be KeyID(newReaderPub) (else ErrWrongReader).
// The new reader's key is checked before the old wrap is opened. The content
// key is zeroed before Rewrap returns (see the package documentation on
// zeroing). The old wrap stays valid: Rewrap adds a reader, it removes none.
func Rewrap(wrap []byte, owner hpke.PrivateKey, ownerInfo WrapInfo, newReaderPub []byte, newInfo WrapInfo) ([]byte, error) {
	if newInfo.RecordID != ownerInfo.RecordID || newInfo.Version != ownerInfo.Version {
		return nil, fmt.Errorf("%w: rewrap must keep the record ID and version", ErrInvalidInfo)
	}
	pub, err := wrapTarget(newReaderPub, newInfo)
	if err != nil {
		return nil, err
	}
	k, err := Unwrap(wrap, owner, ownerInfo)
	if err != nil {
		return nil, err
	}
	defer k.Zero()
	return sealKey(k, pub, newInfo)
}

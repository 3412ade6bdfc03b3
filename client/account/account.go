// Package account holds an account's keys and what a client does with them
// that needs no I/O: generating them, the passphrase-encrypted key file that
// `medledger keys export` writes and `medledger keys import` reads, and
// signing txs.
//
// It builds for js/wasm: the web portal runs this package in the browser, so
// the portal and the CLI share one implementation of the key file and of tx
// signing. It imports only the vocabulary (medledger) and seal, never the
// SDK's HTTP client or the light client.
package account

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"medledger"
	"medledger/seal"
)

// Key file errors. Match them with errors.Is; the returned errors may wrap
// them with the key name, but never with a passphrase or key material.
var (
	ErrBadPassphrase = errors.New("keyring: wrong passphrase or corrupted key file")
	ErrBadName       = errors.New("keyring: invalid key name (use 1 to 64 of a-z A-Z 0-9 _ . -)")
)

// ErrMalformed reports a key file that does not parse or is inconsistent. It
// matches ErrBadPassphrase, whose message covers corrupted files, so that
// callers can treat every file that fails to open alike.
var ErrMalformed error = malformedError{}

type malformedError struct{}

func (malformedError) Error() string        { return "keyring: malformed key file" }
func (malformedError) Is(target error) bool { return target == ErrBadPassphrase }

// MaxFileSize is the largest key file ParseFile accepts.
const MaxFileSize = 1 << 20

const (
	fileVersion = 1
	kdfArgon2id = "argon2id"
	saltSize    = 16
	maxNameLen  = 64
	aadDomain   = "medledger/keyring/v1"
)

// Argon2Params are the Argon2id cost parameters used to derive a key file's
// encryption key from its passphrase. Each file records the parameters it was
// written with, so changing them affects only files written afterwards.
type Argon2Params struct {
	Time      uint32 `json:"time"`       // passes over memory
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`    // parallelism
}

// DefaultArgon2Params are the parameters of a new key file: 3 passes over
// 64 MiB with 2 threads.
var DefaultArgon2Params = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// Limits on the parameters accepted from a key file, so that a crafted file
// cannot make ParseFile's caller allocate without bound or run for hours.
const (
	maxArgon2Time      = 32
	maxArgon2MemoryKiB = 1024 * 1024 // 1 GiB
)

// Validate checks the parameters against the limits a key file may ask for.
func (p Argon2Params) Validate() error {
	if p.Time < 1 || p.Time > maxArgon2Time {
		return fmt.Errorf("argon2 time %d out of range 1..%d", p.Time, maxArgon2Time)
	}
	if p.Threads < 1 {
		return errors.New("argon2 threads must be at least 1")
	}
	if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2MemoryKiB {
		return fmt.Errorf("argon2 memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxArgon2MemoryKiB)
	}
	return nil
}

// KeyInfo is the public part of a key: what a key file shows without a
// passphrase.
type KeyInfo struct {
	Name                string
	ID                  medledger.ID // derived from the account's first signing key; kept across rotations
	Created             time.Time
	SigningPublicKey    ed25519.PublicKey
	EncryptionPublicKey []byte // serialized HPKE public key (seal.EncKeySize bytes)
}

// Key is an account's key material, decrypted.
type Key struct {
	KeyInfo
	SigningKey        ed25519.PrivateKey
	EncryptionKey     hpke.PrivateKey
	OldEncryptionKeys []hpke.PrivateKey // superseded encryption keys, oldest first, kept to read old records
}

// Generate returns a fresh signing and encryption key pair named name.
func Generate(name string) (*Key, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	pub, priv, err := seal.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	ek, err := seal.GenerateEncryptionKey()
	if err != nil {
		seal.Zero(priv)
		return nil, err
	}
	return &Key{
		KeyInfo: KeyInfo{
			Name:                name,
			ID:                  medledger.AccountID(pub),
			Created:             Now(),
			SigningPublicKey:    pub,
			EncryptionPublicKey: ek.PublicKey().Bytes(),
		},
		SigningKey:    priv,
		EncryptionKey: ek,
	}, nil
}

// Now is the creation time a new key records: the current UTC time to the
// second, as the key file stores it.
func Now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Zero wipes the signing key and drops the encryption keys. It is best
// effort: crypto/hpke keys are opaque and can only be released to the garbage
// collector, not overwritten. The Key must not be used afterwards.
func (k *Key) Zero() {
	if k == nil {
		return
	}
	seal.Zero(k.SigningKey)
	k.SigningKey = nil
	k.EncryptionKey = nil
	clear(k.OldEncryptionKeys)
	k.OldEncryptionKeys = nil
}

// RotateEncryptionKey replaces the encryption key with a fresh one and
// appends the old one to OldEncryptionKeys. Write the key file again to
// persist it.
func (k *Key) RotateEncryptionKey() error {
	if k.EncryptionKey == nil {
		return errors.New("keyring: key has no encryption key")
	}
	nk, err := seal.GenerateEncryptionKey()
	if err != nil {
		return err
	}
	k.OldEncryptionKeys = append(k.OldEncryptionKeys, k.EncryptionKey)
	k.EncryptionKey = nk
	k.EncryptionPublicKey = nk.PublicKey().Bytes()
	return nil
}

// RotateSigningKey replaces the signing key with a fresh one. The account ID
// stays the one derived from the first signing key. The old private key is
// dropped but not wiped, so a caller that kept a reference to it can still
// sign the on-chain rotation with it; that caller should seal.Zero it after.
// Write the key file again to persist the rotation.
func (k *Key) RotateSigningKey() error {
	pub, priv, err := seal.GenerateSigningKey()
	if err != nil {
		return err
	}
	if k.ID == "" && k.SigningPublicKey != nil {
		k.ID = medledger.AccountID(k.SigningPublicKey)
	}
	k.SigningKey = priv
	k.SigningPublicKey = pub
	return nil
}

// ValidName reports whether name may name a key: 1 to 64 characters of
// ASCII letters, digits, '_', '.' and '-', other than "." and "..".
func ValidName(name string) error {
	if len(name) < 1 || len(name) > maxNameLen || name == "." || name == ".." {
		return ErrBadName
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return ErrBadName
		}
	}
	return nil
}

// fileJSON is the key file format.
type fileJSON struct {
	Version             int           `json:"version"`
	Name                string        `json:"name"`
	ID                  string        `json:"id"`
	Created             string        `json:"created"`
	SigningPublicKey    []byte        `json:"signing_public_key"`
	EncryptionPublicKey []byte        `json:"encryption_public_key"`
	KDF                 string        `json:"kdf"`
	Argon2              *Argon2Params `json:"argon2"`
	Salt                []byte        `json:"salt"`
	Nonce               []byte        `json:"nonce"`
	Ciphertext          []byte        `json:"ciphertext"`
}

// File is a parsed key file whose private keys are still encrypted.
type File struct {
	Raw  []byte  // the file's bytes as read
	Info KeyInfo // the public part, not authenticated until Open succeeds
	json fileJSON
}

// ParseFile parses a key file and checks its form without decrypting it.
func ParseFile(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxFileSize)
	}
	f := &File{Raw: data}
	j := &f.json
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if j.Version != fileVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrMalformed, j.Version)
	}
	if err := ValidName(j.Name); err != nil {
		return nil, fmt.Errorf("%w: bad name", ErrMalformed)
	}
	id := medledger.ID(j.ID)
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	created, err := time.Parse(time.RFC3339, j.Created)
	if err != nil {
		return nil, fmt.Errorf("%w: bad created time", ErrMalformed)
	}
	if len(j.SigningPublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: signing public key is %d bytes", ErrMalformed, len(j.SigningPublicKey))
	}
	if _, err := seal.ParseEncryptionPublicKey(j.EncryptionPublicKey); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if j.KDF != kdfArgon2id {
		return nil, fmt.Errorf("%w: unsupported kdf %q", ErrMalformed, j.KDF)
	}
	if j.Argon2 == nil {
		return nil, fmt.Errorf("%w: missing argon2 parameters", ErrMalformed)
	}
	if err := j.Argon2.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(j.Salt) != saltSize {
		return nil, fmt.Errorf("%w: salt is %d bytes, want %d", ErrMalformed, len(j.Salt), saltSize)
	}
	if len(j.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: nonce is %d bytes, want %d", ErrMalformed, len(j.Nonce), chacha20poly1305.NonceSizeX)
	}
	if len(j.Ciphertext) < chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrMalformed)
	}
	f.Info = KeyInfo{
		Name:                j.Name,
		ID:                  id,
		Created:             created,
		SigningPublicKey:    ed25519.PublicKey(j.SigningPublicKey),
		EncryptionPublicKey: j.EncryptionPublicKey,
	}
	return f, nil
}

// Open decrypts the file's private keys and checks them against its header.
// A wrong passphrase, or a file whose header or ciphertext was altered, gives
// an error matching ErrBadPassphrase.
func (f *File) Open(passphrase string) (*Key, error) {
	j := &f.json
	dk := deriveKey(passphrase, j.Salt, *j.Argon2)
	defer seal.Zero(dk)
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	pt, err := aead.Open(nil, j.Nonce, j.Ciphertext, additionalData(j))
	if err != nil {
		return nil, fmt.Errorf("%w (key %q)", ErrBadPassphrase, j.Name)
	}
	defer seal.Zero(pt)
	k, err := decodeSecrets(pt)
	if err != nil {
		return nil, err
	}
	k.KeyInfo = f.Info
	// The header is authenticated as additional data, so a mismatch means
	// the writer was faulty rather than that the file was altered.
	if !bytes.Equal(k.SigningKey.Public().(ed25519.PublicKey), k.SigningPublicKey) ||
		!bytes.Equal(k.EncryptionKey.PublicKey().Bytes(), k.EncryptionPublicKey) {
		k.Zero()
		return nil, fmt.Errorf("%w: private keys do not match the public keys", ErrMalformed)
	}
	return k, nil
}

// MarshalFile encrypts k under passphrase, with a key derived with Argon2id
// and params, and returns the key file: JSON holding the public keys in the
// clear and the private keys sealed with XChaCha20-Poly1305. The file's name
// is k.Name; its account ID is k.ID, or the one the signing key gives if
// k.ID is empty; its creation time is k.Created, or now if that is zero.
func MarshalFile(k *Key, passphrase string, params Argon2Params) ([]byte, error) {
	if err := ValidName(k.Name); err != nil {
		return nil, err
	}
	if len(k.SigningKey) != ed25519.PrivateKeySize {
		return nil, errors.New("keyring: key has no valid signing key")
	}
	if k.EncryptionKey == nil || k.EncryptionKey.KEM().ID() != seal.KEM().ID() {
		return nil, errors.New("keyring: key has no encryption key of the account KEM")
	}
	for _, old := range k.OldEncryptionKeys {
		if old == nil || old.KEM().ID() != seal.KEM().ID() {
			return nil, errors.New("keyring: old encryption key missing or of another KEM")
		}
	}
	// Derive the public key from the seed, which is what the file stores,
	// rather than trust the copy in the second half of k.SigningKey.
	signPub := ed25519.NewKeyFromSeed(k.SigningKey.Seed()).Public().(ed25519.PublicKey)
	id := k.ID
	if id == "" {
		id = medledger.AccountID(signPub)
	}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	created := k.Created
	if created.IsZero() {
		created = Now()
	}
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}

	j := fileJSON{
		Version:             fileVersion,
		Name:                k.Name,
		ID:                  string(id),
		Created:             created.UTC().Format(time.RFC3339),
		SigningPublicKey:    signPub,
		EncryptionPublicKey: k.EncryptionKey.PublicKey().Bytes(),
		KDF:                 kdfArgon2id,
		Argon2:              &params,
		Salt:                make([]byte, saltSize),
		Nonce:               make([]byte, chacha20poly1305.NonceSizeX),
	}
	if _, err := rand.Read(j.Salt); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if _, err := rand.Read(j.Nonce); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	pt, err := encodeSecrets(k)
	if err != nil {
		return nil, err
	}
	defer seal.Zero(pt)
	dk := deriveKey(passphrase, j.Salt, params)
	defer seal.Zero(dk)
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	j.Ciphertext = aead.Seal(nil, j.Nonce, pt, additionalData(&j))

	data, err := json.MarshalIndent(&j, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return append(data, '\n'), nil
}

func deriveKey(passphrase string, salt []byte, p Argon2Params) []byte {
	pw := []byte(passphrase)
	defer seal.Zero(pw)
	return argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
}

// additionalData binds the file's header to its ciphertext: a file whose
// name, account ID, creation time or public keys were changed fails to open.
// (The KDF parameters and salt are bound too, since they determine the key.)
func additionalData(j *fileJSON) []byte {
	var b []byte
	b = append(b, aadDomain...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(j.Version))
	for _, f := range [][]byte{[]byte(j.Name), []byte(j.ID), []byte(j.Created), j.SigningPublicKey, j.EncryptionPublicKey} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// The secrets are encoded as
//
//	ed25519 seed (32 bytes)
//	u16 length ‖ current HPKE private key
//	u16 count of old keys, then for each: u16 length ‖ HPKE private key
//
// with big-endian integers.
func encodeSecrets(k *Key) ([]byte, error) {
	keys := append([]hpke.PrivateKey{k.EncryptionKey}, k.OldEncryptionKeys...)
	if len(k.OldEncryptionKeys) > 0xffff {
		return nil, errors.New("keyring: too many old encryption keys")
	}
	b := make([]byte, 0, ed25519.SeedSize+4+len(keys)*(2+seal.EncPrivateKeySize))
	b = append(b, k.SigningKey.Seed()...)
	for i, ek := range keys {
		if i == 1 {
			b = binary.BigEndian.AppendUint16(b, uint16(len(k.OldEncryptionKeys)))
		}
		kb, err := ek.Bytes()
		if err != nil {
			seal.Zero(b)
			return nil, fmt.Errorf("keyring: serialize encryption key: %w", err)
		}
		// kb is not zeroed: crypto/hpke's hybrid keys return their internal
		// seed from Bytes, so wiping it would corrupt the live key.
		b = binary.BigEndian.AppendUint16(b, uint16(len(kb)))
		b = append(b, kb...)
	}
	if len(keys) == 1 {
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	return b, nil
}

func decodeSecrets(b []byte) (*Key, error) {
	bad := fmt.Errorf("%w: bad secret encoding", ErrMalformed)
	if len(b) < ed25519.SeedSize {
		return nil, bad
	}
	k := &Key{SigningKey: ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])}
	b = b[ed25519.SeedSize:]
	next := func() (hpke.PrivateKey, error) {
		if len(b) < 2 {
			return nil, bad
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, bad
		}
		ek, err := seal.ParseEncryptionPrivateKey(b[2 : 2+n])
		if err != nil {
			return nil, bad
		}
		b = b[2+n:]
		return ek, nil
	}
	var err error
	if k.EncryptionKey, err = next(); err != nil {
		k.Zero()
		return nil, err
	}
	if len(b) < 2 {
		k.Zero()
		return nil, bad
	}
	count := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	for range count {
		ek, err := next()
		if err != nil {
			k.Zero()
			return nil, err
		}
		k.OldEncryptionKeys = append(k.OldEncryptionKeys, ek)
	}
	if len(b) != 0 {
		k.Zero()
		return nil, bad
	}
	return k, nil
}

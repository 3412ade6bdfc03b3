package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"medledger"
	"medledger/seal"
)

// Keyring errors. Match them with errors.Is; the returned errors may wrap them
// with the key name, but never with a passphrase or key material.
var (
	ErrKeyNotFound   = errors.New("keyring: key not found")
	ErrKeyExists     = errors.New("keyring: key already exists")
	ErrBadPassphrase = errors.New("keyring: wrong passphrase or corrupted key file")
	ErrBadName       = errors.New("keyring: invalid key name (use 1 to 64 of a-z A-Z 0-9 _ . -)")
)

// errMalformed reports a key file that does not parse or is inconsistent. It
// matches ErrBadPassphrase, whose message covers corrupted files, so that
// callers of Get can treat every file that fails to open alike.
var errMalformed error = malformedError{}

type malformedError struct{}

func (malformedError) Error() string        { return "keyring: malformed key file" }
func (malformedError) Is(target error) bool { return target == ErrBadPassphrase }

const (
	keyFileVersion = 1
	keyFileExt     = ".key"
	kdfArgon2id    = "argon2id"
	saltSize       = 16
	maxNameLen     = 64
	maxKeyFileSize = 1 << 20
	aadDomain      = "medledger/keyring/v1"
)

// Argon2Params are the Argon2id cost parameters used to derive a key file's
// encryption key from its passphrase. Each file records the parameters it was
// written with, so changing them affects only files written afterwards.
type Argon2Params struct {
	Time      uint32 `json:"time"`       // passes over memory
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`    // parallelism
}

// DefaultArgon2Params are the parameters OpenKeyring uses: 3 passes over
// 64 MiB with 2 threads.
var DefaultArgon2Params = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// Limits on the parameters accepted from a key file, so that a crafted file
// cannot make Get or ImportFile allocate without bound or run for hours.
const (
	maxArgon2Time      = 32
	maxArgon2MemoryKiB = 1024 * 1024 // 1 GiB
)

func (p Argon2Params) validate() error {
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

// Keyring is a directory of key files, one per named key, each encrypted at
// rest under its own passphrase. The file <Dir>/<name>.key holds the public
// keys in the clear and the private keys sealed with XChaCha20-Poly1305 under
// a key derived from the passphrase with Argon2id.
//
// A Keyring holds no open files or secrets and is safe for concurrent use;
// concurrent writers of the same name are serialised by the file system (the
// last Save wins, and only one New or Import of a name succeeds where the file
// system supports hard links).
type Keyring struct {
	Dir    string
	Params Argon2Params // cost of new and re-saved files; zero means DefaultArgon2Params
}

// OpenKeyring returns the keyring in dir, creating the directory with mode
// 0700 if needed. By convention dir is <home>/keyring.
func OpenKeyring(dir string) (*Keyring, error) {
	if dir == "" {
		return nil, errors.New("keyring: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("keyring: %s is not a directory", dir)
	}
	return &Keyring{Dir: dir, Params: DefaultArgon2Params}, nil
}

// KeyInfo is the public part of a key: what List and Info return without a
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
// appends the old one to OldEncryptionKeys. Call Keyring.Save to persist it.
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
// Call Keyring.Save to persist the rotation.
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

// ValidKeyName reports whether name may name a key: 1 to 64 characters of
// ASCII letters, digits, '_', '.' and '-', other than "." and "..".
func ValidKeyName(name string) error {
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

func (kr *Keyring) path(name string) string {
	return filepath.Join(kr.Dir, name+keyFileExt)
}

func (kr *Keyring) params() Argon2Params {
	if kr.Params == (Argon2Params{}) {
		return DefaultArgon2Params
	}
	return kr.Params
}

// New generates a fresh signing and encryption key pair, stores them under
// name encrypted with passphrase, and returns them. It fails with
// ErrKeyExists if name is taken.
func (kr *Keyring) New(name, passphrase string) (*Key, error) {
	if err := ValidKeyName(name); err != nil {
		return nil, err
	}
	if kr.exists(name) {
		return nil, fmt.Errorf("%w: %q", ErrKeyExists, name)
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
	k := &Key{
		KeyInfo: KeyInfo{
			Name:                name,
			ID:                  medledger.AccountID(pub),
			Created:             now(),
			SigningPublicKey:    pub,
			EncryptionPublicKey: ek.PublicKey().Bytes(),
		},
		SigningKey:    priv,
		EncryptionKey: ek,
	}
	if err := kr.write(k, passphrase, true); err != nil {
		k.Zero()
		return nil, err
	}
	return k, nil
}

// Import stores the private keys of k under name, encrypted with passphrase.
// The public keys are derived from the private ones. k.ID is kept if set (it
// must be, for a key whose signing key was rotated), otherwise it is derived
// from the signing key; k.Created is kept if set, otherwise it is now. k.Name
// is ignored and k is not modified. It fails with ErrKeyExists if name is
// taken.
func (kr *Keyring) Import(name, passphrase string, k *Key) error {
	if err := ValidKeyName(name); err != nil {
		return err
	}
	if k == nil {
		return errors.New("keyring: nil key")
	}
	c := *k
	c.Name = name
	if c.Created.IsZero() {
		c.Created = now()
	}
	return kr.write(&c, passphrase, true)
}

// Save re-encrypts k under passphrase and stores it as k.Name, replacing the
// file if there is one: use it after a rotation, or to change the passphrase.
// To guard against losing a key, it refuses with ErrKeyExists to replace a
// file that holds another account (a different ID).
func (kr *Keyring) Save(k *Key, passphrase string) error {
	if k == nil {
		return errors.New("keyring: nil key")
	}
	if err := ValidKeyName(k.Name); err != nil {
		return err
	}
	if len(k.SigningKey) == ed25519.PrivateKeySize {
		id := k.ID
		if id == "" {
			id = medledger.AccountID(ed25519.NewKeyFromSeed(k.SigningKey.Seed()).Public().(ed25519.PublicKey))
		}
		if old, err := kr.Info(k.Name); err == nil && old.ID != id {
			return fmt.Errorf("%w: %q holds another account", ErrKeyExists, k.Name)
		}
	}
	return kr.write(k, passphrase, false)
}

// Get decrypts the key stored as name. It fails with ErrKeyNotFound if there
// is none, and with an error matching ErrBadPassphrase if the passphrase is
// wrong or the file is corrupted or was altered.
func (kr *Keyring) Get(name, passphrase string) (*Key, error) {
	f, err := kr.read(name)
	if err != nil {
		return nil, err
	}
	return f.open(passphrase)
}

// Info returns the public part of the key stored as name; it needs no
// passphrase, and so does not authenticate the file.
func (kr *Keyring) Info(name string) (KeyInfo, error) {
	f, err := kr.read(name)
	if err != nil {
		return KeyInfo{}, err
	}
	return f.info, nil
}

// List returns the public part of every key in the keyring, sorted by name.
// It needs no passphrase, and so does not authenticate the files.
func (kr *Keyring) List() ([]KeyInfo, error) {
	entries, err := os.ReadDir(kr.Dir)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	var out []KeyInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), keyFileExt)
		if !ok || !e.Type().IsRegular() || ValidKeyName(name) != nil {
			continue
		}
		f, err := kr.read(name)
		if err != nil {
			return nil, err
		}
		out = append(out, f.info)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Export returns the key file of name, after checking that passphrase opens
// it. The bytes are in the keyring's own format, still encrypted under the
// passphrase, and ImportFile reads them into another keyring.
func (kr *Keyring) Export(name, passphrase string) ([]byte, error) {
	f, err := kr.read(name)
	if err != nil {
		return nil, err
	}
	k, err := f.open(passphrase)
	if err != nil {
		return nil, err
	}
	k.Zero()
	return f.raw, nil
}

// ImportFile checks that data (a file written by Export) opens with
// passphrase, then stores its keys under name, re-encrypted with the same
// passphrase and this keyring's Argon2 parameters. The account ID and
// creation time are kept. It fails with ErrKeyExists if name is taken.
func (kr *Keyring) ImportFile(name string, data []byte, passphrase string) (*Key, error) {
	if err := ValidKeyName(name); err != nil {
		return nil, err
	}
	if kr.exists(name) {
		return nil, fmt.Errorf("%w: %q", ErrKeyExists, name)
	}
	f, err := parseKeyFile(data)
	if err != nil {
		return nil, err
	}
	k, err := f.open(passphrase)
	if err != nil {
		return nil, err
	}
	k.Name = name
	if err := kr.write(k, passphrase, true); err != nil {
		k.Zero()
		return nil, err
	}
	return k, nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func (kr *Keyring) exists(name string) bool {
	_, err := os.Lstat(kr.path(name))
	return err == nil
}

// keyFileJSON is the on-disk format.
type keyFileJSON struct {
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

// keyFile is a parsed, not yet decrypted, key file.
type keyFile struct {
	raw  []byte
	json keyFileJSON
	info KeyInfo
}

func (kr *Keyring) read(name string) (*keyFile, error) {
	if err := ValidKeyName(name); err != nil {
		return nil, err
	}
	data, err := readLimited(kr.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	f, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kr.path(name), err)
	}
	if f.info.Name != name {
		return nil, fmt.Errorf("%w: %s holds key %q, not %q", errMalformed, kr.path(name), f.info.Name, name)
	}
	return f, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errMalformed, maxKeyFileSize)
	}
	return data, nil
}

func parseKeyFile(data []byte) (*keyFile, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errMalformed, maxKeyFileSize)
	}
	f := &keyFile{raw: data}
	j := &f.json
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if j.Version != keyFileVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", errMalformed, j.Version)
	}
	if err := ValidKeyName(j.Name); err != nil {
		return nil, fmt.Errorf("%w: bad name", errMalformed)
	}
	id := medledger.ID(j.ID)
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	created, err := time.Parse(time.RFC3339, j.Created)
	if err != nil {
		return nil, fmt.Errorf("%w: bad created time", errMalformed)
	}
	if len(j.SigningPublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: signing public key is %d bytes", errMalformed, len(j.SigningPublicKey))
	}
	if _, err := seal.ParseEncryptionPublicKey(j.EncryptionPublicKey); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if j.KDF != kdfArgon2id {
		return nil, fmt.Errorf("%w: unsupported kdf %q", errMalformed, j.KDF)
	}
	if j.Argon2 == nil {
		return nil, fmt.Errorf("%w: missing argon2 parameters", errMalformed)
	}
	if err := j.Argon2.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if len(j.Salt) != saltSize {
		return nil, fmt.Errorf("%w: salt is %d bytes, want %d", errMalformed, len(j.Salt), saltSize)
	}
	if len(j.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: nonce is %d bytes, want %d", errMalformed, len(j.Nonce), chacha20poly1305.NonceSizeX)
	}
	if len(j.Ciphertext) < chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: ciphertext too short", errMalformed)
	}
	f.info = KeyInfo{
		Name:                j.Name,
		ID:                  id,
		Created:             created,
		SigningPublicKey:    ed25519.PublicKey(j.SigningPublicKey),
		EncryptionPublicKey: j.EncryptionPublicKey,
	}
	return f, nil
}

// open decrypts the file's private keys and checks them against its header.
func (f *keyFile) open(passphrase string) (*Key, error) {
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
	k.KeyInfo = f.info
	// The header is authenticated as additional data, so a mismatch means
	// the writer was faulty rather than that the file was altered.
	if !bytes.Equal(k.SigningKey.Public().(ed25519.PublicKey), k.SigningPublicKey) ||
		!bytes.Equal(k.EncryptionKey.PublicKey().Bytes(), k.EncryptionPublicKey) {
		k.Zero()
		return nil, fmt.Errorf("%w: private keys do not match the public keys", errMalformed)
	}
	return k, nil
}

// write encrypts k under passphrase and stores it atomically as k.Name. With
// exclusive set it fails with ErrKeyExists if the name is taken.
func (kr *Keyring) write(k *Key, passphrase string, exclusive bool) error {
	if len(k.SigningKey) != ed25519.PrivateKeySize {
		return errors.New("keyring: key has no valid signing key")
	}
	if k.EncryptionKey == nil || k.EncryptionKey.KEM().ID() != seal.KEM().ID() {
		return errors.New("keyring: key has no encryption key of the account KEM")
	}
	for _, old := range k.OldEncryptionKeys {
		if old == nil || old.KEM().ID() != seal.KEM().ID() {
			return errors.New("keyring: old encryption key missing or of another KEM")
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
		return fmt.Errorf("keyring: %w", err)
	}
	created := k.Created
	if created.IsZero() {
		created = now()
	}
	params := kr.params()
	if err := params.validate(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}

	j := keyFileJSON{
		Version:             keyFileVersion,
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
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := rand.Read(j.Nonce); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	pt, err := encodeSecrets(k)
	if err != nil {
		return err
	}
	defer seal.Zero(pt)
	dk := deriveKey(passphrase, j.Salt, params)
	defer seal.Zero(dk)
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	j.Ciphertext = aead.Seal(nil, j.Nonce, pt, additionalData(&j))

	data, err := json.MarshalIndent(&j, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	data = append(data, '\n')
	return kr.writeFile(k.Name, data, exclusive)
}

func deriveKey(passphrase string, salt []byte, p Argon2Params) []byte {
	pw := []byte(passphrase)
	defer seal.Zero(pw)
	return argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
}

// additionalData binds the file's header to its ciphertext: a file whose
// name, account ID, creation time or public keys were changed fails to open.
// (The KDF parameters and salt are bound too, since they determine the key.)
func additionalData(j *keyFileJSON) []byte {
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
	bad := fmt.Errorf("%w: bad secret encoding", errMalformed)
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

// writeFile stores data as <name>.key atomically: it writes a temporary file
// in the same directory, syncs it, and renames (or, when exclusive, links) it
// into place, then syncs the directory.
func (kr *Keyring) writeFile(name string, data []byte, exclusive bool) (err error) {
	final := kr.path(name)
	tmp, err := os.CreateTemp(kr.Dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // after a rename there is nothing left to remove
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return fmt.Errorf("keyring: %w", err)
	}
	tmp = nil

	if exclusive {
		// A hard link fails if the target exists, which makes "create if
		// absent" atomic. Fall back to check-then-rename where the file
		// system has no hard links.
		lerr := os.Link(tmpName, final)
		switch {
		case lerr == nil:
			syncDir(kr.Dir)
			return nil
		case errors.Is(lerr, fs.ErrExist):
			return fmt.Errorf("%w: %q", ErrKeyExists, name)
		}
		if kr.exists(name) {
			return fmt.Errorf("%w: %q", ErrKeyExists, name)
		}
	}
	if err := os.Rename(tmpName, final); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	syncDir(kr.Dir)
	return nil
}

// syncDir makes a rename in dir durable. Some platforms cannot sync a
// directory; the rename itself is still atomic there.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

package client

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"medledger"
	"medledger/client/account"
)

// Keyring errors. Match them with errors.Is; the returned errors may wrap them
// with the key name, but never with a passphrase or key material.
var (
	ErrKeyNotFound   = errors.New("keyring: key not found")
	ErrKeyExists     = errors.New("keyring: key already exists")
	ErrBadPassphrase = account.ErrBadPassphrase
	ErrBadName       = account.ErrBadName
)

const keyFileExt = ".key"

// The key file format and the key types live in client/account, which
// builds for js/wasm so that the web portal shares them.
type (
	// Argon2Params are the Argon2id cost parameters of a key file.
	Argon2Params = account.Argon2Params
	// KeyInfo is the public part of a key: what List and Info return
	// without a passphrase.
	KeyInfo = account.KeyInfo
	// Key is an account's key material, decrypted.
	Key = account.Key
)

// DefaultArgon2Params are the parameters OpenKeyring uses: 3 passes over
// 64 MiB with 2 threads.
var DefaultArgon2Params = account.DefaultArgon2Params

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

// ValidKeyName reports whether name may name a key: 1 to 64 characters of
// ASCII letters, digits, '_', '.' and '-', other than "." and "..".
func ValidKeyName(name string) error { return account.ValidName(name) }

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
	k, err := account.Generate(name)
	if err != nil {
		return nil, err
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
	return f.Open(passphrase)
}

// Info returns the public part of the key stored as name; it needs no
// passphrase, and so does not authenticate the file.
func (kr *Keyring) Info(name string) (KeyInfo, error) {
	f, err := kr.read(name)
	if err != nil {
		return KeyInfo{}, err
	}
	return f.Info, nil
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
		out = append(out, f.Info)
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
	k, err := f.Open(passphrase)
	if err != nil {
		return nil, err
	}
	k.Zero()
	return f.Raw, nil
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
	f, err := account.ParseFile(data)
	if err != nil {
		return nil, err
	}
	k, err := f.Open(passphrase)
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

func now() time.Time { return account.Now() }

func (kr *Keyring) exists(name string) bool {
	_, err := os.Lstat(kr.path(name))
	return err == nil
}

func (kr *Keyring) read(name string) (*account.File, error) {
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
	f, err := account.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kr.path(name), err)
	}
	if f.Info.Name != name {
		return nil, fmt.Errorf("%w: %s holds key %q, not %q", account.ErrMalformed, kr.path(name), f.Info.Name, name)
	}
	return f, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, account.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > account.MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", account.ErrMalformed, account.MaxFileSize)
	}
	return data, nil
}

// write encrypts k under passphrase and stores it atomically as k.Name. With
// exclusive set it fails with ErrKeyExists if the name is taken.
func (kr *Keyring) write(k *Key, passphrase string, exclusive bool) error {
	data, err := account.MarshalFile(k, passphrase, kr.params())
	if err != nil {
		return err
	}
	return kr.writeFile(k.Name, data, exclusive)
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

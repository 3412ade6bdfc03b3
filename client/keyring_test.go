package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"medledger"
	"medledger/seal"
)

// tinyParams keep Argon2id fast in tests.
var tinyParams = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

func newTestKeyring(t *testing.T) *Keyring {
	t.Helper()
	kr, err := OpenKeyring(filepath.Join(t.TempDir(), "home", "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	kr.Params = tinyParams
	return kr
}

func mustNew(t *testing.T, kr *Keyring, name, pass string) *Key {
	t.Helper()
	k, err := kr.New(name, pass)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return k
}

func privBytes(t *testing.T, k hpke.PrivateKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertSameKey(t *testing.T, got, want *Key) {
	t.Helper()
	if got.Name != want.Name || got.ID != want.ID || !got.Created.Equal(want.Created) {
		t.Errorf("info = %q %q %v, want %q %q %v", got.Name, got.ID, got.Created, want.Name, want.ID, want.Created)
	}
	if !bytes.Equal(got.SigningPublicKey, want.SigningPublicKey) {
		t.Error("signing public keys differ")
	}
	if !bytes.Equal(got.EncryptionPublicKey, want.EncryptionPublicKey) {
		t.Error("encryption public keys differ")
	}
	if !bytes.Equal(got.SigningKey, want.SigningKey) {
		t.Error("signing keys differ")
	}
	if !bytes.Equal(privBytes(t, got.EncryptionKey), privBytes(t, want.EncryptionKey)) {
		t.Error("encryption keys differ")
	}
	if len(got.OldEncryptionKeys) != len(want.OldEncryptionKeys) {
		t.Fatalf("%d old encryption keys, want %d", len(got.OldEncryptionKeys), len(want.OldEncryptionKeys))
	}
	for i := range got.OldEncryptionKeys {
		if !bytes.Equal(privBytes(t, got.OldEncryptionKeys[i]), privBytes(t, want.OldEncryptionKeys[i])) {
			t.Errorf("old encryption key %d differs", i)
		}
	}
}

// editFile rewrites the JSON of a key file through edit.
func editFile(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestKeyringDefaults(t *testing.T) {
	kr, err := OpenKeyring(filepath.Join(t.TempDir(), "keyring"))
	if err != nil {
		t.Fatal(err)
	}
	want := Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}
	if kr.Params != want || DefaultArgon2Params != want {
		t.Fatalf("params = %+v, default %+v, want %+v", kr.Params, DefaultArgon2Params, want)
	}
	if (&Keyring{}).params() != want {
		t.Fatal("zero Params does not mean the defaults")
	}
}

func TestKeyringRoundTrip(t *testing.T) {
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "correct horse")
	if k.Name != "alice" || k.Created.IsZero() {
		t.Fatalf("New returned name %q created %v", k.Name, k.Created)
	}
	if k.ID != medledger.AccountID(k.SigningPublicKey) {
		t.Fatalf("ID %q is not the account ID of the signing key", k.ID)
	}
	if err := k.ID.Validate(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.SigningKey.Public().(ed25519.PublicKey), k.SigningPublicKey) {
		t.Fatal("signing public key does not match the private key")
	}
	if !bytes.Equal(k.EncryptionKey.PublicKey().Bytes(), k.EncryptionPublicKey) || len(k.EncryptionPublicKey) != seal.EncKeySize {
		t.Fatal("encryption public key does not match the private key")
	}
	got, err := kr.Get("alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	assertSameKey(t, got, k)

	info, err := kr.Info("alice")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != k.Name || info.ID != k.ID || !info.Created.Equal(k.Created) ||
		!bytes.Equal(info.SigningPublicKey, k.SigningPublicKey) || !bytes.Equal(info.EncryptionPublicKey, k.EncryptionPublicKey) {
		t.Fatalf("Info = %+v, want the public part of the key", info)
	}

	// The file records the Argon2 parameters, and Get uses them even when
	// the keyring's own parameters have changed since.
	kr.Params = Argon2Params{Time: 2, MemoryKiB: 128, Threads: 1}
	if _, err := kr.Get("alice", "correct horse"); err != nil {
		t.Fatalf("Get after changing Params: %v", err)
	}
}

func TestKeyringFileFormat(t *testing.T) {
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "pw")
	data, err := os.ReadFile(filepath.Join(kr.Dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"version", "name", "id", "created", "signing_public_key", "encryption_public_key", "kdf", "argon2", "salt", "nonce", "ciphertext"} {
		if _, ok := m[f]; !ok {
			t.Errorf("field %q missing", f)
		}
	}
	if m["version"] != 1.0 || m["name"] != "alice" || m["id"] != string(k.ID) || m["kdf"] != "argon2id" {
		t.Errorf("header = %v", m)
	}
	if m["signing_public_key"] != base64.StdEncoding.EncodeToString(k.SigningPublicKey) {
		t.Error("signing_public_key is not the base64 public key")
	}
	a := m["argon2"].(map[string]any)
	if a["time"] != 1.0 || a["memory_kib"] != 64.0 || a["threads"] != 1.0 {
		t.Errorf("argon2 = %v", a)
	}
	salt, _ := base64.StdEncoding.DecodeString(m["salt"].(string))
	nonce, _ := base64.StdEncoding.DecodeString(m["nonce"].(string))
	if len(salt) != 16 || len(nonce) != 24 {
		t.Errorf("salt %d bytes, nonce %d bytes", len(salt), len(nonce))
	}
}

func TestKeyringWrongPassphrase(t *testing.T) {
	kr := newTestKeyring(t)
	mustNew(t, kr, "alice", "tulip-orbit-42")
	for _, pass := range []string{"tulip-orbit-43", "", "Tulip-orbit-42", "tulip-orbit-42 "} {
		_, err := kr.Get("alice", pass)
		if !errors.Is(err, ErrBadPassphrase) {
			t.Fatalf("Get with %q: err = %v, want ErrBadPassphrase", pass, err)
		}
		if pass != "" && strings.Contains(err.Error(), pass) {
			t.Fatalf("error %q contains the passphrase", err)
		}
	}
	if _, err := kr.Export("alice", "tulip-orbit-43"); !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("Export with wrong passphrase: err = %v", err)
	}
}

func TestKeyringNotFound(t *testing.T) {
	kr := newTestKeyring(t)
	if _, err := kr.Get("nobody", "pw"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Get: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := kr.Info("nobody"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Info: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := kr.Export("nobody", "pw"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Export: err = %v, want ErrKeyNotFound", err)
	}
}

func TestKeyringTampered(t *testing.T) {
	kr := newTestKeyring(t)
	other := mustNew(t, kr, "other", "pw")
	otherFile := filepath.Join(kr.Dir, "other.key")
	var otherJSON map[string]any
	data, err := os.ReadFile(otherFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &otherJSON); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString

	flip := func(field string) func(m map[string]any) {
		return func(m map[string]any) {
			b, err := base64.StdEncoding.DecodeString(m[field].(string))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			m[field] = b64(b)
		}
	}
	cases := map[string]func(m map[string]any){
		"ciphertext flipped":   flip("ciphertext"),
		"nonce flipped":        flip("nonce"),
		"salt flipped":         flip("salt"),
		"ciphertext truncated": func(m map[string]any) { m["ciphertext"] = m["ciphertext"].(string)[:40] },
		"ciphertext swapped": func(m map[string]any) {
			m["ciphertext"], m["nonce"], m["salt"] = otherJSON["ciphertext"], otherJSON["nonce"], otherJSON["salt"]
		},
		"encryption key swapped": func(m map[string]any) { m["encryption_public_key"] = b64(other.EncryptionPublicKey) },
		"signing key swapped":    func(m map[string]any) { m["signing_public_key"] = b64(other.SigningPublicKey) },
		"id swapped":             func(m map[string]any) { m["id"] = string(other.ID) },
		"created changed":        func(m map[string]any) { m["created"] = "2001-02-03T04:05:06Z" },
		"argon2 changed":         func(m map[string]any) { m["argon2"].(map[string]any)["time"] = 2 },
		"name changed":           func(m map[string]any) { m["name"] = "other" },
		"not json":               nil,
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			mustNew(t, kr, "victim", "pw")
			defer os.Remove(filepath.Join(kr.Dir, "victim.key"))
			path := filepath.Join(kr.Dir, "victim.key")
			if edit == nil {
				if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				editFile(t, path, edit)
			}
			got, err := kr.Get("victim", "pw")
			if err == nil {
				t.Fatalf("Get of tampered file succeeded: %v", got.ID)
			}
			if !errors.Is(err, ErrBadPassphrase) {
				t.Fatalf("err = %v, want one matching ErrBadPassphrase", err)
			}
		})
	}
	// Untouched, the same steps succeed: the cases above fail because of
	// the edit, not because of the harness.
	mustNew(t, kr, "victim", "pw")
	editFile(t, filepath.Join(kr.Dir, "victim.key"), func(map[string]any) {})
	if _, err := kr.Get("victim", "pw"); err != nil {
		t.Fatalf("Get of re-encoded untouched file: %v", err)
	}
}

func TestKeyringHostileParams(t *testing.T) {
	kr := newTestKeyring(t)
	mustNew(t, kr, "alice", "pw")
	path := filepath.Join(kr.Dir, "alice.key")
	editFile(t, path, func(m map[string]any) { m["argon2"].(map[string]any)["memory_kib"] = float64(1 << 31) })
	if _, err := kr.Get("alice", "pw"); err == nil {
		t.Fatal("Get accepted a 2 TiB Argon2 memory parameter")
	}
	if _, err := kr.Info("alice"); err == nil {
		t.Fatal("Info accepted a 2 TiB Argon2 memory parameter")
	}
	editFile(t, path, func(m map[string]any) {
		a := m["argon2"].(map[string]any)
		a["memory_kib"], a["time"] = 64, float64(1<<32-1)
	})
	if _, err := kr.Get("alice", "pw"); err == nil {
		t.Fatal("Get accepted 2^32-1 Argon2 passes")
	}
}

func TestKeyringList(t *testing.T) {
	kr := newTestKeyring(t)
	if l, err := kr.List(); err != nil || len(l) != 0 {
		t.Fatalf("List of empty keyring = %v, %v", l, err)
	}
	want := map[string]*Key{}
	// "a" sorts before "a-b" by name, but "a-b.key" before "a.key" by file
	// name, so the order checked below is List's own.
	for _, n := range []string{"charlie", "alice", "Bob", "bob-2", "a.b_c", "a", "a-b"} {
		want[n] = mustNew(t, kr, n, "passphrase of "+n)
	}
	// Files that are not keys are ignored.
	for _, f := range []string{"notes.txt", ".alice.tmp-123", "README"} {
		if err := os.WriteFile(filepath.Join(kr.Dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(kr.Dir, "dir.key"), 0o700); err != nil {
		t.Fatal(err)
	}
	list, err := kr.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range list {
		names = append(names, info.Name)
		k := want[info.Name]
		if k == nil {
			t.Fatalf("List returned unknown key %q", info.Name)
		}
		if info.ID != k.ID || !bytes.Equal(info.SigningPublicKey, k.SigningPublicKey) ||
			!bytes.Equal(info.EncryptionPublicKey, k.EncryptionPublicKey) || !info.Created.Equal(k.Created) {
			t.Errorf("List entry %q does not match the key", info.Name)
		}
	}
	if wantNames := []string{"Bob", "a", "a-b", "a.b_c", "alice", "bob-2", "charlie"}; !slices.Equal(names, wantNames) {
		t.Fatalf("List names = %v, want %v", names, wantNames)
	}
}

func TestKeyringFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "pw")
	check := func(path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Fatalf("%s mode = %o, want %o", path, got, want)
		}
	}
	check(kr.Dir, 0o700)
	check(filepath.Join(kr.Dir, "alice.key"), 0o600)
	if err := k.RotateEncryptionKey(); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(k, "pw"); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(kr.Dir, "alice.key"), 0o600)
	if err := kr.Import("imported", "pw", k); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(kr.Dir, "imported.key"), 0o600)
	// No temporary files are left behind.
	entries, err := os.ReadDir(kr.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".key") {
			t.Errorf("stray file %q in keyring", e.Name())
		}
	}
}

func TestKeyringBadNames(t *testing.T) {
	kr := newTestKeyring(t)
	good := mustNew(t, kr, "good", "pw")
	export, err := kr.Export("good", "pw")
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{"", "../x", "..", ".", "a/b", `a\b`, "x/../../y", "/abs", "a b", "ä", "x\x00y", "name:1", strings.Repeat("a", 65)}
	for _, name := range bad {
		if _, err := kr.New(name, "pw"); !errors.Is(err, ErrBadName) {
			t.Errorf("New(%q): err = %v, want ErrBadName", name, err)
		}
		if _, err := kr.Get(name, "pw"); !errors.Is(err, ErrBadName) {
			t.Errorf("Get(%q): err = %v, want ErrBadName", name, err)
		}
		if _, err := kr.Info(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Info(%q): err = %v, want ErrBadName", name, err)
		}
		if _, err := kr.Export(name, "pw"); !errors.Is(err, ErrBadName) {
			t.Errorf("Export(%q): err = %v, want ErrBadName", name, err)
		}
		if err := kr.Import(name, "pw", good); !errors.Is(err, ErrBadName) {
			t.Errorf("Import(%q): err = %v, want ErrBadName", name, err)
		}
		if _, err := kr.ImportFile(name, export, "pw"); !errors.Is(err, ErrBadName) {
			t.Errorf("ImportFile(%q): err = %v, want ErrBadName", name, err)
		}
		c := *good
		c.Name = name
		if err := kr.Save(&c, "pw"); !errors.Is(err, ErrBadName) {
			t.Errorf("Save as %q: err = %v, want ErrBadName", name, err)
		}
	}
	// Nothing escaped the keyring directory.
	parent := filepath.Dir(kr.Dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("files outside the keyring: %v", entries)
	}
	for _, name := range []string{strings.Repeat("z", 64), "a.b_c-D9", "x", ".hidden", "...x"} {
		if _, err := kr.New(name, "pw"); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
}

func TestKeyringExists(t *testing.T) {
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "first")
	if _, err := kr.New("alice", "second"); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("New over existing: err = %v, want ErrKeyExists", err)
	}
	other := mustNew(t, kr, "bob", "pw")
	if err := kr.Import("alice", "second", other); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("Import over existing: err = %v, want ErrKeyExists", err)
	}
	export, err := kr.Export("bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	c0 := *other
	c0.Name = "alice"
	if _, err := kr.ImportFile("alice", export, "pw"); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("ImportFile over existing: err = %v, want ErrKeyExists", err)
	}
	// Save replaces a file of the same account only.
	if err := kr.Save(&c0, "second"); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("Save of another account over existing: err = %v, want ErrKeyExists", err)
	}
	// Also when the existence check is raced: the exclusive write alone
	// must refuse to replace the file.
	c := *other
	c.Name = "alice"
	if err := kr.write(&c, "second", true); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("exclusive write over existing: err = %v, want ErrKeyExists", err)
	}
	got, err := kr.Get("alice", "first")
	if err != nil {
		t.Fatal(err)
	}
	assertSameKey(t, got, k)
}

func TestKeyringImport(t *testing.T) {
	kr := newTestKeyring(t)
	pub, priv, err := seal.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := seal.GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	k := &Key{SigningKey: priv, EncryptionKey: ek}
	if err := kr.Import("carol", "pw", k); err != nil {
		t.Fatal(err)
	}
	if k.Name != "" || k.ID != "" {
		t.Fatal("Import modified its argument")
	}
	got, err := kr.Get("carol", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "carol" || got.ID != medledger.AccountID(pub) || got.Created.IsZero() {
		t.Fatalf("imported info = %q %q %v", got.Name, got.ID, got.Created)
	}
	if !bytes.Equal(got.SigningKey, priv) || !bytes.Equal(got.SigningPublicKey, pub) ||
		!bytes.Equal(privBytes(t, got.EncryptionKey), privBytes(t, ek)) {
		t.Fatal("imported keys differ")
	}
	if err := kr.Import("dave", "pw", &Key{SigningKey: priv}); err == nil {
		t.Fatal("Import without an encryption key succeeded")
	}
	if err := kr.Import("dave", "pw", &Key{EncryptionKey: ek}); err == nil {
		t.Fatal("Import without a signing key succeeded")
	}
}

func TestKeyringExportImportFile(t *testing.T) {
	kr1 := newTestKeyring(t)
	kr2 := newTestKeyring(t)
	k := mustNew(t, kr1, "alice", "pw")
	// After rotating the signing key, the ID can no longer be derived from
	// the current key: the file must carry it.
	if err := k.RotateEncryptionKey(); err != nil {
		t.Fatal(err)
	}
	if err := k.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	if err := kr1.Save(k, "pw"); err != nil {
		t.Fatal(err)
	}
	data, err := kr1.Export("alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr2.ImportFile("alice", data, "wrong"); !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("ImportFile with wrong passphrase: err = %v", err)
	}
	if _, err := kr2.Info("alice"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("failed ImportFile left a key behind: %v", err)
	}
	if _, err := kr2.ImportFile("x", []byte("garbage"), "pw"); err == nil {
		t.Fatal("ImportFile of garbage succeeded")
	}
	imported, err := kr2.ImportFile("work-alice", data, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if imported.ID != k.ID || imported.Name != "work-alice" {
		t.Fatalf("imported ID %q name %q, want ID %q", imported.ID, imported.Name, k.ID)
	}
	got, err := kr2.Get("work-alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	want := *k
	want.Name = "work-alice"
	assertSameKey(t, got, &want)
}

func TestKeyringRotation(t *testing.T) {
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "pw")
	id := k.ID
	firstSignPub := bytes.Clone(k.SigningPublicKey)
	firstEncPub := bytes.Clone(k.EncryptionPublicKey)

	kdf, aead := hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	seal1 := func(encPub []byte, msg string) []byte {
		pk, err := seal.ParseEncryptionPublicKey(encPub)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := hpke.Seal(pk, kdf, aead, []byte("info"), []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	ct1 := seal1(k.EncryptionPublicKey, "record one")

	if err := k.RotateEncryptionKey(); err != nil {
		t.Fatal(err)
	}
	ct2 := seal1(k.EncryptionPublicKey, "record two")
	if err := k.RotateEncryptionKey(); err != nil {
		t.Fatal(err)
	}
	oldSigner := k.SigningKey
	if err := k.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	// The old key still signs (for the on-chain rotation) after rotating.
	msg := []byte("rotate to new key")
	if !ed25519.Verify(firstSignPub, msg, ed25519.Sign(oldSigner, msg)) {
		t.Fatal("old signing key unusable after RotateSigningKey")
	}
	if k.ID != id {
		t.Fatal("RotateSigningKey changed the ID")
	}
	if err := kr.Save(k, "new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Get("alice", "pw"); !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("old passphrase after Save: err = %v", err)
	}
	got, err := kr.Get("alice", "new passphrase")
	if err != nil {
		t.Fatal(err)
	}
	assertSameKey(t, got, k)
	if got.ID != id {
		t.Fatalf("ID after rotation = %q, want %q", got.ID, id)
	}
	if bytes.Equal(got.SigningPublicKey, firstSignPub) || got.ID == medledger.AccountID(got.SigningPublicKey) {
		t.Fatal("signing key did not rotate")
	}
	if bytes.Equal(got.EncryptionPublicKey, firstEncPub) {
		t.Fatal("encryption key did not rotate")
	}
	if len(got.OldEncryptionKeys) != 2 {
		t.Fatalf("%d old encryption keys, want 2", len(got.OldEncryptionKeys))
	}
	if !bytes.Equal(got.OldEncryptionKeys[0].PublicKey().Bytes(), firstEncPub) {
		t.Fatal("first old key is not the original encryption key")
	}
	for _, c := range []struct {
		ct  []byte
		key hpke.PrivateKey
		msg string
	}{{ct1, got.OldEncryptionKeys[0], "record one"}, {ct2, got.OldEncryptionKeys[1], "record two"}} {
		pt, err := hpke.Open(c.key, kdf, aead, []byte("info"), c.ct)
		if err != nil || string(pt) != c.msg {
			t.Fatalf("old record: %q, %v", pt, err)
		}
		if _, err := hpke.Open(got.EncryptionKey, kdf, aead, []byte("info"), c.ct); err == nil {
			t.Fatal("current key opened a record sealed to an old key")
		}
	}
	info, err := kr.Info("alice")
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != id || !bytes.Equal(info.SigningPublicKey, got.SigningPublicKey) {
		t.Fatal("Info does not show the rotated key under the first ID")
	}
}

func TestKeyringNoPlaintextSecrets(t *testing.T) {
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "a memorable passphrase")
	if err := k.RotateEncryptionKey(); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(k, "a memorable passphrase"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(kr.Dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{k.SigningKey.Seed(), privBytes(t, k.EncryptionKey), privBytes(t, k.OldEncryptionKeys[0]), []byte("a memorable passphrase")}
	for i, s := range secrets {
		for _, form := range [][]byte{
			s,
			s[:16],
			[]byte(base64.StdEncoding.EncodeToString(s)[:20]),
			[]byte(base64.RawURLEncoding.EncodeToString(s)[:20]),
			[]byte(hex.EncodeToString(s)[:20]),
		} {
			if bytes.Contains(data, form) {
				t.Fatalf("secret %d appears in the key file", i)
			}
		}
	}
}

func TestKeyZero(t *testing.T) {
	kr := newTestKeyring(t)
	k := mustNew(t, kr, "alice", "pw")
	if err := k.RotateEncryptionKey(); err != nil {
		t.Fatal(err)
	}
	sk := k.SigningKey
	k.Zero()
	if !bytes.Equal(sk, make([]byte, len(sk))) {
		t.Fatal("signing key not wiped")
	}
	if k.SigningKey != nil || k.EncryptionKey != nil || k.OldEncryptionKeys != nil {
		t.Fatal("private keys not dropped")
	}
	if k.ID == "" || k.SigningPublicKey == nil {
		t.Fatal("Zero wiped public information")
	}
	var nilKey *Key
	nilKey.Zero() // must not panic
}

package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"regexp"
	"testing"
)

func TestKeySizes(t *testing.T) {
	if EncKeySize != 1216 {
		t.Fatalf("EncKeySize = %d, want 1216", EncKeySize)
	}
	if got, want := KEM().ID(), hpke.MLKEM768X25519().ID(); got != want {
		t.Fatalf("KEM().ID() = %#x, want %#x", got, want)
	}
	pub, priv, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != ed25519.PublicKeySize || len(priv) != ed25519.PrivateKeySize {
		t.Fatalf("signing key sizes %d/%d", len(pub), len(priv))
	}
	k, err := GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(k.PublicKey().Bytes()); got != EncKeySize {
		t.Fatalf("encryption public key is %d bytes, want %d", got, EncKeySize)
	}
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != EncPrivateKeySize {
		t.Fatalf("encryption private key is %d bytes, want %d", len(b), EncPrivateKeySize)
	}
	if k.KEM().ID() != KEM().ID() {
		t.Fatalf("generated key has KEM %#x", k.KEM().ID())
	}
}

func TestKeyParseRoundTrip(t *testing.T) {
	k, err := GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	pubBytes := k.PublicKey().Bytes()
	pub, err := ParseEncryptionPublicKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub.Bytes(), pubBytes) {
		t.Fatal("public key changed in round trip")
	}
	privBytes, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParseEncryptionPrivateKey(privBytes)
	if err != nil {
		t.Fatal(err)
	}
	saved := bytes.Clone(privBytes)
	Zero(privBytes) // the parsed key must not share the caller's buffer
	privBytes = saved
	again, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, privBytes) {
		t.Fatal("private key changed in round trip")
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), pubBytes) {
		t.Fatal("parsed private key has a different public key")
	}
}

func TestKeyInvalidPublicKeys(t *testing.T) {
	k, err := GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	good := k.PublicKey().Bytes()
	lowOrderX := bytes.Clone(good)
	clear(lowOrderX[mlkem768PublicKeySize:]) // X25519 point 0
	oneX := bytes.Clone(good)
	clear(oneX[mlkem768PublicKeySize:])
	oneX[mlkem768PublicKeySize] = 1 // X25519 point 1, also low order
	badMLKEM := bytes.Repeat([]byte{0xff}, EncKeySize)
	x25519Only, _ := hex.DecodeString("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")

	for name, b := range map[string][]byte{
		"nil":            nil,
		"empty":          {},
		"short":          good[:EncKeySize-1],
		"long":           append(bytes.Clone(good), 0),
		"x25519 only":    x25519Only,
		"bad ml-kem":     badMLKEM,
		"low-order zero": lowOrderX,
		"low-order one":  oneX,
	} {
		if _, err := ParseEncryptionPublicKey(b); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
		}
	}
	for name, b := range map[string][]byte{
		"nil":   nil,
		"short": make([]byte, EncPrivateKeySize-1),
		"long":  make([]byte, EncPrivateKeySize+1),
	} {
		if _, err := ParseEncryptionPrivateKey(b); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("private %s: err = %v, want ErrInvalidKey", name, err)
		}
	}
}

func TestKeyID(t *testing.T) {
	// Pinned vector: the Ed25519 public key of the all-zero seed
	// (3b6a27bc…59da29), hashed and encoded independently of this package.
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if got, want := hex.EncodeToString(pub), "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"; got != want {
		t.Fatalf("ed25519 public key of zero seed = %s, want %s", got, want)
	}
	if got, want := KeyID(pub), "kcopdsqhgjnkjc4rardm2bv2b"; got != want {
		t.Fatalf("KeyID(zero-seed key) = %q, want %q", got, want)
	}
	if got, want := KeyID(nil), "k4oymiquy7qobjgx36tejs35z"; got != want {
		t.Fatalf("KeyID(nil) = %q, want %q", got, want)
	}

	form := regexp.MustCompile(`^k[a-z2-7]{24}$`)
	seen := map[string]bool{}
	for i := range 8 {
		var b []byte
		if i%2 == 0 {
			p, _, err := GenerateSigningKey()
			if err != nil {
				t.Fatal(err)
			}
			b = p
		} else {
			k, err := GenerateEncryptionKey()
			if err != nil {
				t.Fatal(err)
			}
			b = k.PublicKey().Bytes()
		}
		id := KeyID(b)
		if len(id) != KeyIDLen || !form.MatchString(id) {
			t.Fatalf("KeyID = %q, not of the documented form", id)
		}
		if KeyID(bytes.Clone(b)) != id {
			t.Fatal("KeyID not stable")
		}
		if seen[id] {
			t.Fatalf("KeyID %q repeated for different keys", id)
		}
		seen[id] = true
	}
}

func TestKeyHPKERoundTrip(t *testing.T) {
	k, err := GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	privBytes, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParseEncryptionPrivateKey(privBytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseEncryptionPublicKey(k.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	kdf, aead := hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	info := []byte("medledger/test/v1")
	msg := []byte("content key: 32 bytes of secret")

	ct, err := hpke.Seal(pub, kdf, aead, info, msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := hpke.Open(priv, kdf, aead, info, ct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, want %q", got, msg)
	}

	// Wrong info, flipped byte and another key must all fail.
	if _, err := hpke.Open(priv, kdf, aead, []byte("other"), ct); err == nil {
		t.Error("Open with wrong info succeeded")
	}
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 1
	if _, err := hpke.Open(priv, kdf, aead, info, flipped); err == nil {
		t.Error("Open of flipped ciphertext succeeded")
	}
	other, err := GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hpke.Open(other, kdf, aead, info, ct); err == nil {
		t.Error("Open with another key succeeded")
	}
}

func TestKeyZero(t *testing.T) {
	b := []byte{1, 2, 3, 4, 5}
	Zero(b)
	if !bytes.Equal(b, make([]byte, 5)) {
		t.Fatalf("Zero left %x", b)
	}
	Zero(nil) // must not panic
}

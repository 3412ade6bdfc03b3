package account_test

import (
	"bytes"
	"errors"
	"testing"

	"medledger"
	"medledger/client"
	"medledger/client/account"
	"medledger/internal/identity"
	"medledger/seal"
)

var cheap = account.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// A key file written here opens with its passphrase only, and the keyring
// (`medledger keys import`) accepts it: the portal and the CLI share it.
func TestKeyFileRoundTrip(t *testing.T) {
	k, err := account.Generate("portal")
	if err != nil {
		t.Fatal(err)
	}
	data, err := account.MarshalFile(k, "pass phrase 1", cheap)
	if err != nil {
		t.Fatal(err)
	}
	f, err := account.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Info.ID != k.ID || f.Info.Name != "portal" {
		t.Fatalf("public part: %+v", f.Info)
	}
	if _, err := f.Open("pass phrase 2"); !errors.Is(err, account.ErrBadPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	got, err := f.Open("pass phrase 1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.SigningKey.Equal(k.SigningKey) || !bytes.Equal(got.EncryptionKey.PublicKey().Bytes(), k.EncryptionPublicKey) {
		t.Fatal("opened keys differ")
	}

	kr, err := client.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kr.Params = cheap
	imp, err := kr.ImportFile("me", data, "pass phrase 1")
	if err != nil {
		t.Fatal(err)
	}
	if imp.ID != k.ID || !imp.SigningKey.Equal(k.SigningKey) {
		t.Fatal("the keyring imported other keys")
	}
}

// A tx built here decodes and verifies as the ledger checks it.
func TestBuildTx(t *testing.T) {
	k, err := account.Generate("portal")
	if err != nil {
		t.Fatal(err)
	}
	msg := &identity.RegisterPatient{Keys: identity.PublicKeys{SigningKey: k.SigningPublicKey, EncryptionKey: k.EncryptionPublicKey}}
	raw, err := account.BuildTx("chain-a", account.SignerOf(k), 1, msg)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := medledger.DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Signer != k.ID || tx.ChainID != "chain-a" || tx.Nonce != 1 || tx.MsgType != identity.TypeRegisterPatient {
		t.Fatalf("tx %+v", tx)
	}
	if err := tx.VerifySignature(k.SigningPublicKey); err != nil {
		t.Fatal(err)
	}
	tx.ChainID = "chain-b"
	if err := tx.VerifySignature(k.SigningPublicKey); err == nil {
		t.Fatal("the signature verifies for another chain")
	}
}

// SealVersion's ciphertext opens with its key and hashes to its blob ID,
// and two sealings of the same content share neither key nor ciphertext.
func TestSealVersion(t *testing.T) {
	content := []byte(`{"resourceType":"Observation"}`)
	ct, blob, key, err := account.SealVersion(content)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Zero()
	if medledger.BlobIDOf(ct) != blob {
		t.Fatal("the blob ID is not the ciphertext's")
	}
	pt, err := seal.Decrypt(ct, key)
	if err != nil || string(pt) != string(content) {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
	ct2, blob2, key2, err := account.SealVersion(content)
	if err != nil {
		t.Fatal(err)
	}
	defer key2.Zero()
	if blob2 == blob || string(ct2) == string(ct) {
		t.Fatal("two sealings of the same content are the same")
	}
	if _, err := seal.Decrypt(ct2, key); err == nil {
		t.Fatal("one sealing's key opens another's ciphertext")
	}
}

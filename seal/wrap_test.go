package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"testing"
)

func newReader(t testing.TB) (hpke.PrivateKey, []byte, string) {
	t.Helper()
	k, err := GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey().Bytes()
	return k, pub, KeyID(pub)
}

func TestWrapInfoBytes(t *testing.T) {
	got := WrapInfo{RecordID: "rec-1", Version: 7, ReaderKeyID: "kabc"}.Bytes()
	want := []byte("medledger/wrap/v1\x00" +
		"\x00\x00\x00\x05rec-1" +
		"\x00\x00\x00\x07" +
		"\x00\x00\x00\x04kabc")
	if !bytes.Equal(got, want) {
		t.Fatalf("Bytes = %q, want %q", got, want)
	}

	// Infos that a plain concatenation would confuse stay distinct.
	infos := []WrapInfo{
		{"a", 1, "b"},
		{"a\x00\x00\x00\x01", 1, "b"},
		{"ab", 1, ""},
		{"", 1, "ab"},
		{"a", 0x01000000, "b"},
		{"a", 1, "b\x00"},
		{"a\x00\x00\x00\x01\x00\x00\x00\x01b", 1, ""},
		{},
	}
	seen := map[string]int{}
	for i, w := range infos {
		b := string(w.Bytes())
		if j, ok := seen[b]; ok {
			t.Errorf("infos %d and %d encode the same: %q", j, i, b)
		}
		seen[b] = i
	}
}

func TestWrapRoundTrip(t *testing.T) {
	reader, pub, id := newReader(t)
	key, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	saved := *key
	info := WrapInfo{RecordID: "rec-1", Version: 3, ReaderKeyID: id}

	w1, err := Wrap(key, pub, info)
	if err != nil {
		t.Fatal(err)
	}
	if len(w1) != WrapSize {
		t.Fatalf("wrap is %d bytes, want WrapSize = %d", len(w1), WrapSize)
	}
	if *key != saved {
		t.Fatal("Wrap modified the content key")
	}
	w2, err := Wrap(key, pub, info)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w1, w2) {
		t.Fatal("two wraps of the same key are identical")
	}
	for _, w := range [][]byte{w1, w2} {
		got, err := Unwrap(w, reader, info)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *key {
			t.Fatal("Unwrap returned another key")
		}
	}

	// The wrap is plain single-shot HPKE with the documented suite and info.
	pt, err := hpke.Open(reader, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info.Bytes(), w1)
	if err != nil {
		t.Fatalf("wrap does not open as documented: %v", err)
	}
	if !bytes.Equal(pt, key[:]) {
		t.Fatal("wrap does not hold the content key")
	}
}

func TestUnwrapErrors(t *testing.T) {
	reader, pub, id := newReader(t)
	otherReader, _, otherID := newReader(t)
	key, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	info := WrapInfo{RecordID: "rec-1", Version: 3, ReaderKeyID: id}
	w, err := Wrap(key, pub, info)
	if err != nil {
		t.Fatal(err)
	}
	x25519Key, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*WrapInfo)) WrapInfo {
		i := info
		f(&i)
		return i
	}

	for _, tc := range []struct {
		name   string
		wrap   []byte
		reader hpke.PrivateKey
		info   WrapInfo
		want   error
	}{
		{"wrong reader", w, otherReader, info, ErrWrongReader},
		// Refused before HPKE (and before the size check) when info
		// names another key.
		{"wrong reader, malformed wrap", w[:10], otherReader, info, ErrWrongReader},
		{"wrong reader, info names it", w, otherReader, with(func(i *WrapInfo) { i.ReaderKeyID = otherID }), ErrWrongReader},
		{"wrong record ID", w, reader, with(func(i *WrapInfo) { i.RecordID = "rec-2" }), ErrWrongReader},
		{"wrong version", w, reader, with(func(i *WrapInfo) { i.Version = 4 }), ErrWrongReader},
		{"wrong reader key ID", w, reader, with(func(i *WrapInfo) { i.ReaderKeyID = otherID }), ErrWrongReader},
		{"flipped ML-KEM ciphertext", flip(w, 0), reader, info, ErrWrongReader},
		{"flipped X25519 share", flip(w, 1100), reader, info, ErrWrongReader},
		{"flipped sealed key", flip(w, 1130), reader, info, ErrWrongReader},
		{"flipped tag", flip(w, WrapSize-1), reader, info, ErrWrongReader},
		{"truncated", w[:WrapSize-1], reader, info, ErrFormat},
		{"extended", cat(w, []byte{0}), reader, info, ErrFormat},
		{"empty", nil, reader, info, ErrFormat},
		{"nil reader", w, nil, info, ErrInvalidKey},
		{"reader of another KEM", w, x25519Key, info, ErrInvalidKey},
		{"empty record ID", w, reader, with(func(i *WrapInfo) { i.RecordID = "" }), ErrInvalidInfo},
		{"empty reader key ID", w, reader, with(func(i *WrapInfo) { i.ReaderKeyID = "" }), ErrInvalidInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Unwrap(tc.wrap, tc.reader, tc.info)
			if !errors.Is(err, tc.want) || k != nil {
				t.Fatalf("Unwrap = %v, %v; want nil, %v", k, err, tc.want)
			}
		})
	}

	// Unwrap refuses an info that names another key before trying HPKE, so
	// check separately that the reader key ID is bound into the wrap itself.
	for name, i := range map[string]WrapInfo{
		"reader key ID": with(func(i *WrapInfo) { i.ReaderKeyID = otherID }),
		"record ID":     with(func(i *WrapInfo) { i.RecordID = "rec-1 " }),
		"version":       with(func(i *WrapInfo) { i.Version = 0 }),
	} {
		if _, err := unwrap(w, reader, i.Bytes()); !errors.Is(err, ErrWrongReader) {
			t.Errorf("unwrap with changed %s: err = %v, want ErrWrongReader", name, err)
		}
	}
	if _, err := unwrap(w, reader, info.Bytes()); err != nil {
		t.Fatalf("unwrap with the right info: %v", err)
	}
}

func TestWrapErrors(t *testing.T) {
	_, pub, id := newReader(t)
	_, otherPub, otherID := newReader(t)
	key, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	madeUp := []byte(id)
	madeUp[len(madeUp)-1] ^= 1 // differs from id in its last character
	lowOrder := bytes.Clone(pub)
	clear(lowOrder[mlkem768PublicKeySize:])

	for _, tc := range []struct {
		name string
		key  *ContentKey
		pub  []byte
		info WrapInfo
		want error
	}{
		{"info names another key", key, pub, WrapInfo{"rec-1", 1, otherID}, ErrWrongReader},
		{"key of another reader", key, otherPub, WrapInfo{"rec-1", 1, id}, ErrWrongReader},
		{"info names a made-up key", key, pub, WrapInfo{"rec-1", 1, string(madeUp)}, ErrWrongReader},
		{"empty record ID", key, pub, WrapInfo{"", 1, id}, ErrInvalidInfo},
		{"empty reader key ID", key, pub, WrapInfo{"rec-1", 1, ""}, ErrInvalidInfo},
		{"short public key", key, pub[:100], WrapInfo{"rec-1", 1, KeyID(pub[:100])}, ErrInvalidKey},
		{"low-order X25519 share", key, lowOrder, WrapInfo{"rec-1", 1, KeyID(lowOrder)}, ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Wrap(tc.key, tc.pub, tc.info)
			if !errors.Is(err, tc.want) || w != nil {
				t.Fatalf("Wrap = %d bytes, %v; want nil, %v", len(w), err, tc.want)
			}
		})
	}
	if _, err := Wrap(nil, pub, WrapInfo{"rec-1", 1, id}); err == nil {
		t.Error("Wrap of a nil key succeeded")
	}
}

func TestRewrap(t *testing.T) {
	owner, ownerPub, ownerID := newReader(t)
	grantee, granteePub, granteeID := newReader(t)
	third, thirdPub, thirdID := newReader(t)
	key, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	ownerInfo := WrapInfo{RecordID: "rec-9", Version: 2, ReaderKeyID: ownerID}
	granteeInfo := WrapInfo{RecordID: "rec-9", Version: 2, ReaderKeyID: granteeID}
	thirdInfo := WrapInfo{RecordID: "rec-9", Version: 2, ReaderKeyID: thirdID}
	ownerWrap, err := Wrap(key, ownerPub, ownerInfo)
	if err != nil {
		t.Fatal(err)
	}
	saved := bytes.Clone(ownerWrap)

	newWrap, err := Rewrap(ownerWrap, owner, ownerInfo, granteePub, granteeInfo)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ownerWrap, saved) {
		t.Fatal("Rewrap modified the old wrap")
	}

	// The grantee opens the new wrap and gets the same key.
	got, err := Unwrap(newWrap, grantee, granteeInfo)
	if err != nil {
		t.Fatalf("grantee cannot open its wrap: %v", err)
	}
	if *got != *key {
		t.Fatal("grantee's wrap holds another key")
	}
	// The old wrap still opens for the owner.
	got, err = Unwrap(ownerWrap, owner, ownerInfo)
	if err != nil {
		t.Fatalf("owner cannot open its wrap after Rewrap: %v", err)
	}
	if *got != *key {
		t.Fatal("owner's wrap holds another key")
	}
	// A third key opens neither, whatever info it claims.
	for _, i := range []WrapInfo{thirdInfo, granteeInfo} {
		if _, err := Unwrap(newWrap, third, i); !errors.Is(err, ErrWrongReader) {
			t.Errorf("third key on the new wrap with info for %s: err = %v, want ErrWrongReader", i.ReaderKeyID, err)
		}
		if _, err := unwrap(newWrap, third, i.Bytes()); !errors.Is(err, ErrWrongReader) {
			t.Errorf("third key on the new wrap (raw) with info for %s: err = %v, want ErrWrongReader", i.ReaderKeyID, err)
		}
	}
	// The owner cannot open the grantee's wrap either.
	if _, err := unwrap(newWrap, owner, ownerInfo.Bytes()); !errors.Is(err, ErrWrongReader) {
		t.Errorf("owner on the grantee's wrap: err = %v, want ErrWrongReader", err)
	}

	for _, tc := range []struct {
		name      string
		owner     hpke.PrivateKey
		ownerInfo WrapInfo
		pub       []byte
		newInfo   WrapInfo
		want      error
	}{
		{"wrong owner", third, thirdInfo, granteePub, granteeInfo, ErrWrongReader},
		{"wrong owner info", owner, WrapInfo{"rec-9", 3, ownerID}, granteePub, WrapInfo{"rec-9", 3, granteeID}, ErrWrongReader},
		{"other record", owner, ownerInfo, granteePub, WrapInfo{"rec-8", 2, granteeID}, ErrInvalidInfo},
		{"other version", owner, ownerInfo, granteePub, WrapInfo{"rec-9", 1, granteeID}, ErrInvalidInfo},
		{"new info names another key", owner, ownerInfo, granteePub, thirdInfo, ErrWrongReader},
		{"bad new public key", owner, ownerInfo, thirdPub[:10], WrapInfo{"rec-9", 2, KeyID(thirdPub[:10])}, ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Rewrap(ownerWrap, tc.owner, tc.ownerInfo, tc.pub, tc.newInfo)
			if !errors.Is(err, tc.want) || w != nil {
				t.Fatalf("Rewrap = %d bytes, %v; want nil, %v", len(w), err, tc.want)
			}
		})
	}
}

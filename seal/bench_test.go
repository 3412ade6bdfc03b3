package seal

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkEncrypt1MiB(b *testing.B) {
	key := testKey(1)
	pt := pattern(1<<20, 1)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := Encrypt(pt, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptStream1MiB(b *testing.B) {
	key := testKey(1)
	pt := pattern(1<<20, 1)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := EncryptStream(io.Discard, bytes.NewReader(pt), key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt1MiB(b *testing.B) {
	key := testKey(1)
	ct, err := Encrypt(pattern(1<<20, 1), key)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, err := Decrypt(ct, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptStream1MiB(b *testing.B) {
	key := testKey(1)
	ct, err := Encrypt(pattern(1<<20, 1), key)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, err := DecryptStream(io.Discard, bytes.NewReader(ct), key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrap(b *testing.B) {
	_, pub, id := newReader(b)
	key := testKey(1)
	info := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: id}
	for b.Loop() {
		if _, err := Wrap(key, pub, info); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrap(b *testing.B) {
	reader, pub, id := newReader(b)
	info := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: id}
	w, err := Wrap(testKey(1), pub, info)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		k, err := Unwrap(w, reader, info)
		if err != nil {
			b.Fatal(err)
		}
		k.Zero()
	}
}

func BenchmarkRewrap(b *testing.B) {
	owner, ownerPub, ownerID := newReader(b)
	_, granteePub, granteeID := newReader(b)
	ownerInfo := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: ownerID}
	granteeInfo := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: granteeID}
	w, err := Wrap(testKey(1), ownerPub, ownerInfo)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Rewrap(w, owner, ownerInfo, granteePub, granteeInfo); err != nil {
			b.Fatal(err)
		}
	}
}

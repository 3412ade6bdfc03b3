package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
)

// BenchmarkEncrypt1MiB encrypts 1 MiB in memory.
//
//	go test -run '^$' -bench Encrypt1MiB -benchtime 50x ./seal/
func BenchmarkEncrypt1MiB(b *testing.B) {
	key := testKey(1)
	pt := pattern(1<<20, 1)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encrypt(pt, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptStream1MiB encrypts 1 MiB from a reader to a writer.
//
//	go test -run '^$' -bench EncryptStream1MiB -benchtime 50x ./seal/
func BenchmarkEncryptStream1MiB(b *testing.B) {
	key := testKey(1)
	pt := pattern(1<<20, 1)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncryptStream(io.Discard, bytes.NewReader(pt), key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecrypt1MiB decrypts 1 MiB in memory.
//
//	go test -run '^$' -bench Decrypt1MiB -benchtime 50x ./seal/
func BenchmarkDecrypt1MiB(b *testing.B) {
	key := testKey(1)
	ct, err := Encrypt(pattern(1<<20, 1), key)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decrypt(ct, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptStream1MiB decrypts 1 MiB from a reader to a writer.
//
//	go test -run '^$' -bench DecryptStream1MiB -benchtime 50x ./seal/
func BenchmarkDecryptStream1MiB(b *testing.B) {
	key := testKey(1)
	ct, err := Encrypt(pattern(1<<20, 1), key)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecryptStream(io.Discard, bytes.NewReader(ct), key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrap wraps a content key for one reader (HPKE, ML-KEM-768+X25519).
//
//	go test -run '^$' -bench '^BenchmarkWrap$' -benchtime 500x ./seal/
func BenchmarkWrap(b *testing.B) {
	_, pub, id := newReader(b)
	key := testKey(1)
	info := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: id}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Wrap(key, pub, info); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrap opens a reader's wrap of a content key.
//
//	go test -run '^$' -bench Unwrap -benchtime 500x ./seal/
func BenchmarkUnwrap(b *testing.B) {
	reader, pub, id := newReader(b)
	info := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: id}
	w, err := Wrap(testKey(1), pub, info)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		k, err := Unwrap(w, reader, info)
		if err != nil {
			b.Fatal(err)
		}
		k.Zero()
	}
}

// BenchmarkRewrap opens the owner's wrap and wraps the key for a grantee,
// as a patient's client does when it shares a record.
//
//	go test -run '^$' -bench Rewrap -benchtime 500x ./seal/
func BenchmarkRewrap(b *testing.B) {
	owner, ownerPub, ownerID := newReader(b)
	_, granteePub, granteeID := newReader(b)
	ownerInfo := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: ownerID}
	granteeInfo := WrapInfo{RecordID: "rec-1", Version: 1, ReaderKeyID: granteeID}
	w, err := Wrap(testKey(1), ownerPub, ownerInfo)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Rewrap(w, owner, ownerInfo, granteePub, granteeInfo); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal10KB is what an author's client does per record of the read
// path's size (10 KB): a fresh content key, the encryption, the blob ID
// (sha256 of the ciphertext, which names the record), and a wrap of the key
// for each of two readers, the patient and the author (client sealAndStore
// and uploadSealed, without the uploads).
//
//	go test -run '^$' -bench Seal10KB -benchtime 1000x ./seal/
func BenchmarkSeal10KB(b *testing.B) {
	pt := pattern(10<<10, 1)
	patient, patientPub, _ := newReader(b)
	_, authorPub, _ := newReader(b)
	readers := [][]byte{patientPub, authorPub}
	var ct, patientWrap []byte
	var record string
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		key, err := NewContentKey()
		if err != nil {
			b.Fatal(err)
		}
		if ct, err = Encrypt(pt, key); err != nil {
			b.Fatal(err)
		}
		blob := sha256.Sum256(ct)
		record = hex.EncodeToString(blob[:])[:32]
		for i, pub := range readers {
			w, err := Wrap(key, pub, WrapInfo{RecordID: record, Version: 1, ReaderKeyID: KeyID(pub)})
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				patientWrap = w
			}
		}
		key.Zero()
	}
	// The last record opens for the patient.
	key, err := Unwrap(patientWrap, patient, WrapInfo{RecordID: record, Version: 1, ReaderKeyID: KeyID(patientPub)})
	if err != nil {
		b.Fatal(err)
	}
	got, err := Decrypt(ct, key)
	if err != nil || !bytes.Equal(got, pt) {
		b.Fatalf("the sealed record does not open: %v", err)
	}
}

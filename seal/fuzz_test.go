package seal

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"
)

// FuzzDecrypt feeds the decoder arbitrary input under a fixed key, and
// mutations of valid blobs.
//
// For data, the input as it comes: Decrypt and DecryptStream must not panic,
// must agree, and must fail with exactly one of the sentinel errors. If data
// does open, it must be exactly the blob the encoder makes from its plaintext
// and salt, so the decoder accepts nothing the encoder does not produce.
//
// For size, off and cut: a valid blob of a size-dependent plaintext is XORed
// with data at off (appending what runs past the end) and then cut short by
// cut bytes. Unless that leaves the blob unchanged, it must not open, and
// whatever DecryptStream writes before failing must be a prefix of the
// original plaintext.
func FuzzDecrypt(f *testing.F) {
	key, salt := testKey(7), testSalt(7)
	seal := func(n int) []byte {
		ct, err := encrypt(pattern(n, uint64(n)), key, salt)
		if err != nil {
			f.Fatal(err)
		}
		return ct
	}
	for _, n := range []int{0, 1, 17, 1000, ChunkSize, ChunkSize + 1} {
		f.Add(seal(n), uint32(n), uint32(0), uint32(0))
	}
	f.Add([]byte{}, uint32(100), uint32(0), uint32(1))
	f.Add([]byte(streamMagic), uint32(ChunkSize), uint32(headerSize+encChunkSize), uint32(0))
	f.Add([]byte("medledger/seal\n\x02"), uint32(0), uint32(15), uint32(0))
	f.Add([]byte{0, 0, 1}, uint32(2*ChunkSize), uint32(headerSize+encChunkSize-2), uint32(0))
	f.Add([]byte{0}, uint32(2*ChunkSize), uint32(0), uint32(encChunkSize))

	f.Fuzz(func(t *testing.T, data []byte, size, off, cut uint32) {
		// Arbitrary input.
		got, err := Decrypt(data, key)
		var out bytes.Buffer
		n, serr := DecryptStream(&out, iotest.HalfReader(bytes.NewReader(data)), key)
		if n != int64(out.Len()) {
			t.Fatalf("DecryptStream returned %d but wrote %d bytes", n, out.Len())
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("Decrypt err = %v, DecryptStream err = %v", err, serr)
		}
		if err != nil {
			matches := 0
			for _, s := range sentinels {
				if errors.Is(err, s) != errors.Is(serr, s) {
					t.Fatalf("Decrypt err = %v, DecryptStream err = %v", err, serr)
				}
				if errors.Is(err, s) {
					matches++
				}
			}
			if matches != 1 || got != nil {
				t.Fatalf("Decrypt = %d bytes, %v; want nil and one sentinel error", len(got), err)
			}
		} else {
			if !bytes.Equal(got, out.Bytes()) {
				t.Fatal("Decrypt and DecryptStream disagree")
			}
			var s [saltSize]byte
			copy(s[:], data[len(streamMagic)+1:headerSize])
			again, err := encrypt(got, key, &s)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatal("decoder accepted a blob that the encoder does not produce")
			}
		}

		// A mutated valid blob.
		pt := pattern(int(size%(2*ChunkSize+100)), uint64(size))
		ct, err := encrypt(pt, key, salt)
		if err != nil {
			t.Fatal(err)
		}
		mut := bytes.Clone(ct)
		start := int(off % uint32(len(mut)+1))
		for i, b := range data {
			if p := start + i; p < len(mut) {
				mut[p] ^= b
			} else {
				mut = append(mut, b)
			}
		}
		mut = mut[:len(mut)-int(cut%uint32(len(mut)+1))]

		got, err = Decrypt(mut, key)
		out.Reset()
		_, serr = DecryptStream(&out, bytes.NewReader(mut), key)
		if bytes.Equal(mut, ct) {
			if err != nil || serr != nil || !bytes.Equal(got, pt) || !bytes.Equal(out.Bytes(), pt) {
				t.Fatalf("unchanged blob: Decrypt err = %v, DecryptStream err = %v", err, serr)
			}
			return
		}
		if err == nil || serr == nil {
			t.Fatalf("mutated blob opened: Decrypt err = %v, DecryptStream err = %v", err, serr)
		}
		if !bytes.HasPrefix(pt, out.Bytes()) {
			t.Fatal("DecryptStream wrote bytes that are not a prefix of the plaintext")
		}
	})
}

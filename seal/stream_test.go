package seal

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/chacha20poly1305"
)

// testKey returns a fixed content key whose bytes start at b.
func testKey(b byte) *ContentKey {
	k := new(ContentKey)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func testSalt(b byte) *[saltSize]byte {
	var s [saltSize]byte
	for i := range s {
		s[i] = b ^ byte(i*7)
	}
	return &s
}

// pattern returns n reproducible pseudo-random bytes that start with a
// marker, so that tests can check no error message repeats plaintext.
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'p'})
	r.Read(b)
	copy(b, "PATIENT-SECRET")
	return b
}

var sentinels = []error{ErrFormat, ErrTruncated, ErrAuth}

// checkOnlySentinel fails unless err matches want and no other sentinel.
func checkOnlySentinel(t *testing.T, what string, err, want error) {
	t.Helper()
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Errorf("%s: err = %v; errors.Is(err, %v) = %v", what, err, s, got)
		}
	}
	if err != nil && strings.Contains(err.Error(), "PATIENT") {
		t.Errorf("%s: error message contains plaintext: %v", what, err)
	}
}

func TestStreamRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		size, chunks int
	}{
		{0, 1},
		{1, 1},
		{ChunkSize - 1, 1},
		{ChunkSize, 1},
		{ChunkSize + 1, 2},
		{3 * ChunkSize, 3},
		{1<<20 + 17, 17},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			pt := pattern(tc.size, uint64(tc.size))
			key, err := NewContentKey()
			if err != nil {
				t.Fatal(err)
			}
			wantSize := int64(32 + tc.size + 16*tc.chunks)
			if got := CiphertextSize(int64(tc.size)); got != wantSize {
				t.Fatalf("CiphertextSize(%d) = %d, want %d", tc.size, got, wantSize)
			}

			ct, err := Encrypt(pt, key)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(ct)) != wantSize {
				t.Fatalf("Encrypt: %d bytes, want %d", len(ct), wantSize)
			}
			var sbuf bytes.Buffer
			n, err := EncryptStream(&sbuf, iotest.HalfReader(bytes.NewReader(pt)), key)
			if err != nil {
				t.Fatal(err)
			}
			if n != wantSize || int64(sbuf.Len()) != wantSize {
				t.Fatalf("EncryptStream: returned %d, wrote %d, want %d", n, sbuf.Len(), wantSize)
			}
			if bytes.Equal(ct, sbuf.Bytes()) {
				t.Fatal("two encryptions of the same plaintext are identical (salt not fresh)")
			}

			for name, c := range map[string][]byte{"Encrypt": ct, "EncryptStream": sbuf.Bytes()} {
				got, err := Decrypt(c, key)
				if err != nil {
					t.Fatalf("Decrypt(%s output): %v", name, err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("Decrypt(%s output) differs from the plaintext", name)
				}
				for rname, r := range map[string]io.Reader{
					"plain":    bytes.NewReader(c),
					"one-byte": iotest.OneByteReader(bytes.NewReader(c)),
				} {
					var out bytes.Buffer
					n, err := DecryptStream(&out, r, key)
					if err != nil {
						t.Fatalf("DecryptStream(%s output, %s reader): %v", name, rname, err)
					}
					if n != int64(len(pt)) || !bytes.Equal(out.Bytes(), pt) {
						t.Fatalf("DecryptStream(%s output, %s reader): %d bytes, want the %d-byte plaintext", name, rname, n, len(pt))
					}
				}
			}

			// The two encoders agree byte for byte given the same salt.
			salt := testSalt(1)
			a, err := encrypt(pt, key, salt)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if _, err := encryptStream(&b, iotest.OneByteReader(bytes.NewReader(pt)), key, salt); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b.Bytes()) {
				t.Fatal("encrypt and encryptStream disagree for the same salt")
			}
		})
	}
}

// TestStreamFormat rebuilds a sealed blob from the specification in the
// package documentation, with HKDF and ChaCha20-Poly1305 called directly.
func TestStreamFormat(t *testing.T) {
	key, salt := testKey(3), testSalt(4)
	pt := pattern(2*ChunkSize+5, 9)

	want := []byte("medledger/seal\n\x01")
	want = append(want, salt[:]...)
	if len(want) != 32 {
		t.Fatalf("header is %d bytes", len(want))
	}
	pk, err := hkdf.Key(sha256.New, key[:], salt[:], "medledger/seal/v1 payload", 32)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := chacha20poly1305.New(pk)
	if err != nil {
		t.Fatal(err)
	}
	nonces := [][]byte{
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1},
	}
	want = aead.Seal(want, nonces[0], pt[:ChunkSize], nil)
	want = aead.Seal(want, nonces[1], pt[ChunkSize:2*ChunkSize], nil)
	want = aead.Seal(want, nonces[2], pt[2*ChunkSize:], nil)

	got, err := encrypt(pt, key, salt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sealed blob does not follow the documented format")
	}

	// An empty plaintext is one empty final chunk: header and a tag.
	got, err = encrypt(nil, key, salt)
	if err != nil {
		t.Fatal(err)
	}
	want = aead.Seal(bytes.Clone(want[:32]), []byte{11: 1}, nil, nil)
	if !bytes.Equal(got, want) || len(got) != 48 {
		t.Fatalf("empty plaintext sealed as %d bytes, not the documented 48", len(got))
	}
}

func TestCiphertextSize(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{0, 48},
		{1, 49},
		{ChunkSize, 32 + ChunkSize + 16},
		{ChunkSize + 1, 32 + ChunkSize + 1 + 32},
		{10 * ChunkSize, 32 + 10*ChunkSize + 160},
		{-1, -1},
		{math.MinInt64, -1},
		{math.MaxInt64, -1},
	} {
		if got := CiphertextSize(tc.in); got != tc.want {
			t.Errorf("CiphertextSize(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}

	// Near the top of the int64 range, compare with exact arithmetic.
	exact := func(p int64) *big.Int {
		chunks := max(1, (p+ChunkSize-1)/ChunkSize)
		r := big.NewInt(p)
		r.Add(r, big.NewInt(32))
		return r.Add(r, new(big.Int).Mul(big.NewInt(chunks), big.NewInt(16)))
	}
	maxInt := big.NewInt(math.MaxInt64)
	// The largest plaintext size whose sealed size fits, by bisection.
	lo, hi := int64(0), int64(math.MaxInt64-ChunkSize)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if exact(mid).Cmp(maxInt) <= 0 {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for _, p := range []int64{lo - ChunkSize, lo - 1, lo, lo + 1, lo + 16, lo + ChunkSize, math.MaxInt64 - 1} {
		want := int64(-1)
		if e := exact(p); e.Cmp(maxInt) <= 0 {
			want = e.Int64()
		}
		if got := CiphertextSize(p); got != want {
			t.Errorf("CiphertextSize(%d) = %d, want %d", p, got, want)
		}
	}
	if CiphertextSize(lo) <= 0 || CiphertextSize(lo+1) != -1 {
		t.Errorf("boundary at %d not handled", lo)
	}
}

func TestMaxPlaintextSize(t *testing.T) {
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3 * ChunkSize, 1<<20 + 17} {
		ct := int(CiphertextSize(int64(n))) - headerSize
		if got := maxPlaintextSize(ct); got != n {
			t.Errorf("maxPlaintextSize(%d) = %d, want %d", ct, got, n)
		}
	}
}

// chunk is one chunk of a hand-built stream.
type chunk struct {
	pt   []byte
	last bool
}

// buildStream seals chunks as given, with counters 0, 1, …, so that tests
// can build streams the encoder never produces.
func buildStream(t *testing.T, key *ContentKey, salt *[saltSize]byte, chunks ...chunk) []byte {
	t.Helper()
	aead, err := payloadAEAD(key, salt[:])
	if err != nil {
		t.Fatal(err)
	}
	out := appendHeader(nil, salt)
	var nonce [12]byte
	for i, c := range chunks {
		chunkNonce(&nonce, uint64(i), c.last)
		out = aead.Seal(out, nonce[:], c.pt, nil)
	}
	return out
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x04
	return b
}

func TestStreamErrors(t *testing.T) {
	const H, E = headerSize, encChunkSize
	key, other := testKey(1), testKey(2)

	// Three chunks: full, full, short final.
	pt3 := pattern(2*ChunkSize+1000, 1)
	ct3, err := encrypt(pt3, key, testSalt(1))
	if err != nil {
		t.Fatal(err)
	}
	c0, c1, c2 := ct3[H:H+E], ct3[H+E:H+2*E], ct3[H+2*E:]
	// Another stream under the same key, with another salt.
	ctB, err := encrypt(pattern(2*ChunkSize+1000, 2), key, testSalt(2))
	if err != nil {
		t.Fatal(err)
	}
	// Two full chunks, the second final.
	ptFull := pattern(2*ChunkSize, 3)
	ctFull, err := encrypt(ptFull, key, testSalt(3))
	if err != nil {
		t.Fatal(err)
	}
	ctEmpty, err := encrypt(nil, key, testSalt(4))
	if err != nil {
		t.Fatal(err)
	}
	full := pattern(ChunkSize, 5)
	short := pattern(100, 6)

	for _, tc := range []struct {
		name string
		ct   []byte
		key  *ContentKey
		want error
		// pt is the plaintext the blob was made from, and written how many
		// of its bytes DecryptStream writes before it fails.
		pt      []byte
		written int
	}{
		// Tampering, one bit in each region.
		{"header magic", flip(ct3, 0), key, ErrFormat, pt3, 0},
		{"header magic end", flip(ct3, 14), key, ErrFormat, pt3, 0},
		{"header version", flip(ct3, 15), key, ErrFormat, pt3, 0},
		{"header salt", flip(ct3, 20), key, ErrAuth, pt3, 0},
		{"first chunk body", flip(ct3, H+10), key, ErrAuth, pt3, 0},
		{"first chunk tag", flip(ct3, H+E-1), key, ErrAuth, pt3, 0},
		{"middle chunk body", flip(ct3, H+E+100), key, ErrAuth, pt3, ChunkSize},
		{"middle chunk tag", flip(ct3, H+2*E-1), key, ErrAuth, pt3, ChunkSize},
		{"final chunk body", flip(ct3, H+2*E+5), key, ErrAuth, pt3, 2 * ChunkSize},
		{"final chunk tag", flip(ct3, len(ct3)-1), key, ErrAuth, pt3, 2 * ChunkSize},
		{"full final chunk body", flip(ctFull, H+E+7), key, ErrAuth, ptFull, ChunkSize},
		{"empty final chunk tag", flip(ctEmpty, H+3), key, ErrAuth, nil, 0},
		{"not a sealed blob", []byte("{\"resourceType\":\"Patient\"}"), key, ErrFormat, nil, 0},

		// Truncation.
		{"empty input", nil, key, ErrTruncated, nil, 0},
		{"cut inside magic", ct3[:5], key, ErrTruncated, pt3, 0},
		{"cut inside salt", ct3[:20], key, ErrTruncated, pt3, 0},
		{"header only", ct3[:H], key, ErrTruncated, pt3, 0},
		{"cut at boundary after first chunk", ct3[:H+E], key, ErrTruncated, pt3, 0},
		{"drop final chunk", ct3[:H+2*E], key, ErrTruncated, pt3, ChunkSize},
		{"drop full final chunk", ctFull[:H+E], key, ErrTruncated, ptFull, 0},
		{"cut mid first chunk", ct3[:H+500], key, ErrAuth, pt3, 0},
		{"cut mid middle chunk", ct3[:H+E+500], key, ErrAuth, pt3, ChunkSize},
		{"cut mid final chunk", ct3[:len(ct3)-1], key, ErrAuth, pt3, 2 * ChunkSize},
		{"cut inside final tag", ct3[:H+2*E+10], key, ErrTruncated, pt3, 2 * ChunkSize},
		{"cut inside empty final chunk", ctEmpty[:H+8], key, ErrTruncated, nil, 0},

		// Appending after the final chunk.
		{"append byte after full final chunk", cat(ctFull, []byte{0}), key, ErrTruncated, ptFull, ChunkSize},
		{"append chunk after full final chunk", cat(ctFull, ctFull[H:H+E]), key, ErrTruncated, ptFull, ChunkSize},
		// A short final chunk and the bytes after it are read as one
		// chunk, which cannot authenticate.
		{"append byte after short final chunk", cat(ct3, []byte{0}), key, ErrAuth, pt3, 2 * ChunkSize},
		{"append byte after empty final chunk", cat(ctEmpty, []byte{0}), key, ErrAuth, nil, 0},

		// Moving chunks around.
		{"swap chunks 0 and 1", cat(ct3[:H], c1, c0, c2), key, ErrAuth, pt3, 0},
		{"swap chunks 1 and 2", cat(ct3[:H], c0, c2, c1), key, ErrAuth, pt3, ChunkSize},
		{"drop middle chunk", cat(ct3[:H], c0, c2), key, ErrAuth, pt3, ChunkSize},
		{"duplicate first chunk", cat(ct3[:H], c0, c0, c1, c2), key, ErrAuth, pt3, ChunkSize},
		{"chunk from another stream, same key", cat(ct3[:H], c0, ctB[H+E:H+2*E], c2), key, ErrAuth, pt3, ChunkSize},
		{"header from another stream, same key", cat(ctB[:H], c0, c1, c2), key, ErrAuth, pt3, 0},

		// Wrong key.
		{"wrong content key", ct3, other, ErrAuth, pt3, 0},
		{"wrong content key, empty plaintext", ctEmpty, other, ErrAuth, nil, 0},

		// Well-authenticated structures the encoder never produces.
		{"final flag on first of two chunks",
			buildStream(t, key, testSalt(5), chunk{full, true}, chunk{short, true}), key, ErrTruncated, full, 0},
		{"no final flag",
			buildStream(t, key, testSalt(5), chunk{full, false}, chunk{short, false}), key, ErrAuth, cat(full, short), ChunkSize},
		{"no final flag on full last chunk",
			buildStream(t, key, testSalt(5), chunk{full, false}, chunk{full, false}), key, ErrTruncated, cat(full, full), ChunkSize},
		{"short chunk before final",
			buildStream(t, key, testSalt(5), chunk{short, false}, chunk{full, true}), key, ErrAuth, cat(short, full), 0},
		{"empty final chunk after full chunk",
			buildStream(t, key, testSalt(5), chunk{full, false}, chunk{nil, true}), key, ErrFormat, full, ChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decrypt(tc.ct, tc.key)
			checkOnlySentinel(t, "Decrypt", err, tc.want)
			if got != nil {
				t.Errorf("Decrypt returned %d bytes with its error", len(got))
			}
			for rname, r := range map[string]io.Reader{
				"plain":    bytes.NewReader(tc.ct),
				"one-byte": iotest.OneByteReader(bytes.NewReader(tc.ct)),
			} {
				var out bytes.Buffer
				n, err := DecryptStream(&out, r, tc.key)
				checkOnlySentinel(t, "DecryptStream/"+rname, err, tc.want)
				if n != int64(out.Len()) || out.Len() != tc.written {
					t.Errorf("DecryptStream/%s: returned %d, wrote %d bytes, want %d", rname, n, out.Len(), tc.written)
				}
				if !bytes.Equal(out.Bytes(), tc.pt[:min(out.Len(), len(tc.pt))]) {
					t.Errorf("DecryptStream/%s wrote bytes that are not a prefix of the plaintext", rname)
				}
			}
		})
	}
}

func TestStreamNilKey(t *testing.T) {
	if _, err := Encrypt(nil, nil); err == nil {
		t.Error("Encrypt with nil key succeeded")
	}
	if _, err := EncryptStream(io.Discard, strings.NewReader(""), nil); err == nil {
		t.Error("EncryptStream with nil key succeeded")
	}
	ct, err := Encrypt(nil, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(ct, nil); err == nil {
		t.Error("Decrypt with nil key succeeded")
	}
	if _, err := DecryptStream(io.Discard, bytes.NewReader(ct), nil); err == nil {
		t.Error("DecryptStream with nil key succeeded")
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		n := w.after
		w.after = 0
		return n, errWrite
	}
	w.after -= len(p)
	return len(p), nil
}

var (
	errRead  = errors.New("test read error")
	errWrite = errors.New("test write error")
)

func TestStreamIOErrors(t *testing.T) {
	key := testKey(1)
	pt := pattern(3*ChunkSize, 1)
	ct, err := Encrypt(pt, key)
	if err != nil {
		t.Fatal(err)
	}
	failingReader := func(b []byte, n int) io.Reader {
		return io.MultiReader(bytes.NewReader(b[:n]), iotest.ErrReader(errRead))
	}

	for _, n := range []int{0, 10, ChunkSize + 5} {
		if _, err := EncryptStream(io.Discard, failingReader(pt, n), key); !errors.Is(err, errRead) {
			t.Errorf("EncryptStream, read fails after %d bytes: err = %v", n, err)
		}
	}
	for _, n := range []int{0, 10, headerSize + encChunkSize + 5} {
		_, err := DecryptStream(io.Discard, failingReader(ct, n), key)
		if !errors.Is(err, errRead) {
			t.Errorf("DecryptStream, read fails after %d bytes: err = %v", n, err)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				t.Errorf("DecryptStream read error matches %v", s)
			}
		}
	}
	for _, n := range []int{0, 40, ChunkSize + 100} {
		w := &failWriter{after: n}
		written, err := EncryptStream(w, bytes.NewReader(pt), key)
		if !errors.Is(err, errWrite) || written != int64(n) {
			t.Errorf("EncryptStream, write fails after %d bytes: %d, %v", n, written, err)
		}
		w = &failWriter{after: n}
		written, err = DecryptStream(w, bytes.NewReader(ct), key)
		if !errors.Is(err, errWrite) || written != int64(n) {
			t.Errorf("DecryptStream, write fails after %d bytes: %d, %v", n, written, err)
		}
	}
}

func TestContentKey(t *testing.T) {
	a, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	if *a == *b || *a == (ContentKey{}) {
		t.Fatal("NewContentKey keys are not random")
	}
	for _, s := range []string{
		fmt.Sprint(a), fmt.Sprint(*a),
		fmt.Sprintf("%x %X %v %+v %#v %s %d %q", a, *a, a, *a, a, a, *a, a),
	} {
		if rest := strings.ReplaceAll(s, "seal.ContentKey(redacted)", ""); strings.TrimSpace(rest) != "" {
			t.Errorf("formatted key is not just the placeholder: %q", s)
		}
	}
	a.Zero()
	if *a != (ContentKey{}) {
		t.Fatal("Zero left key bytes")
	}
	var nilKey *ContentKey
	nilKey.Zero() // must not panic
}

package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"

	"golang.org/x/crypto/chacha20poly1305"
)

// ChunkSize is the size in bytes of a plaintext chunk of a sealed blob. Every
// chunk but the last is exactly this long.
const ChunkSize = 64 << 10

const (
	streamMagic   = "medledger/seal\n"
	streamVersion = 1
	saltSize      = 16
	// headerSize is the size of a sealed blob's header: magic, version, salt.
	headerSize = len(streamMagic) + 1 + saltSize
	tagSize    = chacha20poly1305.Overhead
	// encChunkSize is the size of a sealed full chunk.
	encChunkSize = ChunkSize + tagSize
	payloadInfo  = "medledger/seal/v1 payload"
)

// Errors returned when a sealed blob or a wrapped key does not open. Messages
// name chunk numbers and sizes, never content.
var (
	// ErrFormat reports input that is not in a format this package reads: a
	// blob with a bad magic or an unknown version, a wrapped key of the wrong
	// size, or a structure that authenticates but that the encoder never
	// produces.
	ErrFormat = errors.New("seal: unrecognised format")

	// ErrTruncated reports a sealed blob that ends before its final chunk
	// (including one cut inside the header), or that has data after its
	// final chunk.
	//
	// A blob cut inside a chunk (rather than at a chunk boundary) cannot be
	// told apart from one whose last chunk was altered, and reports ErrAuth.
	// Likewise, bytes appended after a final chunk that is shorter than a
	// full chunk are read as part of that chunk, which then reports ErrAuth.
	ErrTruncated = errors.New("seal: sealed blob is truncated or has trailing data")

	// ErrAuth reports a chunk that fails to authenticate: it was altered,
	// moved, taken from another blob, cut short, or the content key is wrong.
	ErrAuth = errors.New("seal: sealed blob failed to authenticate")
)

var errNilKey = errors.New("seal: nil content key")

// A ContentKey is the symmetric key of one record version: 32 bytes from
// crypto/rand. Pass it by pointer and Zero it when done; every copy of the
// array is a copy of the key that nobody will wipe.
type ContentKey [32]byte

// NewContentKey returns a fresh random content key.
func NewContentKey() (*ContentKey, error) {
	k := new(ContentKey)
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("seal: generate content key: %w", err)
	}
	return k, nil
}

// Zero overwrites the key with zeros. A nil key is left alone. Like the
// package-level Zero it is best effort: copies made elsewhere stay intact.
func (k *ContentKey) Zero() {
	if k == nil {
		return
	}
	clear(k[:])
	runtime.KeepAlive(k)
}

// Format implements fmt.Formatter so that printing a key, with any verb,
// shows a placeholder rather than the key.
func (ContentKey) Format(f fmt.State, verb rune) {
	io.WriteString(f, "seal.ContentKey(redacted)")
}

// CiphertextSize returns the size of the sealed blob of a plaintext of
// plaintextSize bytes: the 32-byte header, the plaintext, and a 16-byte tag
// per chunk (at least one chunk). It returns -1 if plaintextSize is negative
// or the result would overflow an int64.
func CiphertextSize(plaintextSize int64) int64 {
	if plaintextSize < 0 {
		return -1
	}
	chunks := plaintextSize / ChunkSize
	if plaintextSize%ChunkSize != 0 || plaintextSize == 0 {
		chunks++
	}
	overhead := int64(headerSize) + chunks*tagSize
	if plaintextSize > math.MaxInt64-overhead {
		return -1
	}
	return plaintextSize + overhead
}

// maxPlaintextSize returns an upper bound on the plaintext held by a sealed
// blob body (the bytes after the header) of n bytes.
func maxPlaintextSize(n int) int {
	return n/encChunkSize*ChunkSize + max(0, n%encChunkSize-tagSize)
}

// payloadAEAD derives the payload key of a blob from its content key and
// salt and returns the ChaCha20-Poly1305 instance for it.
func payloadAEAD(key *ContentKey, salt []byte) (cipher.AEAD, error) {
	if key == nil {
		return nil, errNilKey
	}
	pk, err := hkdf.Key(sha256.New, key[:], salt, payloadInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: derive payload key: %w", err)
	}
	defer Zero(pk)
	aead, err := chacha20poly1305.New(pk) // keeps its own copy of pk
	if err != nil {
		return nil, fmt.Errorf("seal: payload cipher: %w", err)
	}
	return aead, nil
}

// chunkNonce sets n to the STREAM nonce of chunk counter: the counter as an
// 11-byte big-endian integer followed by the last-chunk flag.
func chunkNonce(n *[chacha20poly1305.NonceSize]byte, counter uint64, last bool) {
	// The counter field is 88 bits; a blob of at most 2^63 bytes has fewer
	// than 2^48 chunks, so the top three bytes are always zero.
	clear(n[:3])
	binary.BigEndian.PutUint64(n[3:11], counter)
	n[11] = 0
	if last {
		n[11] = 1
	}
}

func appendHeader(b []byte, salt *[saltSize]byte) []byte {
	b = append(b, streamMagic...)
	b = append(b, streamVersion)
	return append(b, salt[:]...)
}

// parseHeader checks the header h, which may be shorter than headerSize if
// the input ended early, and returns its salt.
func parseHeader(h []byte) ([]byte, error) {
	n := min(len(h), len(streamMagic))
	if string(h[:n]) != streamMagic[:n] {
		return nil, fmt.Errorf("%w: not a sealed blob (bad magic)", ErrFormat)
	}
	if len(h) > len(streamMagic) && h[len(streamMagic)] != streamVersion {
		return nil, fmt.Errorf("%w: sealed blob version %d, want %d", ErrFormat, h[len(streamMagic)], streamVersion)
	}
	if len(h) < headerSize {
		return nil, fmt.Errorf("%w: input ends inside the %d-byte header", ErrTruncated, headerSize)
	}
	return h[len(streamMagic)+1 : headerSize], nil
}

// EncryptStream seals the plaintext read from src until EOF with key and
// writes the sealed blob to dst. It returns the number of bytes written to
// dst. It holds about two chunks in memory whatever the length of src. Each
// call draws a fresh salt, so sealing the same plaintext twice gives two
// different blobs.
//
// If src or dst fails, EncryptStream returns the error and what was written
// is not a valid blob.
func EncryptStream(dst io.Writer, src io.Reader, key *ContentKey) (int64, error) {
	var salt [saltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return 0, fmt.Errorf("seal: generate salt: %w", err)
	}
	return encryptStream(dst, src, key, &salt)
}

func encryptStream(dst io.Writer, src io.Reader, key *ContentKey, salt *[saltSize]byte) (int64, error) {
	aead, err := payloadAEAD(key, salt[:])
	if err != nil {
		return 0, err
	}
	w := countWriter{w: dst}
	if err := w.write(appendHeader(make([]byte, 0, headerSize), salt)); err != nil {
		return w.n, fmt.Errorf("seal: write sealed blob: %w", err)
	}
	// pbuf holds one chunk plus one byte of lookahead, which tells whether
	// the chunk is the last one.
	pbuf := make([]byte, ChunkSize+1)
	defer Zero(pbuf)
	cbuf := make([]byte, 0, encChunkSize)
	var nonce [chacha20poly1305.NonceSize]byte
	have := 0
	for counter := uint64(0); ; counter++ {
		n, err := io.ReadFull(src, pbuf[have:])
		n += have
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return w.n, fmt.Errorf("seal: read plaintext: %w", err)
		}
		last := n <= ChunkSize
		chunkNonce(&nonce, counter, last)
		ct := aead.Seal(cbuf[:0], nonce[:], pbuf[:min(n, ChunkSize)], nil)
		if err := w.write(ct); err != nil {
			return w.n, fmt.Errorf("seal: write sealed blob: %w", err)
		}
		if last {
			return w.n, nil
		}
		pbuf[0] = pbuf[ChunkSize]
		have = 1
	}
}

// Encrypt seals plaintext with key and returns the sealed blob, of
// CiphertextSize(len(plaintext)) bytes. It produces the same format as
// EncryptStream, with a fresh salt on each call.
func Encrypt(plaintext []byte, key *ContentKey) ([]byte, error) {
	var salt [saltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, fmt.Errorf("seal: generate salt: %w", err)
	}
	return encrypt(plaintext, key, &salt)
}

func encrypt(plaintext []byte, key *ContentKey, salt *[saltSize]byte) ([]byte, error) {
	aead, err := payloadAEAD(key, salt[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, CiphertextSize(int64(len(plaintext))))
	out = appendHeader(out, salt)
	var nonce [chacha20poly1305.NonceSize]byte
	for counter := uint64(0); ; counter++ {
		last := len(plaintext) <= ChunkSize
		n := min(len(plaintext), ChunkSize)
		chunkNonce(&nonce, counter, last)
		out = aead.Seal(out, nonce[:], plaintext[:n], nil)
		if last {
			return out, nil
		}
		plaintext = plaintext[n:]
	}
}

// opener authenticates and decrypts the chunks of one blob in order.
type opener struct {
	aead    cipher.AEAD
	counter uint64
	nonce   [chacha20poly1305.NonceSize]byte
}

func (o *opener) try(dst, chunk []byte, last bool) ([]byte, error) {
	chunkNonce(&o.nonce, o.counter, last)
	return o.aead.Open(dst, o.nonce[:], chunk, nil)
}

// open decrypts chunk, the next chunk of the blob, and appends its plaintext
// to dst. chunk is at most encChunkSize bytes; more reports whether the input
// holds at least one byte after it (then chunk is exactly encChunkSize bytes).
// It reports final when chunk was the last chunk. On error dst is returned
// unchanged in length.
func (o *opener) open(dst, chunk []byte, more bool) (out []byte, final bool, err error) {
	if len(chunk) < tagSize {
		if o.counter == 0 && len(chunk) == 0 {
			return dst, false, fmt.Errorf("%w: no chunks after the header", ErrTruncated)
		}
		return dst, false, fmt.Errorf("%w: input ends inside chunk %d", ErrTruncated, o.counter)
	}
	if more {
		if out, err := o.try(dst, chunk, false); err == nil {
			o.counter++
			return out, false, nil
		}
		if _, err := o.try(dst, chunk, true); err == nil {
			return dst, false, fmt.Errorf("%w: data after final chunk %d", ErrTruncated, o.counter)
		}
		return dst, false, fmt.Errorf("%w: chunk %d", ErrAuth, o.counter)
	}
	out, err = o.try(dst, chunk, true)
	if err == nil {
		if len(out) == len(dst) && o.counter > 0 {
			return dst, false, fmt.Errorf("%w: empty final chunk %d after a full chunk", ErrFormat, o.counter)
		}
		return out, true, nil
	}
	if len(chunk) == encChunkSize {
		if _, err := o.try(dst, chunk, false); err == nil {
			return dst, false, fmt.Errorf("%w: input ends after chunk %d, which is not the final chunk", ErrTruncated, o.counter)
		}
	}
	return dst, false, fmt.Errorf("%w: chunk %d (altered, cut short, or wrong key)", ErrAuth, o.counter)
}

// DecryptStream reads a sealed blob from src, opens it with key and writes the
// plaintext to dst. It returns the number of plaintext bytes written. It holds
// about two chunks in memory whatever the size of the blob, and reads src
// until EOF.
//
// Each chunk is written only after it has authenticated, but a blob can only
// be known to be complete at its end. So when DecryptStream returns an error,
// whatever it wrote before is genuine plaintext that is incomplete (the blob
// was cut short, or a later chunk was altered): the caller must discard all
// output on error, as if nothing had been written. Errors match ErrFormat,
// ErrTruncated or ErrAuth with errors.Is, or are read or write errors of src
// or dst.
func DecryptStream(dst io.Writer, src io.Reader, key *ContentKey) (int64, error) {
	if key == nil {
		return 0, errNilKey
	}
	hdr := make([]byte, headerSize)
	n, err := io.ReadFull(src, hdr)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, fmt.Errorf("seal: read sealed blob: %w", err)
	}
	salt, err := parseHeader(hdr[:n])
	if err != nil {
		return 0, err
	}
	aead, err := payloadAEAD(key, salt)
	if err != nil {
		return 0, err
	}
	o := opener{aead: aead}
	// cbuf holds one sealed chunk plus one byte of lookahead.
	cbuf := make([]byte, encChunkSize+1)
	pbuf := make([]byte, 0, ChunkSize)
	defer Zero(pbuf[:cap(pbuf)])
	var written int64
	have := 0
	for {
		n, err := io.ReadFull(src, cbuf[have:])
		n += have
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return written, fmt.Errorf("seal: read sealed blob: %w", err)
		}
		more := n > encChunkSize
		pt, final, err := o.open(pbuf[:0], cbuf[:min(n, encChunkSize)], more)
		if err != nil {
			return written, err
		}
		if len(pt) > 0 {
			m, err := dst.Write(pt)
			written += int64(m)
			if err == nil && m < len(pt) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return written, fmt.Errorf("seal: write plaintext: %w", err)
			}
		}
		if final {
			return written, nil
		}
		cbuf[0] = cbuf[encChunkSize]
		have = 1
	}
}

// Decrypt opens the sealed blob ciphertext with key and returns its
// plaintext. On error it returns no plaintext at all. Errors match ErrFormat,
// ErrTruncated or ErrAuth with errors.Is, exactly as DecryptStream's do.
func Decrypt(ciphertext []byte, key *ContentKey) ([]byte, error) {
	if key == nil {
		return nil, errNilKey
	}
	salt, err := parseHeader(ciphertext[:min(len(ciphertext), headerSize)])
	if err != nil {
		return nil, err
	}
	aead, err := payloadAEAD(key, salt)
	if err != nil {
		return nil, err
	}
	body := ciphertext[headerSize:]
	out := make([]byte, 0, maxPlaintextSize(len(body)))
	o := opener{aead: aead}
	for {
		more := len(body) > encChunkSize
		n := min(len(body), encChunkSize)
		var final bool
		out, final, err = o.open(out, body[:n], more)
		if err != nil {
			Zero(out[:cap(out)])
			return nil, err
		}
		if final {
			return out, nil
		}
		body = body[n:]
	}
}

// countWriter writes to w and counts the bytes written.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.n += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

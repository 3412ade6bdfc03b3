package blob

import (
	"context"
	"crypto/sha256"
	"hash"
	"io"
	"sync"

	"medledger"
)

// chunkSize is the unit in which Put reads uploads and Open's reader copies
// to a writer.
const chunkSize = 64 << 10

// maxChunks bounds the chunks of one Put in flight between the goroutine that
// reads the upload and the one that hashes and writes it.
const maxChunks = 3

type chunk struct {
	buf *[]byte
	n   int
	err error
}

// chunks recycles chunkSize buffers between Puts and between Open readers.
var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// copyVerified copies r to dst, at most limit bytes, and checks that what it
// copied hashes to id. It returns the number of bytes copied. The error is
// KindTooLarge past the limit (having read limit+1 bytes), KindInvalid on a
// hash mismatch, ctx's error when ctx is done, a wrapped read error, or
// dst's error as writeErr classifies it. On any error the caller discards
// what dst received.
//
// r is read on a goroutine of its own, so that a cancelled ctx stops the copy
// even while a Read call blocks; that call is left to finish in the
// background, and its result is dropped.
func copyVerified(ctx context.Context, dst io.Writer, r io.Reader, id medledger.BlobID, limit int64, writeErr func(error) error) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	lr := &io.LimitedReader{R: r, N: limit + 1}
	full := make(chan chunk, maxChunks)
	free := make(chan *[]byte, maxChunks)
	done := make(chan struct{})
	defer close(done)

	go func() {
		allocated := 0
		for {
			// Buffers are taken as needed, so a small blob uses one.
			var buf *[]byte
			select {
			case buf = <-free:
			default:
				if allocated < maxChunks {
					buf = chunks.Get().(*[]byte)
					allocated++
				} else {
					select {
					case buf = <-free:
					case <-done:
						return
					}
				}
			}
			n, err := io.ReadFull(lr, *buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			select {
			case full <- chunk{buf, n, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	h := sha256.New()
	var total int64
	for {
		var c chunk
		select {
		case c = <-full:
		case <-ctx.Done():
			return total, ctx.Err()
		}
		if c.n > 0 {
			total += int64(c.n)
			if total > limit {
				return total, medledger.Errorf(medledger.KindTooLarge, "blob %s is over the size limit of %d bytes", id, limit)
			}
			p := (*c.buf)[:c.n]
			h.Write(p)
			if _, err := dst.Write(p); err != nil {
				return total, writeErr(err)
			}
		}
		if c.err == io.EOF {
			// The reading goroutine has sent its last chunk and holds no
			// buffer: every one is here or in free. (After an error it may
			// still be reading into one, so those are left to the GC.)
			chunks.Put(c.buf)
			for len(free) > 0 {
				chunks.Put(<-free)
			}
			break
		}
		if c.err != nil {
			return total, readError(id, c.err)
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
		free <- c.buf // never blocks: at most maxChunks buffers exist
	}
	var sum medledger.BlobID
	h.Sum(sum[:0])
	if sum != id {
		return total, medledger.Errorf(medledger.KindInvalid, "uploaded bytes hash to %s, not to blob id %s", sum, id)
	}
	return total, nil
}

// verifyingReader returns the bytes of a stored blob and hashes them as it
// goes. Where the source ends it returns errCorrupt instead of io.EOF if they
// do not hash to id or their count differs from size.
type verifyingReader struct {
	src    io.Reader
	closer io.Closer
	id     medledger.BlobID
	size   int64
	n      int64
	h      hash.Hash
	err    error // sticky: once set, every Read returns it
}

func newVerifyingReader(id medledger.BlobID, size int64, src io.Reader, closer io.Closer) *verifyingReader {
	return &verifyingReader{src: src, closer: closer, id: id, size: size, h: sha256.New()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.src.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case err == io.EOF:
		err = v.check()
	case err != nil:
		err = ioError("read", v.id, err)
	case v.n > v.size:
		err = errCorrupt(v.id)
	}
	v.err = err
	return n, err
}

// WriteTo implements io.WriterTo, so that io.Copy moves a blob in chunkSize
// pieces and still checks it.
func (v *verifyingReader) WriteTo(w io.Writer) (int64, error) {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	buf := *bp
	var written int64
	for {
		n, err := v.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}

func (v *verifyingReader) check() error {
	var sum medledger.BlobID
	v.h.Sum(sum[:0])
	if v.n != v.size || sum != v.id {
		return errCorrupt(v.id)
	}
	return io.EOF
}

func (v *verifyingReader) Close() error {
	if v.closer == nil {
		return nil
	}
	return v.closer.Close()
}

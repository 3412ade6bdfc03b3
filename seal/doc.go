// Package seal holds medledger's end-to-end cryptography on bytes: account
// keys, key IDs and zeroing, the record sealing format, and the wrapping of
// record keys for readers. It is pure Go with no cgo, and builds for js/wasm so
// the web portal can run the same code in the browser. Only clients hold the
// keys it works with; nodes store and serve what it produces. All its
// functions are safe for concurrent use.
//
// # Keys
//
// Each account holds two long-term key pairs, generated and kept by its
// client:
//
//   - a signing key (Ed25519), which signs transactions and record anchors;
//   - an encryption key (HPKE with the MLKEM768-X25519 hybrid KEM, see KEM),
//     which receives wrapped record keys. Each key has a key ID (KeyID), a
//     short hash of its public half. Keys rotate; a client keeps its old
//     encryption keys so that it can still open what was wrapped for them.
//
// Each record version has its own content key (ContentKey): 32 bytes from
// crypto/rand, made by the author's client and never reused for another
// version. Each sealed blob has a payload key, derived from the content key
// as
//
//	payload key = HKDF-SHA256(secret = content key, salt = the blob's 16-byte salt,
//	                          info = "medledger/seal/v1 payload")
//
// The salt is fresh randomness in the blob's header, so even if a content key
// were used for two blobs they would be encrypted under different payload
// keys.
//
// # What is encrypted with what
//
// The record content is encrypted with the payload key (EncryptStream,
// Encrypt). A sealed blob is
//
//	header = "medledger/seal\n" (15 bytes) ‖ version 0x01 ‖ salt (16 bytes)   32 bytes
//	chunks = chunk 0 ‖ chunk 1 ‖ … ‖ chunk n-1
//
// The plaintext is cut into chunks of ChunkSize (64 KiB). Every chunk but the
// last holds exactly ChunkSize bytes; the last holds 1 to ChunkSize bytes, or
// 0 bytes only when the whole plaintext is empty. Chunk i is the
// ChaCha20-Poly1305 sealing of plaintext chunk i under the payload key, with
// no additional data, so it is 16 bytes longer than its plaintext. Its
// 12-byte nonce is the STREAM construction that age uses:
//
//	nonce = i as an 11-byte big-endian counter ‖ flag
//	flag  = 0x01 for the last chunk, 0x00 for every other chunk
//
// A payload key is used for one blob only and every chunk has its own counter,
// so no nonce repeats under a key. Because chunk i authenticates only at
// position i, and only the last chunk carries the flag, reordering, dropping,
// duplicating or splicing chunks, cutting the blob short, or appending to it
// are all detected (ErrAuth, ErrTruncated). CiphertextSize gives the size of
// a sealed blob: 32 + plaintext size + 16 per chunk.
//
// The content key is then wrapped, once per reader, with single-shot HPKE
// (RFC 9180, base mode) to the reader's encryption key (Wrap), with the suite
// MLKEM768-X25519, HKDF-SHA256, ChaCha20-Poly1305. A wrap is the KEM
// encapsulation followed by the sealed 32-byte key, WrapSize bytes in all. The
// HPKE info string binds the wrap to its context (WrapInfo.Bytes):
//
//	"medledger/wrap/v1" ‖ 0x00 ‖ len(record ID) ‖ record ID ‖ version ‖ len(reader key ID) ‖ reader key ID
//
// with the lengths and the version as 4-byte big-endian integers. A wrap
// therefore opens only with the reader's private key and only for the record
// ID, version and reader key ID it was made for: a wrap copied to another
// record, another version or another reader's slot fails to open
// (ErrWrongReader). HPKE cannot tell a wrong key from wrong info or a damaged
// wrap, and neither can this package.
//
// A reader's client opens its wrap (Unwrap), gets the content key, and
// decrypts the blob (DecryptStream, Decrypt). To share an existing record
// with a new grantee, the patient's client unwraps its own wrap and wraps the
// same content key for the grantee (Rewrap); the blob is not re-encrypted.
//
// # What the nodes and an attacker with their data learn
//
// Nodes hold blobs, wraps and the chain; none of the keys above. Someone who
// has all of a node's data, today or in decades, learns:
//
//   - the exact size of every record's plaintext, which follows from the
//     blob size, and how many versions each record has;
//   - who can read what: wraps are indexed by reader key ID, so the set of
//     readers of each record version is visible, as is when it changed;
//   - everything the chain holds in the clear: author, patient, content type,
//     category, times, and the access log (who read which record, when, and
//     for what purpose).
//
// They do not learn record contents or content keys. Harvesting the data now
// to break it later needs both ML-KEM-768 and X25519 broken for the wraps, or
// a 256-bit ChaCha20 key recovered for a blob.
//
// Integrity against the node holds too: a blob or a wrap changed in any way
// fails to decrypt. But the AEAD authenticates a blob only against people who
// lack its content key, and every reader has that key. A reader could seal
// different content under it, so authorship comes from elsewhere: the author
// signs the anchor, which names the blob ID (sha256 of the sealed blob), and
// a client must check that hash before it trusts what it decrypted.
//
// # What is not protected
//
//   - A reader who has decrypted a record, or kept its wrap and the blob, can
//     keep the content forever. Revoking a grant stops nodes from serving the
//     record and keeps later versions from being wrapped for the reader; it
//     does not un-read anything, and nothing in this package can.
//   - Wraps have no forward secrecy: whoever obtains an encryption private key
//     can open every wrap ever made for it, including old ones. Rotation
//     limits what later wraps expose, not earlier ones.
//   - Erasure by crypto-shredding is only as good as the deletion of every copy
//     of the blob and of every wrap, and of every content key a client kept.
//   - Sizes, timing and the reader sets above are visible by design.
//   - DecryptStream writes each chunk as soon as it authenticates, so on error
//     the output holds a genuine but incomplete plaintext; callers must
//     discard it. Decrypt returns nothing on error.
//
// # Zeroing
//
// Content keys, derived payload keys and plaintext buffers are overwritten
// with zeros (ContentKey.Zero, Zero) as soon as this package is done with
// them. This is best effort. Go can copy values without telling anyone (a
// ContentKey passed by value, a grown slice, a moved goroutine stack, the
// internal state of crypto/hpke and of the cipher), and nothing can guarantee
// that those copies are wiped. Note also that in Go 1.26 Bytes on a
// MLKEM768-X25519 private key returns the key's internal storage: never Zero
// or modify its result (see ParseEncryptionPrivateKey).
package seal

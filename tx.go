package medledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxTxBytes is the largest encoded tx the ledger accepts. Payloads never go
// on-chain, only their hashes, so txs are small.
const MaxTxBytes = 64 << 10

// MaxUnorderedWindow is how many blocks ahead an unordered tx's timeout
// height may be. The ledger remembers an unordered tx's request ID until its
// timeout, so the window bounds that memory.
const MaxUnorderedWindow = 600

// SignDomain separates medledger tx signatures from every other use of a key.
const SignDomain = "medledger/tx/v1"

// Tx is the signed envelope every transaction travels in (DESIGN §4).
//
// An ordered tx carries the signer's next nonce: exactly one more than the
// last nonce the ledger committed for that signer. An unordered tx (for
// high-rate txs whose order does not matter, such as access logs) instead
// carries a request ID in Nonce that the signer never reuses, and a timeout
// height; the ledger rejects a request ID it has seen until that height.
type Tx struct {
	ChainID       string     `cbor:"1,keyasint"`
	Signer        ID         `cbor:"2,keyasint"`
	Nonce         uint64     `cbor:"3,keyasint"`
	MsgType       string     `cbor:"4,keyasint"`
	Msg           RawMessage `cbor:"5,keyasint"`
	Unordered     bool       `cbor:"6,keyasint,omitempty"`
	TimeoutHeight uint64     `cbor:"7,keyasint,omitempty"`
	Signature     []byte     `cbor:"8,keyasint,omitempty"`
}

// SignBytes returns the bytes the signer signs: the domain, the chain ID, and
// the deterministic encoding of the envelope without its signature.
func (tx *Tx) SignBytes() ([]byte, error) {
	body := *tx
	body.Signature = nil
	enc, err := Marshal(&body)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(SignDomain)+len(tx.ChainID)+2+len(enc))
	b = append(b, SignDomain...)
	b = append(b, 0)
	b = append(b, tx.ChainID...)
	b = append(b, 0)
	return append(b, enc...), nil
}

// Sign sets the signature with key.
func (tx *Tx) Sign(key ed25519.PrivateKey) error {
	sb, err := tx.SignBytes()
	if err != nil {
		return err
	}
	tx.Signature = ed25519.Sign(key, sb)
	return nil
}

// VerifySignature checks the signature against pub.
func (tx *Tx) VerifySignature(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return Errorf(KindInternal, "bad public key length")
	}
	if len(tx.Signature) != ed25519.SignatureSize {
		return Errorf(KindBadSignature, "signature must be %d bytes", ed25519.SignatureSize)
	}
	sb, err := tx.SignBytes()
	if err != nil {
		return Errorf(KindMalformed, "sign bytes: %v", err)
	}
	if !ed25519.Verify(pub, sb, tx.Signature) {
		return Errorf(KindBadSignature, "signature does not verify for signer %s", tx.Signer)
	}
	return nil
}

// Encode returns the tx's deterministic CBOR bytes.
func (tx *Tx) Encode() ([]byte, error) { return Marshal(tx) }

// DecodeTx decodes a tx and runs the stateless envelope checks: size,
// canonical encoding, field presence and form. It does not verify the
// signature, which needs the signer's key from state.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) > MaxTxBytes {
		return nil, Errorf(KindTooLarge, "tx is %d bytes, limit %d", len(b), MaxTxBytes)
	}
	if len(b) == 0 {
		return nil, Errorf(KindMalformed, "empty tx")
	}
	var tx Tx
	if err := Unmarshal(b, &tx); err != nil {
		return nil, err
	}
	if err := tx.Signer.Validate(); err != nil {
		return nil, Errorf(KindMalformed, "signer: %v", err)
	}
	if tx.ChainID == "" {
		return nil, Errorf(KindMalformed, "missing chain id")
	}
	if tx.MsgType == "" || len(tx.MsgType) > 64 || strings.ContainsAny(tx.MsgType, " \t\n") {
		return nil, Errorf(KindMalformed, "missing or invalid msg type")
	}
	if len(tx.Msg) == 0 {
		return nil, Errorf(KindMalformed, "missing msg")
	}
	if len(tx.Signature) == 0 {
		return nil, Errorf(KindBadSignature, "missing signature")
	}
	if tx.Nonce == 0 {
		return nil, Errorf(KindBadNonce, "nonce must be at least 1")
	}
	if tx.Unordered != (tx.TimeoutHeight != 0) {
		return nil, Errorf(KindMalformed, "an unordered tx needs a timeout height, and only an unordered tx has one")
	}
	return &tx, nil
}

// TxHash returns the hash CometBFT uses to name a tx: sha256 of its bytes.
func TxHash(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// TxHashHex returns TxHash in upper-case hex, as CometBFT prints it.
func TxHashHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(TxHash(b))) }

package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"

	"medledger"
	"medledger/internal/identity"
	"medledger/internal/state"
)

// SigCache remembers the (public key, tx) pairs whose signature verified,
// so that a tx's signature is verified once per node rather than at
// CheckTx, at every mempool recheck and again in its block. Verification is
// a pure function of the key and the tx bytes, so a cache changes only how
// fast the ledger decides, never what: a miss simply verifies. The cache
// belongs to the node's edge (internal/cometbft), which may fill it in
// parallel before a block with PreVerify.
type SigCache interface {
	// Seen reports whether the pair with this key verified before.
	Seen(key [32]byte) bool
	// Add records a pair that verified.
	Add(key [32]byte)
}

// SetSigCache makes the ledger consult c before verifying a signature.
func (l *Ledger) SetSigCache(c SigCache) { l.sigs = c }

// sigKey names a (public key, raw tx) pair. The raw tx carries its
// signature, so a pair that verified once always does.
func sigKey(pub ed25519.PublicKey, raw []byte) [32]byte {
	h := sha256.New()
	h.Write(pub)
	h.Write(raw)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verify checks tx's signature by pub, unless c saw the pair verify.
func verify(c SigCache, tx *medledger.Tx, pub ed25519.PublicKey, raw []byte) error {
	if c == nil {
		return tx.VerifySignature(pub)
	}
	k := sigKey(pub, raw)
	if c.Seen(k) {
		return nil
	}
	if err := tx.VerifySignature(pub); err != nil {
		return err
	}
	c.Add(k)
	return nil
}

// PreVerify verifies a tx's signature against its signer's key in r (a
// committed state) and records it in c if it holds. It is safe to call
// from several goroutines over an immutable r; the adapter does so for a
// block's txs that this node's mempool did not check. Txs that cannot be
// resolved here (a bad encoding, an unknown signer) are left to the
// ledger, which reports them.
func PreVerify(r state.Reader, c SigCache, raw []byte) {
	tx, err := medledger.DecodeTx(raw)
	if err != nil {
		return
	}
	_, acct, err := identity.LoadPrincipal(r, tx.Signer)
	if err != nil {
		return
	}
	verify(c, tx, acct.SigningKey, raw)
}

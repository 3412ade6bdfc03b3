package account

import (
	"crypto/ed25519"

	"medledger"
)

// Msg is any message the ledger accepts.
type Msg interface{ Type() string }

// Signer signs txs for one account.
type Signer struct {
	ID  medledger.ID
	Key ed25519.PrivateKey
}

// SignerOf returns the signer of a key.
func SignerOf(k *Key) Signer { return Signer{ID: k.ID, Key: k.SigningKey} }

// BuildTx encodes and signs a message as a tx from s with the given nonce.
func BuildTx(chainID string, s Signer, nonce uint64, msg Msg) ([]byte, error) {
	b, err := medledger.Marshal(msg)
	if err != nil {
		return nil, err
	}
	tx := &medledger.Tx{ChainID: chainID, Signer: s.ID, Nonce: nonce, MsgType: msg.Type(), Msg: b}
	if err := tx.Sign(s.Key); err != nil {
		return nil, err
	}
	return tx.Encode()
}

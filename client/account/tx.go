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

// BuildUnordered encodes and signs msg as an unordered tx: requestID is a
// random ID the signer never reuses (it is made odd, so never 0), and the tx
// is valid until timeoutHeight. Read requests travel this way.
func BuildUnordered(chainID string, s Signer, requestID, timeoutHeight uint64, msg Msg) ([]byte, error) {
	b, err := medledger.Marshal(msg)
	if err != nil {
		return nil, err
	}
	tx := &medledger.Tx{ChainID: chainID, Signer: s.ID, Nonce: requestID | 1, MsgType: msg.Type(), Msg: b,
		Unordered: true, TimeoutHeight: timeoutHeight}
	if err := tx.Sign(s.Key); err != nil {
		return nil, err
	}
	return tx.Encode()
}

package cometbft

import (
	"fmt"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
)

func ed25519PubKey(b []byte) (crypto.PubKey, error) {
	if len(b) != ed25519.PubKeySize {
		return nil, fmt.Errorf("validator key must be a %d-byte Ed25519 key", ed25519.PubKeySize)
	}
	return ed25519.PubKey(b), nil
}

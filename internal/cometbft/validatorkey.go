package cometbft

import (
	stded25519 "crypto/ed25519"
	"fmt"
	"os"

	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"
)

// ValidatorKey reads the node's Ed25519 validator key from
// priv_validator_key.json. Besides consensus, it signs the node's replica
// requests to its peers.
// c is the node's CometBFT configuration (*config.Config).
func ValidatorKey(c interface{ PrivValidatorKeyFile() string }) (stded25519.PrivateKey, error) {
	b, err := os.ReadFile(c.PrivValidatorKeyFile())
	if err != nil {
		return nil, fmt.Errorf("validator key: %w", err)
	}
	var k privval.FilePVKey
	if err := cmtjson.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("validator key %s: %w", c.PrivValidatorKeyFile(), err)
	}
	priv, ok := k.PrivKey.(ed25519.PrivKey)
	if !ok || len(priv) != stded25519.PrivateKeySize {
		return nil, fmt.Errorf("validator key %s is not an Ed25519 key", c.PrivValidatorKeyFile())
	}
	return stded25519.PrivateKey(append([]byte(nil), priv...)), nil
}

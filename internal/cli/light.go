package cli

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"strings"

	"medledger/client"
)

// trustFlags make every command's reads verified: headers are checked by a
// light client from a trusted header, so --prove answers and tx results
// are checked against headers the validators signed, not the node's word.
type trustFlags struct {
	height    int64
	hash      string
	witnesses string
}

func (t *trustFlags) register(fs *flag.FlagSet) {
	fs.Int64Var(&t.height, "trust-height", 0, "verify headers with a light client from the trusted header at this `height` (with --trust-hash)")
	fs.StringVar(&t.hash, "trust-hash", "", "hex `hash` of the trusted header (the block_hash of `medledger query header HEIGHT` on a node you trust)")
	fs.StringVar(&t.witnesses, "witness", "", "comma-separated API `URLs` of other nodes to cross-check headers with (default: the node itself, which checks nothing more)")
}

// connect builds the verified client when the trust flags are given.
func (t *trustFlags) connect(ctx context.Context, e *env) error {
	if t.height == 0 && t.hash == "" {
		return nil
	}
	hash, err := hex.DecodeString(t.hash)
	if t.height < 1 || err != nil || len(hash) != 32 {
		return usagef("--trust-height needs a positive height and --trust-hash 64 hex characters")
	}
	u := e.apiURL()
	// The chain ID is the node's word, but the trusted header hash covers
	// it: a wrong one fails verification.
	chainID, err := client.New(u).ChainID(ctx)
	if err != nil {
		return fmt.Errorf("asking the node for its chain ID: %w", err)
	}
	var ws []string
	for _, w := range strings.Split(t.witnesses, ",") {
		if w = strings.TrimSpace(w); w != "" {
			ws = append(ws, w)
		}
	}
	e.verified, err = client.NewVerified(u, client.TrustOptions{ChainID: chainID, Height: t.height, Hash: hash}, ws...)
	return err
}

package cometbft

import (
	"context"

	"github.com/cometbft/cometbft/crypto/merkle"
	"github.com/cometbft/cometbft/types"

	"medledger"
)

// LightBlock returns the light block of height (0 for the latest): the
// signed header and the validator set that signed it, protobuf-encoded as
// CometBFT's tendermint.types.LightBlock, for light clients to verify
// without trusting this node. A height not committed yet is KindNotFound; a
// pruned one is KindGone.
func (n *Node) LightBlock(ctx context.Context, height int64) (*medledger.LightBlock, error) {
	latest := n.Height()
	switch {
	case height > latest:
		return nil, medledger.Errorf(medledger.KindNotFound, "block %d is not committed yet (latest is %d)", height, latest)
	case height == 0:
		height = latest
	}
	if base := n.node.BlockStore().Base(); height < base || height < 1 {
		return nil, medledger.Errorf(medledger.KindGone, "block %d is pruned (oldest is %d)", height, base)
	}
	com, err := n.client.Commit(ctx, &height)
	if err != nil {
		return nil, medledger.Errorf(medledger.KindGone, "commit of block %d: %v", height, err)
	}
	// The validator set, page by page (CometBFT caps a page at 100).
	var vals []*types.Validator
	for page, perPage := 1, 100; ; page++ {
		res, err := n.client.Validators(ctx, &height, &page, &perPage)
		if err != nil {
			return nil, medledger.Errorf(medledger.KindGone, "validators of block %d: %v", height, err)
		}
		vals = append(vals, res.Validators...)
		if len(vals) >= res.Total || len(res.Validators) == 0 {
			break
		}
	}
	vs, err := types.ValidatorSetFromExistingValidators(vals)
	if err != nil {
		return nil, err
	}
	lb := &types.LightBlock{SignedHeader: &com.SignedHeader, ValidatorSet: vs}
	pb, err := lb.ToProto()
	if err != nil {
		return nil, err
	}
	bz, err := pb.Marshal()
	if err != nil {
		return nil, err
	}
	return &medledger.LightBlock{Height: height, Hash: medledger.HexBytes(com.Header.Hash()), LightBlock: bz}, nil
}

// TxProof proves a committed tx: its inclusion under the data hash of its
// block, and its deterministic result under the last results hash of the
// next block. An unknown or uncommitted tx is KindNotFound.
func (n *Node) TxProof(ctx context.Context, hash []byte) (*medledger.TxProof, error) {
	res, err := n.client.Tx(ctx, hash, true)
	if err != nil {
		return nil, medledger.Errorf(medledger.KindNotFound, "no committed tx %X", hash)
	}
	br, err := n.client.BlockResults(ctx, &res.Height)
	if err != nil {
		return nil, medledger.Errorf(medledger.KindGone, "results of block %d: %v", res.Height, err)
	}
	if int(res.Index) >= len(br.TxsResults) {
		return nil, medledger.Errorf(medledger.KindInternal, "block %d has %d results, tx index %d", res.Height, len(br.TxsResults), res.Index)
	}
	results := types.NewResults(br.TxsResults)
	leaf, err := results[res.Index].Marshal()
	if err != nil {
		return nil, err
	}
	return &medledger.TxProof{Height: res.Height, Index: res.Index, Tx: res.Tx, DataHash: medledger.HexBytes(res.Proof.RootHash),
		Proof:  merkleProof(res.Proof.Proof),
		Result: &medledger.ResultProof{Leaf: leaf, Proof: merkleProof(results.ProveResult(int(res.Index)))}}, nil
}

func merkleProof(p merkle.Proof) medledger.MerkleProof {
	out := medledger.MerkleProof{Total: p.Total, Index: p.Index, LeafHash: medledger.HexBytes(p.LeafHash)}
	for _, a := range p.Aunts {
		out.Aunts = append(out.Aunts, medledger.HexBytes(a))
	}
	return out
}

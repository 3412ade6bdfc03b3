package cometbft

import (
	"context"

	"medledger"
)

// maxBlockScan bounds how many block metas one Blocks call reads when it
// skips empty blocks (a block a second makes most of them empty).
const maxBlockScan = 5000

// Blocks returns up to limit committed blocks below height before (0: from
// the latest), newest first, with their txs' hashes, message types and
// result codes. With txsOnly, empty blocks are skipped, looking back at
// most maxBlockScan blocks. Block metas are read from the block store; a
// block's txs and results only when it has txs.
func (n *Node) Blocks(ctx context.Context, before int64, limit int, txsOnly bool) (*medledger.BlockList, error) {
	bs := n.node.BlockStore()
	latest, base := bs.Height(), max(bs.Base(), 1)
	if before <= 0 || before > latest+1 {
		before = latest + 1
	}
	out := &medledger.BlockList{Latest: latest, Blocks: []medledger.BlockSummary{}}
	h := before - 1
	for scanned := 0; h >= base && len(out.Blocks) < limit && scanned < maxBlockScan; h, scanned = h-1, scanned+1 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := bs.LoadBlockMeta(h)
		if m == nil {
			break
		}
		if txsOnly && m.NumTxs == 0 {
			continue
		}
		b := medledger.BlockSummary{Height: h, Time: m.Header.Time, Hash: medledger.HexBytes(m.BlockID.Hash),
			ProposerAddress: medledger.HexBytes(m.Header.ProposerAddress), NumTxs: m.NumTxs, Txs: []medledger.TxSummary{}}
		if m.NumTxs > 0 {
			blk := bs.LoadBlock(h)
			if blk == nil {
				return nil, medledger.Errorf(medledger.KindGone, "block %d is not stored", h)
			}
			height := h
			res, err := n.client.BlockResults(ctx, &height)
			if err != nil {
				return nil, medledger.Errorf(medledger.KindGone, "results of block %d: %v", h, err)
			}
			for i, tx := range blk.Txs {
				ts := medledger.TxSummary{Hash: medledger.HexBytes(tx.Hash())}
				if d, err := medledger.DecodeTx(tx); err == nil {
					ts.Type = d.MsgType
				}
				if i < len(res.TxsResults) {
					ts.Code = medledger.Kind(res.TxsResults[i].Code)
					if ts.Code != 0 {
						ts.Kind = ts.Code.String()
					}
				}
				b.Txs = append(b.Txs, ts)
			}
		}
		out.Blocks = append(out.Blocks, b)
	}
	if h >= base {
		out.Next = h + 1
	}
	return out, nil
}

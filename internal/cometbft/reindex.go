package cometbft

import (
	"fmt"
	"log/slog"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/state/indexer"
	blockidxkv "github.com/cometbft/cometbft/state/indexer/block/kv"
	"github.com/cometbft/cometbft/state/txindex"
	txidxkv "github.com/cometbft/cometbft/state/txindex/kv"
	"github.com/cometbft/cometbft/store"
	"github.com/cometbft/cometbft/types"
)

// reindexWindow is how far back from the last committed block the start-up
// check looks for blocks whose txs were never indexed.
const reindexWindow = 100

// reindexRecent indexes the txs and block events of the last blocks that a
// crash left unindexed. CometBFT v0.38 saves a block's state first and
// indexes it afterwards from an event-bus subscriber; a node killed in
// between restarts with the block committed but its txs unknown to tx
// lookups (GET /v1/txs/{hash}), and it never goes back to index them. The
// results are the ones CometBFT saved for the block, so the index is what
// it would have written. txDB is the "tx_index" database, stateDB the
// "state" one; the node must not be running yet.
func reindexRecent(txDB, stateDB dbm.DB, blocks *store.BlockStore, discardResponses bool, log *slog.Logger) error {
	states := sm.NewStore(stateDB, sm.StoreOptions{DiscardABCIResponses: discardResponses})
	st, err := states.Load()
	if err != nil {
		return err
	}
	last := st.LastBlockHeight
	if last < 1 || discardResponses {
		return nil
	}
	txs := txidxkv.NewTxIndex(txDB)
	blockIdx := blockidxkv.New(dbm.NewPrefixDB(txDB, []byte("block_events")))
	from := last + 1
	for h := last; h >= max(blocks.Base(), last-reindexWindow+1, 1); h-- {
		ok, err := indexed(h, blocks, txs, blockIdx)
		if err != nil {
			return err
		}
		if ok {
			break // the indexer works in height order: all below are done
		}
		from = h
	}
	if from > last {
		return nil
	}
	for h := from; h <= last; h++ {
		if err := reindex(h, blocks, states, txs, blockIdx); err != nil {
			return err
		}
	}
	log.Warn("indexed the txs of blocks a crash had left unindexed", "from", from, "to", last)
	return nil
}

// indexed reports whether block h's events and txs are in the index. The
// indexer writes a block's events, then all its txs in one batch, so the
// last tx present means all are.
func indexed(h int64, blocks *store.BlockStore, txs txindex.TxIndexer, blockIdx indexer.BlockIndexer) (bool, error) {
	ok, err := blockIdx.Has(h)
	if err != nil || !ok {
		return false, err
	}
	b := blocks.LoadBlock(h)
	if b == nil {
		return false, fmt.Errorf("block %d is missing from the block store", h)
	}
	if len(b.Txs) == 0 {
		return true, nil
	}
	r, err := txs.Get(b.Txs[len(b.Txs)-1].Hash())
	return r != nil, err
}

func reindex(h int64, blocks *store.BlockStore, states sm.Store, txs txindex.TxIndexer, blockIdx indexer.BlockIndexer) error {
	b := blocks.LoadBlock(h)
	if b == nil {
		return fmt.Errorf("block %d is missing from the block store", h)
	}
	resp, err := states.LoadFinalizeBlockResponse(h)
	if err != nil {
		return fmt.Errorf("results of block %d: %w", h, err)
	}
	if len(resp.TxResults) != len(b.Txs) {
		return fmt.Errorf("block %d has %d txs and %d results", h, len(b.Txs), len(resp.TxResults))
	}
	if len(b.Txs) > 0 {
		batch := txindex.NewBatch(int64(len(b.Txs)))
		for i, r := range resp.TxResults {
			if err := batch.Add(&abci.TxResult{Height: h, Index: uint32(i), Tx: b.Txs[i], Result: *r}); err != nil {
				return err
			}
		}
		if err := txs.AddBatch(batch); err != nil {
			return fmt.Errorf("indexing the txs of block %d: %w", h, err)
		}
	}
	if err := blockIdx.Index(types.EventDataNewBlockEvents{Height: h, Events: resp.Events, NumTxs: int64(len(b.Txs))}); err != nil {
		return fmt.Errorf("indexing the events of block %d: %w", h, err)
	}
	return nil
}

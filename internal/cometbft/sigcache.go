package cometbft

import (
	"runtime"
	"sync"

	"medledger/internal/ledger"
)

// sigCache is the ledger's SigCache: two generations of verified pairs,
// the older dropped when the newer fills, so that memory stays bounded
// (about 100 bytes a pair) while a tx's pair lives from CheckTx until its
// block, even with a full mempool.
type sigCache struct {
	mu       sync.Mutex
	cur, old map[[32]byte]struct{}
	max      int // pairs per generation
}

func newSigCache(perGeneration int) *sigCache {
	return &sigCache{cur: make(map[[32]byte]struct{}), max: perGeneration}
}

func (c *sigCache) Seen(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	_, ok := c.old[k]
	return ok
}

func (c *sigCache) Add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[[32]byte]struct{}, c.max)
	}
	c.cur[k] = struct{}{}
}

// sigCacheGeneration holds more pairs than the largest mempool medledger
// configures, so a tx checked into the mempool is still cached when its
// block comes.
const sigCacheGeneration = 100_000

// preVerify verifies, on every core, the signatures of a block's txs that
// this node's mempool did not check (txs from another validator's mempool
// that never reached this one), so that the ledger, executing the block on
// one goroutine, finds them verified. A tx the pre-check cannot resolve is
// verified by the ledger as usual.
// keys are the txs' pending keys (hex tx hashes).
func (a *App) preVerify(txs [][]byte, keys []string) {
	var todo [][]byte
	for _, i := range a.pending.missing(keys) {
		todo = append(todo, txs[i])
	}
	if len(todo) == 0 {
		return
	}
	r, err := a.store.ReaderAt(a.store.Version())
	if err != nil {
		return // the ledger verifies them itself
	}
	workers := min(runtime.NumCPU(), len(todo))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(todo); i += workers {
				ledger.PreVerify(r, a.sigs, todo[i])
			}
		}()
	}
	wg.Wait()
}

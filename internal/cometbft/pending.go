package cometbft

import (
	"sync"

	"medledger"
)

// pendingTTL is how many blocks a tx stays "pending" without being
// committed before the node forgets it, in case CometBFT dropped it from
// the mempool by a path the app does not see (DESIGN §6).
const pendingTTL = 200

// pendingSet is the app's view of its mempool: the txs CheckTx accepted
// that are not yet committed or refused on a recheck. It answers the API's
// "is this tx pending?" and keeps the mempool from dropping accepted txs.
//
// CometBFT checks whether its mempool is full both before and after
// CheckTx. Concurrent submissions can all pass the first check, and the
// second then drops some of them after CheckTx said yes: the submitter is
// told the tx was accepted, the ledger's nonce view has moved past it, and
// the account's next tx is refused as out of order. So CheckTx refuses a
// new tx itself when the set is at the mempool's capacity. The set holds
// no fewer txs (or bytes) than the mempool: it gains a tx before the
// mempool does, and loses one no earlier (refused on a recheck, committed
// at Commit, both under the mempool's lock), so a tx CheckTx admits finds
// room. The one exception is a tx that waited pendingTTL blocks in the
// mempool, which the set forgets.
type pendingSet struct {
	mu       sync.Mutex
	txs      map[string]pendingTx // hex tx hash
	bytes    int64
	maxTxs   int   // the mempool's capacity; zero for no limit
	maxBytes int64 // zero for no limit
}

type pendingTx struct {
	height int64 // when CheckTx accepted it
	size   int
}

func newPendingSet() *pendingSet { return &pendingSet{txs: make(map[string]pendingTx)} }

// limit sets the capacity to the mempool's.
func (p *pendingSet) limit(txs int, bytes int64) {
	p.mu.Lock()
	p.maxTxs, p.maxBytes = txs, bytes
	p.mu.Unlock()
}

// room refuses a tx of size bytes when the mempool has no room for it.
func (p *pendingSet) room(size int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if (p.maxTxs > 0 && len(p.txs) >= p.maxTxs) || (p.maxBytes > 0 && p.bytes+int64(size) > p.maxBytes) {
		return medledger.Errorf(medledger.KindUnavailable, "mempool is full; retry later")
	}
	return nil
}

func (p *pendingSet) add(key string, size int, height int64) {
	p.mu.Lock()
	if old, ok := p.txs[key]; ok {
		p.bytes -= int64(old.size)
	}
	p.txs[key] = pendingTx{height: height, size: size}
	p.bytes += int64(size)
	p.mu.Unlock()
}

func (p *pendingSet) remove(keys ...string) {
	p.mu.Lock()
	for _, k := range keys {
		if t, ok := p.txs[k]; ok {
			p.bytes -= int64(t.size)
			delete(p.txs, k)
		}
	}
	p.mu.Unlock()
}

func (p *pendingSet) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.txs[key]
	return ok
}

// missing returns the indexes of the keys that are not in the set.
func (p *pendingSet) missing(keys []string) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for i, k := range keys {
		if _, ok := p.txs[k]; !ok {
			out = append(out, i)
		}
	}
	return out
}

// expire forgets the txs accepted more than pendingTTL blocks before
// height.
func (p *pendingSet) expire(height int64) {
	p.mu.Lock()
	for k, t := range p.txs {
		if height-t.height > pendingTTL {
			p.bytes -= int64(t.size)
			delete(p.txs, k)
		}
	}
	p.mu.Unlock()
}

func (p *pendingSet) reset() {
	p.mu.Lock()
	clear(p.txs)
	p.bytes = 0
	p.mu.Unlock()
}

func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.txs)
}

package ledger_test

import (
	"slices"
	"testing"

	"medledger"
	"medledger/internal/ledger"
	"medledger/internal/state"
)

// countingCache is a SigCache that counts its hits.
type countingCache struct {
	m    map[[32]byte]bool
	hits int
}

func (c *countingCache) Seen(k [32]byte) bool {
	if c.m[k] {
		c.hits++
	}
	return c.m[k]
}
func (c *countingCache) Add(k [32]byte) { c.m[k] = true }

// TestSigCacheChangesNothing runs the determinism workload (which mixes
// successes and failures of every module) with the signature
// cache filled by CheckTx, as on a node, and without it: every result and
// every app hash must be the same, and the cache must have been used.
func TestSigCacheChangesNothing(t *testing.T) {
	g, txs := workload(400)
	plain := run(t, state.NewMemStore(), g, txs, []int{50})
	cache := &countingCache{m: map[[32]byte]bool{}}
	cached := runCached(t, state.NewMemStore(), g, txs, []int{50}, cache)
	if !slices.Equal(plain.results, cached.results) {
		for i := range plain.results {
			if plain.results[i] != cached.results[i] {
				t.Fatalf("tx %d: %s without the cache, %s with it", i, plain.results[i], cached.results[i])
			}
		}
	}
	for i := range plain.hashes {
		if string(plain.hashes[i]) != string(cached.hashes[i]) {
			t.Fatalf("app hash of block %d differs with the cache", i+1)
		}
	}
	if cache.hits == 0 {
		t.Fatal("DeliverTx never found a signature CheckTx had verified")
	}
}

// TestSigCacheRefusesForgery caches a genuine tx, then presents the same tx
// with its signature altered: the cache must not vouch for it.
func TestSigCacheRefusesForgery(t *testing.T) {
	g, txs := workload(50)
	l := ledger.New(state.NewMemStore(), chainID)
	l.SetSigCache(&countingCache{m: map[[32]byte]bool{}})
	if _, err := l.InitChain(medledger.Env{ChainID: chainID, Time: 1_700_000_000}, g); err != nil {
		t.Fatal(err)
	}
	// The first workload tx that CheckTx accepts.
	var good []byte
	for _, tx := range txs {
		if l.CheckTx(tx, false).OK() {
			good = tx
			break
		}
	}
	if good == nil {
		t.Fatal("no tx of the workload passes CheckTx")
	}
	tx, err := medledger.DecodeTx(good)
	if err != nil {
		t.Fatal(err)
	}
	tx.Signature[0] ^= 1
	forged, err := tx.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r := l.CheckTx(forged, true); r.Code != medledger.KindBadSignature {
		t.Fatalf("a forged copy of a cached tx: code %s (%s), want bad signature", r.Code, r.Log)
	}
}

package cometbft

import (
	"testing"

	"medledger"
)

// TestPendingSetCapacity checks the admission that keeps CometBFT's
// mempool from dropping txs CheckTx accepted: a tx is refused (as
// unavailable, so that clients retry) once the set holds the mempool's
// capacity in txs or bytes, and admitted again once a tx leaves.
func TestPendingSetCapacity(t *testing.T) {
	p := newPendingSet()
	p.limit(2, 100)
	if err := p.room(60); err != nil {
		t.Fatalf("empty set refused a tx: %v", err)
	}
	p.add("a", 60, 1)
	if err := p.room(41); medledger.KindOf(err) != medledger.KindUnavailable {
		t.Fatalf("101 bytes of 100 admitted: %v", err)
	}
	if err := p.room(40); err != nil {
		t.Fatalf("100 bytes of 100 refused: %v", err)
	}
	p.add("b", 10, 1)
	p.add("b", 10, 2) // the same tx again counts once
	if err := p.room(1); medledger.KindOf(err) != medledger.KindUnavailable {
		t.Fatalf("a third tx admitted to a set of two: %v", err)
	}
	if got := p.missing([]string{"a", "x", "b", "y"}); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("missing = %v, want [1 3]", got)
	}
	p.remove("a", "nosuch")
	if err := p.room(90); err != nil || p.has("a") || !p.has("b") {
		t.Fatalf("after a left: room %v, has a %v, has b %v", err, p.has("a"), p.has("b"))
	}
	p.expire(2 + pendingTTL) // b was last accepted at 2
	if !p.has("b") {
		t.Fatal("expired a tx before its TTL")
	}
	p.expire(3 + pendingTTL)
	if p.has("b") || p.len() != 0 || p.bytes != 0 {
		t.Fatalf("after expiry: %d txs, %d bytes", p.len(), p.bytes)
	}
	p.add("c", 5, 1)
	p.reset()
	if p.len() != 0 || p.bytes != 0 {
		t.Fatal("reset left txs")
	}
	p.limit(0, 0)
	p.add("d", 1<<20, 1)
	if err := p.room(1 << 20); err != nil {
		t.Fatalf("no limit, yet refused: %v", err)
	}
}

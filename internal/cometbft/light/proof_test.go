package light

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
	"github.com/cometbft/cometbft/types"

	"medledger"
)

// wire converts CometBFT's proof to the API's.
func wire(p *merkle.Proof) medledger.MerkleProof {
	out := medledger.MerkleProof{Total: p.Total, Index: p.Index, LeafHash: p.LeafHash}
	for _, a := range p.Aunts {
		out.Aunts = append(out.Aunts, a)
	}
	return out
}

// TestMerkleAgreesWithCometBFT checks medledger's verifier, which the web
// portal runs in the browser, against the proofs CometBFT's crypto/merkle
// generates for random leaf sets: every genuine proof verifies to the
// root CometBFT computes, and every tampered one (leaf, index, total,
// aunt, root, a missing or extra aunt) fails in both, and both agree on
// every one.
func TestMerkleAgreesWithCometBFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 64, 100, 257} {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = make([]byte, 1+rng.IntN(80))
			for j := range leaves[i] {
				leaves[i][j] = byte(rng.Uint32())
			}
		}
		root, proofs := merkle.ProofsFromByteSlices(leaves)
		if !bytes.Equal(root, merkle.HashFromByteSlices(leaves)) {
			t.Fatalf("%d leaves: CometBFT's roots disagree", n)
		}
		for i, cp := range proofs {
			p := wire(cp)
			got, err := p.Root(leaves[i])
			if err != nil || !bytes.Equal(got, root) {
				t.Fatalf("%d leaves, leaf %d: root %X, %v; CometBFT's is %X", n, i, got, err, root)
			}
			if err := p.Verify(root, leaves[i]); err != nil {
				t.Fatalf("%d leaves, leaf %d: %v", n, i, err)
			}
			for name, tamper := range tampers(rng, leaves[i], root) {
				q := wire(cp)
				q.Aunts = append([]medledger.HexBytes(nil), q.Aunts...)
				leaf, r := tamper(&q)
				mine := q.Verify(r, leaf)
				cq := &merkle.Proof{Total: q.Total, Index: q.Index, LeafHash: q.LeafHash}
				for _, a := range q.Aunts {
					cq.Aunts = append(cq.Aunts, a)
				}
				theirs := cq.Verify(r, leaf)
				if (mine == nil) != (theirs == nil) {
					t.Fatalf("%d leaves, leaf %d, %s: medledger says %v, CometBFT %v", n, i, name, mine, theirs)
				}
				// A larger total can leave a left leaf's path unchanged:
				// the total is only checked through the path's shape.
				if mine == nil && name != "total" {
					t.Fatalf("%d leaves, leaf %d, %s: tampered proof verified", n, i, name)
				}
			}
		}
	}
}

type tamper func(p *medledger.MerkleProof) (leaf, root []byte)

// tampers are the ways a proof of leaf under root is altered.
func tampers(rng *rand.Rand, leaf, root []byte) map[string]tamper {
	flip := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		c[rng.IntN(len(c))] ^= 1 << rng.IntN(8)
		return c
	}
	ts := map[string]tamper{
		"leaf": func(p *medledger.MerkleProof) ([]byte, []byte) { return flip(leaf), root },
		"leaf and its hash": func(p *medledger.MerkleProof) ([]byte, []byte) {
			l := flip(leaf)
			h := sha256.Sum256(append([]byte{0}, l...))
			p.LeafHash = h[:]
			return l, root
		},
		"root": func(p *medledger.MerkleProof) ([]byte, []byte) { return leaf, flip(root) },
		"extra aunt": func(p *medledger.MerkleProof) ([]byte, []byte) {
			p.Aunts = append(p.Aunts, root)
			return leaf, root
		},
		"total": func(p *medledger.MerkleProof) ([]byte, []byte) {
			p.Total += 1 + int64(rng.IntN(3))
			if p.Total == 2 && len(p.Aunts) == 0 {
				p.Total = 0
			}
			return leaf, root
		},
	}
	ts["index"] = func(p *medledger.MerkleProof) ([]byte, []byte) {
		if p.Total == 1 {
			p.Index = 1
		} else {
			p.Index = (p.Index + 1 + int64(rng.IntN(int(p.Total-1)))) % p.Total
		}
		return leaf, root
	}
	ts["aunt"] = func(p *medledger.MerkleProof) ([]byte, []byte) {
		if len(p.Aunts) == 0 {
			return flip(leaf), root
		}
		i := rng.IntN(len(p.Aunts))
		p.Aunts[i] = flip(p.Aunts[i])
		return leaf, root
	}
	ts["missing aunt"] = func(p *medledger.MerkleProof) ([]byte, []byte) {
		if len(p.Aunts) == 0 {
			p.Aunts = append(p.Aunts, root)
		} else {
			p.Aunts = p.Aunts[1:]
		}
		return leaf, root
	}
	return ts
}

// TestResultCode decodes the code from the result leaves CometBFT hashes
// into the last results hash.
func TestResultCode(t *testing.T) {
	for _, code := range []uint32{0, 1, 9, 127, 128, 300, 1 << 31} {
		rs := types.NewResults([]*abci.ExecTxResult{{Code: code, Data: []byte("data"), GasWanted: 5, GasUsed: -3, Log: "not hashed", Info: "x"}})
		leaf, err := rs[0].Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := medledger.ResultCode(leaf)
		if err != nil || got != code {
			t.Fatalf("code %d: got %d, %v", code, got, err)
		}
		if _, err := medledger.ResultCode(leaf[:len(leaf)-1]); err == nil && len(leaf) > 0 {
			t.Fatalf("code %d: a truncated leaf decoded", code)
		}
	}
}

// TestVerifyTx runs VerifyTx on a tx proof built as the node builds it
// (internal/cometbft's TxProof), then on tampered copies.
func TestVerifyTx(t *testing.T) {
	txs := types.Txs{types.Tx("first"), types.Tx("second"), types.Tx("third")}
	results := types.NewResults([]*abci.ExecTxResult{{Code: 0}, {Code: 9, Log: "refused"}, {Code: 0}})
	const i = 1
	tp := txs.Proof(i)
	leaf, _ := results[i].Marshal()
	hash := txs[i].Hash()
	good := func() (*medledger.TxStatus, *medledger.Header, *medledger.Header) {
		st := &medledger.TxStatus{Hash: hash, Status: medledger.TxCommitted, Height: 5, Index: i, Code: 9,
			Proof: &medledger.TxProof{Height: 5, Index: i, Tx: txs[i], DataHash: medledger.HexBytes(tp.RootHash), Proof: wire(&tp.Proof),
				Result: &medledger.ResultProof{Leaf: leaf, Proof: wire(ptr(results.ProveResult(i)))}}}
		return st, &medledger.Header{Height: 5, DataHash: txs.Hash()}, &medledger.Header{Height: 6, LastResultsHash: results.Hash()}
	}
	st, block, next := good()
	for _, c := range medledger.CheckTxProof(hash, st, block, next) {
		if !c.OK || c.Detail == "" || c.Check == "" {
			t.Fatalf("check %+v", c)
		}
	}
	if err := VerifyTx(hash, st, block, next); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		failing []string
		tamper  func(st *medledger.TxStatus, block, next *medledger.Header)
	}{
		"other tx bytes":  {[]string{medledger.CheckTxHash, medledger.CheckInclusion}, func(st *medledger.TxStatus, _, _ *medledger.Header) { st.Proof.Tx = txs[0] }},
		"other height":    {[]string{medledger.CheckTxPlace}, func(st *medledger.TxStatus, _, _ *medledger.Header) { st.Height = 4 }},
		"other data hash": {[]string{medledger.CheckInclusion}, func(_ *medledger.TxStatus, block, _ *medledger.Header) { block.DataHash = results.Hash() }},
		"flipped aunt": {[]string{medledger.CheckInclusion}, func(st *medledger.TxStatus, _, _ *medledger.Header) {
			a := append([]byte(nil), st.Proof.Proof.Aunts[0]...)
			a[0] ^= 1
			st.Proof.Proof.Aunts[0] = a
		}},
		"other results": {[]string{medledger.CheckResult}, func(_ *medledger.TxStatus, _, next *medledger.Header) { next.LastResultsHash = txs.Hash() }},
		"code says ok":  {[]string{medledger.CheckCode}, func(st *medledger.TxStatus, _, _ *medledger.Header) { st.Code = 0 }},
	}
	for name, c := range cases {
		st, block, next := good()
		c.tamper(st, block, next)
		var failed []string
		for _, ch := range medledger.CheckTxProof(hash, st, block, next) {
			if !ch.OK {
				failed = append(failed, ch.ID)
			}
		}
		if !slices.Equal(failed, c.failing) {
			t.Errorf("%s: failed checks %v, want %v", name, failed, c.failing)
		}
		if err := VerifyTx(hash, st, block, next); !errors.Is(err, ErrVerification) {
			t.Errorf("%s: VerifyTx returned %v", name, err)
		}
	}
	st.Proof = nil
	for _, c := range medledger.CheckTxProof(hash, st, block, next) {
		if c.OK || c.Detail != "the node sent no proof" {
			t.Fatalf("no proof: %+v", c)
		}
	}
}

func ptr[T any](v T) *T { return &v }

package medledger

import (
	"crypto/sha256"
	"testing"
)

// TestMerkleProofByHand checks the verifier on a three-leaf tree built by
// hand with RFC 6962 hashing (internal/cometbft/light checks it against
// CometBFT's own proofs): root = H(1 | H(1 | a | b) | c).
func TestMerkleProofByHand(t *testing.T) {
	leaf := func(b string) []byte { h := sha256.Sum256(append([]byte{0}, b...)); return h[:] }
	inner := func(l, r []byte) []byte { h := sha256.Sum256(append(append([]byte{1}, l...), r...)); return h[:] }
	a, b, c := leaf("a"), leaf("b"), leaf("c")
	ab := inner(a, b)
	root := inner(ab, c)
	proofs := []MerkleProof{
		{Total: 3, Index: 0, LeafHash: a, Aunts: []HexBytes{b, c}},
		{Total: 3, Index: 1, LeafHash: b, Aunts: []HexBytes{a, c}},
		{Total: 3, Index: 2, LeafHash: c, Aunts: []HexBytes{ab}},
	}
	for i, p := range proofs {
		if err := p.Verify(root, []byte{"abc"[i]}); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}
	bad := []MerkleProof{
		{Total: 3, Index: 1, LeafHash: a, Aunts: []HexBytes{b, c}}, // wrong index
		{Total: 3, Index: 0, LeafHash: a, Aunts: []HexBytes{c, b}}, // aunts swapped
		{Total: 3, Index: 0, LeafHash: a, Aunts: []HexBytes{b}},    // aunt missing
		{Total: 3, Index: 3, LeafHash: a, Aunts: []HexBytes{b, c}}, // index out of range
		{Total: 0, Index: 0, LeafHash: a},                          // no tree
		{Total: 1, Index: 0, LeafHash: a, Aunts: []HexBytes{b}},    // extra aunt
		{Total: 3, Index: 0, LeafHash: b, Aunts: []HexBytes{b, c}}, // leaf hash not the leaf's
	}
	for i, p := range bad {
		if err := p.Verify(root, []byte("a")); err == nil {
			t.Errorf("bad proof %d verified", i)
		}
	}
	if err := (MerkleProof{Total: 1, LeafHash: a}).Verify(a, []byte("a")); err != nil {
		t.Fatalf("single leaf: %v", err)
	}
}

func TestResultCodeMalformed(t *testing.T) {
	for _, leaf := range [][]byte{{0x08}, {0x08, 0x80}, {0x12, 0x05, 1}, {0x07}, {0x00, 0x01}} {
		if _, err := ResultCode(leaf); err == nil {
			t.Errorf("leaf %x decoded", leaf)
		}
	}
	if c, err := ResultCode(nil); err != nil || c != 0 {
		t.Fatalf("empty leaf: %d, %v", c, err)
	}
	if c, err := ResultCode([]byte{0x08, 0x96, 0x01, 0x12, 0x01, 'x'}); err != nil || c != 150 {
		t.Fatalf("code 150: %d, %v", c, err)
	}
}

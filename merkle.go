package medledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
)

// This file verifies tx proofs with the standard library only, so that the
// light client (internal/cometbft/light), the CLI and the web portal's
// crypto module, compiled to WebAssembly, share one implementation.

// maxAunts bounds a Merkle proof's path, as CometBFT does: 100 levels are
// more leaves than any block holds.
const maxAunts = 100

// merkleLeaf and merkleInner are RFC 6962's leaf and inner node hashes,
// which CometBFT's simple Merkle trees use.
func merkleLeaf(leaf []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	return h.Sum(nil)
}

func merkleInner(left, right []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

// splitPoint is the size of a tree's left subtree: the largest power of
// two below n (n > 1).
func splitPoint(n int64) int64 {
	k := int64(1)
	for k*2 < n {
		k *= 2
	}
	return k
}

// Root returns the root that the proof computes for leaf: the leaf's hash
// (which must be the proof's LeafHash) combined with the aunts up the
// tree. It fails on a proof whose shape does not fit its index and total.
func (p MerkleProof) Root(leaf []byte) ([]byte, error) {
	switch {
	case p.Total <= 0:
		return nil, fmt.Errorf("proof total %d is not positive", p.Total)
	case p.Index < 0 || p.Index >= p.Total:
		return nil, fmt.Errorf("proof index %d is outside 0..%d", p.Index, p.Total-1)
	case len(p.Aunts) > maxAunts:
		return nil, fmt.Errorf("proof has %d aunts, more than %d", len(p.Aunts), maxAunts)
	}
	lh := merkleLeaf(leaf)
	if !bytes.Equal(lh, p.LeafHash) {
		return nil, fmt.Errorf("the leaf hashes to %X, the proof's leaf hash is %X", lh, []byte(p.LeafHash))
	}
	aunts := make([][]byte, len(p.Aunts))
	for i, a := range p.Aunts {
		aunts[i] = a
	}
	root := rootFromAunts(p.Index, p.Total, lh, aunts)
	if root == nil {
		return nil, fmt.Errorf("%d aunts do not fit leaf %d of %d", len(p.Aunts), p.Index, p.Total)
	}
	return root, nil
}

// rootFromAunts climbs from a leaf's hash to the root, the aunts ordered
// from the leaf up; nil when their number does not fit the tree's shape.
func rootFromAunts(index, total int64, leafHash []byte, aunts [][]byte) []byte {
	if total == 1 {
		if len(aunts) != 0 {
			return nil
		}
		return leafHash
	}
	if len(aunts) == 0 {
		return nil
	}
	last, rest := aunts[len(aunts)-1], aunts[:len(aunts)-1]
	left := splitPoint(total)
	if index < left {
		h := rootFromAunts(index, left, leafHash, rest)
		if h == nil {
			return nil
		}
		return merkleInner(h, last)
	}
	h := rootFromAunts(index-left, total-left, leafHash, rest)
	if h == nil {
		return nil
	}
	return merkleInner(last, h)
}

// Verify checks that leaf is leaf Index of Total in the tree whose root is
// root.
func (p MerkleProof) Verify(root, leaf []byte) error {
	got, err := p.Root(leaf)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, root) {
		return fmt.Errorf("the path leads to %X, not to %X", got, root)
	}
	return nil
}

// ProofCheck is one check of a tx proof and its outcome: Check says what
// was checked, Detail what was found.
type ProofCheck struct {
	ID     string `json:"id"`
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// The checks of CheckTxProof, by ID, in order.
const (
	CheckTxHash    = "hash"      // sha256 of the proven tx bytes is the tx hash
	CheckTxPlace   = "place"     // heights and indexes agree
	CheckInclusion = "inclusion" // the Merkle path leads to the data hash of block H
	CheckResult    = "result"    // the result's path leads to the last results hash of block H+1
	CheckCode      = "code"      // the committed result code is the one the node reports
)

// CheckTxProof checks a committed tx's status and proof against the
// headers of its block (block) and of the next one (next), and returns
// every check with its outcome, in order. The headers are trusted as
// given: a light client verifies them first. Log and events are not
// covered by any header, so no check covers them.
func CheckTxProof(hash []byte, st *TxStatus, block, next *Header) []ProofCheck {
	checks := []ProofCheck{
		{ID: CheckTxHash, Check: "The tx's bytes hash (SHA-256) to the tx hash asked for"},
		{ID: CheckTxPlace, Check: "The node's status, the proof and the two headers agree on the block and the tx's index"},
		{ID: CheckInclusion, Check: "The Merkle path from the tx leads to the data hash of its block"},
		{ID: CheckResult, Check: "The Merkle path from the tx's result leads to the last results hash of the next block"},
		{ID: CheckCode, Check: "The result code committed in the block is the one the node reports"},
	}
	set := func(i int, err error, ok string) {
		checks[i].OK = err == nil
		if err != nil {
			checks[i].Detail = err.Error()
		} else {
			checks[i].Detail = ok
		}
	}
	var p *TxProof
	if st != nil {
		p = st.Proof
	}
	if p == nil || p.Result == nil || block == nil || next == nil {
		why := "the node sent no proof"
		if p != nil && p.Result == nil {
			why = "the node sent no proof of the result"
		} else if p != nil {
			why = "a block header is missing"
		}
		for i := range checks {
			checks[i].Detail = why
		}
		return checks
	}
	txHash := TxHash(p.Tx)
	switch {
	case !bytes.Equal(st.Hash, hash):
		set(0, fmt.Errorf("the node answered for tx %X", []byte(st.Hash)), "")
	case !bytes.Equal(txHash, hash):
		set(0, fmt.Errorf("the proven tx bytes hash to %X", txHash), "")
	default:
		set(0, nil, fmt.Sprintf("SHA-256 of the %d bytes is %X", len(p.Tx), txHash))
	}
	switch {
	case p.Height != st.Height || p.Height != block.Height || next.Height != block.Height+1:
		set(1, fmt.Errorf("heights disagree: status %d, proof %d, headers %d and %d", st.Height, p.Height, block.Height, next.Height), "")
	case p.Index != st.Index || p.Proof.Index != int64(p.Index) || p.Result.Proof.Index != int64(p.Index):
		set(1, fmt.Errorf("indexes disagree: status %d, proof %d, tx path %d, result path %d", st.Index, p.Index, p.Proof.Index, p.Result.Proof.Index), "")
	default:
		set(1, nil, fmt.Sprintf("tx %d of %d in block %d; results in block %d", p.Index+1, p.Proof.Total, block.Height, next.Height))
	}
	err := p.Proof.Verify(block.DataHash, txHash)
	if err == nil && !bytes.Equal(p.DataHash, block.DataHash) {
		err = fmt.Errorf("the proof names data hash %X, the header has %X", []byte(p.DataHash), []byte(block.DataHash))
	}
	if err != nil {
		err = fmt.Errorf("not included in block %d: %w", block.Height, err)
	}
	set(2, err, fmt.Sprintf("root %X is the data hash of block %d", []byte(block.DataHash), block.Height))
	if err := p.Result.Proof.Verify(next.LastResultsHash, p.Result.Leaf); err != nil {
		set(3, fmt.Errorf("result not committed by block %d: %w", next.Height, err), "")
	} else {
		set(3, nil, fmt.Sprintf("root %X is the last results hash of block %d", []byte(next.LastResultsHash), next.Height))
	}
	code, err := ResultCode(p.Result.Leaf)
	switch {
	case err != nil:
		set(4, fmt.Errorf("result: %w", err), "")
	case Kind(code) != st.Code:
		set(4, fmt.Errorf("the node says code %d, the block's results say %d", st.Code, code), "")
	default:
		set(4, nil, fmt.Sprintf("code %d (%s)", code, Kind(code)))
	}
	return checks
}

// ResultCode decodes the code of a tx result leaf: the protobuf encoding
// of CometBFT's ExecTxResult with its deterministic fields (code is field
// 1; absent means 0).
func ResultCode(leaf []byte) (uint32, error) {
	var code uint64
	for len(leaf) > 0 {
		key, n := uvarint(leaf)
		if n <= 0 {
			return 0, errors.New("malformed result leaf")
		}
		leaf = leaf[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			v, n := uvarint(leaf)
			if n <= 0 {
				return 0, errors.New("malformed result leaf")
			}
			leaf = leaf[n:]
			if field == 1 {
				code = v
			}
		case 1, 5:
			size := 8
			if wire == 5 {
				size = 4
			}
			if len(leaf) < size {
				return 0, errors.New("malformed result leaf")
			}
			leaf = leaf[size:]
		case 2:
			l, n := uvarint(leaf)
			if n <= 0 || l > uint64(len(leaf)-n) {
				return 0, errors.New("malformed result leaf")
			}
			leaf = leaf[n+int(l):]
		default:
			return 0, fmt.Errorf("result leaf has wire type %d", wire)
		}
		if field == 0 {
			return 0, errors.New("malformed result leaf")
		}
	}
	if code > 1<<32-1 {
		return 0, fmt.Errorf("result code %d is out of range", code)
	}
	return uint32(code), nil
}

// uvarint decodes a protobuf varint; n <= 0 when malformed.
func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

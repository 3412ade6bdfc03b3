package medledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// This file checks a light block (GET /v1/light/{height}: the protobuf
// encoding of CometBFT's tendermint.types.LightBlock) with the standard
// library only, so that the web portal's crypto module can check headers in
// the browser: CometBFT's own types do not compile to WebAssembly. It
// recomputes the header hash, checks that the validator set is the one the
// header names and that validators with more than two thirds of its voting
// power signed the header. It cannot tell whether that validator set is the
// chain's: only a light client from a trusted header can
// (internal/cometbft/light).

// SignedBlock is what CheckLightBlock found: the header's fields, the
// signing power and the validator set's total power.
type SignedBlock struct {
	Header      Header `json:"header"`
	SignedPower int64  `json:"signed_power"`
	TotalPower  int64  `json:"total_power"`
	Validators  int    `json:"validators"`
}

// pbField is one protobuf field: a varint or fixed value in v, a
// length-delimited one in b.
type pbField struct {
	num  uint64
	wire uint64
	v    uint64
	b    []byte
}

var errProto = errors.New("malformed protobuf")

func pbFields(b []byte) ([]pbField, error) {
	var out []pbField
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 || key>>3 == 0 {
			return nil, errProto
		}
		b = b[n:]
		f := pbField{num: key >> 3, wire: key & 7}
		switch f.wire {
		case 0:
			if f.v, n = uvarint(b); n <= 0 {
				return nil, errProto
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errProto
			}
			f.v, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errProto
			}
			f.v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, errProto
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, errProto
		}
		out = append(out, f)
	}
	return out, nil
}

// pbMessage is a decoded message: its last field of each number (as
// protobuf merges scalars) and every repeated one in order.
type pbMessage struct {
	last map[uint64]pbField
	all  map[uint64][]pbField
}

func pbDecode(b []byte) (pbMessage, error) {
	fs, err := pbFields(b)
	if err != nil {
		return pbMessage{}, err
	}
	m := pbMessage{last: map[uint64]pbField{}, all: map[uint64][]pbField{}}
	for _, f := range fs {
		m.last[f.num] = f
		m.all[f.num] = append(m.all[f.num], f)
	}
	return m, nil
}

func (m pbMessage) bytes(n uint64) []byte { return m.last[n].b }
func (m pbMessage) uint(n uint64) uint64  { return m.last[n].v }
func (m pbMessage) has(n uint64) bool     { _, ok := m.last[n]; return ok }

// pbAppend appends field n holding b (length-delimited), or v (varint).
func pbAppendBytes(out []byte, n uint64, b []byte) []byte {
	out = binary.AppendUvarint(out, n<<3|2)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

func pbAppendVarint(out []byte, n, v uint64) []byte {
	out = binary.AppendUvarint(out, n<<3)
	return binary.AppendUvarint(out, v)
}

// wrapped is CometBFT's cdcEncode of a header field: the value in a
// google.protobuf wrapper message, empty for the zero value.
func wrappedBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return pbAppendBytes(nil, 1, b)
}

// merkleRoot is CometBFT's HashFromByteSlices: the RFC 6962 root of items.
func merkleRoot(items [][]byte) []byte {
	switch len(items) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return merkleLeaf(items[0])
	}
	k := splitPoint(int64(len(items)))
	return merkleInner(merkleRoot(items[:k]), merkleRoot(items[k:]))
}

func pbTime(b []byte) (time.Time, error) {
	m, err := pbDecode(b)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(m.uint(1)), int64(int32(m.uint(2)))).UTC(), nil
}

// CheckLightBlock decodes a light block and checks it for chainID: its
// header's hash, that its validator set hashes to the header's validators
// hash, and that its commit is for that header, signed (Ed25519) by
// validators holding more than two thirds of the set's voting power.
func CheckLightBlock(chainID string, bz []byte) (*SignedBlock, error) {
	lb, err := pbDecode(bz)
	if err != nil {
		return nil, fmt.Errorf("light block: %w", err)
	}
	sh, err := pbDecode(lb.bytes(1))
	if err != nil {
		return nil, fmt.Errorf("signed header: %w", err)
	}
	hdr, err := pbDecode(sh.bytes(1))
	if err != nil || !sh.has(1) || !sh.has(2) || !lb.has(2) {
		return nil, errors.New("the light block lacks its header, commit or validators")
	}
	// The header hash: a Merkle root over its 14 fields, each encoded as
	// CometBFT's Header.Hash encodes it.
	leaves := make([][]byte, 14)
	leaves[0] = hdr.bytes(1)               // version
	leaves[1] = wrappedBytes(hdr.bytes(2)) // chain ID
	if h := hdr.uint(3); h != 0 {          // height
		leaves[2] = pbAppendVarint(nil, 1, h)
	}
	leaves[3] = hdr.bytes(4) // time
	leaves[4] = hdr.bytes(5) // last block ID
	for i := uint64(6); i <= 14; i++ {
		leaves[i-1] = wrappedBytes(hdr.bytes(i))
	}
	out := &SignedBlock{Header: Header{ChainID: string(hdr.bytes(2)), Height: int64(hdr.uint(3)),
		DataHash: hdr.bytes(7), ValidatorsHash: hdr.bytes(8), AppHash: hdr.bytes(11), LastResultsHash: hdr.bytes(12),
		ProposerAddress: hdr.bytes(14)}}
	if out.Header.Time, err = pbTime(hdr.bytes(4)); err != nil {
		return nil, fmt.Errorf("header time: %w", err)
	}
	switch {
	case out.Header.ChainID != chainID:
		return nil, fmt.Errorf("the header is of chain %q, not %q", out.Header.ChainID, chainID)
	case out.Header.Height < 1:
		return nil, errors.New("the header has no height")
	case len(out.Header.ValidatorsHash) != sha256.Size:
		return nil, errors.New("the header has no validators hash")
	}
	out.Header.BlockHash = merkleRoot(leaves)

	// The validator set, and that it is the one the header names.
	vs, err := pbDecode(lb.bytes(2))
	if err != nil {
		return nil, fmt.Errorf("validator set: %w", err)
	}
	type validator struct {
		addr  []byte
		key   ed25519.PublicKey
		power int64
	}
	var vals []validator
	var valLeaves [][]byte
	for _, f := range vs.all[1] {
		v, err := pbDecode(f.b)
		if err != nil {
			return nil, fmt.Errorf("validator: %w", err)
		}
		pk, err := pbDecode(v.bytes(2))
		if err != nil || len(pk.bytes(1)) != ed25519.PublicKeySize {
			return nil, errors.New("a validator's key is not an Ed25519 key")
		}
		power := int64(v.uint(3))
		if power <= 0 {
			return nil, errors.New("a validator has no voting power")
		}
		key := ed25519.PublicKey(pk.bytes(1))
		sum := sha256.Sum256(key)
		if !bytes.Equal(v.bytes(1), sum[:20]) {
			return nil, fmt.Errorf("validator %X's address is not its key's", v.bytes(1))
		}
		vals = append(vals, validator{addr: v.bytes(1), key: key, power: power})
		leaf := pbAppendBytes(nil, 1, v.bytes(2))
		valLeaves = append(valLeaves, pbAppendVarint(leaf, 2, uint64(power)))
		if out.TotalPower += power; out.TotalPower > 1<<60 {
			return nil, errors.New("the validators' total power overflows")
		}
	}
	out.Validators = len(vals)
	if len(vals) == 0 {
		return nil, errors.New("the light block has no validators")
	}
	if got := merkleRoot(valLeaves); !bytes.Equal(got, out.Header.ValidatorsHash) {
		return nil, fmt.Errorf("the validator set hashes to %X, the header names %X", got, []byte(out.Header.ValidatorsHash))
	}

	// The commit: for this header, signed by more than 2/3 of the power.
	commit, err := pbDecode(sh.bytes(2))
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	blockID, err := pbDecode(commit.bytes(3))
	if err != nil {
		return nil, fmt.Errorf("commit block ID: %w", err)
	}
	switch {
	case int64(commit.uint(1)) != out.Header.Height:
		return nil, fmt.Errorf("the commit is for height %d, the header is %d", int64(commit.uint(1)), out.Header.Height)
	case !bytes.Equal(blockID.bytes(1), out.Header.BlockHash):
		return nil, fmt.Errorf("the commit signs block %X, the header hashes to %X", blockID.bytes(1), []byte(out.Header.BlockHash))
	case len(commit.all[4]) != len(vals):
		return nil, fmt.Errorf("the commit has %d signatures for %d validators", len(commit.all[4]), len(vals))
	}
	// The bytes each validator signed: CometBFT's CanonicalVote for a
	// precommit, length-prefixed. The commit's block ID and each
	// signature's timestamp are reused as encoded, as CometBFT encodes them.
	round := int64(int32(commit.uint(2)))
	for i, f := range commit.all[4] {
		sig, err := pbDecode(f.b)
		if err != nil {
			return nil, fmt.Errorf("commit signature: %w", err)
		}
		if sig.uint(1) != 2 { // BLOCK_ID_FLAG_COMMIT; absent and nil votes do not count
			continue
		}
		if !bytes.Equal(sig.bytes(2), vals[i].addr) {
			return nil, fmt.Errorf("signature %d is by %X, the validator is %X", i, sig.bytes(2), vals[i].addr)
		}
		vote := pbAppendVarint(nil, 1, 2) // SIGNED_MSG_TYPE_PRECOMMIT
		vote = binary.AppendUvarint(vote, 2<<3|1)
		vote = binary.LittleEndian.AppendUint64(vote, uint64(out.Header.Height))
		if round != 0 {
			vote = binary.AppendUvarint(vote, 3<<3|1)
			vote = binary.LittleEndian.AppendUint64(vote, uint64(round))
		}
		vote = pbAppendBytes(vote, 4, commit.bytes(3))
		vote = pbAppendBytes(vote, 5, sig.bytes(3))
		if chainID != "" {
			vote = pbAppendBytes(vote, 6, []byte(chainID))
		}
		msg := append(binary.AppendUvarint(nil, uint64(len(vote))), vote...)
		if !ed25519.Verify(vals[i].key, msg, sig.bytes(4)) {
			return nil, fmt.Errorf("validator %X's signature does not verify", vals[i].addr)
		}
		out.SignedPower += vals[i].power
	}
	if out.SignedPower <= out.TotalPower*2/3 {
		return nil, fmt.Errorf("validators with %d of %d voting power signed, not more than two thirds", out.SignedPower, out.TotalPower)
	}
	return out, nil
}

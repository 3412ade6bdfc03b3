package medledger

import (
	"encoding/hex"
	"strings"
	"time"
)

// HexBytes is bytes that encode in JSON as upper-case hex, as CometBFT
// prints hashes.
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (h HexBytes) MarshalText() ([]byte, error) {
	return []byte(strings.ToUpper(hex.EncodeToString(h))), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *HexBytes) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	*h = d
	return err
}

// String returns upper-case hex.
func (h HexBytes) String() string { return strings.ToUpper(hex.EncodeToString(h)) }

// Tx statuses.
const (
	TxPending   = "pending"   // accepted into the mempool, not yet committed
	TxCommitted = "committed" // in a block; Code says whether it succeeded
	TxRejected  = "rejected"  // refused by CheckTx; never entered the mempool
	TxUnknown   = "unknown"   // this node knows nothing of it
)

// TxStatus is what the API says of a tx.
type TxStatus struct {
	Hash   HexBytes `json:"hash"`
	Status string   `json:"status"`
	Height int64    `json:"height,omitempty"`
	Index  uint32   `json:"index,omitempty"`
	Code   Kind     `json:"code"`
	Kind   string   `json:"kind,omitempty"`
	Log    string   `json:"log,omitempty"`
	Events []Event  `json:"events,omitempty"`
	// Proof proves a committed tx's inclusion and result; only with
	// GET /v1/txs/{hash}?prove=true.
	Proof *TxProof `json:"proof,omitempty"`
}

// OK reports whether the tx was accepted (pending) or committed successfully.
func (s *TxStatus) OK() bool {
	return s.Code == KindOK && (s.Status == TxPending || s.Status == TxCommitted)
}

// StateProof is a value read from the authenticated state at a height, with
// an ICS-23 proof of it, or of its absence when Value is empty. The proof's
// root is the app hash in the header of block Height+1.
type StateProof struct {
	Height int64  `json:"height"`
	Key    []byte `json:"key"`
	Value  []byte `json:"value,omitempty"`
	Proof  []byte `json:"proof,omitempty"`
}

// MerkleProof is a CometBFT simple Merkle proof (RFC 6962 hashing) of one
// leaf among Total.
type MerkleProof struct {
	Total    int64      `json:"total"`
	Index    int64      `json:"index"`
	LeafHash HexBytes   `json:"leaf_hash"`
	Aunts    []HexBytes `json:"aunts"`
}

// TxProof proves that a tx is in block Height and what its result was.
// Tx is the tx's bytes: sha256(Tx) is the tx hash and the leaf of Proof,
// whose root is the data hash in the header of block Height. Result proves
// the tx's deterministic result (code, data, gas) against the last results
// hash in the header of block Height+1. Log and events are not hashed into
// any header, so no proof covers them.
type TxProof struct {
	Height   int64        `json:"height"`
	Index    uint32       `json:"index"`
	Tx       []byte       `json:"tx"`
	DataHash HexBytes     `json:"data_hash"`
	Proof    MerkleProof  `json:"proof"`
	Result   *ResultProof `json:"result"`
}

// ResultProof proves one tx result of a block: Leaf is the protobuf
// encoding of CometBFT's ExecTxResult with only its deterministic fields
// (code, data, gas wanted, gas used), a leaf of the last results hash in
// the next block's header.
type ResultProof struct {
	Leaf  []byte      `json:"leaf"`
	Proof MerkleProof `json:"proof"`
}

// LightBlock is what a light client needs of a block: its signed header
// (header and commit) and the validator set that signed it. LightBlock is
// the protobuf encoding of CometBFT's tendermint.types.LightBlock; Hash is
// the header hash, for display only: clients recompute it.
type LightBlock struct {
	Height     int64    `json:"height"`
	Hash       HexBytes `json:"hash"`
	LightBlock []byte   `json:"light_block"`
}

// Header is the part of a block header clients need.
type Header struct {
	ChainID         string    `json:"chain_id"`
	Height          int64     `json:"height"`
	Time            time.Time `json:"time"`
	AppHash         HexBytes  `json:"app_hash"`
	BlockHash       HexBytes  `json:"block_hash"`
	DataHash        HexBytes  `json:"data_hash"`
	ValidatorsHash  HexBytes  `json:"validators_hash"`
	LastResultsHash HexBytes  `json:"last_results_hash"`
	ProposerAddress HexBytes  `json:"proposer_address"`
	NumTxs          int       `json:"num_txs"`
}

// BlockList is a page of committed blocks, newest first: GET /v1/blocks.
// Next is the before= value of the following (older) page, 0 when there is
// none.
type BlockList struct {
	Latest int64          `json:"latest"`
	Blocks []BlockSummary `json:"blocks"`
	Next   int64          `json:"next,omitempty"`
}

// BlockSummary is a committed block's public metadata: its header's
// height, time and proposer, its hash, and its txs' hashes, message types
// and result codes. Nothing of any tx's content.
type BlockSummary struct {
	Height          int64       `json:"height"`
	Time            time.Time   `json:"time"`
	Hash            HexBytes    `json:"hash"`
	ProposerAddress HexBytes    `json:"proposer_address"`
	NumTxs          int         `json:"num_txs"`
	Txs             []TxSummary `json:"txs"`
}

// TxSummary is one tx of a BlockSummary: its hash, its message type
// (empty if the bytes do not decode as a medledger tx) and its result.
type TxSummary struct {
	Hash HexBytes `json:"hash"`
	Type string   `json:"type"`
	Code Kind     `json:"code"`
	Kind string   `json:"kind,omitempty"`
}

// Validator is one member of the validator set.
type Validator struct {
	Address HexBytes `json:"address"`
	PubKey  []byte   `json:"pub_key"`
	Power   int64    `json:"power"`
}

// ValidatorUpdate changes a validator's voting power; 0 removes it. The
// ledger emits them at the end of a block and CometBFT applies them two
// blocks later.
type ValidatorUpdate struct {
	PubKey []byte `json:"pub_key"` // Ed25519
	Power  int64  `json:"power"`
}

// NodeStatus describes a node and the chain as it sees it.
type NodeStatus struct {
	ChainID         string      `json:"chain_id"`
	NodeID          string      `json:"node_id"`
	Moniker         string      `json:"moniker"`
	Version         string      `json:"version"`
	AppVersion      uint64      `json:"app_version"`
	LatestHeight    int64       `json:"latest_height"`
	LatestAppHash   HexBytes    `json:"latest_app_hash"`
	LatestBlockTime time.Time   `json:"latest_block_time"`
	CatchingUp      bool        `json:"catching_up"`
	Peers           int         `json:"peers"`
	Validators      []Validator `json:"validators"`
}

// Problem is an RFC 9457 problem details object, the body of every API
// error. Extension members carry medledger's error kind and code, and where
// relevant a tx's status or a proof of absence.
type Problem struct {
	Type     string      `json:"type"`
	Title    string      `json:"title"`
	Status   int         `json:"status"`
	Detail   string      `json:"detail,omitempty"`
	Instance string      `json:"instance,omitempty"`
	Kind     string      `json:"kind"`
	Code     Kind        `json:"code"`
	Tx       *TxStatus   `json:"tx,omitempty"`
	Proof    *StateProof `json:"proof,omitempty"`
}

// Signed HTTP requests: uploads and private queries carry these headers,
// with an Ed25519 signature over RequestSignBytes by the account's key.
const (
	HeaderAccount   = "X-Medledger-Account"
	HeaderTime      = "X-Medledger-Time" // Unix seconds
	HeaderSignature = "X-Medledger-Signature"
	// RequestSkew is how far a signed request's time may be from the node's.
	RequestSkew = 5 * time.Minute
)

// RequestSignBytes are the bytes a signed HTTP request signs: the method,
// the path with its query, the time and the hex sha256 of the body (for a
// blob upload, the blob ID, which the body must hash to).
func RequestSignBytes(method, pathAndQuery string, unix int64, bodyHash string) []byte {
	return []byte("medledger/http/v1\n" + method + "\n" + pathAndQuery + "\n" + time.Unix(unix, 0).UTC().Format(time.RFC3339) + "\n" + bodyHash)
}

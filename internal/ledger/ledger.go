// Package ledger is medledger's state machine. It decodes a tx, checks the
// envelope, signature and nonce, routes the message with one switch to its
// module, collects events and commits. It is pure: no clock, randomness, I/O,
// goroutines or map-order iteration. Time and height come from the block
// header through medledger.Env.
//
// A tx that fails leaves no writes behind: each tx runs on caches over the
// block's state that are written through only on success. A failed tx does
// not consume its nonce, so the signer's next tx reuses it.
package ledger

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"medledger"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/identity"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/internal/supply"
)

// Genesis is the app state in genesis.json.
type Genesis struct {
	Identity identity.Genesis `json:"identity"`
	// Validators are the validators in CometBFT's genesis, which the
	// adapter passes on (they are not part of the app state JSON).
	Validators []medledger.ValidatorUpdate `json:"-"`
}

// ParseGenesis decodes and validates genesis app state.
func ParseGenesis(b []byte) (*Genesis, error) {
	var g Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, medledger.Errorf(medledger.KindInvalid, "genesis app state: %v", err)
	}
	if err := g.Identity.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Result is the outcome of checking or executing one tx.
type Result struct {
	Code    medledger.Kind
	Log     string
	Events  []medledger.Event
	Signer  medledger.ID
	MsgType string
}

// OK reports whether the tx succeeded.
func (r Result) OK() bool { return r.Code == medledger.KindOK }

func fail(err error) Result {
	return Result{Code: medledger.KindOf(err), Log: err.Error()}
}

// Ledger is the state machine over a store.
type Ledger struct {
	store   state.Committer
	chainID string
	env     medledger.Env
	// pending is the mempool's view of nonces: the highest nonce CheckTx
	// accepted per signer since the last commit.
	pending map[medledger.ID]uint64
	// seen holds the unordered txs CheckTx accepted since the last commit.
	seen map[unorderedID]bool
	// updates are the validator updates of the block EndBlock finished.
	updates []medledger.ValidatorUpdate
	// sigs, if set, remembers signatures already verified (sigcache.go).
	sigs SigCache
}

type unorderedID struct {
	signer medledger.ID
	nonce  uint64
}

// New returns a ledger for the chain over store.
func New(store state.Committer, chainID string) *Ledger {
	return &Ledger{store: store, chainID: chainID, pending: make(map[medledger.ID]uint64), seen: make(map[unorderedID]bool)}
}

// ChainID returns the chain ID.
func (l *Ledger) ChainID() string { return l.chainID }

// Height returns the last committed height.
func (l *Ledger) Height() int64 { return l.store.Version() }

// Hash returns the last committed app hash.
func (l *Ledger) Hash() []byte { return l.store.Hash() }

// metaKey holds the state schema version.
var metaKey = []byte("lg/schema")

// NonceKey is the key of an account's last committed nonce.
func NonceKey(id medledger.ID) []byte { return state.Key("lg", "n", string(id)) }

// InitChain writes the genesis state and returns the app hash it gives.
func (l *Ledger) InitChain(env medledger.Env, g *Genesis) ([]byte, error) {
	if env.ChainID != l.chainID {
		return nil, medledger.Errorf(medledger.KindWrongChain, "genesis is for chain %q, ledger for %q", env.ChainID, l.chainID)
	}
	b := state.Batch{KV: state.NewCache(l.store), Index: state.NewCache(l.store.Index())}
	if err := identity.InitGenesis(b, env, &g.Identity); err != nil {
		return nil, err
	}
	if err := identity.InitValidators(b, env, g.Validators); err != nil {
		return nil, err
	}
	if err := b.KV.Set(metaKey, []byte(strconv.FormatUint(medledger.SchemaVersion, 10))); err != nil {
		return nil, err
	}
	if err := l.write(b); err != nil {
		return nil, err
	}
	return l.store.WorkingHash(), nil
}

func (l *Ledger) write(b state.Batch) error {
	if err := b.KV.(*state.Cache).Write(l.store); err != nil {
		return err
	}
	return b.Index.(*state.Cache).Write(l.store.Index())
}

// Nonce returns the last committed nonce of an account (0 if none).
func Nonce(r state.Reader, id medledger.ID) (uint64, error) {
	b, err := r.Get(NonceKey(id))
	if err != nil || b == nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, medledger.Errorf(medledger.KindInternal, "corrupt nonce for %s", id)
	}
	return binary.BigEndian.Uint64(b), nil
}

// unorderedKey marks an unordered tx as seen until its timeout height.
func unorderedKey(signer medledger.ID, nonce uint64) []byte {
	return state.Key("lg", "u", string(signer), strconv.FormatUint(nonce, 10))
}

// unorderedExpiry indexes seen unordered txs by timeout, for pruning.
func unorderedExpiry(timeout uint64, signer medledger.ID, nonce uint64) []byte {
	return state.Key("lg", "ux", fmt.Sprintf("%020d", timeout), string(signer), strconv.FormatUint(nonce, 10))
}

// canBeUnordered lists the message types that may travel unordered.
// Sensor readings are: each device orders its own batches by sequence
// number, and one relay must not stall thousands of devices behind a nonce.
func canBeUnordered(msgType string) bool {
	return msgType == audit.TypeAccess || msgType == supply.TypeReadings
}

// decodeMsg routes a message type to its module's decoder.
func decodeMsg(msgType string, b []byte) (any, error) {
	module, _, _ := strings.Cut(msgType, "/")
	switch module {
	case "identity":
		return identity.Decode(msgType, b)
	case "consent":
		return consent.Decode(msgType, b)
	case "records":
		return records.Decode(msgType, b)
	case "audit":
		return audit.Decode(msgType, b)
	case "supply":
		return supply.Decode(msgType, b)
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown message type %q", msgType)
}

// applyMsg routes a decoded message to the module that decoded it.
func applyMsg(b state.Batch, env medledger.Env, signer medledger.Principal, tx *medledger.Tx, m any) ([]medledger.Event, error) {
	dir := identity.Directory{R: b.KV}
	module, _, _ := strings.Cut(tx.MsgType, "/")
	switch module {
	case "identity":
		return identity.Apply(b, env, signer, m.(identity.Msg))
	case "consent":
		return consent.Apply(b, env, signer, dir, m.(consent.Msg))
	case "records":
		return records.Apply(b, env, signer, dir, m.(records.Msg))
	case "audit":
		return audit.Apply(b, env, signer, dir, m.(*audit.Access), tx.Nonce)
	case "supply":
		return supply.Apply(b, env, signer, dir, m.(supply.Msg))
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "no module for %s", tx.MsgType)
}

// checked is a tx that passed every check that does not change state.
type checked struct {
	tx     *medledger.Tx
	msg    any
	signer medledger.Principal
}

// check runs the stateless checks, resolves the signer in r, verifies the
// signature and checks the nonce is exactly after last.
func (l *Ledger) check(r state.Reader, raw []byte, last func(medledger.ID) (uint64, error)) (*checked, error) {
	tx, err := medledger.DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	if tx.ChainID != l.chainID {
		return nil, medledger.Errorf(medledger.KindWrongChain, "tx is for chain %q, this is %q", tx.ChainID, l.chainID)
	}
	if tx.Unordered != canBeUnordered(tx.MsgType) {
		if tx.Unordered {
			return nil, medledger.Errorf(medledger.KindMalformed, "message type %s cannot be sent unordered", tx.MsgType)
		}
		return nil, medledger.Errorf(medledger.KindMalformed, "message type %s is sent unordered, with a request id and a timeout height", tx.MsgType)
	}
	msg, err := decodeMsg(tx.MsgType, tx.Msg)
	if err != nil {
		return nil, err
	}
	signer, acct, err := identity.LoadPrincipal(r, tx.Signer)
	var pub ed25519.PublicKey
	switch {
	case err == nil:
		if acct.Status != medledger.StatusActive {
			return nil, medledger.Errorf(medledger.KindSuspended, "account %s is %s", signer.ID, acct.Status)
		}
		if !signer.Active() {
			return nil, medledger.Errorf(medledger.KindSuspended, "organisation %s of account %s is %s", signer.Org, signer.ID, signer.Status)
		}
		pub = acct.SigningKey
	case medledger.IsKind(err, medledger.KindUnknownAccount):
		// Only a self-registration may come from an unknown account, and
		// it is signed by the key it registers.
		reg, ok := msg.(*identity.RegisterPatient)
		if !ok {
			return nil, err
		}
		if reg.Keys.ID() != tx.Signer {
			return nil, medledger.Errorf(medledger.KindUnauthorized, "a patient registers with the key that signs the registration")
		}
		pub = reg.Keys.SigningKey
		signer = medledger.Principal{ID: tx.Signer}
	default:
		return nil, err
	}
	if err := verify(l.sigs, tx, pub, raw); err != nil {
		return nil, err
	}
	if tx.Unordered {
		next := uint64(l.store.Version() + 1)
		if tx.TimeoutHeight < next {
			return nil, medledger.Errorf(medledger.KindExpired, "the request timed out at height %d", tx.TimeoutHeight)
		}
		if tx.TimeoutHeight > next+medledger.MaxUnorderedWindow {
			return nil, medledger.Errorf(medledger.KindInvalid, "timeout height may be at most %d blocks ahead", medledger.MaxUnorderedWindow)
		}
		seen, err := r.Get(unorderedKey(tx.Signer, tx.Nonce))
		if err != nil {
			return nil, err
		}
		if seen != nil {
			return nil, medledger.Errorf(medledger.KindDuplicate, "request %d of %s was already logged", tx.Nonce, tx.Signer)
		}
		return &checked{tx: tx, msg: msg, signer: signer}, nil
	}
	prev, err := last(tx.Signer)
	if err != nil {
		return nil, err
	}
	if tx.Nonce != prev+1 {
		what := "replayed"
		if tx.Nonce > prev+1 {
			what = "out of order"
		}
		return nil, medledger.Errorf(medledger.KindBadNonce, "nonce %d is %s: expected %d for %s", tx.Nonce, what, prev+1, tx.Signer)
	}
	return &checked{tx: tx, msg: msg, signer: signer}, nil
}

// CheckTx decides whether a tx may enter the mempool: the stateless checks,
// the signature, and the nonce against the committed state plus the txs the
// mempool already holds. recheck is set when CometBFT re-checks the mempool
// after a commit.
func (l *Ledger) CheckTx(raw []byte, recheck bool) Result {
	c, err := l.check(l.store, raw, func(id medledger.ID) (uint64, error) {
		n, err := Nonce(l.store, id)
		if p := l.pending[id]; p > n {
			n = p
		}
		return n, err
	})
	if err != nil {
		return fail(err)
	}
	if c.tx.Unordered {
		id := unorderedID{c.tx.Signer, c.tx.Nonce}
		if l.seen[id] {
			return fail(medledger.Errorf(medledger.KindDuplicate, "request %d of %s is already pending", c.tx.Nonce, c.tx.Signer))
		}
		l.seen[id] = true
	} else {
		l.pending[c.tx.Signer] = c.tx.Nonce
	}
	return Result{Signer: c.tx.Signer, MsgType: c.tx.MsgType}
}

// BeginBlock starts executing a block.
func (l *Ledger) BeginBlock(env medledger.Env) error {
	if env.ChainID != l.chainID {
		return medledger.Errorf(medledger.KindWrongChain, "block is for chain %q", env.ChainID)
	}
	if env.Height != l.store.Version()+1 {
		return medledger.Errorf(medledger.KindInternal, "block %d after committed height %d", env.Height, l.store.Version())
	}
	l.env = env
	l.updates = nil
	return nil
}

// DeliverTx executes a tx in the current block. On failure nothing is
// written.
func (l *Ledger) DeliverTx(raw []byte) Result {
	c, err := l.check(l.store, raw, func(id medledger.ID) (uint64, error) { return Nonce(l.store, id) })
	if err != nil {
		return fail(err)
	}
	b := state.Batch{KV: state.NewCache(l.store), Index: state.NewCache(l.store.Index())}
	events, err := applyMsg(b, l.env, c.signer, c.tx, c.msg)
	if err != nil {
		r := fail(err)
		r.Signer, r.MsgType = c.tx.Signer, c.tx.MsgType
		return r
	}
	var n [8]byte
	if c.tx.Unordered {
		binary.BigEndian.PutUint64(n[:], c.tx.TimeoutHeight)
		err = errors.Join(b.KV.Set(unorderedKey(c.tx.Signer, c.tx.Nonce), n[:]),
			b.Index.Set(unorderedExpiry(c.tx.TimeoutHeight, c.tx.Signer, c.tx.Nonce), n[:]))
	} else {
		binary.BigEndian.PutUint64(n[:], c.tx.Nonce)
		err = b.KV.Set(NonceKey(c.tx.Signer), n[:])
	}
	if err != nil {
		return fail(err)
	}
	if err := l.write(b); err != nil {
		// The store failed half way: the node must stop rather than
		// commit a partial tx.
		panic("ledger: store write failed: " + err.Error())
	}
	msgEv := medledger.NewEvent("message", "signer", string(c.tx.Signer), "type", c.tx.MsgType,
		"nonce", strconv.FormatUint(c.tx.Nonce, 10))
	return Result{Events: append([]medledger.Event{msgEv}, events...), Signer: c.tx.Signer, MsgType: c.tx.MsgType}
}

// EndBlock finishes the block: it forgets the unordered txs whose timeout
// has passed, which can no longer be included anyway.
func (l *Ledger) EndBlock() error {
	prefix := []byte("lg/ux/")
	end := state.Key("lg", "ux", fmt.Sprintf("%020d", l.env.Height+1)) // timeouts up to this height
	var expired [][]byte
	err := l.store.Index().Iterate(prefix, end, func(k, _ []byte) bool {
		expired = append(expired, append([]byte(nil), k...))
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		parts := strings.Split(string(k), "/")
		nonce, perr := strconv.ParseUint(parts[4], 10, 64)
		if perr != nil {
			return medledger.Errorf(medledger.KindInternal, "bad unordered index key %q", k)
		}
		if err := errors.Join(l.store.Delete(unorderedKey(medledger.ID(parts[3]), nonce)), l.store.Index().Delete(k)); err != nil {
			return err
		}
	}
	l.updates, err = identity.TakeValidatorUpdates(l.store)
	return err
}

// ValidatorUpdates returns the validator set changes of the block that
// EndBlock just finished, in key order, for CometBFT.
func (l *Ledger) ValidatorUpdates() []medledger.ValidatorUpdate { return l.updates }

// WorkingHash returns the app hash the block's writes give.
func (l *Ledger) WorkingHash() []byte { return l.store.WorkingHash() }

// Commit persists the block and resets the mempool's nonce view; CometBFT
// re-checks the remaining mempool txs next, which rebuilds it.
func (l *Ledger) Commit() ([]byte, int64, error) {
	hash, v, err := l.store.Commit()
	if err != nil {
		return nil, 0, err
	}
	clear(l.pending)
	clear(l.seen)
	return hash, v, nil
}

// RebuildIndex recomputes every module's secondary index from the
// authenticated state into index, which should be empty.
func RebuildIndex(r state.Reader, index state.ReadWriter) error {
	return errors.Join(identity.RebuildIndex(r, index), consent.RebuildIndex(r, index),
		records.RebuildIndex(r, index), supply.RebuildIndex(r, index), rebuildUnordered(r, index))
}

func rebuildUnordered(r state.Reader, index state.ReadWriter) error {
	prefix := []byte("lg/u/")
	var err error
	iterErr := r.Iterate(prefix, state.PrefixEnd(prefix), func(k, v []byte) bool {
		parts := strings.Split(string(k), "/")
		nonce, perr := strconv.ParseUint(parts[3], 10, 64)
		if perr != nil || len(v) != 8 {
			err = medledger.Errorf(medledger.KindInternal, "bad unordered key %q", k)
			return false
		}
		err = index.Set(unorderedExpiry(binary.BigEndian.Uint64(v), medledger.ID(parts[2]), nonce), v)
		return err == nil
	})
	if iterErr != nil {
		return iterErr
	}
	return err
}

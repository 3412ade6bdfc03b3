// Package cometbft is the only importer of CometBFT. It adapts the pure
// ledger to ABCI 2.0, embeds a CometBFT node in the process with a local ABCI
// client, writes CometBFT's configuration files, and gives the API read
// access to the chain.
package cometbft

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"medledger"
	"medledger/internal/ledger"
	"medledger/internal/state"
)

// Store is what the adapter needs of the authenticated store.
type Store interface {
	state.Committer
	// Prove returns the value at key in a committed version and an ICS-23
	// proof of it, or of its absence.
	Prove(key []byte, version int64) (value, proof []byte, err error)
	// Rollback drops uncommitted writes.
	Rollback()
	// ReaderAt reads a committed version; it is safe for concurrent use.
	ReaderAt(version int64) (state.Reader, error)
}

// QueryPathKey is the ABCI query path for a raw authenticated key. The
// response carries the value and, when asked, an ICS-23 proof whose root is
// the app hash in the header of the following block.
const QueryPathKey = "/store/key"

// App is the ABCI application: it hands blocks to the ledger. CometBFT's
// local client serialises every call, so App's ledger needs no lock; the
// pending set is also read by API goroutines and has its own.
type App struct {
	abci.BaseApplication
	ledger *ledger.Ledger
	store  Store
	log    *slog.Logger
	sigs   *sigCache

	// OnCommit, if set, is called after each commit with the height, the
	// number of txs and how many of them failed, and the events of the
	// txs that succeeded.
	OnCommit func(height int64, txs, failed int, events []medledger.Event)

	snap *snapshots // state-sync snapshots (snapshot.go); nil if not enabled

	// AfterStoreCommit is a test-only hook (the crash-during-Commit
	// failpoint of internal/node): if set, Commit calls it once the app
	// state has committed the new version and before Commit returns to
	// CometBFT, whose own state is then one block behind the app's.
	AfterStoreCommit func(height int64)

	pending   *pendingSet
	finalized []string // pending keys of the block between FinalizeBlock and Commit
	txs       int
	failed    int
	events    []medledger.Event // of the block being finalized
}

// NewApp returns the ABCI application over a ledger and its store.
func NewApp(l *ledger.Ledger, s Store, log *slog.Logger) *App {
	a := &App{ledger: l, store: s, log: log, pending: newPendingSet(), sigs: newSigCache(sigCacheGeneration)}
	l.SetSigCache(a.sigs)
	return a
}

// Pending reports whether the node's mempool accepted a tx that has not
// been committed yet.
func (a *App) Pending(hash []byte) bool {
	return a.pending.has(hex.EncodeToString(hash))
}

// Info implements abci.Application.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	return &abci.ResponseInfo{
		Data:             "medledger",
		Version:          medledger.Version,
		AppVersion:       medledger.AppVersion,
		LastBlockHeight:  a.store.Version(),
		LastBlockAppHash: a.store.Hash(),
	}, nil
}

// InitChain implements abci.Application.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	g, err := ledger.ParseGenesis(req.AppStateBytes)
	if err != nil {
		return nil, err
	}
	for _, v := range req.Validators {
		ed := v.PubKey.GetEd25519()
		if ed == nil {
			return nil, fmt.Errorf("genesis validator with a non-Ed25519 key")
		}
		g.Validators = append(g.Validators, medledger.ValidatorUpdate{PubKey: ed, Power: v.Power})
	}
	env := medledger.Env{ChainID: req.ChainId, Height: req.InitialHeight - 1, Time: req.Time.Unix()}
	hash, err := a.ledger.InitChain(env, g)
	if err != nil {
		return nil, err
	}
	a.log.Info("initialised chain", "chain_id", req.ChainId, "regulators", len(g.Identity.Regulators), "threshold", g.Identity.Threshold)
	return &abci.ResponseInitChain{AppHash: hash}, nil
}

// CheckTx implements abci.Application.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	recheck := req.Type == abci.CheckTxType_Recheck
	key := hex.EncodeToString(medledger.TxHash(req.Tx))
	if !recheck {
		if err := a.pending.room(len(req.Tx)); err != nil {
			k := medledger.KindOf(err)
			return &abci.ResponseCheckTx{Code: uint32(k), Log: err.Error(), Codespace: codespace(k)}, nil
		}
	}
	r := a.ledger.CheckTx(req.Tx, recheck)
	if r.OK() && !recheck {
		a.pending.add(key, len(req.Tx), a.ledger.Height())
	} else if !r.OK() {
		a.pending.remove(key)
	}
	return &abci.ResponseCheckTx{Code: uint32(r.Code), Log: r.Log, Codespace: codespace(r.Code)}, nil
}

func codespace(k medledger.Kind) string {
	if k == medledger.KindOK {
		return ""
	}
	return medledger.Codespace
}

// ProcessProposal implements abci.Application. Every tx in a proposal is
// executed and its result recorded, failed or not, so there is nothing to
// reject a proposal for.
func (a *App) ProcessProposal(context.Context, *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock implements abci.Application.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	env := medledger.Env{ChainID: a.ledger.ChainID(), Height: req.Height, Time: req.Time.Unix()}
	keys := make([]string, len(req.Txs))
	for i, tx := range req.Txs {
		keys[i] = hex.EncodeToString(medledger.TxHash(tx))
	}
	a.preVerify(req.Txs, keys)
	if err := a.ledger.BeginBlock(env); err != nil {
		return nil, err
	}
	res := &abci.ResponseFinalizeBlock{TxResults: make([]*abci.ExecTxResult, len(req.Txs))}
	a.events = a.events[:0]
	failed := 0
	for i, tx := range req.Txs {
		r := a.ledger.DeliverTx(tx)
		if !r.OK() {
			failed++
		}
		a.events = append(a.events, r.Events...)
		res.TxResults[i] = &abci.ExecTxResult{Code: uint32(r.Code), Log: r.Log, Codespace: codespace(r.Code), Events: events(r.Events)}
	}
	if err := a.ledger.EndBlock(); err != nil {
		return nil, err
	}
	for _, u := range a.ledger.ValidatorUpdates() {
		res.ValidatorUpdates = append(res.ValidatorUpdates, abci.Ed25519ValidatorUpdate(u.PubKey, u.Power))
		a.log.Info("validator update", "pub_key", hex.EncodeToString(u.PubKey), "power", u.Power, "height", req.Height)
	}
	res.AppHash = a.ledger.WorkingHash()
	// The block's txs stay pending until Commit, when CometBFT removes
	// them from its mempool too (pendingSet).
	a.finalized = keys
	a.txs, a.failed = len(req.Txs), failed
	return res, nil
}

func events(evs []medledger.Event) []abci.Event {
	out := make([]abci.Event, len(evs))
	for i, e := range evs {
		attrs := make([]abci.EventAttribute, len(e.Attrs))
		for j, at := range e.Attrs {
			attrs[j] = abci.EventAttribute{Key: at.Key, Value: at.Value, Index: at.Index}
		}
		out[i] = abci.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}

// Commit implements abci.Application.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	start := time.Now()
	hash, height, err := a.ledger.Commit()
	if err != nil {
		return nil, err
	}
	if a.AfterStoreCommit != nil {
		a.AfterStoreCommit(height)
	}
	a.pending.remove(a.finalized...)
	a.finalized = nil
	a.pending.expire(height)
	if a.txs > 0 {
		a.log.Info("committed block", "height", height, "txs", a.txs, "failed", a.failed, "app_hash", hex.EncodeToString(hash), "commit_ms", time.Since(start).Milliseconds())
	} else {
		a.log.Debug("committed block", "height", height, "app_hash", hex.EncodeToString(hash))
	}
	a.snap.afterCommit(height)
	if a.OnCommit != nil {
		a.OnCommit(height, a.txs, a.failed, a.events)
	}
	return &abci.ResponseCommit{}, nil
}

// Query implements abci.Application. Path QueryPathKey reads one key of the
// authenticated state at a committed height (0 for the latest), with an
// ICS-23 proof when Prove is set.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	if req.Path != QueryPathKey {
		return &abci.ResponseQuery{Code: uint32(medledger.KindInvalid), Codespace: medledger.Codespace, Log: "unknown query path " + strconv.Quote(req.Path)}, nil
	}
	height := req.Height
	if height == 0 {
		height = a.store.Version()
	}
	value, proof, err := a.store.Prove(req.Data, height)
	if err != nil {
		k := medledger.KindOf(err)
		var me *medledger.Error
		if !errors.As(err, &me) {
			k = medledger.KindNotFound
		}
		return &abci.ResponseQuery{Code: uint32(k), Codespace: medledger.Codespace, Log: err.Error(), Height: height}, nil
	}
	res := &abci.ResponseQuery{Key: req.Data, Value: value, Height: height}
	if req.Prove {
		res.ProofOps = proofOps(req.Data, proof)
	}
	return res, nil
}

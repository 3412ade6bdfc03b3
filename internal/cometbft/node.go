package cometbft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"

	"medledger"
)

// Node is an embedded CometBFT node running an App.
type Node struct {
	cfg    *cfg.Config
	app    *App // nil for the baseline node (baseline.go)
	node   *nm.Node
	client *local.Local
	// closeApp closes the baseline app's database after Stop.
	closeApp func() error

	mu  sync.Mutex
	dbs []*closeSafeDB // every database CometBFT opened
}

// promClaimed is set once a node in this process has taken the Prometheus
// metrics.
var promClaimed atomic.Bool

// metricsProvider gives the first node in the process CometBFT's Prometheus
// metrics, registered with the default registry that the API serves at
// /metrics (CometBFT's own metrics server stays off). A process runs one
// node, except tests, which start several and restart them: the metrics can
// be registered only once, and CometBFT's metric structs are not safe to
// share between nodes, so later nodes get their own no-op metrics.
func metricsProvider(c *cfg.InstrumentationConfig) nm.MetricsProvider {
	if promClaimed.CompareAndSwap(false, true) {
		on := *c
		on.Prometheus = true
		return nm.DefaultMetricsProvider(&on)
	}
	off := *c
	off.Prometheus = false
	return nm.DefaultMetricsProvider(&off)
}

// NewNode creates (but does not start) a CometBFT node for app with the
// configuration in c, whose RootDir is the node's home.
func NewNode(c *cfg.Config, app *App, log *slog.Logger, cometLevel slog.Level) (*Node, error) {
	app.pending.limit(c.Mempool.Size, c.Mempool.MaxTxsBytes)
	return newNode(c, app, app, log, cometLevel)
}

// newNode creates a node for abciApp; app is the same application when it
// is medledger's, nil otherwise.
func newNode(c *cfg.Config, abciApp abci.Application, app *App, log *slog.Logger, cometLevel slog.Level) (*Node, error) {
	nodeKey, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	out := &Node{cfg: c, app: app}
	// CometBFT v0.38 does not close its tx-index database on Stop, so a node
	// restarted in the same process would find it locked: track every
	// database and close the leftovers in Stop. Each is close-safe (db.go).
	named := map[string]dbm.DB{}
	dbProvider := func(ctx *cfg.DBContext) (dbm.DB, error) {
		raw, err := cfg.DefaultDBProvider(ctx)
		if err != nil {
			return nil, err
		}
		db := &closeSafeDB{db: raw}
		out.mu.Lock()
		out.dbs = append(out.dbs, db)
		named[ctx.ID] = db
		out.mu.Unlock()
		return db, nil
	}
	n, err := nm.NewNode(c, pv, nodeKey, proxy.NewLocalClientCreator(abciApp),
		nm.DefaultGenesisDocProviderFunc(c), dbProvider, metricsProvider(c.Instrumentation),
		&logger{l: log.With("module", "cometbft"), info: cometLevel})
	if err != nil {
		out.closeDBs()
		return nil, err
	}
	out.node, out.client = n, local.New(n)
	// A crash can leave the last blocks unindexed (reindex.go). Repairing
	// the index is worth a log line, not a node that refuses to start.
	if c.TxIndex.Indexer == "kv" && named["tx_index"] != nil && named["state"] != nil {
		if err := reindexRecent(named["tx_index"], named["state"], n.BlockStore(), c.Storage.DiscardABCIResponses, log); err != nil {
			log.Error("could not index the blocks a crash left unindexed; tx lookups may miss their txs", "err", err)
		}
	}
	return out, nil
}

// Start starts consensus, P2P and CometBFT's RPC server.
func (n *Node) Start() error { return n.node.Start() }

// Stop stops the node, waits for it and closes its databases.
func (n *Node) Stop() error {
	var err error
	if n.node.IsRunning() {
		err = n.node.Stop()
		n.node.Wait()
	}
	if n.app != nil {
		n.app.StopSnapshots()
	}
	n.closeDBs()
	if n.closeApp != nil {
		err = errors.Join(err, n.closeApp())
	}
	return err
}

// closeDBs closes every database CometBFT opened. Closing one CometBFT
// already closed fails harmlessly.
func (n *Node) closeDBs() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, db := range n.dbs {
		db.Close()
	}
	n.dbs = nil
}

// NodeID returns the node's P2P ID.
func (n *Node) NodeID() string { return string(n.node.NodeInfo().ID()) }

// RPCAddress returns CometBFT's RPC listen address.
func (n *Node) RPCAddress() string { return n.cfg.RPC.ListenAddress }

// CommittedHeight is the last height whose block the app has executed
// and committed, as the app reports it (Height can be one ahead while a
// block executes).
func (n *Node) CommittedHeight(ctx context.Context) (int64, error) {
	res, err := n.node.ProxyApp().Query().Info(ctx, proxy.RequestInfo)
	if err != nil {
		return 0, err
	}
	return res.LastBlockHeight, nil
}

// Height returns the latest committed block height.
func (n *Node) Height() int64 { return n.node.BlockStore().Height() }

// CatchingUp reports whether the node is still syncing.
func (n *Node) CatchingUp() bool {
	st, err := n.client.Status(context.Background())
	return err != nil || st.SyncInfo.CatchingUp
}

// Broadcast submits a tx to the mempool and returns once CheckTx has
// decided.
func (n *Node) Broadcast(ctx context.Context, tx []byte) (*medledger.TxStatus, error) {
	hash := medledger.TxHash(tx)
	res, err := n.client.BroadcastTxSync(ctx, tx)
	switch {
	case errors.Is(err, mempool.ErrTxInCache):
		// Seen before: say where it is.
		return n.TxStatus(ctx, hash)
	case err != nil && isMempoolFull(err):
		return nil, medledger.Errorf(medledger.KindUnavailable, "mempool is full; retry later")
	case err != nil && strings.Contains(err.Error(), "tx too large"):
		return nil, medledger.Errorf(medledger.KindTooLarge, "tx is larger than the mempool accepts")
	case err != nil:
		return nil, err
	}
	if medledger.Kind(res.Code) == medledger.KindUnavailable {
		// CheckTx found no room (pending.go): the same answer as a
		// mempool that was full before CheckTx.
		return nil, medledger.Errorf(medledger.KindUnavailable, "mempool is full; retry later")
	}
	st := &medledger.TxStatus{Hash: hash, Status: medledger.TxPending, Code: medledger.Kind(res.Code), Log: res.Log}
	if res.Code != 0 {
		st.Status = medledger.TxRejected
		st.Kind = st.Code.String()
	}
	return st, nil
}

func isMempoolFull(err error) bool {
	var full mempool.ErrMempoolIsFull
	return errors.As(err, &full)
}

// TxStatus says whether a tx is committed, pending or unknown.
func (n *Node) TxStatus(ctx context.Context, hash []byte) (*medledger.TxStatus, error) {
	res, err := n.client.Tx(ctx, hash, false)
	if err != nil {
		status := medledger.TxUnknown
		if n.app != nil && n.app.Pending(hash) {
			status = medledger.TxPending
		}
		return &medledger.TxStatus{Hash: hash, Status: status}, nil
	}
	return txResult(res), nil
}

func txResult(res *ctypes.ResultTx) *medledger.TxStatus {
	st := &medledger.TxStatus{Hash: medledger.HexBytes(res.Hash), Status: medledger.TxCommitted, Height: res.Height,
		Index: res.Index, Code: medledger.Kind(res.TxResult.Code), Log: res.TxResult.Log, Events: fromABCI(res.TxResult.Events)}
	if st.Code != 0 {
		st.Kind = st.Code.String()
	}
	return st
}

func fromABCI(evs []abci.Event) []medledger.Event {
	out := make([]medledger.Event, 0, len(evs))
	for _, e := range evs {
		me := medledger.Event{Type: e.Type}
		for _, a := range e.Attributes {
			me.Attrs = append(me.Attrs, medledger.Attr{Key: a.Key, Value: a.Value, Index: a.Index})
		}
		out = append(out, me)
	}
	return out
}

// WaitCommitted polls until the tx is committed or ctx ends.
func (n *Node) WaitCommitted(ctx context.Context, hash []byte) (*medledger.TxStatus, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := n.TxStatus(ctx, hash)
		if err != nil || st.Status == medledger.TxCommitted {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-t.C:
		}
	}
}

// SearchTxs finds committed txs by event query, for example
// "identity.org_admitted.org='st-marys'". page starts at 1.
func (n *Node) SearchTxs(ctx context.Context, query string, page, perPage int) ([]*medledger.TxStatus, int, error) {
	res, err := n.client.TxSearch(ctx, query, false, &page, &perPage, "asc")
	if err != nil {
		return nil, 0, medledger.Errorf(medledger.KindInvalid, "event query: %v", err)
	}
	out := make([]*medledger.TxStatus, len(res.Txs))
	for i, r := range res.Txs {
		out[i] = txResult(r)
	}
	return out, res.TotalCount, nil
}

// Header returns the header of block height (0 for the latest).
func (n *Node) Header(_ context.Context, height int64) (*medledger.Header, error) {
	// The block's meta holds its header, ID and tx count: loading the
	// whole block (as the RPC's block call does) would read and hash every
	// tx in it, which on every gateway read cost more than the read.
	bs := n.node.BlockStore()
	latest := bs.Height()
	if height <= 0 {
		height = latest
	}
	if height > latest {
		return nil, medledger.Errorf(medledger.KindNotFound, "block %d is not committed yet (latest is %d)", height, latest)
	}
	if height < bs.Base() {
		return nil, medledger.Errorf(medledger.KindNotFound, "block %d was pruned (the oldest kept is %d)", height, bs.Base())
	}
	m := bs.LoadBlockMeta(height)
	if m == nil {
		return nil, medledger.Errorf(medledger.KindNotFound, "block %d is not stored", height)
	}
	h := m.Header
	return &medledger.Header{ChainID: h.ChainID, Height: h.Height, Time: h.Time, AppHash: medledger.HexBytes(h.AppHash),
		BlockHash: medledger.HexBytes(m.BlockID.Hash), DataHash: medledger.HexBytes(h.DataHash),
		ValidatorsHash: medledger.HexBytes(h.ValidatorsHash), LastResultsHash: medledger.HexBytes(h.LastResultsHash),
		ProposerAddress: medledger.HexBytes(h.ProposerAddress), NumTxs: m.NumTxs}, nil
}

// Status describes the node and chain.
func (n *Node) Status(ctx context.Context) (*medledger.NodeStatus, error) {
	st, err := n.client.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &medledger.NodeStatus{ChainID: st.NodeInfo.Network, NodeID: string(st.NodeInfo.DefaultNodeID), Moniker: st.NodeInfo.Moniker,
		Version: medledger.Version, AppVersion: medledger.AppVersion, LatestHeight: st.SyncInfo.LatestBlockHeight,
		LatestAppHash: medledger.HexBytes(st.SyncInfo.LatestAppHash), LatestBlockTime: st.SyncInfo.LatestBlockTime,
		CatchingUp: st.SyncInfo.CatchingUp, Peers: n.node.Switch().Peers().Size()}
	perPage := 100
	vals, err := n.client.Validators(ctx, nil, nil, &perPage)
	if err == nil {
		for _, v := range vals.Validators {
			out.Validators = append(out.Validators, medledger.Validator{Address: medledger.HexBytes(v.Address), PubKey: v.PubKey.Bytes(), Power: v.VotingPower})
		}
	}
	return out, nil
}

// proofOps wraps an ICS-23 proof the way Cosmos chains return it.
func proofOps(key, proof []byte) *cmtcrypto.ProofOps {
	return &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: "ics23:iavl", Key: key, Data: proof}}}
}

// logger adapts slog to CometBFT's logger. CometBFT's info lines (one per
// consensus step) go to the configured level, by default debug.
type logger struct {
	l    *slog.Logger
	info slog.Level
}

func (g *logger) Debug(msg string, kv ...any) { g.l.Debug(msg, kv...) }
func (g *logger) Info(msg string, kv ...any)  { g.l.Log(context.Background(), g.info, msg, kv...) }
func (g *logger) Error(msg string, kv ...any) { g.l.Error(msg, kv...) }
func (g *logger) With(kv ...any) cmtlog.Logger {
	return &logger{l: g.l.With(kv...), info: g.info}
}

// BlockTxs returns a committed block's time, the SHA-256 hashes of its txs
// and their result codes, read in process (no JSON): what a load generator
// running next to the node needs to confirm commits cheaply.
func (n *Node) BlockTxs(ctx context.Context, height int64) (time.Time, [][32]byte, []uint32, error) {
	b, err := n.client.Block(ctx, &height)
	if err != nil {
		return time.Time{}, nil, nil, err
	}
	hashes := make([][32]byte, len(b.Block.Txs))
	for i, tx := range b.Block.Txs {
		copy(hashes[i][:], tx.Hash())
	}
	if len(hashes) == 0 {
		return b.Block.Time, nil, nil, nil
	}
	res, err := n.client.BlockResults(ctx, &height)
	if err != nil {
		return time.Time{}, nil, nil, err
	}
	if len(res.TxsResults) != len(hashes) {
		return time.Time{}, nil, nil, fmt.Errorf("block %d has %d txs but %d results", height, len(hashes), len(res.TxsResults))
	}
	codes := make([]uint32, len(hashes))
	for i, r := range res.TxsResults {
		codes[i] = r.Code
	}
	return b.Block.Time, hashes, codes, nil
}

// Package node is the composition root: it reads a home directory's
// configuration and wires the store, the ledger, the embedded CometBFT node
// and the API together. It holds no logic of its own.
package node

import (
	"context"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"medledger"
	"medledger/internal/api"
	"medledger/internal/blob"
	"medledger/internal/cometbft"
	"medledger/internal/gateway"
	"medledger/internal/identity"
	"medledger/internal/ledger"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/internal/store"
	"medledger/internal/web"
	"medledger/seal"
)

// DefaultChainID is the chain ID `medledger init` uses unless told otherwise.
const DefaultChainID = "medledger-local"

// InitOptions configures a new home.
type InitOptions struct {
	Moniker    string
	ChainID    string
	Regulators []identity.PublicKeys
	Threshold  int
	Ports      cometbft.Ports
	APIListen  string
	// BlockTime is CometBFT's timeout_commit: about the time between
	// blocks. Zero keeps the default of one second.
	BlockTime time.Duration
}

// Initialised reports whether home already holds a node configuration.
func Initialised(home string) bool {
	_, err := os.Stat(filepath.Join(home, "config", "genesis.json"))
	return err == nil
}

func appState(regs []identity.PublicKeys, threshold int) (json.RawMessage, error) {
	g := ledger.Genesis{Identity: identity.Genesis{Regulators: regs, Threshold: threshold}}
	if err := g.Identity.Validate(); err != nil {
		return nil, err
	}
	return json.MarshalIndent(g, "", "  ")
}

// Init writes a single-validator node configuration into home: CometBFT's
// config.toml, node and validator keys and genesis.json, and app.toml.
func Init(home string, o InitOptions) error {
	if Initialised(home) {
		return fmt.Errorf("%s is already initialised", home)
	}
	if o.ChainID == "" {
		o.ChainID = DefaultChainID
	}
	if o.Moniker == "" {
		o.Moniker, _ = os.Hostname()
	}
	if o.Ports == (cometbft.Ports{}) {
		o.Ports = cometbft.DefaultPorts
	}
	state, err := appState(o.Regulators, o.Threshold)
	if err != nil {
		return err
	}
	c := cometbft.DefaultConfig(home, o.Moniker, o.Ports)
	if o.BlockTime > 0 {
		c.Consensus.TimeoutCommit = o.BlockTime
	}
	if err := cometbft.WriteConfig(c); err != nil {
		return err
	}
	_, pub, err := cometbft.GenKeys(c)
	if err != nil {
		return err
	}
	if err := cometbft.WriteGenesis(c.GenesisFile(), o.ChainID, []cometbft.GenesisValidator{{Name: o.Moniker, PubKey: pub, Power: 10}}, state); err != nil {
		return err
	}
	ac := DefaultConfig()
	if o.APIListen != "" {
		ac.API.Listen = o.APIListen
	}
	return WriteConfig(home, ac)
}

// TestnetNode describes one node InitTestnet wrote.
type TestnetNode struct {
	Home   string
	NodeID string
	P2P    int
	RPC    int
	API    int
}

// TestnetOptions configures InitTestnet.
type TestnetOptions struct {
	Validators int
	ChainID    string
	// BasePort: node i listens on BasePort+10i (P2P), +1 (RPC), +2 (API).
	BasePort   int
	Regulators []identity.PublicKeys
	Threshold  int
	// BlockTime is CometBFT's timeout_commit; zero keeps the default.
	BlockTime time.Duration
}

// TestnetSnapshotInterval is how often testnet nodes take state-sync
// snapshots, in blocks.
const TestnetSnapshotInterval = 50

// InitTestnet writes o.Validators validator homes under dir (dir/node0 …),
// all on loopback, each peered with the others, sharing one genesis.
func InitTestnet(dir string, o TestnetOptions) ([]TestnetNode, error) {
	n := o.Validators
	if n < 1 || n > 50 {
		return nil, fmt.Errorf("validators must be between 1 and 50")
	}
	for i := range n {
		if Initialised(filepath.Join(dir, fmt.Sprintf("node%d", i))) {
			return nil, fmt.Errorf("%s already holds a testnet", dir)
		}
	}
	state, err := appState(o.Regulators, o.Threshold)
	if err != nil {
		return nil, err
	}
	nodes, err := cometbft.InitTestnet(dir, n, o.ChainID, o.BasePort, o.BlockTime, state)
	if err != nil {
		return nil, err
	}
	out := make([]TestnetNode, n)
	for i, tn := range nodes {
		ac := DefaultConfig()
		api := o.BasePort + 10*i + 2
		ac.API.Listen = fmt.Sprintf("127.0.0.1:%d", api)
		ac.Replication.Peers = testnetPeers(o.BasePort, n, i)
		// A testnet is for trying things, joining a node among them:
		// snapshot often so a joining node finds one within a minute.
		ac.StateSync.SnapshotInterval = TestnetSnapshotInterval
		if err := WriteConfig(tn.Home, ac); err != nil {
			return nil, err
		}
		out[i] = TestnetNode{Home: tn.Home, NodeID: tn.NodeID, P2P: tn.Ports.P2P, RPC: tn.Ports.RPC, API: api}
	}
	return out, nil
}

// Node is a running medledger node.
type Node struct {
	home   string
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	cmt    *cometbft.Node
	srv    *http.Server
	outbox *gateway.Outbox
	escrow *gateway.Escrow
	blobs  *blob.Dir
	repl   *replication
	cancel context.CancelFunc
	ln     net.Listener
	apiURL string
	served chan error

	closeOnce sync.Once
	closeErr  error
}

// Options adjusts a node beyond its home's configuration.
type Options struct {
	// Logger overrides the logger app.toml describes.
	Logger *slog.Logger
	// APIListen overrides app.toml's api.listen.
	APIListen string
}

// New opens home's store and prepares the node; Start runs it.
func New(home string, o Options) (*Node, error) {
	if !Initialised(home) {
		return nil, fmt.Errorf("%s is not initialised: run `medledger init --home %s`", home, home)
	}
	cfg, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	if o.APIListen != "" {
		cfg.API.Listen = o.APIListen
	}
	log := o.Logger
	if log == nil {
		log = NewLogger(cfg.Log, os.Stderr)
	}
	cc, err := cometbft.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	chainID, _, err := cometbft.ReadGenesis(cc.GenesisFile())
	if err != nil {
		return nil, err
	}
	sopts := store.DefaultOptions()
	sopts.KeepVersions, sopts.CacheSize = cfg.Store.KeepVersions, cfg.Store.CacheSize
	st, err := store.Open(filepath.Join(home, "data", "app"), sopts)
	if err != nil {
		return nil, fmt.Errorf("opening app state: %w", err)
	}
	if err := rebuildIndex(st, log); err != nil {
		st.Close()
		return nil, err
	}
	l := ledger.New(st, chainID)
	app := cometbft.NewApp(l, st, log)
	// Set below, once replication exists; a restore happens only after
	// Start.
	var restored func()
	if err := enableSnapshots(app, st, home, cfg.StateSync, func() { restored() }); err != nil {
		st.Close()
		return nil, err
	}
	if err := armFailpoint(app, log); err != nil {
		st.Close()
		return nil, err
	}
	cometLevel, _ := parseLevel(cfg.Log.CometBFTInfo)
	cmt, err := cometbft.NewNode(cc, app, log, cometLevel)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("creating CometBFT node: %w", err)
	}
	reg := prometheus.NewRegistry()
	heightGauge := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "medledger", Name: "height", Help: "Last committed block height."})
	txCounter := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "medledger", Name: "txs_total", Help: "Committed txs by result."}, []string{"result"})
	reg.MustRegister(heightGauge, txCounter)
	blobs, err := blob.OpenDir(filepath.Join(home, "blobs"), blob.Options{MaxBlobSize: cfg.Blobs.MaxBlobSize})
	if err != nil {
		cmt.Stop()
		st.Close()
		return nil, err
	}
	if err := sweepErased(st, blobs, log); err != nil {
		cmt.Stop()
		st.Close()
		return nil, err
	}
	repl, err := newReplication(cc, cfg.Replication, st, blobs, log, reg)
	restored = func() {
		if repl != nil {
			repl.restored()
		}
	}
	if err != nil {
		cmt.Stop()
		st.Close()
		return nil, err
	}
	var escrow *gateway.Escrow
	if cfg.Escrow.Org != "" {
		hexKey, err := os.ReadFile(filepath.Join(home, cfg.Escrow.KeyFile))
		var key hpke.PrivateKey
		if err == nil {
			var raw []byte
			if raw, err = hex.DecodeString(strings.TrimSpace(string(hexKey))); err == nil {
				key, err = seal.ParseEncryptionPrivateKey(raw)
			}
		}
		if err != nil {
			cmt.Stop()
			st.Close()
			return nil, fmt.Errorf("escrow key of %s: %w", cfg.Escrow.Org, err)
		}
		escrow = gateway.NewEscrow(cfg.Escrow.Org, key, st, blobs, log)
		log.Info("holding the break-glass escrow key", "org", cfg.Escrow.Org)
	}
	app.OnCommit = func(h int64, txs, failed int, events []medledger.Event) {
		heightGauge.Set(float64(h))
		txCounter.WithLabelValues("ok").Add(float64(txs - failed))
		txCounter.WithLabelValues("failed").Add(float64(failed))
		shred(blobs, events, log)
		repl.notify(events)
		if escrow != nil {
			escrow.Notify(events)
		}
	}
	outbox, err := gateway.OpenOutbox(filepath.Join(home, "data", "outbox"), cmt, log)
	if err != nil {
		cmt.Stop()
		st.Close()
		return nil, err
	}
	clock := func(ctx context.Context) (int64, error) {
		h, err := cmt.Header(ctx, 0)
		if err != nil {
			return 0, err
		}
		return h.Time.Unix(), nil
	}
	gw := gateway.New(st, blobs, cmt, outbox, clock, log)
	gw.SetPuller(repl)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "medledger", Subsystem: "gateway", Name: "outbox_pending", Help: "Access txs served but not yet seen committed."},
		func() float64 { p, _ := outbox.Pending(); return float64(len(p)) }))
	n := &Node{home: home, cfg: cfg, log: log, store: st, cmt: cmt, outbox: outbox, escrow: escrow, blobs: blobs, repl: repl}
	srv := api.New(cmt, st, gw, blobs, log, reg)
	srv.SetQuota(api.NewQuota(cfg.Blobs.DailyQuota))
	// The web portal answers GET / and its asset prefix; the API keeps
	// every other path.
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	web.New().Mount(mux)
	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return n, nil
}

// shred destroys the ciphertext and wraps of erased records (crypto-
// shredding): the chain keeps their hashes, pointing at nothing.
func shred(blobs medledger.BlobStore, events []medledger.Event, log *slog.Logger) {
	for _, e := range events {
		if e.Type != "records.erased" {
			continue
		}
		for _, s := range strings.Split(e.Get("blobs"), ",") {
			id, err := medledger.ParseBlobID(s)
			if err != nil {
				continue
			}
			if err := blobs.Delete(context.Background(), id); err != nil {
				log.Error("erasure: deleting a blob failed; it is retried at the next start", "blob", s, "err", err)
			}
		}
		log.Info("erased a record's ciphertext and key wraps", "record", e.Get("record"))
	}
}

// sweepErased deletes the blobs of every erased record, in case the node
// stopped between committing an erasure and deleting its blobs.
func sweepErased(st *store.Store, blobs medledger.BlobStore, log *slog.Logger) error {
	if st.Version() == 0 {
		return nil
	}
	rd, err := st.ReaderAt(st.Version())
	if err != nil {
		return err
	}
	var erased []string
	prefix := []byte("rec/r/")
	err = rd.Iterate(prefix, state.PrefixEnd(prefix), func(_, v []byte) bool {
		var r records.Record
		if medledger.UnmarshalTrusted(v, &r) == nil && r.Erased != 0 {
			erased = append(erased, r.ID)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, id := range erased {
		vs, err := records.Versions(rd, id)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if ok, _ := blobs.Has(context.Background(), v.Blob); ok {
				log.Info("erasure sweep: deleting a blob left behind", "record", id)
				if err := blobs.Delete(context.Background(), v.Blob); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// rebuildIndex recomputes the secondary indexes when a crash left them
// behind the authenticated state.
func rebuildIndex(st *store.Store, log *slog.Logger) error {
	if st.IndexVersion() == st.Version() {
		return nil
	}
	log.Warn("secondary index is behind the state; rebuilding", "index_version", st.IndexVersion(), "state_version", st.Version())
	if err := st.ResetIndex(); err != nil {
		return err
	}
	if err := ledger.RebuildIndex(st, st.Index()); err != nil {
		return err
	}
	return st.FlushIndex()
}

// Start starts consensus and the API.
func (n *Node) Start() error {
	if err := n.cmt.Start(); err != nil {
		return fmt.Errorf("starting CometBFT: %w", err)
	}
	ln, err := net.Listen("tcp", n.cfg.API.Listen)
	if err != nil {
		n.cmt.Stop()
		return fmt.Errorf("API: %w", err)
	}
	n.ln = ln
	n.apiURL = "http://" + ln.Addr().String()
	n.served = make(chan error, 1)
	go func() { n.served <- n.srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go n.outbox.Run(ctx, 2*time.Second)
	if n.escrow != nil {
		go n.escrow.Run(ctx)
	}
	go n.collectGarbage(ctx, 10*time.Minute)
	n.repl.start(ctx, n.apiURL)
	n.log.Info("medledger node started", "api", n.apiURL, "rpc", n.cmt.RPCAddress(), "node_id", n.cmt.NodeID(), "home", n.home)
	return nil
}

// APIURL is the base URL of the running API.
func (n *Node) APIURL() string { return n.apiURL }

// Height is the last committed height.
func (n *Node) Height() int64 { return n.store.Version() }

// AppHash is the last committed app hash.
func (n *Node) AppHash() []byte { return n.store.Hash() }

// Close stops the API and consensus and closes the store. It is safe to
// call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	var errs []error
	if n.cancel != nil {
		n.cancel()
	}
	n.repl.wait()
	if n.ln != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, n.srv.Shutdown(ctx))
		cancel()
		if err := <-n.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, n.outbox.Close(), n.cmt.Stop(), n.store.Close())
	return errors.Join(errs...)
}

// Run starts a node and runs it until ctx ends.
func Run(ctx context.Context, home string, o Options, started func(*Node)) error {
	n, err := New(home, o)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.outbox.Close()
		n.store.Close()
		return err
	}
	if started != nil {
		started(n)
	}
	select {
	case <-ctx.Done():
	case err = <-n.served:
		n.served <- err
		n.log.Error("API server stopped", "err", err)
	}
	n.log.Info("shutting down")
	return errors.Join(err, n.Close())
}

// OutboxPending lists the access txs served but not yet seen committed.
func (n *Node) OutboxPending() ([]string, error) { return n.outbox.Pending() }

// Home is the node's home directory.
func (n *Node) Home() string { return n.home }

// CollectGarbage deletes the blobs (and their wraps) that no anchor
// references and that are older than the grace period: uploads whose
// anchor never came (DESIGN §7). It returns how many it deleted.
func (n *Node) CollectGarbage(ctx context.Context) (int, error) {
	grace, _ := time.ParseDuration(n.cfg.Blobs.GCGrace)
	cutoff := time.Now().Add(-grace)
	var old []medledger.BlobID
	err := n.blobs.Walk(ctx, func(id medledger.BlobID, _ int64, mod time.Time) error {
		if mod.Before(cutoff) {
			old = append(old, id)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, id := range old {
		ok, err := records.BlobReferenced(n.store.IndexReader(), id)
		if err != nil {
			return deleted, err
		}
		if ok {
			continue
		}
		if err := n.blobs.Delete(ctx, id); err != nil {
			return deleted, err
		}
		deleted++
	}
	if deleted > 0 {
		n.log.Info("collected unreferenced blobs", "count", deleted)
	}
	return deleted, nil
}

func (n *Node) collectGarbage(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("blob garbage collection", "err", err)
			}
		}
	}
}

// CometBFT is the embedded consensus node.
func (n *Node) CometBFT() *cometbft.Node { return n.cmt }

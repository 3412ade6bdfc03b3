package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/identity"
	"medledger/internal/node"
)

// user is an account the bench acts as.
type user struct {
	client.User
	Pub identity.PublicKeys
}

func newUser() (user, error) {
	u, pub, err := client.GenerateUser()
	return user{User: u, Pub: pub}, err
}

// target is the network under load: one node or a local testnet.
type target struct {
	subs  []*submitter // POST /v1/txs of each node
	rpcs  []*rpc       // CometBFT RPC of each node
	chain chain        // where commits are confirmed: node 0
	apis  []string     // medledger API of each node; empty for the baseline
	homes []string     // data directories of nodes the bench started
	close func() error
}

func (t *target) api(i int) *client.Client { return client.New(t.apis[i%len(t.apis)]) }

func (t *target) diskBytes() int64 {
	var n int64
	for _, h := range t.homes {
		n += dirSize(filepath.Join(h, "data"))
	}
	return n
}

// initMedledger writes the homes of n medledger validators under dir,
// with reg as the single regulator. A mempool size above zero replaces
// the node default (the baseline copies it with the rest of CometBFT's
// configuration).
func initMedledger(dir string, n int, reg user, blockTime time.Duration, mempool int, replicate bool) ([]string, error) {
	base, err := cometbft.FreeBasePort(n)
	if err != nil {
		return nil, err
	}
	nodes, err := node.InitTestnet(dir, node.TestnetOptions{Validators: n, ChainID: "medledger-bench", BasePort: base,
		Regulators: []identity.PublicKeys{reg.Pub}, Threshold: 1, BlockTime: blockTime})
	if err != nil {
		return nil, err
	}
	homes := make([]string, n)
	for i, tn := range nodes {
		if err := benchConfig(tn.Home, replicate); err != nil {
			return nil, err
		}
		if mempool > 0 {
			cc, err := cometbft.LoadConfig(tn.Home)
			if err != nil {
				return nil, err
			}
			cc.Mempool.Size = mempool
			if err := cometbft.WriteConfig(cc); err != nil {
				return nil, err
			}
		}
		homes[i] = tn.Home
	}
	return homes, nil
}

// startMedledger starts the nodes of homes.
func startMedledger(homes []string, conns int, log *slog.Logger) (*target, error) {
	t := &target{homes: homes}
	var closers []func() error
	t.close = func() error { return closeAll(closers) }
	for _, home := range homes {
		nd, err := node.New(home, node.Options{Logger: log})
		if err != nil {
			t.close()
			return nil, err
		}
		if err := nd.Start(); err != nil {
			t.close()
			return nil, err
		}
		closers = append(closers, nd.Close)
		if t.chain == nil {
			t.chain = local{nd.CometBFT()} // commits are followed on node 0
		}
		cc, err := cometbft.LoadConfig(home)
		if err != nil {
			t.close()
			return nil, err
		}
		t.rpcs = append(t.rpcs, newRPC(cc.RPC.ListenAddress, conns))
		t.apis = append(t.apis, nd.APIURL())
		t.subs = append(t.subs, newSubmitter(nd.APIURL(), conns))
	}
	return t, waitFirstBlock(t.chain)
}

// remoteTarget addresses running nodes.
func remoteTarget(rpcs, apis []string, conns int) *target {
	t := &target{apis: apis, close: func() error { return nil }}
	for i, r := range rpcs {
		t.rpcs = append(t.rpcs, newRPC(r, conns))
		t.subs = append(t.subs, newSubmitter(apis[i], conns))
	}
	t.chain = t.rpcs[0]
	return t
}

// benchConfig keeps state-sync snapshots (a testnet takes one every 50
// blocks) out of the measurement. Unless the scenario reads, it also turns
// background blob replication off: anchors name blobs the bench never
// uploads (anchoring needs only their hash), which nodes would otherwise
// try to pull from each other.
func benchConfig(home string, replicate bool) error {
	c, err := node.LoadConfig(home)
	if err != nil {
		return err
	}
	c.StateSync.SnapshotInterval = 0
	if !replicate {
		c.Replication.Workers = 0
	}
	return node.WriteConfig(home, c)
}

// startBaseline starts as many key-value store validators under dir as
// there are medledger homes in like, each with its CometBFT configuration.
func startBaseline(dir string, like []string, conns int, log *slog.Logger) (*target, error) {
	n := len(like)
	base, err := cometbft.FreeBasePort(n)
	if err != nil {
		return nil, err
	}
	t := &target{}
	var running []*cometbft.Node
	var closers []func() error // API servers first, then the nodes
	t.close = func() error { return closeAll(closers) }
	homes, err := cometbft.InitBaseline(dir, like[:n], base)
	if err != nil {
		return nil, err
	}
	for i := range homes {
		t.rpcs = append(t.rpcs, newRPC(fmt.Sprintf("127.0.0.1:%d", base+10*i+1), conns))
	}
	for _, home := range homes {
		nd, err := cometbft.NewBaselineNode(home, log)
		if err != nil {
			t.close()
			return nil, err
		}
		if err := nd.Start(); err != nil {
			t.close()
			return nil, err
		}
		running = append(running, nd)
		url, stop, err := baselineAPI(nd)
		if err != nil {
			nd.Stop()
			t.close()
			return nil, err
		}
		closers = append(closers, stop, nd.Stop)
		t.subs = append(t.subs, newSubmitter(url, conns))
	}
	t.chain = local{running[0]}
	t.homes = homes
	return t, waitFirstBlock(t.chain)
}

func waitFirstBlock(r chain) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		h, err := r.height(ctx)
		if err == nil && h >= 1 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no block within 60 s: %v", err)
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// closeAll calls every closer in order and returns the first error.
func closeAll(closers []func() error) error {
	var first error
	for _, c := range closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

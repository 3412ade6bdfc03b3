package node

import (
	"context"
	"fmt"
	"os"
	"time"

	"medledger/internal/cometbft"
)

// JoinOptions configure a home for a node that joins a running network.
type JoinOptions struct {
	// RPC lists CometBFT RPC URLs of nodes of the network.
	RPC []string
	// Peers overrides the persistent peers (id@host:port) found through
	// the RPC servers.
	Peers     []string
	Moniker   string
	Ports     cometbft.Ports
	APIListen string
	// StateSync restores a recent snapshot instead of replaying every
	// block from genesis.
	StateSync bool
	// TrustPeriod and DiscoveryTime tune state sync; zero keeps CometBFT's
	// defaults (one week, 15 s).
	TrustPeriod   time.Duration
	DiscoveryTime time.Duration
	// ReplicateFrom lists API URLs of nodes to pull record blobs from
	// besides the organisations' gateways (app.toml replication.peers).
	ReplicateFrom []string
}

// Join writes a home for a new full node of the network the RPC servers
// belong to: the network's genesis, fresh node and validator keys,
// config.toml (peers and, with StateSync, the trusted height and hash the
// light client starts from) and app.toml. The operator should check the
// trusted height and hash it returns with another member of the network
// before starting the node.
func Join(ctx context.Context, home string, o JoinOptions) (*cometbft.JoinInfo, error) {
	if Initialised(home) {
		return nil, fmt.Errorf("%s is already initialised", home)
	}
	if o.Moniker == "" {
		o.Moniker, _ = os.Hostname()
	}
	if o.Ports == (cometbft.Ports{}) {
		o.Ports = cometbft.DefaultPorts
	}
	info, err := cometbft.Join(ctx, cometbft.JoinOptions{Home: home, Moniker: o.Moniker, RPC: o.RPC, Peers: o.Peers, Ports: o.Ports,
		StateSync: o.StateSync, TrustPeriod: o.TrustPeriod, DiscoveryTime: o.DiscoveryTime})
	if err != nil {
		return nil, err
	}
	ac := DefaultConfig()
	if o.APIListen != "" {
		ac.API.Listen = o.APIListen
	}
	if len(o.ReplicateFrom) > 0 {
		ac.Replication.Peers = o.ReplicateFrom
	}
	if err := ac.Validate(); err != nil {
		return nil, err
	}
	if err := WriteConfig(home, ac); err != nil {
		return nil, err
	}
	return info, nil
}

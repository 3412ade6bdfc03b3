package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"medledger/internal/cometbft"
	"medledger/internal/node"
)

func joinCommands() []command {
	var (
		rpc, peers, moniker, apiListen, replicateFrom string
		p2pPort, rpcPort                              int
		stateSync                                     bool
		trustPeriod, discovery                        time.Duration
	)
	return []command{
		{path: "join", summary: "Create a node home that joins a running network as a full node, by state sync or from genesis",
			example: "medledger join --home ~/.medledger --rpc http://10.0.1.5:26657,http://10.0.2.7:26657\n" +
				"medledger join --home ./newnode --rpc http://127.0.0.1:26657,http://127.0.0.1:26667 --p2p-port 26756 --rpc-port 26757 --api-listen 127.0.0.1:26780\n" +
				"medledger start --home ./newnode",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&rpc, "rpc", "", "comma-separated CometBFT RPC `URLs` of the network's nodes (required; two or more for state sync)")
				fs.StringVar(&peers, "peers", "", "comma-separated persistent `peers` id@host:port (default: the nodes behind --rpc and their peers)")
				fs.BoolVar(&stateSync, "state-sync", true, "restore a recent snapshot instead of replaying every block from genesis (the peers must take snapshots: app.toml [statesync] snapshot_interval)")
				fs.StringVar(&moniker, "moniker", "", "node `name` (default: the host name)")
				fs.StringVar(&apiListen, "api-listen", node.DefaultAPIListen, "API `address`")
				fs.StringVar(&replicateFrom, "replicate-from", "", "comma-separated API `URLs` of nodes to pull record blobs from, besides the organisations' gateways")
				fs.IntVar(&p2pPort, "p2p-port", cometbft.DefaultPorts.P2P, "CometBFT P2P `port`")
				fs.IntVar(&rpcPort, "rpc-port", cometbft.DefaultPorts.RPC, "CometBFT RPC `port` (on 127.0.0.1)")
				fs.DurationVar(&trustPeriod, "trust-period", 0, "how old the trusted header may be when the node starts (default: CometBFT's, one week)")
				fs.DurationVar(&discovery, "discovery-time", 0, "how long state sync looks for snapshots, at least 5s (default: CometBFT's, 15s)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if rpc == "" {
					return usagef("--rpc is required")
				}
				if discovery != 0 && discovery < 5*time.Second {
					return usagef("--discovery-time must be at least 5s")
				}
				if node.Initialised(e.home) {
					return fmt.Errorf("%s is already initialised", e.home)
				}
				ctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				info, err := node.Join(ctx, e.home, node.JoinOptions{RPC: splitList(rpc), Peers: splitList(peers), Moniker: moniker,
					Ports: cometbft.Ports{P2P: p2pPort, RPC: rpcPort}, APIListen: apiListen, StateSync: stateSync, ReplicateFrom: splitList(replicateFrom),
					TrustPeriod: trustPeriod, DiscoveryTime: discovery})
				if err != nil {
					return err
				}
				for _, w := range info.Warnings {
					fmt.Fprintf(e.stderr, "warning: %s\n", w)
				}
				return e.print(info, func(tw io.Writer) {
					fmt.Fprintf(tw, "home\t%s\nchain id\t%s\nnode id\t%s\npeers\t%s\n", e.home, info.ChainID, info.NodeID, strings.Join(info.Peers, ","))
					if info.StateSync {
						fmt.Fprintf(tw, "state sync\tfrom snapshots, light client on %s\ntrust height\t%d\ntrust hash\t%s\n",
							strings.Join(info.RPCServers, ","), info.TrustHeight, info.TrustHash)
						fmt.Fprintf(tw, "check\tconfirm the trust height and hash with another member of the network before starting\n")
					} else {
						fmt.Fprintf(tw, "state sync\toff: the node replays every block from genesis\n")
					}
					fmt.Fprintf(tw, "api\thttp://%s\nnext\tmedledger start --home %s\n", apiListen, e.home)
				})
			}},
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

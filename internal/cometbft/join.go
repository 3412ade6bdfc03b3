package cometbft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cometbft/cometbft/p2p"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// JoinOptions configure a node that joins a running network.
type JoinOptions struct {
	Home    string
	Moniker string
	// RPC lists CometBFT RPC URLs of the network's nodes
	// (http://host:26657). The first gives the genesis; all give their
	// node's P2P address; state sync's light client uses them too.
	RPC []string
	// Peers, if set, are the persistent peers (id@host:port) instead of the
	// addresses the RPC servers report.
	Peers []string
	Ports Ports
	// StateSync makes the node restore a recent snapshot instead of
	// replaying every block from genesis.
	StateSync bool
	// TrustPeriod bounds how old the trusted header may be when the node
	// starts; 0 means CometBFT's default (one week).
	TrustPeriod time.Duration
	// DiscoveryTime is how long state sync looks for snapshots before it
	// picks one; 0 means CometBFT's default (15 s). At least 5 s.
	DiscoveryTime time.Duration
}

// JoinInfo is what Join found and wrote.
type JoinInfo struct {
	ChainID     string   `json:"chain_id"`
	NodeID      string   `json:"node_id"`
	Peers       []string `json:"peers"`
	StateSync   bool     `json:"state_sync"`
	RPCServers  []string `json:"rpc_servers,omitempty"`
	TrustHeight int64    `json:"trust_height,omitempty"`
	TrustHash   string   `json:"trust_hash,omitempty"`
	// Warnings are things the operator should know, such as a single RPC
	// server standing in for two.
	Warnings []string `json:"warnings,omitempty"`
}

// Join writes the CometBFT configuration of a new full node of the network
// the RPC servers belong to: its genesis (from the first server), its node
// and validator keys, and config.toml with the servers' nodes as persistent
// peers and, with StateSync, the light client's RPC servers and a trusted
// height and hash from the latest commit, checked against every server.
func Join(ctx context.Context, o JoinOptions) (*JoinInfo, error) {
	if len(o.RPC) == 0 {
		return nil, errors.New("join: at least one RPC server of the network is needed")
	}
	o.RPC = slices.Clone(o.RPC)
	clients := make([]*rpchttp.HTTP, len(o.RPC))
	for i, u := range o.RPC {
		if !strings.Contains(u, "://") {
			o.RPC[i] = "http://" + u
		}
		c, err := rpchttp.New(o.RPC[i], "/websocket")
		if err != nil {
			return nil, fmt.Errorf("join: RPC server %s: %w", o.RPC[i], err)
		}
		clients[i] = c
	}
	gen, err := clients[0].Genesis(ctx)
	if err != nil {
		return nil, fmt.Errorf("join: genesis from %s: %w", o.RPC[0], err)
	}
	doc := gen.Genesis
	info := &JoinInfo{ChainID: doc.ChainID, StateSync: o.StateSync}

	var peers []string
	seen := map[string]bool{}
	addPeer := func(id p2p.ID, listen, fallbackHost string) {
		if id == "" || seen[string(id)] {
			return
		}
		addr, err := peerAddress(listen, fallbackHost)
		if err != nil {
			return
		}
		seen[string(id)] = true
		peers = append(peers, string(id)+"@"+addr)
	}
	for i, c := range clients {
		st, err := c.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("join: status of %s: %w", o.RPC[i], err)
		}
		if st.NodeInfo.Network != doc.ChainID {
			return nil, fmt.Errorf("join: %s is on chain %q, %s on %q", o.RPC[i], st.NodeInfo.Network, o.RPC[0], doc.ChainID)
		}
		host := hostOf(o.RPC[i])
		addPeer(st.NodeInfo.DefaultNodeID, st.NodeInfo.ListenAddr, host)
		if len(o.Peers) > 0 {
			continue
		}
		if ni, err := c.NetInfo(ctx); err == nil {
			for _, p := range ni.Peers {
				addPeer(p.NodeInfo.DefaultNodeID, p.NodeInfo.ListenAddr, p.RemoteIP)
			}
		}
	}
	if len(o.Peers) > 0 {
		peers = o.Peers
	}
	if len(peers) == 0 {
		return nil, errors.New("join: no peer address found; give --peers")
	}
	info.Peers = peers

	c := DefaultConfig(o.Home, o.Moniker, o.Ports)
	c.P2P.PersistentPeers = strings.Join(peers, ",")
	if allLoopback(peers) {
		// A network on one machine, as `medledger testnet` writes.
		c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", o.Ports.P2P)
		c.P2P.AllowDuplicateIP = true
	}
	if !allRoutable(peers) {
		c.P2P.AddrBookStrict = false
	}
	if o.StateSync {
		servers := slices.Clone(o.RPC)
		if len(servers) == 1 {
			servers = append(servers, servers[0])
			info.Warnings = append(info.Warnings, "only one RPC server: the light client has no independent witness; give two or more with --rpc")
		}
		h, hash, err := trustedHeader(ctx, clients, o.RPC)
		if err != nil {
			return nil, err
		}
		c.StateSync.Enable = true
		c.StateSync.RPCServers = servers
		c.StateSync.TrustHeight = h
		c.StateSync.TrustHash = hash
		if o.TrustPeriod > 0 {
			c.StateSync.TrustPeriod = o.TrustPeriod
		}
		if o.DiscoveryTime > 0 {
			c.StateSync.DiscoveryTime = o.DiscoveryTime
		}
		info.RPCServers, info.TrustHeight, info.TrustHash = servers, h, hash
	}
	if err := c.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if err := WriteConfig(c); err != nil {
		return nil, err
	}
	if err := doc.SaveAs(c.GenesisFile()); err != nil {
		return nil, err
	}
	if info.NodeID, _, err = GenKeys(c); err != nil {
		return nil, err
	}
	return info, nil
}

// trustedHeader returns the height and hash of the latest block the first
// server has a commit for, after checking every server has the same block
// at that height.
func trustedHeader(ctx context.Context, clients []*rpchttp.HTTP, urls []string) (int64, string, error) {
	latest, err := clients[0].Commit(ctx, nil)
	if err != nil {
		return 0, "", fmt.Errorf("join: latest commit from %s: %w", urls[0], err)
	}
	height, hash := latest.Height, latest.Commit.BlockID.Hash
	if height < 1 || len(hash) == 0 {
		return 0, "", fmt.Errorf("join: %s has no committed block yet", urls[0])
	}
	for i, c := range clients[1:] {
		other, err := c.Commit(ctx, &height)
		if err != nil {
			return 0, "", fmt.Errorf("join: commit %d from %s: %w", height, urls[i+1], err)
		}
		if !bytes.Equal(other.Commit.BlockID.Hash, hash) {
			return 0, "", fmt.Errorf("join: %s and %s disagree on block %d (%X, %X): do not trust this network",
				urls[0], urls[i+1], height, hash, other.Commit.BlockID.Hash)
		}
	}
	return height, hash.String(), nil
}

// peerAddress makes host:port from a node's P2P listen address, using
// fallbackHost when it listens on every interface.
func peerAddress(listen, fallbackHost string) (string, error) {
	if i := strings.Index(listen, "://"); i >= 0 {
		listen = listen[i+3:]
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = fallbackHost
	}
	if host == "" {
		return "", errors.New("no host")
	}
	return net.JoinHostPort(host, port), nil
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func peerIPs(peers []string) []net.IP {
	var out []net.IP
	for _, p := range peers {
		_, addr, _ := strings.Cut(p, "@")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil {
			out = append(out, ip)
		} else {
			out = append(out, nil) // a DNS name
		}
	}
	return out
}

func allLoopback(peers []string) bool {
	ips := peerIPs(peers)
	for _, ip := range ips {
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return len(ips) > 0
}

// allRoutable reports whether every peer has a public address: CometBFT's
// strict address book refuses private and loopback ones.
func allRoutable(peers []string) bool {
	for _, ip := range peerIPs(peers) {
		if ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()) {
			return false
		}
	}
	return true
}

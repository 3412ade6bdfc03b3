package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/node"
)

// TestJoin writes a new node's home with `medledger join` against a running
// node: the genesis, peers and trusted header come from its RPC, and the
// config.toml and app.toml it writes load.
func TestJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv("MEDLEDGER_PASSPHRASE", "join")
	home := filepath.Join(nodeDir(t), "net")
	rpcPort, p2pPort := freePort(t), freePort(t)
	if code, out, errs := runCLI(t, "init", "--home", home, "--chain-id", "join-test", "--p2p-port", itoa(p2pPort), "--rpc-port", itoa(rpcPort), "--api-listen", "127.0.0.1:0"); code != 0 {
		t.Fatalf("init: %s %s", out, errs)
	}
	n := runNode(t, home)
	rpc := "http://127.0.0.1:" + itoa(rpcPort)

	joined := filepath.Join(t.TempDir(), "joined")
	api := "127.0.0.1:" + itoa(freePort(t))
	jp2p, jrpc := freePort(t), freePort(t)
	code, out, errs := runCLI(t, "join", "--home", joined, "--rpc", rpc, "--p2p-port", itoa(jp2p), "--rpc-port", itoa(jrpc), "--api-listen", api, "--trust-period", "24h", "--output", "json")
	if code != 0 {
		t.Fatalf("join: %d %s %s", code, out, errs)
	}
	if !strings.Contains(errs, "warning: only one RPC server") {
		t.Errorf("no warning about a single RPC server: %q", errs)
	}
	var info cometbft.JoinInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	st, err := client.New(n.APIURL()).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantPeer := st.NodeID + "@127.0.0.1:" + itoa(p2pPort)
	if info.ChainID != "join-test" || !info.StateSync || info.TrustHeight < 1 || len(info.TrustHash) != 64 || len(info.Peers) != 1 || info.Peers[0] != wantPeer {
		t.Fatalf("join output: %+v; want peer %s", info, wantPeer)
	}

	c, err := cometbft.LoadConfig(joined)
	if err != nil {
		t.Fatalf("CometBFT does not accept the config join wrote: %v", err)
	}
	ss := c.StateSync
	if !ss.Enable || len(ss.RPCServers) != 2 || ss.RPCServers[0] != rpc || ss.TrustHeight != info.TrustHeight || ss.TrustHash != info.TrustHash || ss.TrustPeriod != 24*time.Hour {
		t.Fatalf("statesync config: %+v", ss)
	}
	if c.P2P.PersistentPeers != wantPeer || c.P2P.ListenAddress != "tcp://127.0.0.1:"+itoa(jp2p) || c.RPC.ListenAddress != "tcp://127.0.0.1:"+itoa(jrpc) || c.P2P.AddrBookStrict {
		t.Fatalf("p2p/rpc config: peers %q, p2p %q, rpc %q, strict %v", c.P2P.PersistentPeers, c.P2P.ListenAddress, c.RPC.ListenAddress, c.P2P.AddrBookStrict)
	}
	ac, err := node.LoadConfig(joined)
	if err != nil || ac.API.Listen != api {
		t.Fatalf("app.toml: %+v %v", ac.API, err)
	}
	chain, state, err := cometbft.ReadGenesis(c.GenesisFile())
	wantChain, wantState, _ := cometbft.ReadGenesis(filepath.Join(home, "config", "genesis.json"))
	var a, b bytes.Buffer
	json.Compact(&a, state)
	json.Compact(&b, wantState)
	if err != nil || chain != wantChain || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("genesis: chain %q (want %q), same app state %v, %v", chain, wantChain, bytes.Equal(a.Bytes(), b.Bytes()), err)
	}

	// Table output names the trusted header for the operator to check.
	other := filepath.Join(t.TempDir(), "other")
	code, out, errs = runCLI(t, "join", "--home", other, "--rpc", rpc+","+rpc, "--p2p-port", itoa(freePort(t)), "--rpc-port", itoa(freePort(t)))
	if code != 0 || !strings.Contains(out, "trust height") || !strings.Contains(out, "trust hash") || strings.Contains(errs, "warning") {
		t.Fatalf("join (table): %d %s %s", code, out, errs)
	}
	// Without state sync, the node replays the chain from genesis.
	plain := filepath.Join(t.TempDir(), "plain")
	if code, out, errs := runCLI(t, "join", "--home", plain, "--rpc", rpc, "--state-sync=false", "--p2p-port", itoa(freePort(t)), "--rpc-port", itoa(freePort(t))); code != 0 || !strings.Contains(out, "from genesis") {
		t.Fatalf("join --state-sync=false: %d %s %s", code, out, errs)
	}
	if c, err := cometbft.LoadConfig(plain); err != nil || c.StateSync.Enable || c.P2P.PersistentPeers != wantPeer {
		t.Fatalf("config without state sync: %v", err)
	}
	// An initialised home is left alone; --rpc is required.
	if code, _, errs := runCLI(t, "join", "--home", joined, "--rpc", rpc); code != exitError || !strings.Contains(errs, "already initialised") {
		t.Fatalf("join into an initialised home: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "join", "--home", filepath.Join(t.TempDir(), "x")); code != exitUsage {
		t.Fatalf("join without --rpc: exit %d", code)
	}
}

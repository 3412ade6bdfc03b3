package cometbft

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	"github.com/cometbft/cometbft/version"
	"github.com/spf13/viper"

	"medledger"
)

// Ports a node listens on.
type Ports struct {
	P2P int
	RPC int
}

// DefaultPorts are CometBFT's usual ports.
var DefaultPorts = Ports{P2P: 26656, RPC: 26657}

// DefaultConfig returns medledger's CometBFT configuration for a node whose
// home is home. CometBFT's own stores use goleveldb, its default backend, so
// that plain `go build` works; medledger's app state is on Pebble.
func DefaultConfig(home, moniker string, ports Ports) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	c.Moniker = moniker
	c.DBBackend = "goleveldb"
	c.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports.RPC)
	c.P2P.ListenAddress = fmt.Sprintf("tcp://0.0.0.0:%d", ports.P2P)
	c.Consensus.TimeoutCommit = time.Second // about one block a second
	c.Mempool.MaxTxBytes = medledger.MaxTxBytes
	c.Mempool.Size = 20000
	c.Instrumentation.Prometheus = false // the API serves /metrics
	c.TxIndex.Indexer = "kv"
	return c
}

// ConfigFile is the path of config.toml under home.
func ConfigFile(home string) string { return filepath.Join(home, "config", "config.toml") }

// WriteConfig writes c to its home's config/config.toml, creating the
// directories.
func WriteConfig(c *cfg.Config) error {
	for _, d := range []string{filepath.Join(c.RootDir, "config"), filepath.Join(c.RootDir, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	cfg.WriteConfigFile(ConfigFile(c.RootDir), c)
	return nil
}

// LoadConfig reads home's config.toml the way CometBFT's own binary does.
func LoadConfig(home string) (*cfg.Config, error) {
	c := cfg.DefaultConfig()
	v := viper.New()
	v.SetConfigFile(ConfigFile(home))
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", ConfigFile(home), err)
	}
	if err := v.Unmarshal(c); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", ConfigFile(home), err)
	}
	c.SetRoot(home)
	if err := c.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile(home), err)
	}
	return c, nil
}

// GenKeys creates the node key and the validator key of c's home if they do
// not exist, and returns the node ID and the validator's public key.
func GenKeys(c *cfg.Config) (nodeID string, valPub []byte, err error) {
	nk, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
	if err != nil {
		return "", nil, err
	}
	pv := privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	return string(nk.ID()), pv.Key.PubKey.Bytes(), nil
}

// GenesisValidator is one validator in genesis.
type GenesisValidator struct {
	Name   string
	PubKey []byte // Ed25519
	Power  int64
}

// WriteGenesis writes genesis.json for chainID with the given validators
// and app state.
func WriteGenesis(path, chainID string, vals []GenesisValidator, appState json.RawMessage) error {
	doc := &types.GenesisDoc{
		ChainID:         chainID,
		GenesisTime:     cmttime.Now(),
		ConsensusParams: types.DefaultConsensusParams(),
		AppState:        appState,
	}
	for _, v := range vals {
		pk, err := ed25519PubKey(v.PubKey)
		if err != nil {
			return err
		}
		doc.Validators = append(doc.Validators, types.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: v.Power, Name: v.Name})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return doc.SaveAs(path)
}

// ReadGenesis returns the chain ID and app state of a genesis file.
func ReadGenesis(path string) (chainID string, appState json.RawMessage, err error) {
	doc, err := types.GenesisDocFromFile(path)
	if err != nil {
		return "", nil, err
	}
	return doc.ChainID, doc.AppState, nil
}

// TestnetNode is one node of a local testnet.
type TestnetNode struct {
	Home   string
	NodeID string
	Ports  Ports
}

// InitTestnet writes the CometBFT configuration of n validators under dir
// (dir/node0 … dir/node{n-1}), all on loopback, node i listening on
// basePort+10i (P2P) and basePort+10i+1 (RPC), each peered with the others,
// sharing one genesis with equal voting power. A positive blockTime sets
// timeout_commit.
func InitTestnet(dir string, n int, chainID string, basePort int, blockTime time.Duration, appState json.RawMessage) ([]TestnetNode, error) {
	nodes := make([]TestnetNode, n)
	cfgs := make([]*cfg.Config, n)
	var vals []GenesisValidator
	for i := range nodes {
		name := fmt.Sprintf("node%d", i)
		ports := Ports{P2P: basePort + 10*i, RPC: basePort + 10*i + 1}
		c := DefaultConfig(filepath.Join(dir, name), name, ports)
		c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports.P2P)
		c.P2P.AllowDuplicateIP = true
		c.P2P.AddrBookStrict = false
		if blockTime > 0 {
			c.Consensus.TimeoutCommit = blockTime
		}
		if err := os.MkdirAll(filepath.Join(c.RootDir, "config"), 0o700); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(c.RootDir, "data"), 0o700); err != nil {
			return nil, err
		}
		id, pub, err := GenKeys(c)
		if err != nil {
			return nil, err
		}
		nodes[i] = TestnetNode{Home: c.RootDir, NodeID: id, Ports: ports}
		cfgs[i] = c
		vals = append(vals, GenesisValidator{Name: name, PubKey: pub, Power: 10})
	}
	for i, c := range cfgs {
		var peers []string
		for j, o := range nodes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", o.NodeID, o.Ports.P2P))
			}
		}
		c.P2P.PersistentPeers = strings.Join(peers, ",")
		if err := WriteConfig(c); err != nil {
			return nil, err
		}
		if err := WriteGenesis(c.GenesisFile(), chainID, vals, appState); err != nil {
			return nil, err
		}
	}
	// One genesis for all: rewrite the others from node0's so the genesis
	// time is identical.
	src, err := os.ReadFile(cfgs[0].GenesisFile())
	if err != nil {
		return nil, err
	}
	for _, c := range cfgs[1:] {
		if err := os.WriteFile(c.GenesisFile(), src, 0o600); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// Version returns the CometBFT version embedded in medledger.
func Version() string { return version.TMCoreSemVer }

// FreeBasePort finds a base port for a loopback testnet of n nodes: the
// 10*n ports from it up (node i uses base+10i, +1, +2) are all free now.
// Tests use it; another process may still take a port before the nodes
// listen.
func FreeBasePort(n int) (int, error) {
	for range 50 {
		base := 30000 + rand.IntN(20000)
		ok := true
		for p := base; p < base+10*n && ok; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports on 127.0.0.1", 10*n)
}

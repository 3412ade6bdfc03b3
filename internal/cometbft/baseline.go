package cometbft

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	cfg "github.com/cometbft/cometbft/config"

	"github.com/cometbft/cometbft/abci/example/kvstore"
)

// The baseline is CometBFT's own example key-value store app
// (abci/example/kvstore, persisting to goleveldb) run on the same
// CometBFT configuration as a medledger node: the engine's ceiling, against
// which `medledger bench --baseline` measures medledger side by side.

// BaselineChainID is the chain ID of a baseline node.
const BaselineChainID = "medledger-baseline"

// InitBaseline writes the configuration of a baseline network of
// len(like) validators under dir (dir/node0 …), node i copying CometBFT's
// settings (block time, mempool, block size, storage) from the medledger
// node home like[i] and listening on basePort+10i (P2P) and basePort+10i+1
// (RPC) on loopback. The validators share one genesis and peer with each
// other. It returns the homes.
func InitBaseline(dir string, like []string, basePort int) ([]string, error) {
	cfgs := make([]*cfg.Config, len(like))
	ids := make([]string, len(like))
	var vals []GenesisValidator
	for i, l := range like {
		c, err := LoadConfig(l)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("node%d", i)
		c.SetRoot(filepath.Join(dir, name))
		c.Moniker = name
		c.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", basePort+10*i+1)
		c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", basePort+10*i)
		c.P2P.AllowDuplicateIP, c.P2P.AddrBookStrict = true, false
		c.P2P.Seeds = ""
		c.StateSync.Enable = false
		if err := WriteConfig(c); err != nil {
			return nil, err
		}
		id, pub, err := GenKeys(c)
		if err != nil {
			return nil, err
		}
		cfgs[i], ids[i] = c, id
		vals = append(vals, GenesisValidator{Name: name, PubKey: pub, Power: 10})
	}
	homes := make([]string, len(cfgs))
	for i, c := range cfgs {
		var peers []string
		for j := range cfgs {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", ids[j], basePort+10*j))
			}
		}
		c.P2P.PersistentPeers = strings.Join(peers, ",")
		if err := WriteConfig(c); err != nil {
			return nil, err
		}
		if i == 0 {
			if err := WriteGenesis(c.GenesisFile(), BaselineChainID, vals, nil); err != nil {
				return nil, err
			}
		} else if err := copyFile(cfgs[0].GenesisFile(), c.GenesisFile()); err != nil {
			return nil, err
		}
		homes[i] = c.RootDir
	}
	return homes, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// NewBaselineNode creates (but does not start) a node running the key-value
// store app in home, which InitBaseline wrote. Its txs are "key=value".
func NewBaselineNode(home string, log *slog.Logger) (*Node, error) {
	c, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	app := kvstore.NewPersistentApplication(filepath.Join(home, "data", "kvstore"))
	n, err := newNode(c, app, nil, log, slog.LevelDebug)
	if err != nil {
		app.Close()
		return nil, err
	}
	n.closeApp = app.Close
	return n, nil
}

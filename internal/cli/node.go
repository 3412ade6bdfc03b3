package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"medledger"
	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/identity"
	"medledger/internal/node"
)

func nodeCommands() []command {
	var (
		chainID, moniker, apiListen, regulators string
		threshold, p2pPort, rpcPort             int
		ifNeeded                                bool
	)
	return []command{
		{path: "init", summary: "Create a node home with a single-validator genesis and a consortium authority key",
			example: "medledger init --home ~/.medledger --chain-id medledger-local\nmedledger init --regulators reg1,reg2,reg3 --threshold 2",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&chainID, "chain-id", node.DefaultChainID, "chain `ID`")
				fs.StringVar(&moniker, "moniker", "", "node `name` (default: the host name)")
				fs.StringVar(&apiListen, "api-listen", node.DefaultAPIListen, "API `address`")
				fs.StringVar(&regulators, "regulators", "authority", "comma-separated keyring `names` of the consortium authority's regulators; missing keys are created")
				fs.IntVar(&threshold, "threshold", 1, "regulator approvals an authority action needs (M of N)")
				fs.IntVar(&p2pPort, "p2p-port", cometbft.DefaultPorts.P2P, "CometBFT P2P `port`")
				fs.IntVar(&rpcPort, "rpc-port", cometbft.DefaultPorts.RPC, "CometBFT RPC `port` (on 127.0.0.1)")
				fs.BoolVar(&ifNeeded, "if-needed", false, "do nothing if the home is already initialised")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if node.Initialised(e.home) {
					if ifNeeded {
						fmt.Fprintf(e.stderr, "%s is already initialised\n", e.home)
						return nil
					}
					return fmt.Errorf("%s is already initialised (use another --home, or --if-needed)", e.home)
				}
				regs, err := e.ensureKeys(strings.Split(regulators, ","))
				if err != nil {
					return err
				}
				o := node.InitOptions{Moniker: moniker, ChainID: chainID, Regulators: regs, Threshold: threshold,
					Ports: cometbft.Ports{P2P: p2pPort, RPC: rpcPort}, APIListen: apiListen}
				if err := node.Init(e.home, o); err != nil {
					return err
				}
				return e.print(map[string]any{"home": e.home, "chain_id": chainID, "regulators": regulators, "threshold": threshold, "api": "http://" + apiListen},
					func(tw io.Writer) {
						fmt.Fprintf(tw, "initialised\t%s\nchain id\t%s\nauthority\t%s (%d of %d)\napi\thttp://%s\nnext\tmedledger start --home %s\n",
							e.home, chainID, regulators, threshold, len(regs), apiListen, e.home)
					})
			}},
		{path: "start", summary: "Run the node: consensus, the API and the CometBFT RPC, until interrupted",
			example: "medledger start --home ~/.medledger",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&apiListen, "api-listen", "", "API `address` (default: app.toml's api.listen)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				return node.Run(ctx, e.home, node.Options{APIListen: apiListen}, func(n *node.Node) {
					fmt.Fprintf(e.stdout, "medledger node is running. API: %s (try %s/healthz)\n", n.APIURL(), n.APIURL())
					fmt.Fprintf(e.stdout, "Web portal: %s/\n", n.APIURL())
				})
			}},
		{path: "version", summary: "Print the medledger, state-machine, CometBFT and Go versions",
			example: "medledger version --output json",
			run: func(ctx context.Context, e *env, args []string) error {
				v := map[string]any{"medledger": medledger.Version, "app_version": medledger.AppVersion, "cometbft": cometbft.Version(), "go": runtime.Version()}
				return e.print(v, func(tw io.Writer) {
					fmt.Fprintf(tw, "medledger\t%s\napp version\t%d\ncometbft\t%s\ngo\t%s\n", medledger.Version, medledger.AppVersion, cometbft.Version(), runtime.Version())
				})
			}},
	}
}

func mustPass(e *env) string {
	p, _ := e.passphrase("Keyring passphrase", false)
	return p
}

// ensureKeys returns the public keys of the named keyring keys, creating
// the missing ones.
func (e *env) ensureKeys(names []string) ([]identity.PublicKeys, error) {
	kr, err := e.keyring()
	if err != nil {
		return nil, err
	}
	var out []identity.PublicKeys
	for _, name := range names {
		info, err := kr.Info(name)
		if errors.Is(err, client.ErrKeyNotFound) {
			p, perr := e.passphrase("New passphrase for key "+name, true)
			if perr != nil {
				return nil, perr
			}
			if p == "" {
				fmt.Fprintf(e.stderr, "warning: key %q is encrypted with an empty passphrase; set MEDLEDGER_PASSPHRASE or use --passphrase-file for a real one\n", name)
			}
			k, nerr := kr.New(name, p)
			if nerr != nil {
				return nil, nerr
			}
			info = k.KeyInfo
			k.Zero()
			fmt.Fprintf(e.stderr, "created key %q: account %s\n", name, info.ID)
		} else if err != nil {
			return nil, err
		}
		out = append(out, identity.PublicKeys{SigningKey: info.SigningPublicKey, EncryptionKey: info.EncryptionPublicKey})
	}
	return out, nil
}

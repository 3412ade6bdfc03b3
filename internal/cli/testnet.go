package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/node"
)

// testnetFlags are the settings shared by `testnet` and `testnet up`.
type testnetFlags struct {
	validators int
	out        string
	chainID    string
	basePort   int
	blockTime  time.Duration
}

func (f *testnetFlags) register(fs *flag.FlagSet, outDefault string) {
	fs.IntVar(&f.validators, "validators", 4, "number of validators")
	fs.StringVar(&f.out, "out", outDefault, "testnet `directory`")
	fs.StringVar(&f.chainID, "chain-id", "medledger-testnet", "chain `ID`")
	fs.IntVar(&f.basePort, "base-port", 26656, "node i listens on base+10i (P2P), +1 (RPC), +2 (API)")
	fs.DurationVar(&f.blockTime, "block-time", 0, "time between blocks (CometBFT timeout_commit; default 1s)")
}

func testnetCommands() []command {
	var f testnetFlags
	return []command{
		{path: "testnet", summary: "Write the configuration of N validators on distinct loopback ports",
			example: "medledger testnet --validators 4 --out ./testnet\nmedledger start --home ./testnet/node0   # and node1, node2, node3\n" +
				"medledger testnet up --out ./testnet     # or start all four at once",
			setup: func(e *env, fs *flag.FlagSet) { f.register(fs, "") },
			run: func(ctx context.Context, e *env, args []string) error {
				if f.out == "" {
					return usagef("--out is required")
				}
				if entries, err := os.ReadDir(f.out); err == nil && len(entries) > 0 {
					return fmt.Errorf("%s is not empty", f.out)
				}
				nodes, err := writeTestnet(e, f)
				if err != nil {
					return err
				}
				return e.print(nodes, func(tw io.Writer) {
					printTestnet(tw, f.out, nodes)
					fmt.Fprintf(tw, "\nStart each with: medledger start --home %s/nodeN, or all with: medledger testnet up --out %s\n", f.out, f.out)
				})
			}},
		{path: "testnet up", summary: "Start a local network of N validator processes on loopback (writing its configuration first if --out holds none) and run it until interrupted",
			example: "medledger testnet up --validators 4 --out ./testnet\nmedledger --home ./testnet/node0 query status   # in another terminal",
			setup:   func(e *env, fs *flag.FlagSet) { f.register(fs, "testnet") },
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				nodes, err := existingTestnet(f.out)
				if err != nil {
					return err
				}
				if len(nodes) == 0 {
					if nodes, err = writeTestnet(e, f); err != nil {
						return err
					}
				} else if len(nodes) != f.validators {
					fmt.Fprintf(e.stderr, "%s already holds a testnet of %d nodes; starting those\n", f.out, len(nodes))
				}
				return runTestnet(ctx, e, f.out, nodes)
			}},
	}
}

// writeTestnet writes the configuration, with the consortium authority's
// key in node0's keyring, copied to the others so the CLI works with any
// node's --home.
func writeTestnet(e *env, f testnetFlags) ([]node.TestnetNode, error) {
	if f.validators < 1 || f.validators > 50 {
		return nil, usagef("--validators must be between 1 and 50")
	}
	first := &env{stdin: e.stdin, stdout: e.stdout, stderr: e.stderr, home: filepath.Join(f.out, "node0"), passFile: e.passFile}
	regs, err := first.ensureKeys([]string{"authority"})
	if err != nil {
		return nil, err
	}
	nodes, err := node.InitTestnet(f.out, node.TestnetOptions{Validators: f.validators, ChainID: f.chainID, BasePort: f.basePort,
		Regulators: regs, Threshold: 1, BlockTime: f.blockTime})
	if err != nil {
		return nil, err
	}
	src, _ := first.keyring()
	data, err := src.Export("authority", mustPass(first))
	if err != nil {
		return nil, err
	}
	for _, n := range nodes[1:] {
		dst, err := client.OpenKeyring(filepath.Join(n.Home, "keyring"))
		if err != nil {
			return nil, err
		}
		if _, err := dst.ImportFile("authority", data, mustPass(first)); err != nil && !errors.Is(err, client.ErrKeyExists) {
			return nil, err
		}
	}
	return nodes, nil
}

// existingTestnet reads the nodes a testnet directory holds, in order.
func existingTestnet(dir string) ([]node.TestnetNode, error) {
	homes, err := filepath.Glob(filepath.Join(dir, "node*", "config", "genesis.json"))
	if err != nil {
		return nil, err
	}
	sort.Slice(homes, func(i, j int) bool {
		a, b := strings.TrimPrefix(homes[i], filepath.Join(dir, "node")), strings.TrimPrefix(homes[j], filepath.Join(dir, "node"))
		return len(a) < len(b) || len(a) == len(b) && a < b
	})
	var out []node.TestnetNode
	for _, g := range homes {
		home := filepath.Dir(filepath.Dir(g))
		cc, err := cometbft.LoadConfig(home)
		if err != nil {
			return nil, err
		}
		ac, err := node.LoadConfig(home)
		if err != nil {
			return nil, err
		}
		n := node.TestnetNode{Home: home}
		fmt.Sscanf(cc.P2P.ListenAddress[strings.LastIndex(cc.P2P.ListenAddress, ":")+1:], "%d", &n.P2P)
		fmt.Sscanf(cc.RPC.ListenAddress[strings.LastIndex(cc.RPC.ListenAddress, ":")+1:], "%d", &n.RPC)
		fmt.Sscanf(ac.API.Listen[strings.LastIndex(ac.API.Listen, ":")+1:], "%d", &n.API)
		out = append(out, n)
	}
	return out, nil
}

func printTestnet(tw io.Writer, dir string, nodes []node.TestnetNode) {
	fmt.Fprintln(tw, "node\thome\tp2p\trpc\tapi")
	for i, n := range nodes {
		fmt.Fprintf(tw, "node%d\t%s\t%d\thttp://127.0.0.1:%d\thttp://127.0.0.1:%d\n", i, n.Home, n.P2P, n.RPC, n.API)
	}
}

// runTestnet starts one `medledger start` process per node, each logging to
// <home>/node.log, waits until every API answers, prints how to reach them,
// and stops them all (SIGINT, then after 20 s a kill) when ctx ends. A node
// that exits on its own is reported; the others keep running.
func runTestnet(ctx context.Context, e *env, dir string, nodes []node.TestnetNode) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	type proc struct {
		name string
		cmd  *exec.Cmd
		log  string
	}
	var procs []*proc
	var wg sync.WaitGroup
	exited := make(chan string, len(nodes))
	stopAll := func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Signal(os.Interrupt)
			}
		}
	}
	for i, n := range nodes {
		logPath := filepath.Join(n.Home, "node.log")
		lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			stopAll()
			return err
		}
		cmd := exec.Command(self, "start", "--home", n.Home)
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.WaitDelay = 20 * time.Second
		if err := cmd.Start(); err != nil {
			lf.Close()
			stopAll()
			return fmt.Errorf("starting node%d: %w", i, err)
		}
		p := &proc{name: fmt.Sprintf("node%d", i), cmd: cmd, log: logPath}
		procs = append(procs, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			lf.Close()
			if ctx.Err() == nil {
				exited <- fmt.Sprintf("%s exited (%v); the end of its log, %s:\n%s", p.name, err, p.log, tail(p.log, 10))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	fmt.Fprintf(e.stdout, "starting %d validators in %s ...\n", len(nodes), dir)
	if err := waitReady(ctx, nodes, done); err != nil {
		stopAll()
		<-done
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	printTestnet(tw, dir, nodes)
	tw.Flush()
	fmt.Fprintf(e.stdout, "\nThe network is up. In another terminal, for example:\n"+
		"  medledger --home %s query status\n"+
		"  medledger --home %s org admit --from authority --id st-marys --type hospital --name \"St Mary's\" --licence H-1 --admin st-marys-admin\n"+
		"Logs: %s/nodeN/node.log. Stop with Ctrl-C.\n", nodes[0].Home, nodes[0].Home, dir)
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.stdout, "stopping the network ...")
			stopAll()
			<-done
			return nil
		case msg := <-exited:
			fmt.Fprintln(e.stderr, msg)
		case <-done:
			return errors.New("every node has exited")
		}
	}
}

// waitReady polls each node's /healthz until all answer.
func waitReady(ctx context.Context, nodes []node.TestnetNode, done <-chan struct{}) error {
	deadline := time.Now().Add(2 * time.Minute)
	hc := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < len(nodes); {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", nodes[i].API))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				i++
				continue
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node%d's API did not answer within 2 minutes; see %s", i, filepath.Join(nodes[i].Home, "node.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return fmt.Errorf("the nodes exited while starting; see %s", filepath.Join(nodes[i].Home, "node.log"))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// tail returns the last lines of a file, for error messages.
func tail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var buf []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		buf = append(buf, sc.Text())
		if len(buf) > lines {
			buf = buf[1:]
		}
	}
	return strings.Join(buf, "\n")
}

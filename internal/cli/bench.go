package cli

import (
	"context"
	"flag"
	"os"
	"runtime/pprof"
	"strings"

	"golang.org/x/term"

	"medledger/client"
	"medledger/internal/bench"
	"medledger/internal/node"
)

func benchCommands() []command {
	var (
		o          bench.Options
		jsonOut    bool
		rpcs, apis string
		regulator  string
		cpuProfile string
		logFile    string
	)
	return []command{{
		path:    "bench",
		usage:   "SCENARIO",
		summary: "Measure committed throughput and latency under load (scenarios: " + strings.Join(bench.Scenarios, ", ") + ")",
		details: `By default the bench starts its own node (or --nodes validators) in a temporary
directory, sets up accounts, then loads it for --duration. Only txs seen
committed with a zero result code are counted; dropped txs are resubmitted.
Latency runs from a tx's first submission until its block is seen committed.

Scenarios:
  anchor   physicians anchor new records (one signed tx each)
  grant    patients grant and revoke access, in turn
  read     gateway reads of --record-size records at --rate per second: consent
           check, access tx logged, ciphertext served and decrypted; every
           read's access event is confirmed committed
  verify   state proofs fetched and verified on the client (latency is the
           verification alone; ops are fetch + verify)
  supply   manufacturer members commission --batch serials per tx while packs
           are verified at --rate per second
  mixed    70% anchors, 30% grants and revocations, reads at --rate

--baseline first runs CometBFT's example key-value store app on the same
CometBFT configuration with txs of the same size, then medledger, and prints
the ratio. CPU and memory are the bench process's, which hosts the nodes it
starts and the load generator alike.`,
		example: "medledger bench --baseline --json anchor\nmedledger bench --duration 1m --concurrency 200 read\nmedledger bench --nodes 4 --baseline anchor",
		setup: func(e *env, fs *flag.FlagSet) {
			fs.DurationVar(&o.Duration, "duration", 0, "measured `time` (default 20s unless --txs or --ops is given)")
			fs.IntVar(&o.Txs, "txs", 0, "commit this many txs instead of running for a duration")
			fs.IntVar(&o.Ops, "ops", 0, "make this many reads or verifications instead of running for a duration")
			fs.IntVar(&o.Concurrency, "concurrency", 0, "accounts submitting at once, or concurrent requests (default 100; 16 for read and verify)")
			fs.IntVar(&o.Window, "window", 0, "txs each account keeps in flight (default 64)")
			fs.IntVar(&o.TxSize, "tx-size", 0, "bytes per baseline tx (default: the mean size of the scenario's txs)")
			fs.IntVar(&o.RecordSize, "record-size", 0, "bytes per record read, and the size anchors declare (default 10240)")
			fs.Float64Var(&o.Rate, "rate", 0, "reads or verifications per second (default 500 for read, 100 for mixed and supply, unlimited for verify)")
			fs.IntVar(&o.Batch, "batch", 0, "serials per commission tx (supply; default 100)")
			fs.IntVar(&o.Nodes, "nodes", 1, "validators to start, on loopback; the load is spread over them")
			fs.DurationVar(&o.BlockTime, "block-time", 0, "timeout_commit of the started nodes (default: the node default)")
			fs.BoolVar(&o.Baseline, "baseline", false, "run the key-value store baseline first and print the ratio")
			fs.BoolVar(&jsonOut, "json", false, "print the result as one JSON object on the last line")
			fs.StringVar(&o.Dir, "dir", "", "keep the started nodes' data in this `directory` (default: a temporary one, removed)")
			fs.StringVar(&rpcs, "rpc", "", "load running nodes instead: comma-separated CometBFT RPC `addresses`")
			fs.StringVar(&apis, "api", "", "with --rpc: the nodes' API `URLs`, in the same order")
			fs.StringVar(&regulator, "regulator", "", "with --rpc: keyring `key` of a regulator, which admits the bench's organisation")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured run to `file` (go tool pprof)")
			fs.StringVar(&logFile, "log", "", "write the started nodes' logs to `file` (default: discarded)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("name one scenario: %s", strings.Join(bench.Scenarios, ", "))
			}
			o.Scenario = args[0]
			if rpcs != "" {
				o.RPC = strings.Split(rpcs, ",")
				if apis == "" {
					return usagef("--rpc needs --api")
				}
				o.API = strings.Split(apis, ",")
				if regulator == "" {
					return usagef("--rpc needs --regulator")
				}
				k, err := e.key(regulator)
				if err != nil {
					return err
				}
				u := client.UserOf(k)
				o.Regulator = &u
			}
			o.Defaults()
			if err := o.Validate(); err != nil {
				return usagef("%v", err)
			}
			o.Progress = e.stderr
			if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				o.TTY = true
			}
			if logFile != "" {
				f, err := os.Create(logFile)
				if err != nil {
					return err
				}
				defer f.Close()
				o.Log = node.NewLogger(node.LogConfig{Level: "info", Format: "text"}, f)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := bench.Run(ctx, o)
			if res != nil && !jsonOut {
				res.WriteText(e.stdout)
			}
			if err != nil {
				return err
			}
			if jsonOut {
				return res.WriteJSON(e.stdout)
			}
			return nil
		},
	}}
}

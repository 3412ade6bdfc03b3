package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

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
	var (
		so    bench.ScaleOptions
		sizes string
		svg   string
	)
	return []command{{
		path:    "bench scale",
		summary: "Grow one node's state to each size and measure anchor throughput, read latency and proof size there",
		details: `The state grows through real anchor txs submitted to the node's API (no
shortcut past consensus); at each size the bench measures anchor throughput
for --anchor, --reads gateway reads of 10 KB records, and --proofs record
state proofs fetched and verified on the client. It prints a Markdown table
and, with --svg, draws the curves.`,
		example: "medledger bench scale --sizes 10000,100000,1000000 --svg docs/scale.svg",
		setup: func(e *env, fs *flag.FlagSet) {
			fs.StringVar(&sizes, "sizes", "10000,100000,1000000", "comma-separated record `counts` to measure at")
			fs.DurationVar(&so.Anchor, "anchor", 10*time.Second, "how long to measure anchor throughput at each size")
			fs.IntVar(&so.Reads, "reads", 500, "reads timed at each size")
			fs.Float64Var(&so.ReadRate, "read-rate", 100, "reads per second")
			fs.IntVar(&so.Proofs, "proofs", 500, "proofs verified at each size")
			fs.StringVar(&so.Dir, "dir", "", "keep the node's data in this `directory` (default: a temporary one, removed)")
			fs.StringVar(&svg, "svg", "", "write the chart to this SVG `file`")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measurements at the largest size to `file` (go tool pprof)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			so.Sizes = nil
			for _, f := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					return usagef("--sizes: %q is not a number", f)
				}
				so.Sizes = append(so.Sizes, n)
			}
			so.Progress = e.stderr
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				so.CPUProfile = f
			}
			pts, err := bench.Scale(ctx, so)
			if len(pts) > 0 {
				if e.output == "json" {
					if jerr := json.NewEncoder(e.stdout).Encode(pts); jerr != nil {
						return jerr
					}
				} else {
					fmt.Fprintln(e.stdout, "| records | anchor tx/s | anchor p99 ms | read p50 ms | read p99 ms | proof bytes | verify p50 µs | verify p99 µs | state on disk |")
					fmt.Fprintln(e.stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
					for _, p := range pts {
						fmt.Fprintf(e.stdout, "| %d | %.0f | %.0f | %.1f | %.1f | %d | %.0f | %.0f | %.0f MB |\n", p.Records, p.AnchorTxPerS, p.AnchorP99,
							p.ReadP50, p.ReadP99, p.ProofBytes, p.VerifyP50*1000, p.VerifyP99*1000, float64(p.DiskBytes)/(1<<20))
					}
				}
				if svg != "" {
					f, ferr := os.Create(svg)
					if ferr != nil {
						return ferr
					}
					defer f.Close()
					if ferr := bench.WriteScaleSVG(f, pts); ferr != nil {
						return ferr
					}
				}
			}
			return err
		},
	}, {
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
			fs.IntVar(&o.Mempool, "mempool", 0, "mempool size in txs of the started nodes and the baseline (default: the node default, 20000)")
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

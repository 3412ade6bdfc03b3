// Package bench is the load generator behind `medledger bench`. It starts
// medledger nodes in a temporary directory (one, or a local testnet) or
// drives running ones, runs a scenario, and reports what committed:
// throughput, latency from submission to commit, CPU, memory and disk.
// With a baseline it first runs CometBFT's example key-value store app on
// the same CometBFT configuration, so that the ratio of the two, measured
// side by side in one run, is the figure that counts on a shared machine.
//
// Only txs seen committed with a zero result code are counted. A tx that
// a full mempool dropped, or that committed with an error because an
// earlier tx of its account was dropped, is resubmitted in its account's
// order until it commits (DESIGN §6).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"medledger/client"
)

// Scenarios lists the scenarios by name.
var Scenarios = []string{"anchor", "grant", "read", "verify", "supply", "mixed"}

// txScenarios are the scenarios whose figure is committed txs; the
// baseline applies to them.
var txScenarios = []string{"anchor", "grant", "supply", "mixed"}

// Options configures a run.
type Options struct {
	Scenario string
	// Duration of the measured phase; when zero, Txs (or Ops) bounds it.
	Duration time.Duration
	// Txs is how many txs to commit (tx scenarios) when Duration is zero.
	Txs int
	// Ops is how many reads or verifications to make when Duration is
	// zero (read, verify).
	Ops int
	// Concurrency is the number of accounts submitting at once (tx
	// scenarios) or of concurrent requests (read, verify).
	Concurrency int
	// Window is how many txs each account keeps in flight.
	Window int
	// TxSize is the size of a baseline tx; zero matches the mean size of
	// the scenario's txs.
	TxSize int
	// RecordSize is the size of a record read (read, mixed) and the size
	// anchors declare.
	RecordSize int
	// Rate is the target of reads (read, mixed) or verifications per
	// second (verify, supply); zero is as fast as possible.
	Rate float64
	// Batch is the serials per commission tx (supply).
	Batch int
	// Nodes is how many validators to start (ignored with RPC).
	Nodes int
	// BlockTime is the started nodes' timeout_commit; zero keeps the
	// node default.
	BlockTime time.Duration
	// Mempool is the started nodes' (and the baseline's) mempool size in
	// txs; zero keeps the node default.
	Mempool int
	// Baseline runs the key-value store baseline first.
	Baseline bool
	// Dir holds the nodes the bench starts; empty for a temporary
	// directory removed afterwards.
	Dir string
	// RPC and API address running nodes (CometBFT RPC, medledger API),
	// one of each per node; empty to start nodes. Regulator then signs
	// the admission of the bench's organisation.
	RPC, API  []string
	Regulator *client.User
	// Progress receives a status line every second (every 5 s unless
	// TTY); nil for none.
	Progress io.Writer
	TTY      bool
	// Log receives the started nodes' logs; nil discards them.
	Log *slog.Logger
}

// Defaults fills the unset options with values that finish in well under
// two minutes with a baseline on a laptop.
func (o *Options) Defaults() {
	if o.Duration == 0 && o.Txs == 0 && o.Ops == 0 {
		o.Duration = 20 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 100
		if o.Scenario == "read" || o.Scenario == "verify" {
			o.Concurrency = 16
		}
	}
	if o.Window == 0 {
		o.Window = 64
	}
	if o.RecordSize == 0 {
		o.RecordSize = 10 << 10
	}
	if o.Rate == 0 && o.Scenario == "read" {
		o.Rate = 500
	}
	if o.Rate == 0 && (o.Scenario == "mixed" || o.Scenario == "supply") {
		o.Rate = 100
	}
	if o.Batch == 0 {
		o.Batch = 100
	}
	if o.Nodes == 0 {
		o.Nodes = 1
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch {
	case !slices.Contains(Scenarios, o.Scenario):
		return fmt.Errorf("unknown scenario %q (one of %v)", o.Scenario, Scenarios)
	case o.Duration < 0 || o.Txs < 0 || o.Ops < 0:
		return errors.New("duration, txs and ops must not be negative")
	case o.Concurrency < 1 || o.Concurrency > 10000:
		return errors.New("concurrency must be between 1 and 10000")
	case o.Window < 1 || o.Window > 10000:
		return errors.New("window must be between 1 and 10000")
	case o.TxSize < 0 || o.TxSize > 1<<20:
		return errors.New("tx size must be between 0 and 1 MiB")
	case o.RecordSize < 1 || o.RecordSize > 64<<20:
		return errors.New("record size must be between 1 byte and 64 MiB")
	case o.Rate < 0:
		return errors.New("rate must not be negative")
	case o.Batch < 1 || o.Batch > 10000:
		return errors.New("batch must be between 1 and 10000 serials")
	case o.Mempool < 0 || o.Mempool > 1_000_000:
		return errors.New("mempool must be between 0 (the node default) and 1,000,000 txs")
	case o.Nodes < 1 || o.Nodes > 16:
		return errors.New("nodes must be between 1 and 16")
	case o.Baseline && len(o.RPC) > 0:
		return errors.New("the baseline starts its own nodes: it cannot run against --rpc nodes")
	case o.Baseline && !slices.Contains(txScenarios, o.Scenario):
		return fmt.Errorf("the baseline compares committed txs: use it with %v", txScenarios)
	case len(o.RPC) > 0 && len(o.API) != len(o.RPC):
		return errors.New("give one API address per RPC address")
	case len(o.RPC) > 0 && o.Regulator == nil:
		return errors.New("against running nodes, a regulator key admits the bench's organisation")
	}
	return nil
}

// Result is what a run measured. Latencies are in milliseconds.
type Result struct {
	Scenario string `json:"scenario"`
	Nodes    int    `json:"nodes"`
	// Txs committed with a zero result code, and their rate over the
	// measured phase (for read: reads whose access tx committed).
	Txs    int     `json:"txs"`
	TxPerS float64 `json:"tx_per_s"`
	P50    float64 `json:"p50_ms"`
	P95    float64 `json:"p95_ms"`
	P99    float64 `json:"p99_ms"`
	// Baseline figures, with --baseline: Ratio is TxPerS ÷ BaselineTxPerS.
	BaselineTxPerS float64 `json:"baseline_tx_per_s,omitempty"`
	BaselineP50    float64 `json:"baseline_p50_ms,omitempty"`
	BaselineP99    float64 `json:"baseline_p99_ms,omitempty"`
	Ratio          float64 `json:"ratio,omitempty"`

	Seconds      float64        `json:"seconds"`
	SetupSeconds float64        `json:"setup_seconds"`
	TxBytes      int            `json:"tx_bytes"`
	ByKind       map[string]int `json:"by_kind,omitempty"`
	// Resubmitted counts txs committed with an error and sent again;
	// OutOfOrder counts submissions CheckTx refused because an earlier tx
	// of the account was missing (they are sent again in order);
	// Full counts submissions refused by a full mempool; Vanished counts
	// the times an account's oldest tx, though accepted, was in no block
	// 20 s later and its queue was sent again (a node dropped it without
	// saying so); Uncommitted counts txs never seen committed (not
	// counted in Txs).
	Resubmitted int `json:"resubmitted"`
	OutOfOrder  int `json:"out_of_order"`
	Full        int `json:"mempool_full"`
	Vanished    int `json:"vanished"`
	Uncommitted int `json:"uncommitted"`
	Blocks      int `json:"blocks"`
	// Ops are reads or verifications, with their rate and latency.
	Ops       int     `json:"ops,omitempty"`
	OpsFailed int     `json:"ops_failed,omitempty"`
	OpError   string  `json:"op_error,omitempty"`
	OpsPerS   float64 `json:"ops_per_s,omitempty"`
	OpP50     float64 `json:"op_p50_ms,omitempty"`
	OpP99     float64 `json:"op_p99_ms,omitempty"`
	// ProofBytes is the mean size of the proofs verified (verify).
	ProofBytes int `json:"proof_bytes,omitempty"`
	// Process CPU (node and load generator share it when the bench
	// started the nodes) as a percentage of one core, resident memory,
	// and the nodes' data growth per committed tx.
	CPUPercent   float64 `json:"cpu_percent"`
	RSSMB        float64 `json:"rss_mb"`
	DiskPerTx    float64 `json:"disk_bytes_per_tx,omitempty"`
	SerialsPerS  float64 `json:"serials_per_s,omitempty"`
	CommittedAll bool    `json:"-"`
}

// Run runs the scenario o describes.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.Defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := o.Dir
	if dir == "" && len(o.RPC) == 0 {
		d, err := os.MkdirTemp("", "medledger-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var reg user
	var homes []string
	if len(o.RPC) == 0 {
		var err error
		if reg, err = newUser(); err != nil {
			return nil, err
		}
		if homes, err = initMedledger(filepath.Join(dir, "medledger"), o.Nodes, reg, o.BlockTime, o.Mempool, o.Scenario == "read"); err != nil {
			return nil, err
		}
	} else {
		reg = user{User: *o.Regulator}
	}
	var base *Result
	if o.Baseline {
		size := o.TxSize
		if size == 0 {
			var err error
			if size, err = sampleTxSize(o); err != nil {
				return nil, err
			}
		}
		t, err := startBaseline(filepath.Join(dir, "baseline"), homes, o.Concurrency, log)
		if err != nil {
			return nil, fmt.Errorf("starting the baseline: %w", err)
		}
		base, err = runBaseline(ctx, o, t, size)
		t.close()
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	var t *target
	var err error
	if len(o.RPC) == 0 {
		t, err = startMedledger(homes, o.Concurrency, log)
	} else {
		t = remoteTarget(o.RPC, o.API, o.Concurrency)
	}
	if err != nil {
		return nil, err
	}
	defer t.close()
	res, err := runScenario(ctx, o, t, reg)
	if err != nil {
		return nil, err
	}
	if base != nil {
		res.BaselineTxPerS, res.BaselineP50, res.BaselineP99 = base.TxPerS, base.P50, base.P99
		if base.TxPerS > 0 {
			res.Ratio = res.TxPerS / base.TxPerS
		}
	}
	return res, nil
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteText writes r for a person.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "scenario     %s on %d node(s), %.1f s measured (setup %.1f s)\n", r.Scenario, r.Nodes, r.Seconds, r.SetupSeconds)
	if r.ProofBytes == 0 {
		fmt.Fprintf(w, "committed    %d txs, %.0f tx/s, latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", r.Txs, r.TxPerS, r.P50, r.P95, r.P99)
	}
	if r.Ops > 0 || r.OpsFailed > 0 {
		fmt.Fprintf(w, "operations   %d (%d failed), %.0f/s, latency p50 %.2f ms, p99 %.2f ms\n", r.Ops, r.OpsFailed, r.OpsPerS, r.OpP50, r.OpP99)
	}
	if r.ProofBytes > 0 {
		fmt.Fprintf(w, "proofs       %d bytes on average, verified on the client in p50 %.3f ms, p95 %.3f ms, p99 %.3f ms\n", r.ProofBytes, r.P50, r.P95, r.P99)
	}
	if r.SerialsPerS > 0 {
		fmt.Fprintf(w, "serials      %.0f commissioned per second\n", r.SerialsPerS)
	}
	fmt.Fprintf(w, "resources    cpu %.0f%% (of one core), rss %.0f MB", r.CPUPercent, r.RSSMB)
	if r.DiskPerTx > 0 {
		fmt.Fprintf(w, ", disk %.0f bytes per committed tx", r.DiskPerTx)
	}
	fmt.Fprintf(w, "\nchecks       %d resubmitted, %d refused out of order, %d refused by a full mempool, %d resent after vanishing, %d never committed (not counted), %d blocks\n",
		r.Resubmitted, r.OutOfOrder, r.Full, r.Vanished, r.Uncommitted, r.Blocks)
	if r.BaselineTxPerS > 0 {
		fmt.Fprintf(w, "baseline     %.0f tx/s (kvstore, %d-byte txs as medledger's, same config), p50 %.1f ms, p99 %.1f ms\n", r.BaselineTxPerS, r.TxBytes, r.BaselineP50, r.BaselineP99)
		fmt.Fprintf(w, "ratio        %.2f (medledger ÷ baseline)\n", r.Ratio)
	}
}

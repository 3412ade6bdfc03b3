package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"medledger"
)

// ScaleOptions configures a run that grows one node's state and measures
// it at each size.
type ScaleOptions struct {
	// Sizes are the record counts to measure at, increasing.
	Sizes []int
	// Anchor is how long anchor throughput is measured at each size.
	Anchor time.Duration
	// Reads and Proofs are how many reads and proof verifications are
	// timed at each size; ReadRate paces the reads.
	Reads, Proofs int
	ReadRate      float64
	Dir           string
	Progress      io.Writer
	Log           *slog.Logger
	// CPUProfile, if set, receives a CPU profile of the measurements at
	// the largest size (not of the growth before them).
	CPUProfile io.Writer
}

// ScalePoint is what was measured at one size.
type ScalePoint struct {
	Records      int     `json:"records"`
	GrowSeconds  float64 `json:"grow_seconds"`
	AnchorTxPerS float64 `json:"anchor_tx_per_s"`
	AnchorP50    float64 `json:"anchor_p50_ms"`
	AnchorP99    float64 `json:"anchor_p99_ms"`
	ReadP50      float64 `json:"read_p50_ms"`
	ReadP99      float64 `json:"read_p99_ms"`
	ProofBytes   int     `json:"proof_bytes"`
	VerifyP50    float64 `json:"verify_p50_ms"`
	VerifyP99    float64 `json:"verify_p99_ms"`
	DiskBytes    int64   `json:"disk_bytes"`
}

// Scale grows a node's state with real anchor txs through its API, the
// way clients would write it (no shortcut past CometBFT), and at each size
// measures anchor throughput, read latency, and the size and verification
// time of a record's state proof.
func Scale(ctx context.Context, o ScaleOptions) ([]ScalePoint, error) {
	if len(o.Sizes) == 0 {
		return nil, errors.New("no sizes")
	}
	for i, s := range o.Sizes {
		if s < 1 || (i > 0 && s <= o.Sizes[i-1]) {
			return nil, errors.New("sizes must be positive and increasing")
		}
	}
	if o.Anchor <= 0 {
		o.Anchor = 10 * time.Second
	}
	if o.Reads <= 0 {
		o.Reads = 500
	}
	if o.ReadRate <= 0 {
		o.ReadRate = 100
	}
	if o.Proofs <= 0 {
		o.Proofs = 500
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "medledger-scale-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	reg, err := newUser()
	if err != nil {
		return nil, err
	}
	homes, err := initMedledger(filepath.Join(dir, "medledger"), 1, reg, 0, 0, false)
	if err != nil {
		return nil, err
	}
	t, err := startMedledger(homes, 100, log)
	if err != nil {
		return nil, err
	}
	defer t.close()
	c := t.api(0)
	w, err := newWorld(ctx, c, reg, medledger.OrgHospital, []medledger.Role{medledger.RolePhysician}, 100, 100)
	if err != nil {
		return nil, err
	}
	ids := make([]medledger.ID, len(w.patients))
	for i, pt := range w.patients {
		ids[i] = pt.ID
	}
	streams := make([]*anchorStream, len(w.members))
	for i, m := range w.members {
		streams[i] = &anchorStream{chainID: w.chainID, s: m.Signer, patients: rotate(ids, i), size: 10 << 10}
	}
	ro := Options{RecordSize: 10 << 10}
	reads, err := readSetup(ctx, t, reg, ro, 20)
	if err != nil {
		return nil, err
	}
	v, err := verifySetup(ctx, t, reg)
	if err != nil {
		return nil, err
	}
	records := len(reads.recs) + len(v.keys)
	// phase runs the anchor streams for n txs or for d, continuing each
	// account's nonces, and returns what it measured.
	phase := func(n int, d time.Duration, name string) (*Result, error) {
		st := newStats()
		r := newRunner(t.chain, 64, st)
		for _, s := range streams {
			r.add(s, t.subs[0], true)
		}
		po := Options{Txs: n, Duration: d}
		if d > 0 {
			po.Txs = 0
		}
		if o.Progress != nil && name != "" {
			po.Progress, po.TTY = o.Progress, false
		}
		p := &phase{name: name, r: r, st: st, target: t}
		res, err := p.measure(ctx, po)
		if err != nil {
			return nil, err
		}
		if res.Uncommitted > 0 {
			return nil, fmt.Errorf("%d anchors never committed", res.Uncommitted)
		}
		for i, s := range r.senders {
			streams[i].base += uint64(s.ok)
		}
		records += res.Txs
		return res, nil
	}
	var out []ScalePoint
	for _, size := range o.Sizes {
		pt := ScalePoint{}
		if grow := size - records; grow > 0 {
			say("growing the state to %d records (%d anchors)…", size, grow)
			start := time.Now()
			if _, err := phase(grow, 0, "grow"); err != nil {
				return out, err
			}
			pt.GrowSeconds = time.Since(start).Seconds()
		}
		pt.Records = records
		say("measuring at %d records", records)
		if o.CPUProfile != nil && size == o.Sizes[len(o.Sizes)-1] {
			if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
				return out, err
			}
			defer pprof.StopCPUProfile()
		}
		res, err := phase(0, o.Anchor, "anchor")
		if err != nil {
			return out, err
		}
		pt.AnchorTxPerS, pt.AnchorP50, pt.AnchorP99 = res.TxPerS, res.P50, res.P99
		st := newStats()
		opLoop(ctx, nil, o.ReadRate, 16, o.Reads, st, reads.op)
		if st.opFail > 0 {
			return out, fmt.Errorf("%d reads failed", st.opFail)
		}
		sortDurations(st.ops)
		pt.ReadP50, pt.ReadP99 = msf(percentile(st.ops, 0.5)), msf(percentile(st.ops, 0.99))
		v.verify, v.bytes, v.n = nil, 0, 0
		vst := newStats()
		opLoop(ctx, nil, 0, 2, o.Proofs, vst, v.op)
		if vst.opFail > 0 {
			return out, fmt.Errorf("%d proofs failed", vst.opFail)
		}
		vr := &Result{}
		if err := v.report(vr); err != nil {
			return out, err
		}
		pt.ProofBytes, pt.VerifyP50, pt.VerifyP99 = vr.ProofBytes, vr.P50, vr.P99
		pt.DiskBytes = t.diskBytes()
		say("  %d records: anchor %.0f tx/s (p99 %.0f ms), read p50 %.1f ms p99 %.1f ms, proof %d bytes verified in %.3f ms (p99 %.3f)",
			pt.Records, pt.AnchorTxPerS, pt.AnchorP99, pt.ReadP50, pt.ReadP99, pt.ProofBytes, pt.VerifyP50, pt.VerifyP99)
		out = append(out, pt)
	}
	return out, nil
}

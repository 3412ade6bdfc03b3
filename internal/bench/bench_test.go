package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"medledger/internal/bench"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// These are smoke runs: they assert that each scenario completes and
// counts what committed, never how fast (timings are for benchmarks).

func run(t *testing.T, o bench.Options) *bench.Result {
	t.Helper()
	o.BlockTime = 200 * time.Millisecond
	o.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, o)
	if err != nil {
		t.Fatalf("%s: %v", o.Scenario, err)
	}
	if res.Uncommitted != 0 {
		t.Fatalf("%s: %d txs never committed", o.Scenario, res.Uncommitted)
	}
	return res
}

// TestAnchorWithBaseline runs the README's command in small: every tx is
// counted once it committed (the bench checks each account's nonce moved
// by what it counted), and the JSON line carries the baseline and ratio.
func TestAnchorWithBaseline(t *testing.T) {
	res := run(t, bench.Options{Scenario: "anchor", Txs: 400, Concurrency: 8, Window: 16, Baseline: true})
	if res.Txs != 400 {
		t.Fatalf("committed %d txs, want 400", res.Txs)
	}
	if res.BaselineTxPerS <= 0 || res.TxPerS <= 0 || res.Ratio <= 0 || res.P99 < res.P50 || res.TxBytes < 200 {
		t.Fatalf("incomplete result: %+v", res)
	}
	var out bytes.Buffer
	if err := res.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tx_per_s", "p50_ms", "p99_ms", "baseline_tx_per_s", "ratio"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("JSON result lacks %s: %s", k, out.String())
		}
	}
}

func TestScenarios(t *testing.T) {
	t.Run("grant", func(t *testing.T) {
		res := run(t, bench.Options{Scenario: "grant", Txs: 60, Concurrency: 4, Window: 4})
		if res.Txs != 60 {
			t.Fatalf("committed %d grants and revocations, want 60", res.Txs)
		}
	})
	t.Run("read", func(t *testing.T) {
		res := run(t, bench.Options{Scenario: "read", Ops: 30, Concurrency: 4, Rate: 100})
		if res.Ops != 30 || res.OpsFailed != 0 || res.Txs != 30 {
			t.Fatalf("want 30 reads served and 30 access events committed: %+v", res)
		}
	})
	t.Run("verify", func(t *testing.T) {
		res := run(t, bench.Options{Scenario: "verify", Ops: 30, Concurrency: 2})
		if res.Ops != 30 || res.OpsFailed != 0 || res.ProofBytes == 0 || res.P50 <= 0 {
			t.Fatalf("want 30 proofs verified: %+v", res)
		}
	})
	t.Run("supply", func(t *testing.T) {
		res := run(t, bench.Options{Scenario: "supply", Txs: 12, Batch: 10, Concurrency: 3, Window: 2, Rate: 50})
		if res.Txs != 12 || res.OpsFailed != 0 {
			t.Fatalf("want 12 commission txs and no failed verification: %+v", res)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		res := run(t, bench.Options{Scenario: "mixed", Txs: 80, Concurrency: 10, Window: 4, Rate: 20})
		if res.Txs != 80 || res.ByKind["anchor"] == 0 || res.ByKind["grant"] == 0 {
			t.Fatalf("want 80 txs of both kinds: %+v", res)
		}
	})
}

// TestFullMempool loads one node whose mempool holds a tenth of what is in
// flight. A submission the mempool has no room for must be refused, never
// accepted and then dropped: a dropped tx moves the node's nonce view past
// it, so its account's next tx is refused as out of order, and an account
// with nothing more to send waits for a tx that never comes. Each account
// submits in order to one node, so no refusal out of order is expected.
func TestFullMempool(t *testing.T) {
	res := run(t, bench.Options{Scenario: "anchor", Txs: 3000, Concurrency: 25, Window: 40, Mempool: 100})
	if res.Txs != 3000 {
		t.Fatalf("committed %d txs, want 3000", res.Txs)
	}
	if res.Full == 0 {
		t.Fatalf("the mempool was never full, so this tested nothing: %+v", res)
	}
	if res.OutOfOrder != 0 || res.Vanished != 0 {
		t.Fatalf("accepted txs were dropped: %d submissions refused out of order, %d vanished", res.OutOfOrder, res.Vanished)
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []bench.Options{
		{Scenario: "nosuch"},
		{Scenario: "read", Baseline: true},
		{Scenario: "anchor", Concurrency: -1},
		{Scenario: "anchor", Mempool: -1},
		{Scenario: "anchor", Baseline: true, RPC: []string{"127.0.0.1:26657"}, API: []string{"http://127.0.0.1:26680"}},
		{Scenario: "anchor", RPC: []string{"127.0.0.1:26657"}},
	} {
		if _, err := bench.Run(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestScaleChart draws a chart a person can open: well-formed SVG with one
// line per series, each through every measured size.
func TestScaleChart(t *testing.T) {
	pts := []bench.ScalePoint{
		{Records: 10_000, AnchorTxPerS: 2000, ReadP50: 3, ReadP99: 15, ProofBytes: 900, VerifyP50: 0.02},
		{Records: 100_000, AnchorTxPerS: 1900, ReadP50: 3.5, ReadP99: 17, ProofBytes: 1100, VerifyP50: 0.025},
		{Records: 1_000_000, AnchorTxPerS: 1800, ReadP50: 4, ReadP99: 19, ProofBytes: 1300, VerifyP50: 0.03},
	}
	var b bytes.Buffer
	if err := bench.WriteScaleSVG(&b, pts); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
			for _, a := range se.Attr {
				if a.Name.Local == "points" && len(strings.Fields(a.Value)) != len(pts) {
					t.Fatalf("a line through %d points, want %d", len(strings.Fields(a.Value)), len(pts))
				}
			}
		}
	}
	if lines != 5 {
		t.Fatalf("%d lines, want 5 (tx/s, read p50 and p99, proof bytes, verify time)", lines)
	}
	if err := bench.WriteScaleSVG(&b, nil); err == nil {
		t.Fatal("an empty chart was drawn")
	}
}

package faults

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"medledger"
)

// CheckHeaders compares the headers of heights from..to on the given nodes:
// the block hash and the app hash must be equal on all of them. It returns
// node 0's headers (of the first node given), for throughput figures.
func (c *Cluster) CheckHeaders(ctx context.Context, from, to int64, nodes []int) ([]*medledger.Header, error) {
	var out []*medledger.Header
	for h := from; h <= to; h++ {
		var ref *medledger.Header
		for _, i := range nodes {
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			hd, err := c.Client(i).Header(hctx, h)
			cancel()
			if err != nil {
				return out, fmt.Errorf("node %d header %d: %w", i, h, err)
			}
			if ref == nil {
				ref = hd
				out = append(out, hd)
				continue
			}
			if !bytes.Equal(hd.BlockHash, ref.BlockHash) || !bytes.Equal(hd.AppHash, ref.AppHash) {
				return out, fmt.Errorf("height %d: node %d block %X app %X; node %d block %X app %X",
					h, nodes[0], ref.BlockHash, ref.AppHash, i, hd.BlockHash, hd.AppHash)
			}
		}
	}
	return out, nil
}

// MinHeight returns the lowest latest height among the nodes.
func (c *Cluster) MinHeight(ctx context.Context, nodes []int) (int64, error) {
	var lo int64 = -1
	for _, i := range nodes {
		h, err := c.Height(ctx, i)
		if err != nil {
			return 0, fmt.Errorf("node %d: %w", i, err)
		}
		if lo < 0 || h < lo {
			lo = h
		}
	}
	return lo, nil
}

// MaxHeight returns the highest latest height among the nodes that answer.
func (c *Cluster) MaxHeight(ctx context.Context, nodes []int) int64 {
	var hi int64
	for _, i := range nodes {
		if h, err := c.Height(ctx, i); err == nil && h > hi {
			hi = h
		}
	}
	return hi
}

// CheckCommitted checks that every tx is committed, successfully, on every
// given node, polling until timeout for nodes still catching up or
// indexing. It returns the txs still missing when it gives up.
func (c *Cluster) CheckCommitted(ctx context.Context, acks []Ack, nodes []int, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	todo := map[int][]Ack{}
	for _, i := range nodes {
		todo[i] = acks
	}
	for {
		var missing []string
		for _, i := range nodes {
			var left []Ack
			for _, a := range todo[i] {
				tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				st, err := c.Client(i).Tx(tctx, a.Hash)
				cancel()
				switch {
				case err == nil && st.Status == medledger.TxCommitted && st.Code == medledger.KindOK:
				case err == nil && st.Status == medledger.TxCommitted:
					return nil, fmt.Errorf("node %d: %s tx %X committed with %s: %s", i, a.Kind, a.Hash, st.Code, st.Log)
				default:
					left = append(left, a)
					if len(missing) < 20 {
						why := "unknown"
						if err != nil {
							why = err.Error()
						} else if st.Status != "" {
							why = st.Status
						}
						missing = append(missing, fmt.Sprintf("node %d: %s tx %s (acknowledged via node %d at %s): %s",
							i, a.Kind, hex.EncodeToString(a.Hash), a.Node, a.At.Format("15:04:05.000"), why))
					}
				}
			}
			todo[i] = left
		}
		if len(missing) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) {
			return missing, fmt.Errorf("acknowledged txs not committed on every node after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return missing, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Throughput is committed txs per second over headers, by block time.
func Throughput(hs []*medledger.Header) (txs int, perSec float64) {
	if len(hs) < 2 {
		return 0, 0
	}
	for _, h := range hs[1:] {
		txs += h.NumTxs
	}
	d := hs[len(hs)-1].Time.Sub(hs[0].Time).Seconds()
	if d <= 0 {
		return txs, 0
	}
	return txs, float64(txs) / d
}

package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"medledger/internal/cometbft"
)

// rpc is a minimal client of CometBFT's JSON-RPC over HTTP, with which the
// bench follows the blocks of nodes it did not start.
type rpc struct {
	url  string
	http *http.Client
}

func newRPC(addr string, conns int) *rpc {
	u := strings.Replace(addr, "tcp://", "http://", 1)
	if !strings.HasPrefix(u, "http") {
		u = "http://" + u
	}
	tr := &http.Transport{MaxIdleConns: conns + 8, MaxIdleConnsPerHost: conns + 8, IdleConnTimeout: time.Minute}
	return &rpc{url: strings.TrimRight(u, "/"), http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *rpcError) Error() string {
	if e.Data != "" {
		return e.Data
	}
	return e.Message
}

func (r *rpc) call(ctx context.Context, method string, params any, out any) error {
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s: HTTP %d: not JSON-RPC", method, resp.StatusCode)
	}
	if env.Error != nil {
		return env.Error
	}
	return json.Unmarshal(env.Result, out)
}

// height returns the last height the app committed (abci_info): the block
// store's height, in status, runs ahead while a block executes.
func (r *rpc) height(ctx context.Context) (int64, error) {
	var res struct {
		Response struct {
			Height string `json:"last_block_height"`
		} `json:"response"`
	}
	if err := r.call(ctx, "abci_info", map[string]any{}, &res); err != nil {
		return 0, err
	}
	return strconv.ParseInt(res.Response.Height, 10, 64)
}

// chain is where the tracker follows committed blocks: CometBFT's RPC,
// or a node in this process, read without JSON.
type chain interface {
	height(ctx context.Context) (int64, error)
	block(ctx context.Context, h int64) (*block, error)
}

// local reads a node running in this process.
type local struct{ n *cometbft.Node }

func (l local) height(ctx context.Context) (int64, error) { return l.n.CommittedHeight(ctx) }

func (l local) block(ctx context.Context, h int64) (*block, error) {
	t, hashes, codes, err := l.n.BlockTxs(ctx, h)
	if err != nil {
		return nil, err
	}
	return &block{Height: h, Time: t, Hashes: hashes, Codes: codes}, nil
}

// block is what the tracker needs of a committed block: its time, the
// hashes of its txs and their result codes.
type block struct {
	Height int64
	Time   time.Time
	Hashes [][32]byte
	Codes  []uint32
}

func (r *rpc) block(ctx context.Context, h int64) (*block, error) {
	params := map[string]string{"height": strconv.FormatInt(h, 10)}
	var b struct {
		Block struct {
			Header struct {
				Time time.Time `json:"time"`
			} `json:"header"`
			Data struct {
				Txs [][]byte `json:"txs"`
			} `json:"data"`
		} `json:"block"`
	}
	if err := r.call(ctx, "block", params, &b); err != nil {
		return nil, err
	}
	out := &block{Height: h, Time: b.Block.Header.Time, Hashes: make([][32]byte, len(b.Block.Data.Txs))}
	for i, tx := range b.Block.Data.Txs {
		out.Hashes[i] = sha256.Sum256(tx)
	}
	if len(out.Hashes) == 0 {
		return out, nil
	}
	var res struct {
		Txs []struct {
			Code uint32 `json:"code"`
		} `json:"txs_results"`
	}
	if err := r.call(ctx, "block_results", params, &res); err != nil {
		return nil, err
	}
	if len(res.Txs) != len(out.Hashes) {
		return nil, fmt.Errorf("block %d has %d txs but %d results", h, len(out.Hashes), len(res.Txs))
	}
	out.Codes = make([]uint32, len(res.Txs))
	for i, t := range res.Txs {
		out.Codes[i] = t.Code
	}
	return out, nil
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"medledger"
	"medledger/internal/cometbft"
)

// submitter posts signed txs to a node's POST /v1/txs, the way medledger's
// clients submit them (a CBOR body, CheckTx's answer back).
type submitter struct {
	url  string
	http *http.Client
}

func newSubmitter(apiURL string, conns int) *submitter {
	tr := &http.Transport{MaxIdleConns: conns + 8, MaxIdleConnsPerHost: conns + 8, IdleConnTimeout: time.Minute}
	return &submitter{url: strings.TrimRight(apiURL, "/") + "/v1/txs", http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// submit returns CheckTx's verdict as a kind (KindOK when the mempool took
// the tx or already holds it), or a transport error.
func (s *submitter) submit(ctx context.Context, raw []byte) (medledger.Kind, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(raw))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/cbor")
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode/100 == 2 {
		var st medledger.TxStatus
		if err := json.Unmarshal(b, &st); err != nil {
			return 0, "", fmt.Errorf("HTTP %d: %v", resp.StatusCode, err)
		}
		return st.Code, st.Log, nil
	}
	var p medledger.Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Code == medledger.KindOK {
		return 0, "", fmt.Errorf("HTTP %d from %s", resp.StatusCode, s.url)
	}
	return p.Code, p.Detail, nil
}

// baselineAPI serves POST /v1/txs for a baseline node as medledger's API
// does, through the same cometbft.Node.Broadcast, so that the baseline's
// txs enter the mempool by the same path and cost as medledger's.
func baselineAPI(n *cometbft.Node) (url string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/txs", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 2*medledger.MaxTxBytes))
		if err != nil {
			problem(w, medledger.Errorf(medledger.KindTooLarge, "request body too large"))
			return
		}
		st, err := n.Broadcast(r.Context(), raw)
		if err != nil {
			problem(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(st)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, nil
}

func problem(w http.ResponseWriter, err error) {
	k := medledger.KindOf(err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(medledger.Problem{Kind: k.String(), Code: k, Detail: err.Error()})
}

// Package api is medledger's REST interface under /v1: tx submission and
// status, identity queries with Merkle proofs, DID resolution, event search,
// headers and node status, plus /healthz, /readyz, /metrics and the OpenAPI
// 3.1 document. Errors are RFC 9457 problem+json; one table maps error kinds
// to HTTP statuses.
//
// The API decides nothing about who may do what: every write is a signed tx
// the state machine authorises.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"medledger"
	"medledger/internal/gateway"
	"medledger/internal/state"
)

// Chain is what the API needs of the consensus engine.
type Chain interface {
	Broadcast(ctx context.Context, tx []byte) (*medledger.TxStatus, error)
	WaitCommitted(ctx context.Context, hash []byte) (*medledger.TxStatus, error)
	TxStatus(ctx context.Context, hash []byte) (*medledger.TxStatus, error)
	SearchTxs(ctx context.Context, query string, page, perPage int) ([]*medledger.TxStatus, int, error)
	Header(ctx context.Context, height int64) (*medledger.Header, error)
	Status(ctx context.Context) (*medledger.NodeStatus, error)
	Height() int64
	CatchingUp() bool
	// LightBlock and TxProof serve light clients (light.go).
	LightBlock(ctx context.Context, height int64) (*medledger.LightBlock, error)
	TxProof(ctx context.Context, hash []byte) (*medledger.TxProof, error)
	// Blocks lists up to limit blocks below height before (0: from the
	// latest), newest first; with txsOnly, only blocks with txs (blocks.go).
	Blocks(ctx context.Context, before int64, limit int, txsOnly bool) (*medledger.BlockList, error)
}

// State is read access to committed authenticated state.
type State interface {
	// Version is the latest committed height.
	Version() int64
	// Prove returns the value at key at a committed version with an ICS-23
	// proof of it or of its absence.
	Prove(key []byte, version int64) (value, proof []byte, err error)
	// ReaderAt reads committed state at a version.
	ReaderAt(version int64) (state.Reader, error)
	// IndexReader reads the committed secondary indexes.
	IndexReader() state.Reader
}

// Server serves the API.
type Server struct {
	chain   Chain
	state   State
	gw      *gateway.Gateway
	blobs   medledger.BlobStore
	quota   *Quota
	log     *slog.Logger
	mux     *http.ServeMux
	gather  prometheus.Gatherer
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// New returns the API server. reg receives the API's own metrics; /metrics
// serves reg together with the process-wide default registry (where
// CometBFT's metrics live).
// gw and blobs may be nil for a node that serves no records.
func New(chain Chain, st State, gw *gateway.Gateway, blobs medledger.BlobStore, log *slog.Logger, reg *prometheus.Registry) *Server {
	s := &Server{chain: chain, state: st, gw: gw, blobs: blobs, log: log, mux: http.NewServeMux()}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "medledger", Subsystem: "api", Name: "requests_total", Help: "API requests by route and status code."}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "medledger", Subsystem: "api", Name: "request_seconds", Help: "API request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	reg.MustRegister(s.reqs, s.latency)
	s.gather = prometheus.Gatherers{reg, prometheus.DefaultGatherer}
	for _, r := range s.routes() {
		s.mux.Handle(r.Method+" "+r.Path, s.wrap(r))
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// wrap adds metrics, panic recovery and error rendering to a route.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("api handler panic", "route", rt.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				s.problem(sw, r, medledger.Errorf(medledger.KindInternal, "internal error"))
			}
			s.reqs.WithLabelValues(rt.Path, strconv.Itoa(sw.code)).Inc()
			s.latency.WithLabelValues(rt.Path).Observe(time.Since(start).Seconds())
		}()
		if err := rt.handle(s, sw, r); err != nil {
			s.problem(sw, r, err)
		}
	})
}

// statusOf maps error kinds to HTTP statuses: the one table.
var statusOf = map[medledger.Kind]int{
	medledger.KindInternal:       http.StatusInternalServerError,
	medledger.KindMalformed:      http.StatusBadRequest,
	medledger.KindNonCanonical:   http.StatusBadRequest,
	medledger.KindTooLarge:       http.StatusRequestEntityTooLarge,
	medledger.KindWrongChain:     http.StatusBadRequest,
	medledger.KindUnknownMsg:     http.StatusBadRequest,
	medledger.KindBadSignature:   http.StatusUnauthorized,
	medledger.KindBadNonce:       http.StatusConflict,
	medledger.KindUnknownAccount: http.StatusNotFound,
	medledger.KindSuspended:      http.StatusForbidden,
	medledger.KindUnauthorized:   http.StatusForbidden,
	medledger.KindInvalid:        http.StatusUnprocessableEntity,
	medledger.KindNotFound:       http.StatusNotFound,
	medledger.KindExists:         http.StatusConflict,
	medledger.KindExpired:        http.StatusUnprocessableEntity,
	medledger.KindDuplicate:      http.StatusConflict,
	medledger.KindUnavailable:    http.StatusServiceUnavailable,
	medledger.KindGone:           http.StatusGone,
	medledger.KindQuota:          http.StatusTooManyRequests,
	medledger.KindConflict:       http.StatusConflict,
}

// HTTPStatus returns the HTTP status for an error kind.
func HTTPStatus(k medledger.Kind) int {
	if c, ok := statusOf[k]; ok {
		return c
	}
	return http.StatusInternalServerError
}

// problemError carries extension members to problem().
type problemError struct {
	err   error
	tx    *medledger.TxStatus
	proof *medledger.StateProof
}

func (p *problemError) Error() string { return p.err.Error() }
func (p *problemError) Unwrap() error { return p.err }

func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	kind := medledger.KindOf(err)
	p := medledger.Problem{Type: "https://medledger.dev/problems/" + kind.String(), Title: kind.String(), Status: HTTPStatus(kind),
		Instance: r.URL.Path, Kind: kind.String(), Code: kind}
	var me *medledger.Error
	if errors.As(err, &me) {
		p.Detail = me.Msg
	}
	if kind == medledger.KindInternal {
		// Never leak internals; log them instead.
		s.log.Error("api internal error", "path", r.URL.Path, "err", err)
		p.Detail = "internal error"
	}
	var pe *problemError
	if errors.As(err, &pe) {
		p.Tx, p.Proof = pe.tx, pe.proof
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Handler returns the HTTP handler including /metrics.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

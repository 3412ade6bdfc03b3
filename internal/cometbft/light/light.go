// Package light verifies what medledger nodes say without trusting them
// (DESIGN principle 4): block headers with CometBFT's light client, from a
// trusted height and header hash, and txs with their inclusion and result
// proofs against verified headers.
//
// Light blocks (signed header plus validator set) come from the nodes' API,
// GET /v1/light/{height}, as the protobuf encoding of CometBFT's
// tendermint.types.LightBlock. This package is the one part of CometBFT the
// Go SDK imports; it pulls in no node.
package light

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtlight "github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	"github.com/cometbft/cometbft/light/store"
	dbs "github.com/cometbft/cometbft/light/store/db"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"

	"medledger"
)

// ErrVerification means an answer failed verification: a header not signed
// by the trusted validators, a proof that does not match a verified header,
// or an answer for another height, key or tx than asked. Every error of
// this package that is not a transport or context error wraps it.
var ErrVerification = errors.New("verification failed")

// TrustOptions are the root of trust: the hash of the header at Height,
// obtained from a source the client trusts (an operator, a genesis
// ceremony, a node the client runs itself). Period is how long a verified
// header's validator set is trusted to vouch for later headers.
type TrustOptions struct {
	ChainID string
	Height  int64
	Hash    []byte
	Period  time.Duration
}

// Options tune a Verifier.
type Options struct {
	// Witnesses are other nodes' API URLs. Each header the primary serves
	// is cross-checked against them; a conflict is an attack and fails
	// verification. CometBFT's light client requires at least one: with
	// none, the primary itself is used as the witness, which checks
	// nothing more. Give a node run by another institution.
	Witnesses []string
	// Sequential verifies every header between the trusted one and the
	// target. The default, skipping verification, needs one third of the
	// trusted validator power to have signed the target, and fetches
	// intermediate headers only when the validator set changed too much.
	Sequential bool
	// HTTP is the HTTP client; nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Wait is how long to wait for a block that is not committed yet, for
	// example the block after a read's height; 0 means 10 s.
	Wait time.Duration
}

// Verifier keeps the headers verified so far and verifies new ones. It is
// safe for concurrent use.
type Verifier struct {
	trust     TrustOptions
	primary   string
	witnesses []string
	opts      Options
	store     store.Store

	mu sync.Mutex
	lc *cmtlight.Client // nil until first use and after a failure
}

// New returns a Verifier of the chain served at primary. It checks the
// options only; the network is first used by the first verification.
func New(primary string, trust TrustOptions, opts Options) (*Verifier, error) {
	switch {
	case trust.ChainID == "":
		return nil, errors.New("light: trust options need the chain ID")
	case trust.Height < 1:
		return nil, errors.New("light: trust options need a positive height")
	case len(trust.Hash) != sha256.Size:
		return nil, fmt.Errorf("light: the trusted header hash must be %d bytes, got %d", sha256.Size, len(trust.Hash))
	case trust.Period <= 0:
		return nil, errors.New("light: trust options need a positive trusting period")
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Wait <= 0 {
		opts.Wait = 10 * time.Second
	}
	witnesses := opts.Witnesses
	if len(witnesses) == 0 {
		witnesses = []string{primary}
	}
	return &Verifier{trust: trust, primary: primary, witnesses: witnesses, opts: opts,
		store: dbs.New(dbm.NewMemDB(), "medledger-light")}, nil
}

// ChainID returns the chain the verifier trusts.
func (v *Verifier) ChainID() string { return v.trust.ChainID }

func (v *Verifier) provider(url string) provider.Provider {
	return &httpProvider{chainID: v.trust.ChainID, base: strings.TrimRight(url, "/"), http: v.opts.HTTP, wait: v.opts.Wait}
}

// client returns the light client, building it on first use from the
// trust options and after a failure from the headers verified so far, with
// fresh providers: CometBFT's light client drops a provider that served a
// bad block, so one bad answer would otherwise leave it with none. Called
// with v.mu held.
func (v *Verifier) client(ctx context.Context) (*cmtlight.Client, error) {
	if v.lc != nil {
		return v.lc, nil
	}
	var ws []provider.Provider
	for _, w := range v.witnesses {
		ws = append(ws, v.provider(w))
	}
	opts := []cmtlight.Option{cmtlight.MaxClockDrift(5 * time.Second), cmtlight.MaxBlockLag(2 * time.Second)}
	if v.opts.Sequential {
		opts = append(opts, cmtlight.SequentialVerification())
	}
	last, err := v.store.LastLightBlockHeight()
	if err != nil {
		return nil, err
	}
	var lc *cmtlight.Client
	if last > 0 {
		lc, err = cmtlight.NewClientFromTrustedStore(v.trust.ChainID, v.trust.Period, v.provider(v.primary), ws, v.store, opts...)
	} else {
		lc, err = cmtlight.NewClient(ctx, v.trust.ChainID,
			cmtlight.TrustOptions{Period: v.trust.Period, Height: v.trust.Height, Hash: v.trust.Hash},
			v.provider(v.primary), ws, v.store, opts...)
	}
	if err != nil {
		return nil, classify(fmt.Errorf("light client from trusted height %d: %w", v.trust.Height, err))
	}
	v.lc = lc
	return lc, nil
}

// Latest fetches the primary's latest header, verifies it and returns the
// latest verified header.
func (v *Verifier) Latest(ctx context.Context) (*medledger.Header, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	lc, err := v.client(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := lc.Update(ctx, time.Now()); err != nil {
		v.lc = nil
		return nil, classify(fmt.Errorf("verifying the latest header: %w", err))
	}
	lb, err := lc.TrustedLightBlock(0)
	if err != nil {
		return nil, classify(err)
	}
	return header(lb), nil
}

// At returns the verified header of block height, fetching and verifying
// it if it is not verified yet (waiting up to Options.Wait for a block not
// yet committed).
func (v *Verifier) At(ctx context.Context, height int64) (*medledger.Header, error) {
	if height < 1 {
		return nil, fmt.Errorf("light: height %d", height)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	lc, err := v.client(ctx)
	if err != nil {
		return nil, err
	}
	lb, err := lc.VerifyLightBlockAtHeight(ctx, height, time.Now())
	if err != nil {
		v.lc = nil
		return nil, classify(fmt.Errorf("verifying header %d: %w", height, err))
	}
	return header(lb), nil
}

// classify wraps err in ErrVerification unless it is a context error or
// the nodes could not be reached or had no such block: those are not
// evidence of a lie.
func classify(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, provider.ErrNoResponse), errors.Is(err, provider.ErrHeightTooHigh),
		errors.Is(err, provider.ErrLightBlockNotFound):
		return err
	}
	return fmt.Errorf("%w: %w", ErrVerification, err)
}

// header is the part of a verified light block clients use. NumTxs is not
// in a light block and stays 0.
func header(lb *types.LightBlock) *medledger.Header {
	h := lb.Header
	return &medledger.Header{ChainID: h.ChainID, Height: h.Height, Time: h.Time, AppHash: medledger.HexBytes(h.AppHash),
		BlockHash: medledger.HexBytes(h.Hash()), DataHash: medledger.HexBytes(h.DataHash),
		ValidatorsHash: medledger.HexBytes(h.ValidatorsHash), LastResultsHash: medledger.HexBytes(h.LastResultsHash),
		ProposerAddress: medledger.HexBytes(h.ProposerAddress)}
}

// DecodeLightBlock decodes the light_block bytes of GET /v1/light/{height}
// and checks that the block is well formed for chainID. It does not verify
// the block against any trusted header.
func DecodeLightBlock(chainID string, bz []byte) (*types.LightBlock, error) {
	var pb cmtproto.LightBlock
	if err := pb.Unmarshal(bz); err != nil {
		return nil, err
	}
	lb, err := types.LightBlockFromProto(&pb)
	if err != nil {
		return nil, err
	}
	return lb, lb.ValidateBasic(chainID)
}

// httpProvider fetches light blocks from a medledger node's API.
type httpProvider struct {
	chainID, base string
	http          *http.Client
	wait          time.Duration
}

func (p *httpProvider) ChainID() string { return p.chainID }
func (p *httpProvider) String() string  { return p.base }

// LightBlock returns the light block at height (0: the latest), waiting up
// to p.wait for a block not committed yet.
func (p *httpProvider) LightBlock(ctx context.Context, height int64) (*types.LightBlock, error) {
	deadline := time.Now().Add(p.wait)
	for {
		lb, err := p.fetch(ctx, height)
		if err != provider.ErrHeightTooHigh || time.Now().After(deadline) {
			return lb, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *httpProvider) fetch(ctx context.Context, height int64) (*types.LightBlock, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/v1/light/"+strconv.FormatInt(height, 10), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, provider.ErrNoResponse
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	switch {
	case err != nil:
		return nil, provider.ErrNoResponse
	case resp.StatusCode == http.StatusNotFound:
		return nil, provider.ErrHeightTooHigh
	case resp.StatusCode == http.StatusGone:
		return nil, provider.ErrLightBlockNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, provider.ErrNoResponse
	}
	var out medledger.LightBlock
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, provider.ErrBadLightBlock{Reason: err}
	}
	lb, err := DecodeLightBlock(p.chainID, out.LightBlock)
	if err != nil {
		return nil, provider.ErrBadLightBlock{Reason: err}
	}
	if height > 0 && lb.Height != height {
		return nil, provider.ErrBadLightBlock{Reason: fmt.Errorf("asked for block %d, got %d", height, lb.Height)}
	}
	return lb, nil
}

// ReportEvidence is not supported: the API takes no evidence. CometBFT's
// light client reports an attack on a best-effort basis and still fails
// the verification.
func (p *httpProvider) ReportEvidence(context.Context, types.Evidence) error {
	return errors.New("medledger nodes take no light client evidence")
}

// VerifyTx checks a committed tx's status against verified headers: block
// is the header of the tx's block, next the header of the block after it.
// It checks that the proof is for the tx hash asked for (sha256 of the tx
// bytes), that the tx is in block at the index claimed (Merkle proof to the
// data hash), and that its result code is the one the block's results
// commit to (Merkle proof to next's last results hash). The checks are
// medledger.CheckTxProof's, which the web portal runs in the browser too;
// the first that fails is the error.
func VerifyTx(hash []byte, st *medledger.TxStatus, block, next *medledger.Header) error {
	for _, c := range medledger.CheckTxProof(hash, st, block, next) {
		if !c.OK {
			return fmt.Errorf("%w: tx %X: %s", ErrVerification, hash, c.Detail)
		}
	}
	return nil
}

package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/internal/cometbft/light"
	"medledger/internal/consent"
)

// ErrVerification means a node's answer failed verification: a header the
// trusted validators did not sign, a proof that does not match a verified
// header, or an answer for another height, key or tx than asked. Every
// proof error (ErrProofRoot, ErrProofValue, …) wraps it; match with
// errors.Is.
var ErrVerification = light.ErrVerification

// DefaultTrustPeriod is the trusting period when TrustOptions.Period is 0:
// how long a verified header's validator set may vouch for later headers.
const DefaultTrustPeriod = 7 * 24 * time.Hour

// TrustOptions are a verified client's root of trust: the hash of the
// header at Height (Header(ctx, Height).BlockHash as a node you trust
// reports it, or published by the consortium).
type TrustOptions struct {
	ChainID string
	Height  int64
	Hash    []byte
	Period  time.Duration // 0: DefaultTrustPeriod
}

// NewVerified returns a client that trusts nothing the node at baseURL
// says without checking it:
//   - headers are verified with CometBFT's light client from the trusted
//     header, and cross-checked against the witnesses (other nodes' API
//     URLs). CometBFT's light client needs at least one witness; with none,
//     the node itself is the witness, which adds no check: give a node run
//     by another institution;
//   - every proven state read (ProvenAccount, ProvenOrg, ProvenState,
//     ProvenGrant, AccessLog with prove) is pinned to the height before the
//     latest verified header and checked against that header's app hash,
//     so a proof from another height (a replay of an older state) is
//     refused;
//   - Tx, Commit and Send check the tx's inclusion proof against the
//     verified header of its block and its result code against the next
//     one. A tx's log and events are not covered by any header.
//
// Failures are errors wrapping ErrVerification, and no answer is returned
// with them.
func NewVerified(baseURL string, trust TrustOptions, witnesses ...string) (*Client, error) {
	if trust.Period == 0 {
		trust.Period = DefaultTrustPeriod
	}
	c := New(baseURL)
	v, err := light.New(c.base, light.TrustOptions{ChainID: trust.ChainID, Height: trust.Height, Hash: trust.Hash, Period: trust.Period},
		light.Options{Witnesses: witnesses})
	if err != nil {
		return nil, err
	}
	c.lc, c.chainID = v, trust.ChainID
	return c, nil
}

// Verified reports whether the client verifies headers with a light client.
func (c *Client) Verified() bool { return c.lc != nil }

// VerifiedHeader returns the header of block height (0: the latest),
// verified with the light client. Only for a verified client.
func (c *Client) VerifiedHeader(ctx context.Context, height int64) (*medledger.Header, error) {
	if c.lc == nil {
		return nil, fmt.Errorf("VerifiedHeader needs a client made with NewVerified")
	}
	if height == 0 {
		return c.lc.Latest(ctx)
	}
	return c.lc.At(ctx, height)
}

// pin returns the height a verified client reads state at: the one whose
// app hash the latest verified header carries. A plain client returns 0:
// the node chooses.
func (c *Client) pin(ctx context.Context) (int64, error) {
	if c.lc == nil {
		return 0, nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, err := c.lc.Latest(ctx)
		if err != nil {
			return 0, err
		}
		if h.Height >= 2 {
			return h.Height - 1, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the chain has no block 2 yet")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkPinned refuses an answer for another height than the one asked for.
func checkPinned(sp *medledger.StateProof, pin int64) error {
	if pin != 0 && sp.Height != pin {
		return fmt.Errorf("%w: asked for state at height %d, the node answered with height %d", ErrVerification, pin, sp.Height)
	}
	return nil
}

// withHeight adds the pinned height to a query path.
func withHeight(path string, pin int64) string {
	if pin == 0 {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "height=" + strconv.FormatInt(pin, 10)
}

// ProvenState reads one raw authenticated key with its proof, verified
// against the app hash (of a light-client-verified header for a verified
// client). An absent key returns a proof with a nil Value, its absence
// verified.
func (c *Client) ProvenState(ctx context.Context, key []byte) (*medledger.StateProof, error) {
	pin, err := c.pin(ctx)
	if err != nil {
		return nil, err
	}
	var sp medledger.StateProof
	if err := c.get(ctx, withHeight("/v1/state?key="+url.QueryEscape(hex.EncodeToString(key)), pin), &sp); err != nil {
		return nil, err
	}
	if !bytes.Equal(sp.Key, key) {
		return &sp, fmt.Errorf("%w: asked for %q, proof is for %q", ErrProofKey, key, sp.Key)
	}
	if err := checkPinned(&sp, pin); err != nil {
		return &sp, err
	}
	return &sp, c.VerifyStateProof(ctx, &sp)
}

// ProvenGrant reads a patient's grant from the authenticated state, proven
// against the app hash, whatever its state (revoked grants stay, with their
// Revoked height). A grant that does not exist is an error of kind
// KindNotFound, returned after its absence is verified.
func (c *Client) ProvenGrant(ctx context.Context, patient medledger.ID, grantID string) (*Grant, *medledger.StateProof, error) {
	sp, err := c.ProvenState(ctx, consent.GrantKey(patient, grantID))
	if err != nil {
		return nil, sp, err
	}
	if sp.Value == nil {
		return nil, sp, medledger.Errorf(medledger.KindNotFound, "grant %s of %s not found at height %d", grantID, patient, sp.Height)
	}
	var g Grant
	if err := medledger.UnmarshalTrusted(sp.Value, &g); err != nil {
		return nil, sp, err
	}
	return &g, sp, nil
}

// verifyTx checks a committed tx's status and proof against the verified
// headers of its block and the next.
func (c *Client) verifyTx(ctx context.Context, hash []byte, st *medledger.TxStatus) error {
	if st.Status != medledger.TxCommitted {
		return nil
	}
	if st.Height < 1 {
		return fmt.Errorf("%w: committed tx %X at height %d", ErrVerification, hash, st.Height)
	}
	block, err := c.lc.At(ctx, st.Height)
	if err != nil {
		return err
	}
	next, err := c.lc.At(ctx, st.Height+1)
	if err != nil {
		return err
	}
	return light.VerifyTx(hash, st, block, next)
}

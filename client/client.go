// Package client is medledger's Go SDK: a typed client for a node's REST
// API, tx building and signing, a keyring encrypted at rest, and
// verification of the Merkle proofs the node returns.
//
//	c := client.New("http://127.0.0.1:26680")
//	st, err := c.Send(ctx, key, &client.EnrolMember{Keys: memberKeys, Roles: roles})
//	acct, err := c.ProvenAccount(ctx, id) // checked against the app hash
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"medledger"
	"medledger/client/account"
	"medledger/internal/cometbft/light"
	"medledger/internal/identity"
)

// Messages and records of the identity module.
type (
	AdmitOrg        = identity.AdmitOrg
	RemoveOrg       = identity.RemoveOrg
	EnrolMember     = identity.EnrolMember
	SetMemberStatus = identity.SetMemberStatus
	SetMemberRoles  = identity.SetMemberRoles
	RegisterPatient = identity.RegisterPatient
	AttestPatient   = identity.AttestPatient
	SetDelegate     = identity.SetDelegate
	RemoveDelegate  = identity.RemoveDelegate
	RotateKeys      = identity.RotateKeys
	SetOrgKey       = identity.SetOrgKey
	SetValidator    = identity.SetValidator
	Validator       = identity.Validator
	PublicKeys      = identity.PublicKeys
	Account         = identity.Account
	Org             = identity.Org
	Proposal        = identity.Proposal
	DIDDocument     = identity.DIDDocument
)

// Msg is any message the ledger accepts.
type Msg = account.Msg

// Client talks to one node's API.
type Client struct {
	base string
	http *http.Client

	mu      sync.Mutex
	chainID string

	lc *light.Verifier // verifies headers; nil for a plain client (verified.go)
}

// New returns a client for the node API at baseURL, for example
// http://127.0.0.1:26680.
func New(baseURL string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{Timeout: 2 * time.Minute}}
}

// Problem is an RFC 9457 error answer from the node.
type Problem = medledger.Problem

// Error is an error answer from the node. medledger.KindOf works on it.
type Error struct {
	Problem
}

func (e *Error) Error() string {
	if e.Status == 0 { // a tx that committed with an error
		return fmt.Sprintf("%s: %s", e.Kind, e.Detail)
	}
	if e.Detail != "" {
		return fmt.Sprintf("%s (HTTP %d): %s", e.Kind, e.Status, e.Detail)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Kind, e.Status)
}

// Unwrap exposes the kind to medledger.KindOf and errors.As.
func (e *Error) Unwrap() error { return &medledger.Error{Kind: e.Code, Msg: e.Detail} }

// do performs a request and decodes a JSON answer into out. Non-2xx answers
// become *Error.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	var code int
	err = c.sendRaw(req, func(resp *http.Response) error {
		code = resp.StatusCode
		if out == nil {
			return nil
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
		return nil
	})
	return code, err
}

// send performs req and decodes a JSON answer into out.
func (c *Client) send(req *http.Request, out any) error {
	return c.sendRaw(req, func(resp *http.Response) error {
		if out == nil {
			return nil
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return err
		}
		return json.Unmarshal(data, out)
	})
}

// sendRaw performs req, turns a non-2xx answer into *Error, and hands a
// successful response to read.
func (c *Client) sendRaw(req *http.Request, read func(*http.Response) error) error {
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &Error{}
		if json.Unmarshal(data, &e.Problem) != nil || e.Kind == "" {
			e.Status, e.Kind, e.Code = resp.StatusCode, "http", medledger.KindInternal
			e.Detail = strings.TrimSpace(string(data))
			if len(e.Detail) > 200 {
				e.Detail = e.Detail[:200]
			}
		}
		return e
	}
	return read(resp)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, nil, "", out)
	return err
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (*medledger.NodeStatus, error) {
	var st medledger.NodeStatus
	return &st, c.get(ctx, "/v1/status", &st)
}

// ChainID returns the chain ID, asking the node once.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.chainID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.chainID = st.ChainID
	c.mu.Unlock()
	return st.ChainID, nil
}

// Header returns a block header; height 0 means the latest.
func (c *Client) Header(ctx context.Context, height int64) (*medledger.Header, error) {
	p := "latest"
	if height > 0 {
		p = strconv.FormatInt(height, 10)
	}
	var h medledger.Header
	return &h, c.get(ctx, "/v1/headers/"+p, &h)
}

// Nonce returns the account's last committed nonce (0 for a new account).
func (c *Client) Nonce(ctx context.Context, id medledger.ID) (uint64, error) {
	var out struct {
		Nonce uint64 `json:"nonce"`
	}
	return out.Nonce, c.get(ctx, "/v1/accounts/"+url.PathEscape(string(id))+"/nonce", &out)
}

// Account returns an account, unverified.
func (c *Client) Account(ctx context.Context, id medledger.ID) (*Account, error) {
	var out struct {
		Account *Account `json:"account"`
	}
	return out.Account, c.get(ctx, "/v1/accounts/"+url.PathEscape(string(id)), &out)
}

// ProvenAccount returns an account whose bytes were checked against the
// app hash with a Merkle proof. For a missing account it returns an error of
// kind KindNotFound only after verifying the proof of absence.
func (c *Client) ProvenAccount(ctx context.Context, id medledger.ID) (*Account, *medledger.StateProof, error) {
	var a Account
	sp, err := c.proven(ctx, "/v1/accounts/"+url.PathEscape(string(id)), identity.AccountKey(id), &a)
	if err != nil {
		return nil, sp, err
	}
	return &a, sp, nil
}

// Org returns an organisation, unverified.
func (c *Client) Org(ctx context.Context, id string) (*Org, error) {
	var out struct {
		Org *Org `json:"org"`
	}
	return out.Org, c.get(ctx, "/v1/orgs/"+url.PathEscape(id), &out)
}

// ProvenOrg returns an organisation checked against the app hash.
func (c *Client) ProvenOrg(ctx context.Context, id string) (*Org, *medledger.StateProof, error) {
	var o Org
	sp, err := c.proven(ctx, "/v1/orgs/"+url.PathEscape(id), identity.OrgKey(id), &o)
	if err != nil {
		return nil, sp, err
	}
	return &o, sp, nil
}

// ErrProofMissing means the node answered without the proof asked for.
var ErrProofMissing error = proofError("the node answered without a proof")

// proven fetches path with prove=true, checks the proof is for key and
// verifies it against the app hash of the next block, then decodes the
// proven value (not the node's JSON rendering of it) into out.
func (c *Client) proven(ctx context.Context, path string, key []byte, out any) (*medledger.StateProof, error) {
	var resp struct {
		Proof *medledger.StateProof `json:"proof"`
	}
	pin, err := c.pin(ctx)
	if err != nil {
		return nil, err
	}
	err = c.get(ctx, withHeight(path+"?prove=true", pin), &resp)
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Code == medledger.KindNotFound && apiErr.Proof != nil {
		sp := apiErr.Proof
		if !bytes.Equal(sp.Key, key) || sp.Value != nil {
			return sp, fmt.Errorf("%w: absence proof for the wrong key", ErrProofKey)
		}
		if verr := checkPinned(sp, pin); verr != nil {
			return sp, verr
		}
		if verr := c.VerifyStateProof(ctx, sp); verr != nil {
			return sp, verr
		}
		return sp, err // absence proven
	}
	if err != nil {
		return nil, err
	}
	sp := resp.Proof
	if sp == nil || sp.Value == nil {
		return sp, ErrProofMissing
	}
	if !bytes.Equal(sp.Key, key) {
		return sp, fmt.Errorf("%w: asked for %q, proof is for %q", ErrProofKey, key, sp.Key)
	}
	if err := checkPinned(sp, pin); err != nil {
		return sp, err
	}
	if err := c.VerifyStateProof(ctx, sp); err != nil {
		return sp, err
	}
	return sp, medledger.UnmarshalTrusted(sp.Value, out)
}

// VerifyStateProof checks a state proof against the app hash in the header
// of block sp.Height+1, waiting briefly for that block if it is not yet
// committed. A verified client (NewVerified) verifies that header with its
// light client; a plain client takes it from the same node, unverified.
func (c *Client) VerifyStateProof(ctx context.Context, sp *medledger.StateProof) error {
	if c.lc != nil {
		h, err := c.lc.At(ctx, sp.Height+1)
		if err != nil {
			return err
		}
		return VerifyState(h.AppHash, sp.Key, sp.Value, sp.Proof)
	}
	var h *medledger.Header
	var err error
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, err = c.Header(ctx, sp.Height+1)
		if err == nil || medledger.KindOf(err) != medledger.KindNotFound || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("fetching header %d to verify the proof: %w", sp.Height+1, err)
	}
	return VerifyState(h.AppHash, sp.Key, sp.Value, sp.Proof)
}

// Validators returns the validator set as the ledger last committed it,
// with each validator's organisation.
func (c *Client) Validators(ctx context.Context) ([]Validator, error) {
	var out struct {
		Validators []Validator `json:"validators"`
	}
	return out.Validators, c.get(ctx, "/v1/validators", &out)
}

// Orgs lists the admitted organisations.
func (c *Client) Orgs(ctx context.Context) ([]Org, error) {
	var out struct {
		Orgs []Org `json:"orgs"`
	}
	return out.Orgs, c.get(ctx, "/v1/orgs", &out)
}

// Members lists an organisation's member IDs.
func (c *Client) Members(ctx context.Context, org string) ([]medledger.ID, error) {
	var out struct {
		IDs []medledger.ID `json:"ids"`
	}
	return out.IDs, c.get(ctx, "/v1/orgs/"+url.PathEscape(org)+"/members", &out)
}

// Proposals lists the authority actions awaiting approvals.
func (c *Client) Proposals(ctx context.Context) ([]Proposal, error) {
	var out struct {
		Proposals []Proposal `json:"proposals"`
	}
	return out.Proposals, c.get(ctx, "/v1/proposals", &out)
}

// DID resolves a DID document: did:medledger:<id>, did:medledger:org:<org>,
// or a bare ID.
func (c *Client) DID(ctx context.Context, did string) (*DIDDocument, error) {
	var doc DIDDocument
	return &doc, c.get(ctx, "/v1/did/"+url.PathEscape(did), &doc)
}

// Tx returns a tx's status. A verified client checks a committed tx's
// inclusion and result proof against verified headers (verified.go).
func (c *Client) Tx(ctx context.Context, hash []byte) (*medledger.TxStatus, error) {
	var st medledger.TxStatus
	if c.lc == nil {
		return &st, c.get(ctx, "/v1/txs/"+hex.EncodeToString(hash), &st)
	}
	if err := c.get(ctx, "/v1/txs/"+hex.EncodeToString(hash)+"?prove=true", &st); err != nil {
		return &st, err
	}
	if err := c.verifyTx(ctx, hash, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// EventPage is a page of committed txs matching an event query.
type EventPage struct {
	Total int                   `json:"total"`
	Page  int                   `json:"page"`
	Txs   []*medledger.TxStatus `json:"txs"`
}

// Events searches committed txs by CometBFT event query.
func (c *Client) Events(ctx context.Context, query string, page int) (*EventPage, error) {
	q := url.Values{"query": {query}}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	var out EventPage
	return &out, c.get(ctx, "/v1/events?"+q.Encode(), &out)
}

// Broadcast submits an encoded tx and returns once CheckTx accepted it.
func (c *Client) Broadcast(ctx context.Context, raw []byte) (*medledger.TxStatus, error) {
	var st medledger.TxStatus
	_, err := c.do(ctx, http.MethodPost, "/v1/txs", bytes.NewReader(raw), "application/cbor", &st)
	return &st, err
}

// resubmitAfter is how long a tx may be unknown to the node before Commit
// resubmits it: CometBFT can drop an accepted tx from a full mempool
// (DESIGN §6).
const resubmitAfter = 5 * time.Second

// Commit submits an encoded tx and waits until it is committed, resubmitting
// it if the node loses it. A tx that commits with an error returns *Error.
func (c *Client) Commit(ctx context.Context, raw []byte) (*medledger.TxStatus, error) {
	st, err := c.Broadcast(ctx, raw)
	if err != nil {
		return st, err
	}
	hash := medledger.TxHash(raw)
	if c.lc != nil && st.Status == medledger.TxCommitted {
		// Committed before: the broadcast answer carries no proof.
		if st, err = c.Tx(ctx, hash); err != nil {
			return st, err
		}
	}
	lastSeen := time.Now()
	for st.Status != medledger.TxCommitted {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		st, err = c.Tx(ctx, hash)
		switch {
		case err == nil:
			lastSeen = time.Now()
		case medledger.KindOf(err) == medledger.KindNotFound && time.Since(lastSeen) > resubmitAfter:
			if st, err = c.Broadcast(ctx, raw); err != nil {
				return st, err
			}
			lastSeen = time.Now()
		case medledger.KindOf(err) == medledger.KindNotFound:
			st = &medledger.TxStatus{Status: medledger.TxUnknown}
		default:
			return st, err
		}
	}
	if st.Code != 0 {
		// The result log starts with the kind, which Error() adds itself.
		detail := strings.TrimPrefix(st.Log, st.Code.String()+": ")
		return st, &Error{Problem{Status: 0, Kind: st.Code.String(), Code: st.Code, Detail: detail, Tx: st}}
	}
	return st, nil
}

// Signer signs txs for one account.
type Signer = account.Signer

// SignerOf returns the signer of a keyring key.
func SignerOf(k *Key) Signer { return account.SignerOf(k) }

// BuildTx encodes and signs a message as a tx from s with the given nonce.
// The web portal signs with the same code (client/account), compiled to
// WebAssembly.
func BuildTx(chainID string, s Signer, nonce uint64, msg Msg) ([]byte, error) {
	return account.BuildTx(chainID, s, nonce, msg)
}

// Send builds a tx for msg with the signer's next nonce, submits it and
// waits for it to commit.
func (c *Client) Send(ctx context.Context, s Signer, msg Msg) (*medledger.TxStatus, error) {
	chainID, n, err := c.lastNonce(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	raw, err := BuildTx(chainID, s, n+1, msg)
	if err != nil {
		return nil, err
	}
	return c.Commit(ctx, raw)
}

// lastNonce returns the chain ID and the account's last committed nonce,
// what a signer needs to build its next ordered tx.
func (c *Client) lastNonce(ctx context.Context, id medledger.ID) (string, uint64, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return "", 0, err
	}
	n, err := c.Nonce(ctx, id)
	return chainID, n, err
}

// PublicKeysOf returns the public keys of a keyring key, as messages carry
// them.
func PublicKeysOf(k *Key) PublicKeys {
	return PublicKeys{SigningKey: k.SigningPublicKey, EncryptionKey: k.EncryptionPublicKey}
}

// RotationProof signs the proof of possession of a new signing key.
func RotationProof(chainID string, account medledger.ID, newKey ed25519.PrivateKey) []byte {
	pub := newKey.Public().(ed25519.PublicKey)
	return ed25519.Sign(newKey, identity.RotationProofBytes(chainID, account, pub))
}

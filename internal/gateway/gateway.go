// Package gateway is the read path (DESIGN §8): it authenticates a reader's
// signed read request, checks consent against committed state, logs the
// access through the durable outbox, and serves the ciphertext and the
// reader's key wrap only once CheckTx has accepted the access tx. A reader
// without consent gets exactly the answer a missing record gets.
//
// It also authenticates the signed HTTP requests of uploads and private
// queries.
package gateway

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"medledger"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/identity"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/seal"
)

// State reads committed state.
type State interface {
	Version() int64
	ReaderAt(version int64) (state.Reader, error)
}

// Clock gives the time of the latest committed block, the time consent
// is evaluated at.
type Clock func(ctx context.Context) (int64, error)

// Gateway serves reads.
type Gateway struct {
	state  State
	blobs  medledger.BlobStore
	chain  Chain
	outbox *Outbox
	clock  Clock
	log    *slog.Logger
	pull   Puller // nil: no peers to pull from
}

// New returns a gateway.
func New(st State, blobs medledger.BlobStore, chain Chain, outbox *Outbox, clock Clock, log *slog.Logger) *Gateway {
	return &Gateway{state: st, blobs: blobs, chain: chain, outbox: outbox, clock: clock, log: log}
}

// ErrNotFound is the one answer for a record that does not exist and for a
// reader who may not know it does.
var ErrNotFound = medledger.Errorf(medledger.KindNotFound, "record not found")

// Served is what a read returns.
type Served struct {
	Record   *records.Record
	Version  *records.Version
	Wrap     []byte
	KeyID    string
	Basis    string
	Grant    string
	AccessTx []byte // hash of the access tx
	Blob     io.ReadCloser
	Size     int64
}

// Read serves a read request: raw is an unordered audit/access tx signed by
// the reader.
func (g *Gateway) Read(ctx context.Context, raw []byte) (*Served, error) {
	tx, err := medledger.DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	if tx.MsgType != audit.TypeAccess || !tx.Unordered {
		return nil, medledger.Errorf(medledger.KindInvalid, "a read request is an unordered %s tx", audit.TypeAccess)
	}
	m, err := audit.Decode(tx.MsgType, tx.Msg)
	if err != nil {
		return nil, err
	}
	rd, err := g.state.ReaderAt(g.state.Version())
	if err != nil {
		return nil, medledger.Errorf(medledger.KindUnavailable, "no committed state yet")
	}
	reader, acct, err := identity.LoadPrincipal(rd, tx.Signer)
	if err != nil {
		if medledger.IsKind(err, medledger.KindUnknownAccount) {
			return nil, medledger.Errorf(medledger.KindUnknownAccount, "the reader is not registered")
		}
		return nil, err
	}
	if err := tx.VerifySignature(acct.SigningKey); err != nil {
		return nil, err
	}
	if !reader.Active() {
		return nil, medledger.Errorf(medledger.KindSuspended, "account %s is %s", reader.ID, reader.Status)
	}
	now, err := g.clock(ctx)
	if err != nil {
		return nil, err
	}
	t, rec, ver, err := audit.Target(rd, m)
	if medledger.IsKind(err, medledger.KindNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	d, err := consent.Decide(rd, identity.Directory{R: rd}, reader, t, m.Purpose, now)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return nil, ErrNotFound
	}
	// From here on the reader may know the record exists.
	if rec.Erased != 0 {
		return nil, medledger.Errorf(medledger.KindGone, "record %s was erased at the patient's request", rec.ID)
	}
	keyID := seal.KeyID(acct.EncryptionKey)
	g.pullMissing(ctx, rec.ID, ver.Blob, keyID)
	wrap, err := g.blobs.GetWrap(ctx, ver.Blob, keyID)
	if medledger.IsKind(err, medledger.KindNotFound) {
		return nil, medledger.Errorf(medledger.KindNotFound, "no key wrap for your key %s yet: the patient's client shares it when it next syncs", keyID)
	}
	if err != nil {
		return nil, err
	}
	blob, size, err := g.blobs.Open(ctx, ver.Blob)
	if medledger.IsKind(err, medledger.KindNotFound) {
		return nil, medledger.Errorf(medledger.KindUnavailable, "this node does not hold the record's ciphertext yet; try another node or retry")
	}
	if err != nil {
		return nil, err
	}
	// A request already logged or pending is a replay: each signed request
	// is served once.
	if st, err := g.chain.TxStatus(ctx, medledger.TxHash(raw)); err != nil || st.Status != medledger.TxUnknown {
		blob.Close()
		if err == nil {
			err = medledger.Errorf(medledger.KindDuplicate, "this read request was already served; sign a new one")
		}
		return nil, err
	}
	// Log before serving: durable first, then accepted by CheckTx.
	if err := g.outbox.Add(raw); err != nil {
		blob.Close()
		return nil, err
	}
	st, err := g.chain.Broadcast(ctx, raw)
	if err == nil && st.Status == medledger.TxRejected {
		err = &medledger.Error{Kind: st.Code, Msg: st.Log}
	}
	if err != nil {
		blob.Close()
		if !medledger.IsKind(err, medledger.KindUnavailable) {
			g.outbox.Remove(raw)
		}
		return nil, err
	}
	return &Served{Record: rec, Version: ver, Wrap: wrap, KeyID: keyID, Basis: d.Basis, Grant: d.Grant,
		AccessTx: medledger.TxHash(raw), Blob: blob, Size: size}, nil
}

// Authenticate checks a signed HTTP request and returns the signer. body is
// the hex sha256 the signature covers.
func Authenticate(r *http.Request, st State, bodyHash string) (medledger.Principal, error) {
	id := medledger.ID(r.Header.Get(medledger.HeaderAccount))
	if id == "" {
		return medledger.Principal{}, medledger.Errorf(medledger.KindUnauthorized, "this request must be signed (%s, %s, %s headers)", medledger.HeaderAccount, medledger.HeaderTime, medledger.HeaderSignature)
	}
	if err := id.Validate(); err != nil {
		return medledger.Principal{}, err
	}
	unix, err := strconv.ParseInt(r.Header.Get(medledger.HeaderTime), 10, 64)
	if err != nil {
		return medledger.Principal{}, medledger.Errorf(medledger.KindInvalid, "%s must be Unix seconds", medledger.HeaderTime)
	}
	if d := time.Since(time.Unix(unix, 0)); d > medledger.RequestSkew || d < -medledger.RequestSkew {
		return medledger.Principal{}, medledger.Errorf(medledger.KindExpired, "the request's time is more than %v from the node's", medledger.RequestSkew)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(medledger.HeaderSignature))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return medledger.Principal{}, medledger.Errorf(medledger.KindBadSignature, "malformed request signature")
	}
	rd, err := st.ReaderAt(st.Version())
	if err != nil {
		return medledger.Principal{}, medledger.Errorf(medledger.KindUnavailable, "no committed state yet")
	}
	p, acct, err := identity.LoadPrincipal(rd, id)
	if err != nil {
		return medledger.Principal{}, err
	}
	if !ed25519.Verify(acct.SigningKey, medledger.RequestSignBytes(r.Method, r.URL.RequestURI(), unix, bodyHash), sig) {
		return medledger.Principal{}, medledger.Errorf(medledger.KindBadSignature, "the request signature does not verify for %s", id)
	}
	if !p.Active() {
		return medledger.Principal{}, medledger.Errorf(medledger.KindSuspended, "account %s is %s", id, p.Status)
	}
	return p, nil
}

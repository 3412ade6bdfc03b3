package gateway

import (
	"context"
	"crypto/hpke"
	"log/slog"

	"medledger"
	"medledger/internal/identity"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/seal"
)

// Escrow lets break-glass work for a patient who cannot act. A node may
// hold its organisation's escrow key (the public half is on-chain, and the
// SDK wraps every record the organisation's members author for it too). When
// a break-glass declaration commits, the node re-wraps that patient's
// records its organisation authored for the declaring clinician. The
// organisation had the plaintext when it authored them; the re-wrap changes
// who can decrypt, not who may read: the gateway still checks the
// declaration on every read, and every read is logged and flagged.
type Escrow struct {
	org   string
	key   hpke.PrivateKey
	keyID string
	state IndexedState
	blobs medledger.BlobStore
	log   *slog.Logger
	queue chan [2]medledger.ID
}

// IndexedState reads committed state and its indexes.
type IndexedState interface {
	State
	IndexReader() state.Reader
}

// NewEscrow returns the escrow service of org with its private key.
func NewEscrow(org string, key hpke.PrivateKey, st IndexedState, blobs medledger.BlobStore, log *slog.Logger) *Escrow {
	return &Escrow{org: org, key: key, keyID: seal.KeyID(key.PublicKey().Bytes()), state: st, blobs: blobs, log: log, queue: make(chan [2]medledger.ID, 1024)}
}

// Notify queues the break-glass declarations among a block's events. It
// never blocks consensus: a full queue drops with an error log, and the
// clinician can be re-served by declaring again.
func (e *Escrow) Notify(events []medledger.Event) {
	for _, ev := range events {
		if ev.Type != "consent.break_glass" {
			continue
		}
		select {
		case e.queue <- [2]medledger.ID{medledger.ID(ev.Get("patient")), medledger.ID(ev.Get("clinician"))}:
		default:
			e.log.Error("escrow: queue full; a break-glass declaration was not served", "clinician", ev.Get("clinician"))
		}
	}
}

// Run serves queued declarations until ctx ends.
func (e *Escrow) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case pc := <-e.queue:
			n, err := e.Rewrap(ctx, pc[0], pc[1])
			if err != nil {
				e.log.Error("escrow: re-wrapping for a break-glass declaration failed", "clinician", pc[1], "err", err)
				continue
			}
			e.log.Info("escrow: re-wrapped records for a break-glass declaration", "org", e.org, "clinician", pc[1], "wraps", n)
		}
	}
}

// Rewrap gives clinician a wrap of every version of the patient's records
// that this organisation authored and holds an escrow wrap for.
func (e *Escrow) Rewrap(ctx context.Context, patient, clinician medledger.ID) (int, error) {
	rd, err := e.state.ReaderAt(e.state.Version())
	if err != nil {
		return 0, err
	}
	pub, err := identity.Directory{R: rd}.EncryptionKey(clinician)
	if err != nil {
		return 0, err
	}
	kid := seal.KeyID(pub)
	ids, err := records.PatientRecords(e.state.IndexReader(), patient)
	if err != nil {
		return 0, err
	}
	added := 0
	for _, id := range ids {
		rec, err := records.GetRecord(rd, id)
		if err != nil {
			return added, err
		}
		if rec == nil || rec.Erased != 0 || rec.AuthorOrg != e.org {
			continue
		}
		vs, err := records.Versions(rd, id)
		if err != nil {
			return added, err
		}
		for _, v := range vs {
			if _, err := e.blobs.GetWrap(ctx, v.Blob, kid); err == nil {
				continue
			}
			w, err := e.blobs.GetWrap(ctx, v.Blob, e.keyID)
			if medledger.IsKind(err, medledger.KindNotFound) {
				continue // authored before the escrow key, or by a client that did not wrap for it
			}
			if err != nil {
				return added, err
			}
			nw, err := seal.Rewrap(w, e.key, seal.WrapInfo{RecordID: v.Record, Version: v.Version, ReaderKeyID: e.keyID},
				pub, seal.WrapInfo{RecordID: v.Record, Version: v.Version, ReaderKeyID: kid})
			if err != nil {
				return added, err
			}
			if err := e.blobs.PutWrap(ctx, v.Blob, kid, nw); err != nil {
				return added, err
			}
			added++
		}
	}
	return added, nil
}

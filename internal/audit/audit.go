// Package audit is the access log: every read of a record, including
// break-glass reads, is an access event committed on-chain.
//
// A read request is an unordered tx of type audit/access signed by the
// reader: the gateway checks consent, puts the tx in its durable outbox,
// serves once CheckTx accepted it, and resubmits until it commits. Because
// the data may already have been served when the tx commits, delivering it
// never fails on consent grounds: the event records the decision as it
// stood at commit (Allowed, Basis, Grant), so a read that raced a
// revocation is still logged, and visibly so. A grant's read counter counts
// the reads it allowed.
//
// Events are keyed by patient and height, so a patient's history is a
// prefix of authenticated state and each event can be proven.
package audit

import (
	"slices"
	"strconv"
	"strings"

	"medledger"
	"medledger/internal/consent"
	"medledger/internal/records"
	"medledger/internal/state"
)

// TypeAccess is the message type of a read request.
const TypeAccess = "audit/access"

// Access is a read request: the signer wants to read a record version for
// a purpose. Version 0 means the latest.
type Access struct {
	Patient medledger.ID `cbor:"1,keyasint" json:"patient"`
	Record  string       `cbor:"2,keyasint" json:"record"`
	Version uint32       `cbor:"3,keyasint,omitempty" json:"version,omitempty"`
	Purpose string       `cbor:"4,keyasint" json:"purpose"`
}

// Type implements the ledger's message interface.
func (*Access) Type() string { return TypeAccess }

// Validate runs the stateless checks.
func (m *Access) Validate() error {
	if err := m.Patient.Validate(); err != nil {
		return err
	}
	if err := records.ValidRecordID(m.Record); err != nil {
		return err
	}
	if !slices.Contains(consent.Purposes, m.Purpose) {
		return medledger.Errorf(medledger.KindInvalid, "purpose must be one of %s", strings.Join(consent.Purposes, ", "))
	}
	return nil
}

// Decode decodes and validates an audit message.
func Decode(msgType string, b []byte) (*Access, error) {
	if msgType != TypeAccess {
		return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown message type %q", msgType)
	}
	m := new(Access)
	if err := medledger.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, m.Validate()
}

// Event is one logged access.
type Event struct {
	Patient    medledger.ID          `cbor:"1,keyasint" json:"patient"`
	Reader     medledger.ID          `cbor:"2,keyasint" json:"reader"`
	ReaderKind medledger.AccountKind `cbor:"3,keyasint" json:"reader_kind"`
	Org        string                `cbor:"4,keyasint,omitempty" json:"org,omitempty"`
	Roles      []medledger.Role      `cbor:"5,keyasint,omitempty" json:"roles,omitempty"`
	Record     string                `cbor:"6,keyasint" json:"record"`
	Version    uint32                `cbor:"7,keyasint" json:"version"`
	Purpose    string                `cbor:"8,keyasint" json:"purpose"`
	Allowed    bool                  `cbor:"9,keyasint" json:"allowed"`
	Basis      string                `cbor:"10,keyasint,omitempty" json:"basis,omitempty"`
	Grant      string                `cbor:"11,keyasint,omitempty" json:"grant,omitempty"`
	Height     int64                 `cbor:"12,keyasint" json:"height"`
	Time       int64                 `cbor:"13,keyasint" json:"time"`
	Request    uint64                `cbor:"14,keyasint" json:"request"`
}

// EventKey is the key of an access event: audit/a/<patient>/<height>/<reader>/<request>.
func EventKey(patient medledger.ID, height int64, reader medledger.ID, request uint64) []byte {
	return state.Key("audit", "a", string(patient), pad(uint64(height), 12), string(reader), pad(request, 20))
}

// PatientPrefix is the prefix of a patient's access events, in height order.
func PatientPrefix(patient medledger.ID) []byte { return state.Key("audit", "a", string(patient), "") }

func pad(n uint64, width int) string {
	s := strconv.FormatUint(n, 10)
	return strings.Repeat("0", max(0, width-len(s))) + s
}

// Target resolves a record version to the consent target, or an error of
// kind KindNotFound (no such record or version) or KindGone (erased).
func Target(r state.Reader, m *Access) (consent.Target, *records.Record, *records.Version, error) {
	rec, err := records.GetRecord(r, m.Record)
	if err != nil {
		return consent.Target{}, nil, nil, err
	}
	if rec == nil || rec.Patient != m.Patient {
		return consent.Target{}, nil, nil, medledger.Errorf(medledger.KindNotFound, "not found")
	}
	v := m.Version
	if v == 0 {
		v = rec.Latest
	}
	ver, err := records.GetVersion(r, rec.ID, v)
	if err != nil {
		return consent.Target{}, nil, nil, err
	}
	if ver == nil {
		return consent.Target{}, nil, nil, medledger.Errorf(medledger.KindNotFound, "not found")
	}
	t := consent.Target{Record: rec.ID, Patient: rec.Patient, Author: rec.Author, Category: rec.Category, ContentType: rec.ContentType}
	return t, rec, ver, nil
}

// Apply logs a read. request is the tx's request ID (its nonce). It fails
// only if the record version does not exist; a refused or raced read is
// logged with Allowed false.
func Apply(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m *Access, request uint64) ([]medledger.Event, error) {
	t, _, ver, err := Target(b.KV, m)
	if err != nil {
		return nil, err
	}
	d, err := consent.Decide(b.KV, dir, signer, t, m.Purpose, env.Time)
	if err != nil {
		return nil, err
	}
	if d.Basis == consent.BasisGrant {
		g, err := consent.GetGrant(b.KV, t.Patient, d.Grant)
		if err != nil {
			return nil, err
		}
		g.Reads++
		if err := consent.PutGrant(b.KV, g); err != nil {
			return nil, err
		}
	}
	e := Event{Patient: t.Patient, Reader: signer.ID, ReaderKind: signer.Kind, Org: signer.Org, Roles: signer.Roles,
		Record: t.Record, Version: ver.Version, Purpose: m.Purpose, Allowed: d.Allowed, Basis: d.Basis, Grant: d.Grant,
		Height: env.Height, Time: env.Time, Request: request}
	if err := b.KV.Set(EventKey(e.Patient, e.Height, e.Reader, request), medledger.MustMarshal(&e)); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("audit.access", "patient", string(e.Patient), "reader", string(e.Reader),
		"org", e.Org, "record", e.Record, "version", strconv.FormatUint(uint64(e.Version), 10), "purpose", e.Purpose,
		"basis", e.Basis, "grant", e.Grant, "allowed", strconv.FormatBool(e.Allowed))}, nil
}

// Events lists a patient's access events, oldest first, with their keys.
func Events(r state.Reader, patient medledger.ID) ([]Event, [][]byte, error) {
	var out []Event
	var keys [][]byte
	var err error
	p := PatientPrefix(patient)
	iterErr := r.Iterate(p, state.PrefixEnd(p), func(k, v []byte) bool {
		var e Event
		if err = medledger.UnmarshalTrusted(v, &e); err == nil {
			out = append(out, e)
			keys = append(keys, append([]byte(nil), k...))
		}
		return err == nil
	})
	if iterErr != nil {
		return nil, nil, iterErr
	}
	return out, keys, err
}

package records

import (
	"strconv"
	"strings"

	"medledger"
	"medledger/internal/state"
)

func unauthorized(format string, args ...any) error {
	return medledger.Errorf(medledger.KindUnauthorized, format, args...)
}

// Apply executes a records message.
func Apply(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m Msg) ([]medledger.Event, error) {
	switch m := m.(type) {
	case *Anchor:
		return anchor(b, env, signer, dir, m)
	case *Erase:
		return erase(b, env, signer, dir, m)
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown records message %T", m)
}

// selfOrDelegate reports whether signer is the patient or their delegate.
func selfOrDelegate(dir medledger.Directory, env medledger.Env, signer medledger.Principal, patient medledger.ID) (bool, error) {
	if signer.ID == patient {
		return true, nil
	}
	return dir.IsDelegate(patient, signer.ID, env.Time)
}

func anchor(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m *Anchor) ([]medledger.Event, error) {
	p, err := dir.Principal(m.Patient)
	if err != nil {
		return nil, err
	}
	if p.Kind != medledger.KindPatient || !p.Active() {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "patient %s is not an active patient", m.Patient)
	}
	self, err := selfOrDelegate(dir, env, signer, m.Patient)
	if err != nil {
		return nil, err
	}
	if signer.Kind != medledger.KindMember && !self {
		return nil, unauthorized("records are authored by members of admitted organisations, or self-reported by the patient or a delegate")
	}
	rec, err := GetRecord(b.KV, m.Record)
	if err != nil {
		return nil, err
	}
	v := Version{Record: m.Record, Version: m.Version, Blob: m.Blob, Size: m.Size, Author: signer.ID, Height: env.Height, Time: env.Time}
	if signer.Kind == medledger.KindMember {
		v.AuthorOrg = signer.Org
	}
	if m.Version == 1 {
		if rec != nil {
			return nil, medledger.Errorf(medledger.KindExists, "record %s already exists", m.Record)
		}
		rec = &Record{ID: m.Record, Patient: m.Patient, Author: signer.ID, AuthorOrg: v.AuthorOrg, SelfReported: v.AuthorOrg == "",
			Category: m.Category, ContentType: m.ContentType, Created: env.Height}
		if err := b.Index.Set(patientIndex(rec.Patient, rec.ID), []byte{1}); err != nil {
			return nil, err
		}
	} else {
		switch {
		case rec == nil:
			return nil, medledger.Errorf(medledger.KindNotFound, "record %s not found", m.Record)
		case rec.Patient != m.Patient:
			return nil, invalid("record %s belongs to another patient", m.Record)
		case rec.Erased != 0:
			return nil, medledger.Errorf(medledger.KindGone, "record %s was erased", m.Record)
		case m.Version != rec.Latest+1:
			return nil, medledger.Errorf(medledger.KindExists, "record %s is at version %d; the next is %d", m.Record, rec.Latest, rec.Latest+1)
		case m.Category != rec.Category || m.ContentType != rec.ContentType:
			return nil, invalid("an amendment keeps the record's category and content type")
		case rec.SelfReported && !self:
			return nil, unauthorized("a self-reported record is amended by the patient or a delegate")
		case !rec.SelfReported && (signer.Kind != medledger.KindMember || signer.Org != rec.AuthorOrg):
			return nil, unauthorized("only a member of %s, the author's organisation, may amend record %s", rec.AuthorOrg, m.Record)
		}
		v.Supersedes = rec.Latest
	}
	rec.Latest = m.Version
	if err := b.KV.Set(RecordKey(rec.ID), medledger.MustMarshal(rec)); err != nil {
		return nil, err
	}
	if err := b.KV.Set(VersionKey(v.Record, v.Version), medledger.MustMarshal(&v)); err != nil {
		return nil, err
	}
	if err := b.Index.Set(blobIndex(v.Blob), []byte(v.Record)); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("records.anchored", "patient", string(rec.Patient), "record", rec.ID,
		"version", strconv.FormatUint(uint64(v.Version), 10), "blob", v.Blob.String(), "author", string(v.Author),
		"org", v.AuthorOrg, "category", rec.Category)}, nil
}

func erase(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m *Erase) ([]medledger.Event, error) {
	rec, err := GetRecord(b.KV, m.Record)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, medledger.Errorf(medledger.KindNotFound, "record %s not found", m.Record)
	}
	ok, err := selfOrDelegate(dir, env, signer, rec.Patient)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, unauthorized("only the patient or their delegate may erase a record")
	}
	if rec.Erased != 0 {
		return nil, medledger.Errorf(medledger.KindGone, "record %s was already erased", m.Record)
	}
	vs, err := Versions(b.KV, rec.ID)
	if err != nil {
		return nil, err
	}
	blobs := make([]string, len(vs))
	for i, v := range vs {
		blobs[i] = v.Blob.String()
	}
	rec.Erased = env.Height
	if err := b.KV.Set(RecordKey(rec.ID), medledger.MustMarshal(rec)); err != nil {
		return nil, err
	}
	// Every node deletes these blobs and their wraps when it sees the event.
	return []medledger.Event{medledger.NewEvent("records.erased", "patient", string(rec.Patient), "record", rec.ID,
		"blobs", strings.Join(blobs, ","), "by", string(signer.ID))}, nil
}

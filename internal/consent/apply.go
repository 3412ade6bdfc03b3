package consent

import (
	"strconv"

	"medledger"
	"medledger/internal/state"
)

// MaxGrantYears bounds a grant's lifetime.
const maxGrantSeconds = 10 * 365 * 24 * 3600

func unauthorized(format string, args ...any) error {
	return medledger.Errorf(medledger.KindUnauthorized, format, args...)
}

// actsFor checks that signer is the patient, or an active delegate of the
// patient, and that the patient is an active patient.
func actsFor(dir medledger.Directory, env medledger.Env, signer medledger.Principal, patient medledger.ID) error {
	p, err := dir.Principal(patient)
	if err != nil {
		return err
	}
	if p.Kind != medledger.KindPatient {
		return medledger.Errorf(medledger.KindUnknownAccount, "patient %s is not registered", patient)
	}
	if !p.Active() {
		return medledger.Errorf(medledger.KindSuspended, "patient %s is %s", patient, p.Status)
	}
	if signer.ID == patient {
		return nil
	}
	ok, err := dir.IsDelegate(patient, signer.ID, env.Time)
	if err != nil {
		return err
	}
	if !ok {
		return unauthorized("only the patient or their delegate may change the patient's consent")
	}
	return nil
}

// Apply executes a consent message.
func Apply(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m Msg) ([]medledger.Event, error) {
	switch m := m.(type) {
	case *GrantAccess:
		return grant(b, env, signer, dir, m)
	case *Revoke:
		return revoke(b, env, signer, dir, m)
	case *BreakGlass:
		return breakGlass(b, env, signer, dir, m)
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown consent message %T", m)
}

func grant(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m *GrantAccess) ([]medledger.Event, error) {
	if err := actsFor(dir, env, signer, m.Patient); err != nil {
		return nil, err
	}
	if m.Expires <= env.Time {
		return nil, medledger.Errorf(medledger.KindExpired, "the grant would already have expired")
	}
	if m.Expires > env.Time+maxGrantSeconds {
		return nil, invalid("a grant may last at most 10 years")
	}
	if m.Grantee.Member != "" {
		p, err := dir.Principal(m.Grantee.Member)
		if err != nil {
			return nil, err
		}
		if p.Kind != medledger.KindMember || !p.Active() {
			return nil, invalid("grantee %s is not an active member of an organisation", m.Grantee.Member)
		}
	} else if ok, err := dir.OrgActive(m.Grantee.Org); err != nil || !ok {
		if err == nil {
			err = medledger.Errorf(medledger.KindNotFound, "organisation %s is not admitted", m.Grantee.Org)
		}
		return nil, err
	}
	key := GrantKey(m.Patient, m.ID)
	if old, err := b.KV.Get(key); err != nil || old != nil {
		if err == nil {
			err = medledger.Errorf(medledger.KindExists, "grant %s already exists", m.ID)
		}
		return nil, err
	}
	g := Grant{ID: m.ID, Patient: m.Patient, Grantee: m.Grantee, Scope: m.Scope, Purpose: m.Purpose, Expires: m.Expires,
		MaxReads: m.MaxReads, GrantedBy: signer.ID, Created: env.Height}
	if err := b.KV.Set(key, medledger.MustMarshal(&g)); err != nil {
		return nil, err
	}
	if err := b.Index.Set(granteeIndex(g.Grantee, g.Patient, g.ID), indexMark); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("consent.granted", "patient", string(g.Patient), "grant", g.ID,
		"grantee", granteeName(g.Grantee), "purpose", g.Purpose, "expires", strconv.FormatInt(g.Expires, 10), "by", string(signer.ID))}, nil
}

// GetGrant returns a grant, or nil.
func GetGrant(r state.Reader, patient medledger.ID, id string) (*Grant, error) {
	return state.Load[Grant](r, GrantKey(patient, id))
}

// PutGrant stores an updated grant (the read counter).
func PutGrant(w state.ReadWriter, g *Grant) error {
	return w.Set(GrantKey(g.Patient, g.ID), medledger.MustMarshal(g))
}

func revoke(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m *Revoke) ([]medledger.Event, error) {
	if err := actsFor(dir, env, signer, m.Patient); err != nil {
		return nil, err
	}
	g, err := GetGrant(b.KV, m.Patient, m.Grant)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, medledger.Errorf(medledger.KindNotFound, "grant %s not found", m.Grant)
	}
	if g.Revoked != 0 {
		return nil, invalid("grant %s was already revoked", m.Grant)
	}
	g.Revoked = env.Height
	if err := PutGrant(b.KV, g); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("consent.revoked", "patient", string(g.Patient), "grant", g.ID,
		"grantee", granteeName(g.Grantee), "by", string(signer.ID))}, nil
}

func breakGlass(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m *BreakGlass) ([]medledger.Event, error) {
	if signer.Kind != medledger.KindMember || !signer.OrgType.IsProvider() ||
		!(signer.Has(medledger.RolePhysician) || signer.Has(medledger.RoleNurse)) {
		return nil, unauthorized("break-glass needs a physician or nurse of a provider organisation")
	}
	p, err := dir.Principal(m.Patient)
	if err != nil {
		return nil, err
	}
	if p.Kind != medledger.KindPatient {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "patient %s is not registered", m.Patient)
	}
	d := m.Duration
	if d == 0 {
		d = DefaultBreakGlass
	}
	e := Emergency{Patient: m.Patient, Clinician: signer.ID, Org: signer.Org, Reason: m.Reason, Start: env.Time, Expires: env.Time + d, Height: env.Height}
	if err := b.KV.Set(EmergencyKey(m.Patient, signer.ID), medledger.MustMarshal(&e)); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("consent.break_glass", "patient", string(m.Patient), "clinician", string(signer.ID),
		"org", signer.Org, "reason", m.Reason, "expires", strconv.FormatInt(e.Expires, 10))}, nil
}

// Grants returns a patient's grants in ID order.
func Grants(r state.Reader, patient medledger.ID) ([]Grant, error) {
	return state.LoadAll[Grant](r, GrantsPrefix(patient))
}

// Emergencies returns a patient's break-glass declarations.
func Emergencies(r state.Reader, patient medledger.ID) ([]Emergency, error) {
	return state.LoadAll[Emergency](r, EmergenciesPrefix(patient))
}

// Decide evaluates Can against state: the reader's delegate status, the
// patient's grants and emergencies.
func Decide(r state.Reader, dir medledger.Directory, reader medledger.Principal, t Target, purpose string, now int64) (Decision, error) {
	del, err := dir.IsDelegate(t.Patient, reader.ID, now)
	if err != nil {
		return Decision{}, err
	}
	grants, err := Grants(r, t.Patient)
	if err != nil {
		return Decision{}, err
	}
	ems, err := Emergencies(r, t.Patient)
	if err != nil {
		return Decision{}, err
	}
	return Can(Reader{Principal: reader, Delegate: del}, t, purpose, now, grants, ems), nil
}

// RebuildIndex recomputes the grantee index.
func RebuildIndex(r state.Reader, index state.ReadWriter) error {
	prefix := []byte("consent/g/")
	var err error
	iterErr := r.Iterate(prefix, state.PrefixEnd(prefix), func(_, v []byte) bool {
		var g Grant
		if err = medledger.UnmarshalTrusted(v, &g); err == nil {
			err = index.Set(granteeIndex(g.Grantee, g.Patient, g.ID), indexMark)
		}
		return err == nil
	})
	if iterErr != nil {
		return iterErr
	}
	return err
}

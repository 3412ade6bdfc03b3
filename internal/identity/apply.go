package identity

import (
	"crypto/ed25519"
	"slices"
	"strings"

	"medledger"
	"medledger/internal/state"
)

// Limits on lists kept inside an account record.
const (
	MaxDelegates    = 16
	MaxAttestations = 32
)

func unauthorized(format string, args ...any) error {
	return medledger.Errorf(medledger.KindUnauthorized, format, args...)
}

func roleNames(rs []medledger.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// Apply executes an identity message signed by signer. The ledger has
// already checked the signature and the nonce; for RegisterPatient the
// signer is not yet an account and only signer.ID is set. Apply checks every
// authorisation rule and writes only through b.
func Apply(b state.Batch, env medledger.Env, signer medledger.Principal, m Msg) ([]medledger.Event, error) {
	switch m := m.(type) {
	case *AdmitOrg, *RemoveOrg, *SetValidator:
		return propose(b, env, signer, m)
	case *EnrolMember:
		return enrolMember(b, env, signer, m)
	case *SetMemberStatus:
		return setMemberStatus(b, env, signer, m)
	case *SetMemberRoles:
		return setMemberRoles(b, env, signer, m)
	case *RegisterPatient:
		return registerPatient(b, env, signer, m)
	case *AttestPatient:
		return attestPatient(b, env, signer, m)
	case *SetDelegate:
		return setDelegate(b, env, signer, m)
	case *RemoveDelegate:
		return removeDelegate(b, env, signer, m)
	case *RotateKeys:
		return rotateKeys(b, env, signer, m)
	case *SetOrgKey:
		return setOrgKey(b, env, signer, m)
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown identity message %T", m)
}

// propose records a regulator's approval of an authority action, and
// executes it once the threshold is met.
func propose(b state.Batch, env medledger.Env, signer medledger.Principal, m Msg) ([]medledger.Event, error) {
	auth, err := GetAuthority(b.KV)
	if err != nil {
		return nil, err
	}
	if signer.Kind != medledger.KindRegulator || !slices.Contains(auth.Regulators, signer.ID) {
		return nil, unauthorized("only the consortium authority's regulators may %s", strings.TrimPrefix(m.Type(), "identity/"))
	}
	// Check now that the action can still run, so a doomed proposal fails
	// at its first approval rather than at its last.
	if err := precheck(b.KV, m); err != nil {
		return nil, err
	}
	msgBytes := medledger.MustMarshal(m)
	id := ProposalID(m.Type(), msgBytes)
	p, err := GetProposal(b.KV, id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = &Proposal{ID: id, MsgType: m.Type(), Msg: msgBytes, Created: env.Height}
	}
	if slices.Contains(p.Approvals, signer.ID) {
		return nil, medledger.Errorf(medledger.KindExists, "regulator %s already approved proposal %s", signer.ID, id)
	}
	p.Approvals = append(p.Approvals, signer.ID)
	slices.Sort(p.Approvals)
	ev := medledger.NewEvent("identity.proposal_approved", "proposal", id, "action", m.Type(),
		"regulator", string(signer.ID), "approvals", itoa(len(p.Approvals)), "threshold", itoa(auth.Threshold))
	if len(p.Approvals) < auth.Threshold {
		return []medledger.Event{ev}, put(b.KV, ProposalKey(id), p)
	}
	if err := b.KV.Delete(ProposalKey(id)); err != nil {
		return nil, err
	}
	var done medledger.Event
	switch m := m.(type) {
	case *AdmitOrg:
		done, err = admitOrg(b, env, m)
	case *RemoveOrg:
		done, err = removeOrg(b, env, m)
	case *SetValidator:
		done, err = setValidator(b, env, m)
	}
	if err != nil {
		return nil, err
	}
	done.Attrs = append(done.Attrs, medledger.Attr{Key: "proposal", Value: id, Index: true})
	return []medledger.Event{ev, done}, nil
}

func precheck(r state.Reader, m Msg) error {
	switch m := m.(type) {
	case *AdmitOrg:
		if o, err := GetOrg(r, m.Org); err != nil || o != nil {
			if err == nil {
				err = medledger.Errorf(medledger.KindExists, "organisation %s already exists", m.Org)
			}
			return err
		}
		if a, err := GetAccount(r, m.Admin.ID()); err != nil || a != nil {
			if err == nil {
				err = medledger.Errorf(medledger.KindExists, "account %s already exists", m.Admin.ID())
			}
			return err
		}
	case *RemoveOrg:
		o, err := GetOrg(r, m.Org)
		if err != nil {
			return err
		}
		if o == nil {
			return medledger.Errorf(medledger.KindNotFound, "organisation %s does not exist", m.Org)
		}
		if o.Status == medledger.StatusRemoved {
			return medledger.Errorf(medledger.KindInvalid, "organisation %s was already removed", m.Org)
		}
		if len(o.ValidatorKey) > 0 {
			if v, err := GetValidator(r, o.ValidatorKey); err != nil || v == nil {
				return err
			}
			return checkNotLast(r, o.ValidatorKey)
		}
	case *SetValidator:
		_, _, err := checkSetValidator(r, m)
		return err
	}
	return nil
}

func newAccount(env medledger.Env, kind medledger.AccountKind, keys PublicKeys) *Account {
	return &Account{
		ID:            keys.ID(),
		Kind:          kind,
		Status:        medledger.StatusActive,
		SigningKey:    keys.SigningKey,
		EncryptionKey: keys.EncryptionKey,
		Keys:          []KeyRecord{{SigningKey: keys.SigningKey, EncryptionKey: keys.EncryptionKey, Since: env.Height}},
		Created:       env.Height,
		Updated:       env.Height,
	}
}

func admitOrg(b state.Batch, env medledger.Env, m *AdmitOrg) (medledger.Event, error) {
	admin := newAccount(env, medledger.KindMember, m.Admin)
	admin.Org = m.Org
	admin.Roles = []medledger.Role{medledger.RoleAdmin}
	org := &Org{ID: m.Org, Type: m.OrgType, Name: m.Name, Licence: m.Licence, GatewayURL: m.GatewayURL,
		ValidatorKey: m.ValidatorKey, Status: medledger.StatusActive, Admin: admin.ID, Admitted: env.Height, Updated: env.Height}
	if err := put(b.KV, OrgKey(org.ID), org); err != nil {
		return medledger.Event{}, err
	}
	if err := put(b.KV, AccountKey(admin.ID), admin); err != nil {
		return medledger.Event{}, err
	}
	if err := b.Index.Set(orgMemberIndex(org.ID, admin.ID), indexMark); err != nil {
		return medledger.Event{}, err
	}
	return medledger.NewEvent("identity.org_admitted", "org", org.ID, "type", string(org.Type), "admin", string(admin.ID)), nil
}

func removeOrg(b state.Batch, env medledger.Env, m *RemoveOrg) (medledger.Event, error) {
	o, err := GetOrg(b.KV, m.Org)
	if err != nil {
		return medledger.Event{}, err
	}
	o.Status = medledger.StatusRemoved
	o.Updated = env.Height
	if err := removeOrgValidator(b.KV, env, o); err != nil {
		return medledger.Event{}, err
	}
	return medledger.NewEvent("identity.org_removed", "org", o.ID), put(b.KV, OrgKey(o.ID), o)
}

// requireAdmin checks that signer is an active admin of an organisation.
func requireAdmin(signer medledger.Principal, action string) error {
	if signer.Kind != medledger.KindMember || !signer.Has(medledger.RoleAdmin) {
		return unauthorized("only an organisation admin may %s", action)
	}
	return nil
}

// memberOf loads a member of the signer's organisation.
func memberOf(r state.Reader, signer medledger.Principal, id medledger.ID) (*Account, error) {
	a, err := GetAccount(r, id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "account %s is not registered", id)
	}
	if a.Kind != medledger.KindMember || a.Org != signer.Org {
		return nil, unauthorized("account %s is not a member of %s", id, signer.Org)
	}
	return a, nil
}

func enrolMember(b state.Batch, env medledger.Env, signer medledger.Principal, m *EnrolMember) ([]medledger.Event, error) {
	if err := requireAdmin(signer, "enrol members"); err != nil {
		return nil, err
	}
	id := m.Keys.ID()
	if a, err := GetAccount(b.KV, id); err != nil || a != nil {
		if err == nil {
			err = medledger.Errorf(medledger.KindExists, "account %s already exists", id)
		}
		return nil, err
	}
	a := newAccount(env, medledger.KindMember, m.Keys)
	a.Org = signer.Org
	a.Roles = m.Roles
	if err := put(b.KV, AccountKey(id), a); err != nil {
		return nil, err
	}
	if err := b.Index.Set(orgMemberIndex(a.Org, id), indexMark); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.member_enrolled", "org", a.Org, "member", string(id), "roles", roleNames(a.Roles), "by", string(signer.ID))}, nil
}

func setMemberStatus(b state.Batch, env medledger.Env, signer medledger.Principal, m *SetMemberStatus) ([]medledger.Event, error) {
	if err := requireAdmin(signer, "change a member's status"); err != nil {
		return nil, err
	}
	if m.Member == signer.ID {
		return nil, unauthorized("an admin cannot change their own status")
	}
	a, err := memberOf(b.KV, signer, m.Member)
	if err != nil {
		return nil, err
	}
	if a.Status == medledger.StatusRemoved {
		return nil, medledger.Errorf(medledger.KindInvalid, "member %s was removed; removal is final", a.ID)
	}
	if a.Status == m.Status {
		return nil, medledger.Errorf(medledger.KindInvalid, "member %s is already %s", a.ID, a.Status)
	}
	a.Status = m.Status
	a.Updated = env.Height
	if err := put(b.KV, AccountKey(a.ID), a); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.member_status", "org", a.Org, "member", string(a.ID), "status", string(a.Status), "by", string(signer.ID))}, nil
}

func setMemberRoles(b state.Batch, env medledger.Env, signer medledger.Principal, m *SetMemberRoles) ([]medledger.Event, error) {
	if err := requireAdmin(signer, "change a member's roles"); err != nil {
		return nil, err
	}
	if m.Member == signer.ID && !slices.Contains(m.Roles, medledger.RoleAdmin) {
		return nil, unauthorized("an admin cannot remove their own admin role")
	}
	a, err := memberOf(b.KV, signer, m.Member)
	if err != nil {
		return nil, err
	}
	if a.Status == medledger.StatusRemoved {
		return nil, medledger.Errorf(medledger.KindInvalid, "member %s was removed; removal is final", a.ID)
	}
	a.Roles = m.Roles
	a.Updated = env.Height
	if err := put(b.KV, AccountKey(a.ID), a); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.member_roles", "org", a.Org, "member", string(a.ID), "roles", roleNames(a.Roles), "by", string(signer.ID))}, nil
}

func registerPatient(b state.Batch, env medledger.Env, signer medledger.Principal, m *RegisterPatient) ([]medledger.Event, error) {
	if signer.Kind != "" {
		return nil, medledger.Errorf(medledger.KindExists, "account %s is already registered", signer.ID)
	}
	if m.Keys.ID() != signer.ID {
		return nil, unauthorized("a patient registers with the key that signs the registration")
	}
	a := newAccount(env, medledger.KindPatient, m.Keys)
	if err := put(b.KV, AccountKey(a.ID), a); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.patient_registered", "patient", string(a.ID))}, nil
}

// activePatient loads an active patient account.
func activePatient(r state.Reader, id medledger.ID) (*Account, error) {
	a, err := GetAccount(r, id)
	if err != nil {
		return nil, err
	}
	if a == nil || a.Kind != medledger.KindPatient {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "patient %s is not registered", id)
	}
	if a.Status != medledger.StatusActive {
		return nil, medledger.Errorf(medledger.KindSuspended, "patient %s is %s", id, a.Status)
	}
	return a, nil
}

func attestPatient(b state.Batch, env medledger.Env, signer medledger.Principal, m *AttestPatient) ([]medledger.Event, error) {
	if signer.Kind != medledger.KindMember || !signer.OrgType.IsProvider() {
		return nil, unauthorized("only a member of a provider organisation may attest a patient")
	}
	if !signer.Has(medledger.RoleAdmin) && !signer.Has(medledger.RoleRegistrar) &&
		!signer.Has(medledger.RolePhysician) && !signer.Has(medledger.RoleNurse) {
		return nil, unauthorized("attesting a patient needs the admin, registrar, physician or nurse role")
	}
	a, err := activePatient(b.KV, m.Patient)
	if err != nil {
		return nil, err
	}
	att := Attestation{Org: signer.Org, By: signer.ID, Method: m.Method, Height: env.Height, Time: env.Time}
	i := slices.IndexFunc(a.Attestations, func(x Attestation) bool { return x.Org == signer.Org })
	if i >= 0 {
		a.Attestations[i] = att
	} else {
		if len(a.Attestations) >= MaxAttestations {
			return nil, medledger.Errorf(medledger.KindTooLarge, "patient %s has the maximum of %d attestations", a.ID, MaxAttestations)
		}
		a.Attestations = append(a.Attestations, att)
	}
	a.Updated = env.Height
	if err := put(b.KV, AccountKey(a.ID), a); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.patient_attested", "patient", string(a.ID), "org", signer.Org, "by", string(signer.ID), "method", m.Method)}, nil
}

func setDelegate(b state.Batch, env medledger.Env, signer medledger.Principal, m *SetDelegate) ([]medledger.Event, error) {
	if signer.Kind != medledger.KindPatient {
		return nil, unauthorized("only a patient may appoint delegates")
	}
	if m.Delegate == signer.ID {
		return nil, medledger.Errorf(medledger.KindInvalid, "a patient cannot be their own delegate")
	}
	if m.Expires != 0 && m.Expires <= env.Time {
		return nil, medledger.Errorf(medledger.KindExpired, "the delegation would already have expired")
	}
	d, err := GetAccount(b.KV, m.Delegate)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "delegate %s is not registered", m.Delegate)
	}
	if d.Status != medledger.StatusActive {
		return nil, medledger.Errorf(medledger.KindSuspended, "delegate %s is %s", d.ID, d.Status)
	}
	p, err := activePatient(b.KV, signer.ID)
	if err != nil {
		return nil, err
	}
	del := Delegate{ID: m.Delegate, Relation: m.Relation, Expires: m.Expires, Since: env.Height}
	i, found := slices.BinarySearchFunc(p.Delegates, m.Delegate, func(x Delegate, id medledger.ID) int { return strings.Compare(string(x.ID), string(id)) })
	if found {
		p.Delegates[i] = del
	} else {
		if len(p.Delegates) >= MaxDelegates {
			return nil, medledger.Errorf(medledger.KindTooLarge, "a patient may have at most %d delegates", MaxDelegates)
		}
		p.Delegates = slices.Insert(p.Delegates, i, del)
	}
	p.Updated = env.Height
	if err := put(b.KV, AccountKey(p.ID), p); err != nil {
		return nil, err
	}
	if err := b.Index.Set(delegateIndex(m.Delegate, p.ID), indexMark); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.delegate_set", "patient", string(p.ID), "delegate", string(m.Delegate), "relation", m.Relation, "expires", i64toa(m.Expires))}, nil
}

func removeDelegate(b state.Batch, env medledger.Env, signer medledger.Principal, m *RemoveDelegate) ([]medledger.Event, error) {
	if signer.Kind != medledger.KindPatient {
		return nil, unauthorized("only a patient may remove their delegates")
	}
	p, err := activePatient(b.KV, signer.ID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(p.Delegates, func(x Delegate) bool { return x.ID == m.Delegate })
	if i < 0 {
		return nil, medledger.Errorf(medledger.KindNotFound, "%s is not a delegate of %s", m.Delegate, p.ID)
	}
	p.Delegates = slices.Delete(p.Delegates, i, i+1)
	p.Updated = env.Height
	if err := put(b.KV, AccountKey(p.ID), p); err != nil {
		return nil, err
	}
	if err := b.Index.Delete(delegateIndex(m.Delegate, p.ID)); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.delegate_removed", "patient", string(p.ID), "delegate", string(m.Delegate))}, nil
}

func rotateKeys(b state.Batch, env medledger.Env, signer medledger.Principal, m *RotateKeys) ([]medledger.Event, error) {
	target := m.Account
	if target == "" {
		target = signer.ID
	}
	var a *Account
	var err error
	if target == signer.ID {
		if a, err = GetAccount(b.KV, target); err == nil && a == nil {
			err = medledger.Errorf(medledger.KindUnknownAccount, "account %s is not registered", target)
		}
	} else {
		if err := requireAdmin(signer, "rotate another account's keys"); err != nil {
			return nil, err
		}
		a, err = memberOf(b.KV, signer, target)
	}
	if err != nil {
		return nil, err
	}
	if a.Status == medledger.StatusRemoved {
		return nil, medledger.Errorf(medledger.KindSuspended, "account %s was removed", a.ID)
	}
	rec := KeyRecord{Since: env.Height}
	if m.SigningKey != nil {
		if slices.Equal(m.SigningKey, a.SigningKey) {
			return nil, medledger.Errorf(medledger.KindInvalid, "the new signing key is the current one")
		}
		if !ed25519.Verify(m.SigningKey, RotationProofBytes(env.ChainID, a.ID, m.SigningKey), m.Proof) {
			return nil, medledger.Errorf(medledger.KindBadSignature, "the proof of possession of the new signing key does not verify")
		}
		a.SigningKey, rec.SigningKey = m.SigningKey, m.SigningKey
	}
	if m.EncryptionKey != nil {
		if slices.Equal(m.EncryptionKey, a.EncryptionKey) {
			return nil, medledger.Errorf(medledger.KindInvalid, "the new encryption key is the current one")
		}
		a.EncryptionKey, rec.EncryptionKey = m.EncryptionKey, m.EncryptionKey
	}
	a.Keys = append(a.Keys, rec)
	a.Updated = env.Height
	if err := put(b.KV, AccountKey(a.ID), a); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.keys_rotated", "account", string(a.ID), "by", string(signer.ID),
		"signing", boolStr(m.SigningKey != nil), "encryption", boolStr(m.EncryptionKey != nil))}, nil
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func setOrgKey(b state.Batch, env medledger.Env, signer medledger.Principal, m *SetOrgKey) ([]medledger.Event, error) {
	if err := requireAdmin(signer, "set the organisation's escrow key"); err != nil {
		return nil, err
	}
	o, err := GetOrg(b.KV, signer.Org)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, medledger.Errorf(medledger.KindInternal, "member of missing organisation %s", signer.Org)
	}
	o.EncryptionKey = m.EncryptionKey
	o.Updated = env.Height
	if err := put(b.KV, OrgKey(o.ID), o); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("identity.org_key_set", "org", o.ID, "by", string(signer.ID))}, nil
}

package identity

import (
	"crypto/ed25519"
	"crypto/hpke"
	"net/url"
	"slices"
	"strings"

	"medledger"
)

// Message types of the identity module.
const (
	TypeAdmitOrg        = "identity/admit_org"
	TypeRemoveOrg       = "identity/remove_org"
	TypeEnrolMember     = "identity/enrol_member"
	TypeSetMemberStatus = "identity/set_member_status"
	TypeSetMemberRoles  = "identity/set_member_roles"
	TypeRegisterPatient = "identity/register_patient"
	TypeAttestPatient   = "identity/attest_patient"
	TypeSetDelegate     = "identity/set_delegate"
	TypeRemoveDelegate  = "identity/remove_delegate"
	TypeRotateKeys      = "identity/rotate_keys"
	TypeSetOrgKey       = "identity/set_org_key"
)

// RotateDomain separates the proof of possession of a new signing key.
const RotateDomain = "medledger/rotate/v1"

// Msg is a decoded identity message.
type Msg interface {
	Type() string
	// Validate runs the stateless checks.
	Validate() error
}

// PublicKeys are an account's public keys as a message carries them.
type PublicKeys struct {
	SigningKey    []byte `cbor:"1,keyasint" json:"signing_key"`
	EncryptionKey []byte `cbor:"2,keyasint" json:"encryption_key"`
}

// Validate checks the keys' form: a 32-byte Ed25519 key and a serialized
// ML-KEM-768+X25519 HPKE public key.
func (k PublicKeys) Validate() error {
	if err := validateSigningKey(k.SigningKey); err != nil {
		return err
	}
	return validateEncryptionKey(k.EncryptionKey)
}

// ID is the account ID these keys give.
func (k PublicKeys) ID() medledger.ID { return medledger.AccountID(k.SigningKey) }

func validateSigningKey(b []byte) error {
	if len(b) != ed25519.PublicKeySize {
		return medledger.Errorf(medledger.KindInvalid, "signing key must be %d bytes", ed25519.PublicKeySize)
	}
	return nil
}

func validateEncryptionKey(b []byte) error {
	if _, err := hpke.MLKEM768X25519().NewPublicKey(b); err != nil {
		return medledger.Errorf(medledger.KindInvalid, "encryption key is not an ML-KEM-768+X25519 public key")
	}
	return nil
}

// AdmitOrg admits an organisation and enrols its first admin. An authority
// action: it takes effect at the threshold of regulator approvals.
type AdmitOrg struct {
	Org          string            `cbor:"1,keyasint" json:"org"`
	OrgType      medledger.OrgType `cbor:"2,keyasint" json:"type"`
	Name         string            `cbor:"3,keyasint" json:"name"`
	Licence      string            `cbor:"4,keyasint" json:"licence"`
	GatewayURL   string            `cbor:"5,keyasint,omitempty" json:"gateway_url,omitempty"`
	ValidatorKey []byte            `cbor:"6,keyasint,omitempty" json:"validator_key,omitempty"`
	Admin        PublicKeys        `cbor:"7,keyasint" json:"admin"`
}

// RemoveOrg removes an organisation: its members can no longer act. An
// authority action.
type RemoveOrg struct {
	Org    string `cbor:"1,keyasint" json:"org"`
	Reason string `cbor:"2,keyasint" json:"reason"`
}

// EnrolMember enrols a person in the signer's organisation. The signer must
// be one of its admins.
type EnrolMember struct {
	Keys  PublicKeys       `cbor:"1,keyasint" json:"keys"`
	Roles []medledger.Role `cbor:"2,keyasint" json:"roles"`
}

// SetMemberStatus suspends, reinstates or removes a member. The signer must
// be an admin of the member's organisation. Removal is final.
type SetMemberStatus struct {
	Member medledger.ID     `cbor:"1,keyasint" json:"member"`
	Status medledger.Status `cbor:"2,keyasint" json:"status"`
	Reason string           `cbor:"3,keyasint,omitempty" json:"reason,omitempty"`
}

// SetMemberRoles replaces a member's roles. The signer must be an admin of
// the member's organisation.
type SetMemberRoles struct {
	Member medledger.ID     `cbor:"1,keyasint" json:"member"`
	Roles  []medledger.Role `cbor:"2,keyasint" json:"roles"`
}

// RegisterPatient registers the signer as a patient. It is signed by the
// key it registers, with nonce 1.
type RegisterPatient struct {
	Keys PublicKeys `cbor:"1,keyasint" json:"keys"`
}

// AttestPatient records that the signer's provider organisation checked the
// patient's identity. Method says how ("in_person", "document", "video").
type AttestPatient struct {
	Patient medledger.ID `cbor:"1,keyasint" json:"patient"`
	Method  string       `cbor:"2,keyasint" json:"method"`
}

// SetDelegate appoints or updates a delegate who may act for the signing
// patient. Expires is Unix seconds, 0 for none.
type SetDelegate struct {
	Delegate medledger.ID `cbor:"1,keyasint" json:"delegate"`
	Relation string       `cbor:"2,keyasint" json:"relation"`
	Expires  int64        `cbor:"3,keyasint,omitempty" json:"expires,omitempty"`
}

// RemoveDelegate ends a delegation.
type RemoveDelegate struct {
	Delegate medledger.ID `cbor:"1,keyasint" json:"delegate"`
}

// RotateKeys replaces an account's signing key, encryption key or both. The
// signer rotates its own keys, or an admin rotates a member's keys in their
// organisation (a lost device). A new signing key comes with Proof, its
// signature over RotationProofBytes, so nobody can claim a key they do not
// hold.
type RotateKeys struct {
	Account       medledger.ID `cbor:"1,keyasint,omitempty" json:"account,omitempty"`
	SigningKey    []byte       `cbor:"2,keyasint,omitempty" json:"signing_key,omitempty"`
	EncryptionKey []byte       `cbor:"3,keyasint,omitempty" json:"encryption_key,omitempty"`
	Proof         []byte       `cbor:"4,keyasint,omitempty" json:"proof,omitempty"`
}

// SetOrgKey sets the signer's organisation's escrow encryption key. The
// signer must be one of its admins.
type SetOrgKey struct {
	EncryptionKey []byte `cbor:"1,keyasint" json:"encryption_key"`
}

// Validate implements Msg.
func (m *SetOrgKey) Validate() error { return validateEncryptionKey(m.EncryptionKey) }

func (*SetOrgKey) Type() string { return TypeSetOrgKey }

// RotationProofBytes are what a new signing key signs to prove possession.
func RotationProofBytes(chainID string, account medledger.ID, newKey []byte) []byte {
	b := []byte(RotateDomain)
	b = append(b, 0)
	b = append(b, chainID...)
	b = append(b, 0)
	b = append(b, account...)
	b = append(b, 0)
	return append(b, newKey...)
}

// Delegate relations.
var Relations = []string{"guardian", "parent", "spouse", "partner", "child", "family", "caregiver", "legal_representative", "other"}

// Attestation methods.
var Methods = []string{"in_person", "document", "video", "electronic_id"}

func (*AdmitOrg) Type() string        { return TypeAdmitOrg }
func (*RemoveOrg) Type() string       { return TypeRemoveOrg }
func (*EnrolMember) Type() string     { return TypeEnrolMember }
func (*SetMemberStatus) Type() string { return TypeSetMemberStatus }
func (*SetMemberRoles) Type() string  { return TypeSetMemberRoles }
func (*RegisterPatient) Type() string { return TypeRegisterPatient }
func (*AttestPatient) Type() string   { return TypeAttestPatient }
func (*SetDelegate) Type() string     { return TypeSetDelegate }
func (*RemoveDelegate) Type() string  { return TypeRemoveDelegate }
func (*RotateKeys) Type() string      { return TypeRotateKeys }

func invalid(format string, args ...any) error {
	return medledger.Errorf(medledger.KindInvalid, format, args...)
}

func checkText(field, s string, min, max int) error {
	if len(s) < min || len(s) > max {
		return invalid("%s must be %d to %d bytes", field, min, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("%s has a control character", field)
		}
	}
	return nil
}

func checkRoles(roles []medledger.Role) error {
	if len(roles) == 0 || len(roles) > len(medledger.Roles) {
		return invalid("a member needs 1 to %d roles", len(medledger.Roles))
	}
	for i, r := range roles {
		if !r.Valid() {
			return invalid("unknown role %q", r)
		}
		if i > 0 && roles[i-1] >= r {
			return invalid("roles must be sorted and distinct")
		}
	}
	return nil
}

// Validate implements Msg.
func (m *AdmitOrg) Validate() error {
	if err := medledger.ValidateOrgID(m.Org); err != nil {
		return err
	}
	if !m.OrgType.Valid() {
		return invalid("unknown organisation type %q", m.OrgType)
	}
	if err := checkText("name", m.Name, 1, 200); err != nil {
		return err
	}
	if err := checkText("licence", m.Licence, 1, 100); err != nil {
		return err
	}
	if m.GatewayURL != "" {
		u, err := url.Parse(m.GatewayURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(m.GatewayURL) > 300 {
			return invalid("gateway url must be an absolute http(s) URL of at most 300 bytes")
		}
	}
	if m.ValidatorKey != nil && len(m.ValidatorKey) != ed25519.PublicKeySize {
		return invalid("validator key must be a %d-byte Ed25519 key", ed25519.PublicKeySize)
	}
	return m.Admin.Validate()
}

// Validate implements Msg.
func (m *RemoveOrg) Validate() error {
	if err := medledger.ValidateOrgID(m.Org); err != nil {
		return err
	}
	return checkText("reason", m.Reason, 1, 500)
}

// Validate implements Msg.
func (m *EnrolMember) Validate() error {
	if err := m.Keys.Validate(); err != nil {
		return err
	}
	return checkRoles(m.Roles)
}

// Validate implements Msg.
func (m *SetMemberStatus) Validate() error {
	if err := m.Member.Validate(); err != nil {
		return err
	}
	switch m.Status {
	case medledger.StatusActive, medledger.StatusSuspended, medledger.StatusRemoved:
	default:
		return invalid("status must be active, suspended or removed")
	}
	return checkText("reason", m.Reason, 0, 500)
}

// Validate implements Msg.
func (m *SetMemberRoles) Validate() error {
	if err := m.Member.Validate(); err != nil {
		return err
	}
	return checkRoles(m.Roles)
}

// Validate implements Msg.
func (m *RegisterPatient) Validate() error { return m.Keys.Validate() }

// Validate implements Msg.
func (m *AttestPatient) Validate() error {
	if err := m.Patient.Validate(); err != nil {
		return err
	}
	if !slices.Contains(Methods, m.Method) {
		return invalid("method must be one of %s", strings.Join(Methods, ", "))
	}
	return nil
}

// Validate implements Msg.
func (m *SetDelegate) Validate() error {
	if err := m.Delegate.Validate(); err != nil {
		return err
	}
	if !slices.Contains(Relations, m.Relation) {
		return invalid("relation must be one of %s", strings.Join(Relations, ", "))
	}
	if m.Expires < 0 {
		return invalid("expires must not be negative")
	}
	return nil
}

// Validate implements Msg.
func (m *RemoveDelegate) Validate() error { return m.Delegate.Validate() }

// Validate implements Msg.
func (m *RotateKeys) Validate() error {
	if m.Account != "" {
		if err := m.Account.Validate(); err != nil {
			return err
		}
	}
	if m.SigningKey == nil && m.EncryptionKey == nil {
		return invalid("rotate at least one key")
	}
	if m.SigningKey != nil {
		if err := validateSigningKey(m.SigningKey); err != nil {
			return err
		}
		if len(m.Proof) != ed25519.SignatureSize {
			return invalid("a new signing key needs a %d-byte proof of possession", ed25519.SignatureSize)
		}
	} else if m.Proof != nil {
		return invalid("proof without a new signing key")
	}
	if m.EncryptionKey != nil {
		return validateEncryptionKey(m.EncryptionKey)
	}
	return nil
}

// Decode decodes and validates an identity message. It returns a
// KindUnknownMsg error for a type this module does not have.
func Decode(msgType string, b []byte) (Msg, error) {
	m, err := NewMsg(msgType)
	if err != nil {
		return nil, err
	}
	if err := medledger.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, m.Validate()
}

// NewMsg returns a new, empty message of the given type, for a decoder to
// fill in (Decode from CBOR, the web portal from JSON). It returns a
// KindUnknownMsg error for a type this module does not have.
func NewMsg(msgType string) (Msg, error) {
	switch msgType {
	case TypeAdmitOrg:
		return new(AdmitOrg), nil
	case TypeRemoveOrg:
		return new(RemoveOrg), nil
	case TypeEnrolMember:
		return new(EnrolMember), nil
	case TypeSetMemberStatus:
		return new(SetMemberStatus), nil
	case TypeSetMemberRoles:
		return new(SetMemberRoles), nil
	case TypeRegisterPatient:
		return new(RegisterPatient), nil
	case TypeAttestPatient:
		return new(AttestPatient), nil
	case TypeSetDelegate:
		return new(SetDelegate), nil
	case TypeRemoveDelegate:
		return new(RemoveDelegate), nil
	case TypeRotateKeys:
		return new(RotateKeys), nil
	case TypeSetOrgKey:
		return new(SetOrgKey), nil
	case TypeSetValidator:
		return new(SetValidator), nil
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown message type %q", msgType)
}

// Types lists the identity message types.
var Types = []string{TypeAdmitOrg, TypeRemoveOrg, TypeEnrolMember, TypeSetMemberStatus, TypeSetMemberRoles,
	TypeRegisterPatient, TypeAttestPatient, TypeSetDelegate, TypeRemoveDelegate, TypeRotateKeys, TypeSetOrgKey, TypeSetValidator}

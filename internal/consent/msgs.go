package consent

import (
	"slices"
	"strings"

	"medledger"
)

// Message types of the consent module.
const (
	TypeGrant      = "consent/grant"
	TypeRevoke     = "consent/revoke"
	TypeBreakGlass = "consent/break_glass"
)

// Msg is a decoded consent message.
type Msg interface {
	Type() string
	Validate() error
}

// GrantAccess grants a grantee read access to the patient's records. The
// signer is the patient or one of their delegates. ID is chosen by the
// client (16 to 32 lowercase hex characters) and must be new.
type GrantAccess struct {
	ID       string       `cbor:"1,keyasint" json:"id"`
	Patient  medledger.ID `cbor:"2,keyasint" json:"patient"`
	Grantee  Grantee      `cbor:"3,keyasint" json:"grantee"`
	Scope    Scope        `cbor:"4,keyasint" json:"scope"`
	Purpose  string       `cbor:"5,keyasint" json:"purpose"`
	Expires  int64        `cbor:"6,keyasint" json:"expires"`
	MaxReads uint32       `cbor:"7,keyasint,omitempty" json:"max_reads,omitempty"`
}

// Revoke ends a grant at once.
type Revoke struct {
	Patient medledger.ID `cbor:"1,keyasint" json:"patient"`
	Grant   string       `cbor:"2,keyasint" json:"grant"`
}

// BreakGlass declares an emergency: the signing clinician may read the
// patient's records for purpose "emergency" for Duration seconds (default
// 24 h, at most 72 h). The patient is told through an event.
type BreakGlass struct {
	Patient  medledger.ID `cbor:"1,keyasint" json:"patient"`
	Reason   string       `cbor:"2,keyasint" json:"reason"`
	Duration int64        `cbor:"3,keyasint,omitempty" json:"duration,omitempty"`
}

func (*GrantAccess) Type() string { return TypeGrant }
func (*Revoke) Type() string      { return TypeRevoke }
func (*BreakGlass) Type() string  { return TypeBreakGlass }

func invalid(format string, args ...any) error {
	return medledger.Errorf(medledger.KindInvalid, format, args...)
}

// ValidGrantID reports whether s is 16 to 32 lowercase hex characters.
func ValidGrantID(s string) error {
	if len(s) < 16 || len(s) > 32 {
		return invalid("grant id must be 16 to 32 hex characters")
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return invalid("grant id must be lowercase hex")
		}
	}
	return nil
}

func sortedDistinct(field string, xs []string, max int) error {
	if len(xs) > max {
		return invalid("at most %d %s", max, field)
	}
	for i, x := range xs {
		if x == "" || len(x) > 64 || strings.ContainsAny(x, "/ \t\n") {
			return invalid("bad %s entry", field)
		}
		if i > 0 && xs[i-1] >= x {
			return invalid("%s must be sorted and distinct", field)
		}
	}
	return nil
}

// Validate implements Msg.
func (m *GrantAccess) Validate() error {
	if err := ValidGrantID(m.ID); err != nil {
		return err
	}
	if err := m.Patient.Validate(); err != nil {
		return err
	}
	switch {
	case m.Grantee.Member != "" && m.Grantee.Org != "":
		return invalid("a grantee is a member or an organisation, not both")
	case m.Grantee.Member != "":
		if err := m.Grantee.Member.Validate(); err != nil {
			return err
		}
	case m.Grantee.Org != "":
		if err := medledger.ValidateOrgID(m.Grantee.Org); err != nil {
			return err
		}
	default:
		return invalid("a grant needs a grantee")
	}
	if !slices.Contains(Purposes, m.Purpose) {
		return invalid("purpose must be one of %s", strings.Join(Purposes, ", "))
	}
	s := m.Scope
	if s.All == (len(s.Categories)+len(s.ResourceTypes)+len(s.Records) > 0) {
		return invalid("a scope is either all records or a list of categories, resource types or records")
	}
	for _, e := range []error{sortedDistinct("categories", s.Categories, 32), sortedDistinct("resource types", s.ResourceTypes, 64), sortedDistinct("records", s.Records, 256)} {
		if e != nil {
			return e
		}
	}
	if m.Expires <= 0 {
		return invalid("a grant needs an expiry")
	}
	return nil
}

// Validate implements Msg.
func (m *Revoke) Validate() error {
	if err := m.Patient.Validate(); err != nil {
		return err
	}
	return ValidGrantID(m.Grant)
}

// Validate implements Msg.
func (m *BreakGlass) Validate() error {
	if err := m.Patient.Validate(); err != nil {
		return err
	}
	if !slices.Contains(Reasons, m.Reason) {
		return invalid("reason must be one of %s", strings.Join(Reasons, ", "))
	}
	if m.Duration < 0 || m.Duration > MaxBreakGlass {
		return invalid("duration must be at most %d seconds", MaxBreakGlass)
	}
	return nil
}

// Decode decodes and validates a consent message.
func Decode(msgType string, b []byte) (Msg, error) {
	var m Msg
	switch msgType {
	case TypeGrant:
		m = new(GrantAccess)
	case TypeRevoke:
		m = new(Revoke)
	case TypeBreakGlass:
		m = new(BreakGlass)
	default:
		return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown message type %q", msgType)
	}
	if err := medledger.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, m.Validate()
}

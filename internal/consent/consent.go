// Package consent is the consent module: a patient's grants of read access
// (grantee, scope, purpose, expiry, optional read limit), their revocation,
// and break-glass emergency access by credentialed clinicians.
//
// Can is the pure evaluator every read goes through: the gateway calls it
// before serving, and the access-log tx calls it again when it commits.
// Who may read a record:
//   - the patient, or one of their active delegates;
//   - the record's author;
//   - a grantee (the member named, or any active member of the organisation
//     named) of a grant that is not revoked, not expired, under its read
//     limit, for the requested purpose, whose scope covers the record;
//   - a clinician with an active break-glass declaration for the patient,
//     for purpose "emergency".
package consent

import (
	"slices"

	"medledger"
)

// Purposes a read may have.
const (
	PurposeTreatment = "treatment"
	PurposeEmergency = "emergency"
	PurposeResearch  = "research"
	PurposeInsurance = "insurance"
	PurposePayment   = "payment"
	PurposePersonal  = "personal"
)

// Purposes lists every purpose.
var Purposes = []string{PurposeTreatment, PurposeEmergency, PurposeResearch, PurposeInsurance, PurposePayment, PurposePersonal}

// Break-glass reasons. A reason is a code, never free text, so that no
// clinical detail reaches the chain.
var Reasons = []string{"unconscious", "life_threatening", "unable_to_consent", "emergency_surgery", "other_emergency"}

// DefaultBreakGlass and MaxBreakGlass bound an emergency access, in seconds.
const (
	DefaultBreakGlass = 24 * 3600
	MaxBreakGlass     = 72 * 3600
)

// Grantee is who a grant is for: one member, or every active member of an
// organisation.
type Grantee struct {
	Member medledger.ID `cbor:"1,keyasint,omitempty" json:"member,omitempty"`
	Org    string       `cbor:"2,keyasint,omitempty" json:"org,omitempty"`
}

// Scope is what a grant covers: everything, or records in any of the named
// categories, FHIR resource types or record IDs.
type Scope struct {
	All           bool     `cbor:"1,keyasint,omitempty" json:"all,omitempty"`
	Categories    []string `cbor:"2,keyasint,omitempty" json:"categories,omitempty"`
	ResourceTypes []string `cbor:"3,keyasint,omitempty" json:"resource_types,omitempty"`
	Records       []string `cbor:"4,keyasint,omitempty" json:"records,omitempty"`
}

// Covers reports whether the scope covers a record.
func (s Scope) Covers(t Target) bool {
	return s.All || slices.Contains(s.Categories, t.Category) || slices.Contains(s.ResourceTypes, t.ContentType) ||
		slices.Contains(s.Records, t.Record)
}

// Grant is a patient's permission for a grantee to read.
type Grant struct {
	ID        string       `cbor:"1,keyasint" json:"id"`
	Patient   medledger.ID `cbor:"2,keyasint" json:"patient"`
	Grantee   Grantee      `cbor:"3,keyasint" json:"grantee"`
	Scope     Scope        `cbor:"4,keyasint" json:"scope"`
	Purpose   string       `cbor:"5,keyasint" json:"purpose"`
	Expires   int64        `cbor:"6,keyasint" json:"expires"`                       // Unix seconds
	MaxReads  uint32       `cbor:"7,keyasint,omitempty" json:"max_reads,omitempty"` // 0: no limit
	Reads     uint32       `cbor:"8,keyasint,omitempty" json:"reads,omitempty"`
	GrantedBy medledger.ID `cbor:"9,keyasint" json:"granted_by"`
	Created   int64        `cbor:"10,keyasint" json:"created"`                     // height
	Revoked   int64        `cbor:"11,keyasint,omitempty" json:"revoked,omitempty"` // height, 0 if in force
}

// Emergency is a break-glass declaration.
type Emergency struct {
	Patient   medledger.ID `cbor:"1,keyasint" json:"patient"`
	Clinician medledger.ID `cbor:"2,keyasint" json:"clinician"`
	Org       string       `cbor:"3,keyasint" json:"org"`
	Reason    string       `cbor:"4,keyasint" json:"reason"`
	Start     int64        `cbor:"5,keyasint" json:"start"`   // Unix seconds
	Expires   int64        `cbor:"6,keyasint" json:"expires"` // Unix seconds
	Height    int64        `cbor:"7,keyasint" json:"height"`
}

// Target is the record a read is for, as consent sees it.
type Target struct {
	Record      string
	Patient     medledger.ID
	Author      medledger.ID
	Category    string
	ContentType string
}

// Reader is who wants to read: their principal, and whether they are an
// active delegate of the target's patient.
type Reader struct {
	medledger.Principal
	Delegate bool
}

// Bases of a decision.
const (
	BasisPatient    = "patient"
	BasisDelegate   = "delegate"
	BasisAuthor     = "author"
	BasisGrant      = "grant"
	BasisBreakGlass = "break_glass"
)

// Decision is the outcome of Can.
type Decision struct {
	Allowed bool
	Basis   string
	Grant   string // the grant used, for BasisGrant
}

// Matches reports whether g lets r read t for purpose at time now.
func (g *Grant) Matches(r Reader, t Target, purpose string, now int64) bool {
	if g.Revoked != 0 || now >= g.Expires || (g.MaxReads != 0 && g.Reads >= g.MaxReads) {
		return false
	}
	if g.Patient != t.Patient || g.Purpose != purpose || !g.Scope.Covers(t) {
		return false
	}
	if g.Grantee.Member != "" {
		return g.Grantee.Member == r.ID
	}
	return g.Grantee.Org != "" && r.Kind == medledger.KindMember && r.Org == g.Grantee.Org
}

// Can decides whether r may read t for purpose at block time now, given
// the patient's grants (in ID order) and the reader's emergencies. It is
// pure and deterministic: the first matching basis wins, in the order
// patient, delegate, author, grant (lowest grant ID), break-glass.
func Can(r Reader, t Target, purpose string, now int64, grants []Grant, emergencies []Emergency) Decision {
	if !r.Active() || !slices.Contains(Purposes, purpose) {
		return Decision{}
	}
	switch {
	case r.ID == t.Patient:
		return Decision{Allowed: true, Basis: BasisPatient}
	case r.Delegate:
		return Decision{Allowed: true, Basis: BasisDelegate}
	case r.ID == t.Author:
		return Decision{Allowed: true, Basis: BasisAuthor}
	}
	for i := range grants {
		if grants[i].Matches(r, t, purpose, now) {
			return Decision{Allowed: true, Basis: BasisGrant, Grant: grants[i].ID}
		}
	}
	if purpose == PurposeEmergency {
		for _, e := range emergencies {
			if e.Patient == t.Patient && e.Clinician == r.ID && now >= e.Start && now < e.Expires {
				return Decision{Allowed: true, Basis: BasisBreakGlass}
			}
		}
	}
	return Decision{}
}

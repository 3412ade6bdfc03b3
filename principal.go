package medledger

import "slices"

// AccountKind says what an account is.
type AccountKind string

// Account kinds.
const (
	KindPatient   AccountKind = "patient"
	KindMember    AccountKind = "member"    // a person enrolled by an organisation
	KindRegulator AccountKind = "regulator" // one of the consortium authority's accounts
)

// Status is the standing of an account or organisation.
type Status string

// Statuses.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusRemoved   Status = "removed"
)

// OrgType is the kind of institution an organisation is.
type OrgType string

// Organisation types (DESIGN §5).
const (
	OrgHospital         OrgType = "hospital"
	OrgClinic           OrgType = "clinic"
	OrgLab              OrgType = "lab"
	OrgPharmacy         OrgType = "pharmacy"
	OrgInsurer          OrgType = "insurer"
	OrgManufacturer     OrgType = "manufacturer"
	OrgDistributor      OrgType = "distributor"
	OrgResearch         OrgType = "research"
	OrgOPO              OrgType = "opo"
	OrgTransplantCentre OrgType = "transplant_centre"
	OrgRegulator        OrgType = "regulator"
)

// OrgTypes lists every organisation type.
var OrgTypes = []OrgType{OrgHospital, OrgClinic, OrgLab, OrgPharmacy, OrgInsurer, OrgManufacturer,
	OrgDistributor, OrgResearch, OrgOPO, OrgTransplantCentre, OrgRegulator}

// Valid reports whether t is a known organisation type.
func (t OrgType) Valid() bool { return slices.Contains(OrgTypes, t) }

// IsProvider reports whether organisations of this type provide care and so
// may attest patients' identities.
func (t OrgType) IsProvider() bool {
	switch t {
	case OrgHospital, OrgClinic, OrgLab, OrgTransplantCentre:
		return true
	}
	return false
}

// Role is what a member may do within their organisation.
type Role string

// Member roles.
const (
	RoleAdmin         Role = "admin" // enrols, suspends and removes the organisation's members
	RolePhysician     Role = "physician"
	RoleNurse         Role = "nurse"
	RolePharmacist    Role = "pharmacist"
	RoleLabTechnician Role = "lab_technician"
	RoleRegistrar     Role = "registrar" // front desk: registers and attests patients
	RoleClaimsOfficer Role = "claims_officer"
	RoleResearcher    Role = "researcher"
	RoleLogistics     Role = "logistics" // ships and receives goods
	RoleQuality       Role = "quality"   // quality assurance and recalls
	RoleCoordinator   Role = "coordinator"
)

// Roles lists every member role.
var Roles = []Role{RoleAdmin, RolePhysician, RoleNurse, RolePharmacist, RoleLabTechnician, RoleRegistrar,
	RoleClaimsOfficer, RoleResearcher, RoleLogistics, RoleQuality, RoleCoordinator}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// IsClinical reports whether the role is a licensed clinical role.
func (r Role) IsClinical() bool {
	return r == RolePhysician || r == RoleNurse || r == RolePharmacist || r == RoleLabTechnician
}

// Principal is an account as the state machine sees it when it authorises a
// message: who, what kind, its organisation and roles, and its standing.
// Status is the effective status: a member of a suspended or removed
// organisation is not active either.
type Principal struct {
	ID      ID
	Kind    AccountKind
	Status  Status
	Org     string
	OrgType OrgType
	Roles   []Role
}

// Has reports whether the principal holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// Active reports whether the principal may act.
func (p Principal) Active() bool { return p.Status == StatusActive }

// Directory answers the state machine's questions about accounts for
// modules other than identity, so that sibling modules need not import each
// other. The ledger implements it over the current tx's state.
type Directory interface {
	// Principal resolves an account; a KindUnknownAccount error if none.
	Principal(id ID) (Principal, error)
	// IsDelegate reports whether delegate may act for patient at time now.
	IsDelegate(patient, delegate ID, now int64) (bool, error)
	// OrgActive reports whether an organisation is admitted and active.
	OrgActive(org string) (bool, error)
	// OrgType returns an admitted organisation's type; a KindNotFound
	// error if there is no such organisation.
	OrgType(org string) (OrgType, error)
	// EncryptionKey returns an account's current encryption public key.
	EncryptionKey(id ID) ([]byte, error)
}

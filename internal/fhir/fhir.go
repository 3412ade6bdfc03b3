// Package fhir parses, validates, splits, exports, summarises and
// de-identifies FHIR R4 resources for medledger clients.
//
// Everything here runs on the client, where plaintext lives (DESIGN §1): the
// node never sees a FHIR resource, only the sealed ciphertext and its hash.
//
//	Validate       checks one resource (or a whole Bundle)
//	SplitBundle    turns a Bundle into Records, one per patient resource
//	ImportResource turns one resource into a Record
//	ExportBundle   writes resources back as a "collection" Bundle
//	Timeline       summarises Records for a patient's timeline
//	Deidentify     applies HIPAA Safe Harbor to a resource or Bundle
//	PHIStrings     lists a bundle's identifying strings, for leak tests
//
// Validation is the R4 JSON parser of github.com/google/fhir/go (v0.7.4,
// jsonformat), which checks field names, primitive formats, required codes,
// cardinality, required fields and reference target types. On top of it,
// empty strings are rejected (FHIR forbids them; jsonformat silently drops
// an empty code). It does not evaluate FHIRPath invariants or profiles.
//
// # Errors
//
// Every validation failure is an *Error with the FHIR path of the fault and
// the kind of problem, e.g. `Observation.status: invalid code "finalx"`. An
// Error never carries a value taken from the resource that could be PHI:
// names, identifiers, free text, numbers and dates are never echoed. Two
// things from the input can appear: JSON member names of unknown fields, when
// they look like FHIR element names (ASCII letters and digits), and the
// offending value of a coded element when it looks like a FHIR code token
// (lower-case ASCII letters and '-', at most 32 characters). An unknown
// resourceType is not echoed at all.
//
// # One record per resource
//
// SplitBundle turns a Bundle into one Record per resource, not one per
// encounter. medledger anchors, seals and shares each Record on its own, and:
//
//   - consent scopes name a category, a resource type or a record ID
//     (DESIGN §1.3), so a patient can grant "lab results" to a researcher
//     without exposing the encounter's conditions, medications or claims;
//     an encounter-sized record would make every grant all-or-nothing per visit;
//   - amendments (a new version superseding an old one) and erasure by
//     crypto-shredding act on one record; a corrected lab value should not
//     re-version the whole visit, and erasing one diagnosis should not erase
//     the visit's immunizations;
//   - a resource is the unit FHIR itself reads, writes and references, so the
//     FHIR agent maps records to resources one to one.
//
// The cost is more anchors: the 16 Synthea patient bundles of the shared
// test data hold 61 to 108 entries (median 87.5), of which 59 to 106
// (median 85.5) are patient records once directory data is skipped, against
// 4 to 9 encounters (median 7). One patient import is therefore about 85
// anchor transactions instead of about 7, some 12 times more. At the
// ledger's target of ≥ 5,000 anchors per second that is still well under a
// second per patient, and Record.Encounter keeps the grouping for display.
//
// # Directory data is skipped
//
// Organization, Practitioner, PractitionerRole, Location, HealthcareService
// and Endpoint resources describe providers, not the patient. In Synthea
// output they are copies of the hospital and practitioner directories, which
// belong in medledger's identity registry, not in a patient's sealed records.
// SplitBundle therefore validates them with the rest of the bundle but does
// not return them: it counts them by resource type in Split.Skipped. Entries
// without a resource (e.g. transaction DELETEs) are counted under
// SkippedNoResource. References from records to skipped resources are left
// as they are. ImportResource accepts any resource type, including these.
//
// # Canonical JSON
//
// Record.JSON is the resource re-marshalled by jsonformat: compact, object
// members in sorted order, references and primitives normalised. The one
// change import makes to content: a resource without an id, whose bundle
// entry has a fullUrl of the form urn:uuid:<uuid>, gets that uuid as its id,
// so that references by fullUrl still resolve after export.
package fhir

// Categories group resources for consent scopes and display. They are stable
// strings: they are written on-chain in record anchors and in grants.
const (
	CategoryLab          = "lab"
	CategoryVitalSigns   = "vital-signs"
	CategoryObservation  = "observation"
	CategoryCondition    = "condition"
	CategoryMedication   = "medication"
	CategoryImmunization = "immunization"
	CategoryEncounter    = "encounter"
	CategoryProcedure    = "procedure"
	CategoryAllergy      = "allergy"
	CategoryCarePlan     = "care-plan"
	CategoryClaim        = "claim"
	CategoryImaging      = "imaging"
	CategoryDocument     = "document"
	CategoryDevice       = "device"
	CategoryDemographics = "demographics"
	CategoryProvenance   = "provenance"
	CategoryOther        = "other"
)

// Categories lists every category, in a fixed order.
func Categories() []string {
	return []string{
		CategoryLab, CategoryVitalSigns, CategoryObservation, CategoryCondition,
		CategoryMedication, CategoryImmunization, CategoryEncounter, CategoryProcedure,
		CategoryAllergy, CategoryCarePlan, CategoryClaim, CategoryImaging,
		CategoryDocument, CategoryDevice, CategoryDemographics, CategoryProvenance,
		CategoryOther,
	}
}

// Record is one patient resource, ready to be sealed and anchored.
type Record struct {
	ResourceType string // e.g. "Observation"
	Category     string // one of the Category constants
	ID           string // the resource's own id
	// Date is the best clinical date of the resource, as written in the
	// resource (a FHIR date, dateTime or instant), or "" if it has none.
	Date string
	// Encounter is the id of the encounter the resource refers to, if any.
	// For an Encounter it is the encounter it is part of (partOf), if any.
	Encounter string
	JSON      []byte // canonical JSON of the validated resource
}

// Split is the result of SplitBundle.
type Split struct {
	// Records are the patient records, in bundle order.
	Records []Record
	// Skipped counts the entries that were not returned, by resource type
	// (directory data), or under SkippedNoResource.
	Skipped map[string]int
}

// SkippedNoResource is the Split.Skipped key for bundle entries that carry
// no resource.
const SkippedNoResource = "(no resource)"

// directoryTypes are resource types that describe providers, not patients.
var directoryTypes = map[string]bool{
	"Organization":      true,
	"Practitioner":      true,
	"PractitionerRole":  true,
	"Location":          true,
	"HealthcareService": true,
	"Endpoint":          true,
}

// IsDirectory reports whether resources of this type are directory data
// (providers and places), which SplitBundle skips.
func IsDirectory(resourceType string) bool { return directoryTypes[resourceType] }

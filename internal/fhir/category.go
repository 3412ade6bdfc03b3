package fhir

import (
	"bytes"
	"encoding/json"
	"strings"
)

// typeCategories maps resource types to their category when the type alone
// decides it.
var typeCategories = map[string]string{
	"Condition":                  CategoryCondition,
	"MedicationRequest":          CategoryMedication,
	"MedicationStatement":        CategoryMedication,
	"MedicationAdministration":   CategoryMedication,
	"MedicationDispense":         CategoryMedication,
	"Medication":                 CategoryMedication,
	"Immunization":               CategoryImmunization,
	"ImmunizationRecommendation": CategoryImmunization,
	"ImmunizationEvaluation":     CategoryImmunization,
	"Encounter":                  CategoryEncounter,
	"EpisodeOfCare":              CategoryEncounter,
	"Procedure":                  CategoryProcedure,
	"AllergyIntolerance":         CategoryAllergy,
	"CarePlan":                   CategoryCarePlan,
	"CareTeam":                   CategoryCarePlan,
	"Goal":                       CategoryCarePlan,
	"Claim":                      CategoryClaim,
	"ClaimResponse":              CategoryClaim,
	"ExplanationOfBenefit":       CategoryClaim,
	"Coverage":                   CategoryClaim,
	"ImagingStudy":               CategoryImaging,
	"Media":                      CategoryImaging,
	"DocumentReference":          CategoryDocument,
	"Composition":                CategoryDocument,
	"Device":                     CategoryDevice,
	"DeviceUseStatement":         CategoryDevice,
	"DeviceRequest":              CategoryDevice,
	"Patient":                    CategoryDemographics,
	"Provenance":                 CategoryProvenance,
}

// imagingReportCodes are HL7 v2 table 0074 diagnostic service sections (and
// the LOINC "Radiology" part) that make a DiagnosticReport an imaging report.
var imagingReportCodes = map[string]bool{
	"RAD": true, "RX": true, "CT": true, "NMR": true, "NMS": true, "RUS": true,
	"OUS": true, "CUS": true, "VUS": true, "XRC": true, "LP29684-5": true,
}

// Categorize returns the medledger category of a resource:
//
//	lab           Observation with category "laboratory"; DiagnosticReport
//	              (except imaging reports, see below)
//	vital-signs   Observation with category "vital-signs"
//	observation   any other Observation
//	condition     Condition
//	medication    MedicationRequest, MedicationStatement,
//	              MedicationAdministration, MedicationDispense, Medication
//	immunization  Immunization, ImmunizationRecommendation, ImmunizationEvaluation
//	encounter     Encounter, EpisodeOfCare
//	procedure     Procedure
//	allergy       AllergyIntolerance
//	care-plan     CarePlan, CareTeam, Goal
//	claim         Claim, ClaimResponse, ExplanationOfBenefit, Coverage
//	imaging       ImagingStudy, Media, and DiagnosticReports whose category is
//	              a radiology section (v2-0074 RAD, RX, CT, NMR, NMS, RUS, OUS,
//	              CUS, VUS, XRC, or LOINC LP29684-5)
//	document      DocumentReference, Composition
//	device        Device, DeviceUseStatement, DeviceRequest
//	demographics  Patient
//	provenance    Provenance
//	other         everything else
//
// resource is only read for Observation and DiagnosticReport categories; it
// may be nil for other types. An Observation with both the laboratory and
// the vital-signs category is lab.
func Categorize(resourceType string, resource []byte) string {
	if c, ok := typeCategories[resourceType]; ok {
		return c
	}
	switch resourceType {
	case "Observation":
		codes := categoryCodes(resource)
		switch {
		case codes["laboratory"]:
			return CategoryLab
		case codes["vital-signs"]:
			return CategoryVitalSigns
		}
		return CategoryObservation
	case "DiagnosticReport":
		for c := range categoryCodes(resource) {
			if imagingReportCodes[c] {
				return CategoryImaging
			}
		}
		return CategoryLab
	}
	return CategoryOther
}

// categoryCodes returns the codes of the resource's category codings.
func categoryCodes(resource []byte) map[string]bool {
	var r struct {
		Category json.RawMessage `json:"category"`
	}
	codes := map[string]bool{}
	if json.Unmarshal(resource, &r) != nil || len(r.Category) == 0 {
		return codes
	}
	var ccs []codeableConcept
	if r.Category[0] == '[' {
		_ = json.Unmarshal(r.Category, &ccs)
	} else {
		var cc codeableConcept
		if json.Unmarshal(r.Category, &cc) == nil {
			ccs = append(ccs, cc)
		}
	}
	for _, cc := range ccs {
		for _, c := range cc.Coding {
			codes[c.Code] = true
		}
	}
	return codes
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

// obj is a decoded JSON object; numbers stay json.Number so that decimals
// keep their exact written form.
type obj = map[string]any

func decodeObject(b []byte) (obj, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var o obj
	if err := d.Decode(&o); err != nil {
		return nil, err
	}
	return o, nil
}

func getObj(o obj, key string) obj {
	v, _ := o[key].(obj)
	return v
}

func getStr(o obj, key string) string {
	v, _ := o[key].(string)
	return v
}

func getList(o obj, key string) []any {
	v, _ := o[key].([]any)
	return v
}

// firstObj returns o[key] if it is an object, or its first element if it
// is a list of objects.
func firstObj(o obj, key string) obj {
	switch v := o[key].(type) {
	case obj:
		return v
	case []any:
		for _, e := range v {
			if m, ok := e.(obj); ok {
				return m
			}
		}
	}
	return nil
}

// dateFields are tried in order for a record's best clinical date. Choice
// elements are listed with their date-bearing variants.
var dateFields = []string{
	"effectiveDateTime", "effectiveInstant", "effectivePeriod.start",
	"occurrenceDateTime", "occurrencePeriod.start",
	"performedDateTime", "performedPeriod.start",
	"onsetDateTime", "onsetPeriod.start",
	"occurredDateTime", "occurredPeriod.start",
	"period.start", "billablePeriod.start",
	"authoredOn", "recordedDate", "started", "startDate", "dateAsserted",
	"whenHandedOver", "whenPrepared", "createdDateTime", "issued", "created",
	"date", "recorded", "statusDate", "context.period.start", "servicedDate",
	"servicedPeriod.start",
}

// bestDate returns the best clinical date of a resource, as written.
func bestDate(o obj) string {
	for _, f := range dateFields {
		cur := o
		parts := strings.Split(f, ".")
		for _, p := range parts[:len(parts)-1] {
			cur = getObj(cur, p)
		}
		if cur == nil {
			continue
		}
		if s := getStr(cur, parts[len(parts)-1]); s != "" {
			return s
		}
	}
	return ""
}

// encounterOf returns the id of the encounter a resource refers to.
func encounterOf(resourceType string, o obj) string {
	if resourceType == "Encounter" {
		return refID(getStr(getObj(o, "partOf"), "reference"))
	}
	if e := firstObj(o, "encounter"); e != nil {
		return refID(getStr(e, "reference"))
	}
	if ctx := getObj(o, "context"); ctx != nil {
		// DocumentReference.context.encounter (a list in R4); in STU3 some
		// resources kept the encounter in "context" itself.
		if e := firstObj(ctx, "encounter"); e != nil {
			return refID(getStr(e, "reference"))
		}
		if strings.Contains(getStr(ctx, "reference"), "Encounter/") {
			return refID(getStr(ctx, "reference"))
		}
	}
	// Claim and ExplanationOfBenefit name the encounter on their items.
	for _, it := range getList(o, "item") {
		if m, ok := it.(obj); ok {
			if e := firstObj(m, "encounter"); e != nil {
				return refID(getStr(e, "reference"))
			}
		}
	}
	return ""
}

// refID returns the id part of a reference: "urn:uuid:X", "Type/X",
// "http://host/base/Type/X/_history/2" all give "X". Local references
// ("#x") and empty ones give "".
func refID(ref string) string {
	switch {
	case ref == "" || strings.HasPrefix(ref, "#"):
		return ""
	case strings.HasPrefix(ref, "urn:uuid:"):
		return strings.TrimPrefix(ref, "urn:uuid:")
	case strings.HasPrefix(ref, "urn:oid:"):
		return strings.TrimPrefix(ref, "urn:oid:")
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

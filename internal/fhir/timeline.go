package fhir

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Entry is one line of a patient's timeline. It holds plaintext health
// data: it only ever exists on the client.
type Entry struct {
	Date         string // as written in the resource; "" if none
	Category     string
	ResourceType string
	Title        string // e.g. "Body Height: 178.69 cm"
	Detail       string // secondary line, may be ""
}

// Timeline turns records into timeline entries, newest first. Records
// without a date come last; entries with equal dates keep a stable order by
// category, then title. Dates of different precision and time zones are
// compared as instants (a bare year or month counts as its first moment).
func Timeline(records []Record) []Entry {
	type keyed struct {
		e  Entry
		t  time.Time
		ok bool
	}
	ks := make([]keyed, 0, len(records))
	for _, r := range records {
		o, err := decodeObject(r.JSON)
		if err != nil {
			o = obj{}
		}
		rt := r.ResourceType
		if rt == "" {
			rt = getStr(o, "resourceType")
		}
		cat := r.Category
		if cat == "" {
			cat = Categorize(rt, r.JSON)
		}
		date := r.Date
		if date == "" {
			date = bestDate(o)
		}
		title, detail := describeResource(rt, o)
		t, ok := parseFHIRTime(date)
		ks = append(ks, keyed{e: Entry{Date: date, Category: cat, ResourceType: rt, Title: title, Detail: detail}, t: t, ok: ok})
	}
	sort.SliceStable(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.ok != b.ok {
			return a.ok
		}
		if !a.t.Equal(b.t) {
			return a.t.After(b.t)
		}
		if a.e.Category != b.e.Category {
			return a.e.Category < b.e.Category
		}
		return a.e.Title < b.e.Title
	})
	out := make([]Entry, len(ks))
	for i, k := range ks {
		out[i] = k.e
	}
	return out
}

// parseFHIRTime parses a FHIR date, dateTime or instant.
func parseFHIRTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ParseDate parses a FHIR date, dateTime or instant as written in a
// resource (a bare year or month counts as its first moment, in UTC).
func ParseDate(s string) (time.Time, bool) { return parseFHIRTime(s) }

// conceptText names a CodeableConcept: its text, else its first coding's
// display, else its first code.
func conceptText(cc obj) string {
	if cc == nil {
		return ""
	}
	if t := strings.TrimSpace(getStr(cc, "text")); t != "" {
		return t
	}
	var code string
	for _, c := range getList(cc, "coding") {
		m, _ := c.(obj)
		if d := strings.TrimSpace(getStr(m, "display")); d != "" {
			return d
		}
		if code == "" {
			code = getStr(m, "code")
		}
	}
	return code
}

// firstConcept names the first CodeableConcept of a field that may be one
// concept or a list of them.
func firstConcept(o obj, key string) string {
	switch v := o[key].(type) {
	case obj:
		return conceptText(v)
	case []any:
		for _, e := range v {
			if m, ok := e.(obj); ok {
				if t := conceptText(m); t != "" {
					return t
				}
			}
		}
	}
	return ""
}

// formatNumber writes a measured value for people: two decimals at most
// for values of 1 and more, three significant digits below 1.
func formatNumber(n json.Number) string {
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return n.String()
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	if math.Abs(f) >= 1 {
		return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}

func number(v any) (json.Number, bool) {
	switch n := v.(type) {
	case json.Number:
		return n, true
	case float64:
		return json.Number(strconv.FormatFloat(n, 'f', -1, 64)), true
	}
	return "", false
}

// quantityText writes a Quantity as "value unit".
func quantityText(q obj) string {
	if q == nil {
		return ""
	}
	n, ok := number(q["value"])
	if !ok {
		return ""
	}
	s := getStr(q, "comparator") + formatNumber(n)
	unit := getStr(q, "unit")
	if unit == "" {
		unit = getStr(q, "code")
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

func moneyText(m obj) string {
	if m == nil {
		return ""
	}
	n, ok := number(m["value"])
	if !ok {
		return ""
	}
	f, err := n.Float64()
	s := n.String()
	if err == nil {
		s = strconv.FormatFloat(f, 'f', 2, 64)
	}
	if c := getStr(m, "currency"); c != "" {
		s += " " + c
	}
	return s
}

// valueText writes an Observation-style value[x].
func valueText(o obj) string {
	if q := getObj(o, "valueQuantity"); q != nil {
		return quantityText(q)
	}
	if cc := getObj(o, "valueCodeableConcept"); cc != nil {
		return conceptText(cc)
	}
	if s := getStr(o, "valueString"); s != "" {
		return s
	}
	if b, ok := o["valueBoolean"].(bool); ok {
		if b {
			return "yes"
		}
		return "no"
	}
	if n, ok := number(o["valueInteger"]); ok {
		return n.String()
	}
	if r := getObj(o, "valueRange"); r != nil {
		lo, hi := quantityText(getObj(r, "low")), quantityText(getObj(r, "high"))
		if lo != "" || hi != "" {
			return lo + " – " + hi
		}
	}
	if r := getObj(o, "valueRatio"); r != nil {
		return quantityText(getObj(r, "numerator")) + " / " + quantityText(getObj(r, "denominator"))
	}
	for _, k := range []string{"valueDateTime", "valueTime", "valuePeriod"} {
		if s := getStr(o, k); s != "" {
			return s
		}
	}
	return ""
}

func codeOf(cc obj) string {
	for _, c := range getList(cc, "coding") {
		if m, ok := c.(obj); ok && getStr(m, "system") == "http://loinc.org" {
			return getStr(m, "code")
		}
	}
	return ""
}

// observationValue writes an Observation's value, or its components.
func observationValue(o obj) string {
	if v := valueText(o); v != "" {
		return v
	}
	comps := getList(o, "component")
	if len(comps) == 0 {
		return ""
	}
	// Blood pressure: "120/80 mm[Hg]".
	var sys, dia obj
	for _, c := range comps {
		m, _ := c.(obj)
		switch codeOf(getObj(m, "code")) {
		case "8480-6":
			sys = getObj(m, "valueQuantity")
		case "8462-4":
			dia = getObj(m, "valueQuantity")
		}
	}
	if sys != nil && dia != nil {
		sn, ok1 := number(sys["value"])
		dn, ok2 := number(dia["value"])
		if ok1 && ok2 {
			s := formatNumber(sn) + "/" + formatNumber(dn)
			if u := getStr(sys, "unit"); u != "" {
				s += " " + u
			}
			return s
		}
	}
	var parts []string
	for _, c := range comps {
		m, _ := c.(obj)
		name, val := conceptText(getObj(m, "code")), valueText(m)
		switch {
		case name != "" && val != "":
			parts = append(parts, name+" "+val)
		case val != "":
			parts = append(parts, val)
		}
	}
	return strings.Join(parts, "; ")
}

var encounterClasses = map[string]string{
	"AMB": "Ambulatory", "EMER": "Emergency", "FLD": "Field", "HH": "Home health",
	"IMP": "Inpatient", "ACUTE": "Inpatient acute", "NONAC": "Inpatient non-acute",
	"OBSENC": "Observation", "PRENC": "Pre-admission", "SS": "Short stay",
	"VR": "Virtual", "wellness": "Wellness", "ambulatory": "Ambulatory",
	"emergency": "Emergency", "inpatient": "Inpatient", "outpatient": "Outpatient",
	"urgentcare": "Urgent care",
}

func encounterClass(o obj) string {
	c := getObj(o, "class")
	if c == nil {
		return ""
	}
	if d := getStr(c, "display"); d != "" {
		return d
	}
	code := getStr(c, "code")
	if n, ok := encounterClasses[code]; ok {
		return n
	}
	return code
}

func statusOf(o obj) string {
	if s := getStr(o, "status"); s != "" {
		return s
	}
	return conceptText(getObj(o, "clinicalStatus"))
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

func medicationText(o obj) string {
	if t := conceptText(getObj(o, "medicationCodeableConcept")); t != "" {
		return t
	}
	if t := getStr(getObj(o, "medicationReference"), "display"); t != "" {
		return t
	}
	return conceptText(getObj(o, "code")) // Medication
}

func humanName(o obj) string {
	for _, n := range getList(o, "name") {
		m, _ := n.(obj)
		if t := getStr(m, "text"); t != "" {
			return t
		}
		var parts []string
		for _, g := range getList(m, "given") {
			if s, ok := g.(string); ok {
				parts = append(parts, s)
			}
		}
		if f := getStr(m, "family"); f != "" {
			parts = append(parts, f)
		}
		if len(parts) > 0 {
			return strings.Join(parts, " ")
		}
	}
	return ""
}

// humanType splits a resource type name into words: "CarePlan" → "Care plan".
func humanType(rt string) string {
	var b strings.Builder
	for i, r := range rt {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// describeResource returns a human-readable title and detail line.
func describeResource(rt string, o obj) (title, detail string) {
	switch rt {
	case "Encounter":
		title = firstConcept(o, "type")
		class := encounterClass(o)
		if title == "" {
			title = joinNonEmpty(" ", class, "encounter")
			class = ""
		}
		detail = joinNonEmpty(" · ", class, firstConcept(o, "reasonCode"))
	case "Condition":
		title = conceptText(getObj(o, "code"))
		detail = statusOf(o)
		if a := getStr(o, "abatementDateTime"); a != "" {
			detail = joinNonEmpty(" · ", detail, "until "+a)
		}
	case "Observation":
		name := conceptText(getObj(o, "code"))
		title = joinNonEmpty(": ", name, observationValue(o))
		detail = firstConcept(o, "interpretation")
	case "DiagnosticReport":
		title = conceptText(getObj(o, "code"))
		if n := len(getList(o, "result")); n > 0 {
			detail = strconv.Itoa(n) + " results"
			if n == 1 {
				detail = "1 result"
			}
		}
		detail = joinNonEmpty(" · ", detail, getStr(o, "conclusion"))
	case "MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense", "Medication":
		title = medicationText(o)
		var dosage string
		if d := firstObj(o, "dosageInstruction"); d != nil {
			dosage = getStr(d, "text")
		} else if d := firstObj(o, "dosage"); d != nil {
			dosage = getStr(d, "text")
		}
		detail = joinNonEmpty(" · ", getStr(o, "status"), dosage)
	case "Immunization":
		title = conceptText(getObj(o, "vaccineCode"))
		detail = getStr(o, "status")
	case "Procedure":
		title = conceptText(getObj(o, "code"))
		detail = joinNonEmpty(" · ", getStr(o, "status"), firstConcept(o, "reasonCode"))
	case "AllergyIntolerance":
		title = conceptText(getObj(o, "code"))
		detail = joinNonEmpty(" · ", getStr(o, "criticality"), statusOf(o))
	case "CarePlan":
		title = firstConcept(o, "category")
		if title == "" {
			title = getStr(o, "title")
		}
		if title != "" {
			title = "Care plan: " + title
		}
		var acts []string
		for _, a := range getList(o, "activity") {
			m, _ := a.(obj)
			if t := conceptText(getObj(getObj(m, "detail"), "code")); t != "" {
				acts = append(acts, t)
			}
		}
		detail = joinNonEmpty(" · ", getStr(o, "status"), strings.Join(acts, ", "))
	case "CareTeam":
		title = getStr(o, "name")
		if title == "" {
			title = firstConcept(o, "category")
		}
		if title != "" {
			title = "Care team: " + title
		}
		detail = getStr(o, "status")
	case "Goal":
		title = conceptText(getObj(o, "description"))
		if title != "" {
			title = "Goal: " + title
		}
		detail = getStr(o, "lifecycleStatus")
	case "Claim":
		title = joinNonEmpty(" ", "Claim", moneyText(getObj(o, "total")))
		detail = joinNonEmpty(" · ", conceptText(getObj(o, "type")), getStr(o, "status"))
	case "ExplanationOfBenefit":
		var total string
		for _, t := range getList(o, "total") {
			m, _ := t.(obj)
			if total = moneyText(getObj(m, "amount")); total != "" {
				break
			}
		}
		if total == "" {
			total = moneyText(getObj(getObj(o, "payment"), "amount"))
		}
		title = joinNonEmpty(" ", "Explanation of benefit", total)
		detail = joinNonEmpty(" · ", conceptText(getObj(o, "type")), getStr(o, "outcome"))
	case "Coverage":
		title = joinNonEmpty(": ", "Coverage", conceptText(getObj(o, "type")))
		detail = getStr(o, "status")
	case "ImagingStudy":
		title = getStr(o, "description")
		if title == "" {
			title = firstConcept(o, "procedureCode")
		}
		var mods []string
		for _, m := range getList(o, "modality") {
			if c, ok := m.(obj); ok {
				mods = append(mods, joinNonEmpty("", getStr(c, "display"), getStr(c, "code")))
			}
		}
		if title == "" {
			title = "Imaging study"
		}
		detail = strings.Join(mods, ", ")
	case "Media":
		title = joinNonEmpty(": ", "Media", conceptText(getObj(o, "modality")))
		detail = getStr(getObj(o, "content"), "contentType")
	case "DocumentReference":
		title = getStr(o, "description")
		if title == "" {
			title = conceptText(getObj(o, "type"))
		}
		detail = getStr(o, "status")
	case "Composition":
		title = getStr(o, "title")
		if title == "" {
			title = conceptText(getObj(o, "type"))
		}
		detail = getStr(o, "status")
	case "Device":
		title = conceptText(getObj(o, "type"))
		if dn := firstObj(o, "deviceName"); title == "" && dn != nil {
			title = getStr(dn, "name")
		}
		detail = getStr(o, "status")
	case "Patient":
		title = joinNonEmpty(": ", "Patient", humanName(o))
		var born string
		if b := getStr(o, "birthDate"); b != "" {
			born = "born " + b
		}
		detail = joinNonEmpty(" · ", getStr(o, "gender"), born)
	case "Provenance":
		title = "Provenance"
		detail = getStr(o, "recorded")
	}
	if title == "" {
		title = joinNonEmpty(": ", humanType(rt), conceptText(getObj(o, "code")))
	}
	return title, detail
}

package fhir

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// DeidOptions configures Deidentify.
type DeidOptions struct {
	// Key keys the HMAC-SHA256 that turns ids into pseudonyms. It must be
	// secret and at least 16 bytes (32 random bytes recommended); the same
	// key gives the same pseudonyms, so references link across a data set.
	Key []byte
	// ShiftDays, when 0, reduces every date to its year (Safe Harbor).
	// Otherwise every date with a day is shifted by this many days and keeps
	// its precision, so that intervals survive; dates with only a year or a
	// month are left as they are. Shifting is NOT Safe Harbor: the shifted
	// dates are "elements of dates" of the individual, and releasing them
	// needs an expert determination (45 CFR 164.514(b)(1)). Use one offset
	// per patient (PatientShiftDays) for all of that patient's resources.
	ShiftDays int
	// AsOf is the date ages are computed at for living patients; zero means
	// now.
	AsOf time.Time
}

// AgeGroupExtensionURL is the extension Deidentify adds to a Patient (or
// RelatedPerson, Person, Practitioner) whose birth date it removed because
// the person is 90 or older; its valueString is "90+".
const AgeGroupExtensionURL = "urn:medledger:fhir:extension:age-group"

// restrictedZIP3 are the 3-digit ZIP code areas with 20,000 people or
// fewer (HHS guidance on Safe Harbor, 2010 census); they become "000".
var restrictedZIP3 = map[string]bool{
	"036": true, "059": true, "063": true, "102": true, "203": true, "556": true,
	"692": true, "790": true, "821": true, "823": true, "830": true, "831": true,
	"878": true, "879": true, "884": true, "890": true, "893": true,
}

// Deidentify returns a de-identified copy of a FHIR R4 resource following
// HIPAA Safe Harbor (45 CFR 164.514(b)(2)). The input must validate. The
// rules are applied by FHIR data type wherever the type occurs (in the
// resource, its contained resources, extensions and, for a Bundle, every
// entry):
//
//   - HumanName, ContactPoint (phone, fax, email, URL), Identifier (MRN,
//     SSN, licence, passport, account, device and every other identifier),
//     Narrative (text.div), Annotation (notes) and Signature: removed.
//   - Address: only use, type, state, country and the first three digits of
//     a US ZIP code are kept; the 17 restricted 3-digit areas become "000";
//     other postal codes, lines, city, district, text, period and address
//     extensions (geolocation) are removed.
//   - date and dateTime: reduced to the year ("2011-12-13T22:28:27+00:00" →
//     "2011"), or shifted, see DeidOptions.ShiftDays. instant (which FHIR
//     requires to be complete): removed where optional; where required, set
//     to January 1st, 00:00:00 UTC of its year.
//   - birthDate of a Patient, RelatedPerson, Person or Practitioner who is 90
//     or older (at death, else at AsOf; a birth date with only a year counts
//     from January 1st, so doubtful cases are removed): removed, and the
//     AgeGroupExtensionURL extension "90+" added. Age values (Age data type)
//     above 89 become ">= 90".
//   - Resource ids and literal references: replaced by pseudonyms, UUIDs made
//     from HMAC-SHA256(Key, original id) (see Pseudonym), so references between
//     de-identified resources still resolve: "urn:uuid:X" → "urn:uuid:P(X)",
//     "Patient/X" and "https://host/fhir/Patient/X/_history/2" →
//     "Patient/P(X)", anything else → "urn:uuid:P(whole reference)". Local
//     references ("#x") and contained resources' ids are kept. Bundle entry
//     fullUrls, request URLs and response locations are rewritten the same
//     way. Other id-typed values (e.g. DICOM UIDs of ImagingStudy) are
//     replaced by their pseudonyms. Reference.display and
//     Reference.identifier are removed.
//   - Free text: every string and markdown value is removed except
//     Coding.display, Coding.version, CodeableConcept.text, the unit of
//     quantities and Questionnaire(Response) linkIds. This removes names of
//     things that may identify (device serial and lot numbers, titles,
//     descriptions, comments, free-text results). A removed required string
//     becomes "redacted"; a required reference left empty becomes
//     {"display":"redacted"}.
//   - url values (web addresses), base64Binary values (photos, biometrics,
//     signatures, document content), Attachment url, data, hash and title,
//     every "photo" element, Patient.contact, Location.position,
//     Bundle.link, meta (except its tags, security labels and profiles),
//     primitive extensions ("_element") and extensions whose URL mentions
//     geolocation or mothersMaidenName: removed. An extension left without a
//     value is removed.
//
// Codes, codings, quantities, numbers, booleans, system and profile URIs
// are kept. The result is re-validated and returned as canonical JSON. If
// it does not validate (a required element of a type with no placeholder was
// removed), the de-identified JSON is still returned, with an *Error saying
// why: every removal above has been applied to it.
func Deidentify(resource []byte, opts DeidOptions) ([]byte, error) {
	if len(opts.Key) < 16 {
		return nil, errors.New("fhir: de-identification needs a secret key of at least 16 bytes")
	}
	js, err := Canonical(resource)
	if err != nil {
		return nil, err
	}
	o, err := decodeObject(js)
	if err != nil {
		return nil, &Error{Problem: "cannot be decoded after validation"}
	}
	d := &deid{opts: opts, asOf: opts.AsOf, c: mustCodecs()}
	if d.asOf.IsZero() {
		d.asOf = time.Now()
	}
	d.resource(o, false)
	out, err := canonicalize(o)
	if err != nil {
		raw, jerr := encodeJSON(o)
		if jerr != nil {
			return nil, &Error{Problem: "de-identified resource cannot be encoded"}
		}
		var e *Error
		if errors.As(err, &e) {
			return raw, &Error{Path: e.Path, Problem: "de-identified resource does not validate: " + e.Problem, Others: e.Others}
		}
		return raw, &Error{Problem: "de-identified resource does not validate"}
	}
	return out, nil
}

// Pseudonym returns the pseudonym Deidentify gives an id: the first 128 bits
// of HMAC-SHA256(key, id), written as a UUID (version 8, RFC 9562), which
// is a valid FHIR id and a valid urn:uuid.
func Pseudonym(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	b := m.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// PatientShiftDays derives a per-patient date shift in [-maxDays, -1] ∪
// [1, maxDays] from a secret key and the patient's id, for
// DeidOptions.ShiftDays. maxDays below 1 is taken as 1.
func PatientShiftDays(key []byte, patientID string, maxDays int) int {
	if maxDays < 1 {
		maxDays = 1
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("medledger/fhir/deid/shift/v1\x00"))
	m.Write([]byte(patientID))
	v := binary.BigEndian.Uint64(m.Sum(nil))
	n := int(v%uint64(2*maxDays)) - maxDays
	if n >= 0 {
		n++
	}
	return n
}

type deid struct {
	opts DeidOptions
	asOf time.Time
	c    *codecs
}

// ctx tells a value rule where the value sits.
type ctx struct {
	parent   protoreflect.FullName // the message holding the field
	field    string                // the field's JSON name
	required bool
}

var birthDateTypes = map[string]bool{"Patient": true, "RelatedPerson": true, "Person": true, "Practitioner": true}

// resource de-identifies a resource in place.
func (d *deid) resource(o obj, contained bool) {
	rt := getStr(o, "resourceType")
	md, ok := d.c.resources[rt]
	if !ok {
		// Cannot happen after validation; leave nothing behind.
		clear(o)
		return
	}
	if id := getStr(o, "id"); id != "" && !contained {
		o["id"] = Pseudonym(d.opts.Key, id)
	}
	delete(o, "text")
	delete(o, "photo")
	if meta := getObj(o, "meta"); meta != nil {
		kept := obj{}
		for _, k := range []string{"tag", "security", "profile"} {
			if v, ok := meta[k]; ok {
				kept[k] = v
			}
		}
		if len(kept) == 0 {
			delete(o, "meta")
		} else {
			o["meta"] = kept
		}
	}
	switch rt {
	case "Patient":
		delete(o, "contact")
	case "Location":
		delete(o, "position")
	case "Bundle":
		delete(o, "link")
	}
	over89 := false
	if birthDateTypes[rt] {
		if bd := getStr(o, "birthDate"); bd != "" && d.ninetyOrOlder(bd, getStr(o, "deceasedDateTime")) {
			delete(o, "birthDate")
			over89 = true
		}
	}
	for _, c := range getList(o, "contained") {
		if m, ok := c.(obj); ok {
			d.resource(m, true)
		}
	}
	containedList := o["contained"]
	delete(o, "contained")
	d.fields(o, md, map[string]bool{"resourceType": true, "id": true})
	if containedList != nil {
		o["contained"] = containedList
	}
	if over89 {
		ext, _ := o["extension"].([]any)
		o["extension"] = append(ext, obj{"url": AgeGroupExtensionURL, "valueString": "90+"})
	}
}

// ninetyOrOlder reports whether someone born on birthDate is 90 or older at
// death (if deceased is a date) or at AsOf.
func (d *deid) ninetyOrOlder(birthDate, deceased string) bool {
	born, ok := parseFHIRTime(birthDate)
	if !ok {
		return true // cannot tell: treat as identifying
	}
	at := d.asOf
	if t, ok := parseFHIRTime(deceased); ok {
		at = t
	}
	age := at.Year() - born.Year()
	if at.YearDay() < born.YearDay() {
		age--
	}
	return age >= 90
}

type fieldInfo struct {
	fd       protoreflect.FieldDescriptor
	elem     protoreflect.MessageDescriptor // type of the JSON value (choice resolved)
	required bool
}

var fieldMaps sync.Map // protoreflect.FullName → map[string]fieldInfo

func isChoice(md protoreflect.MessageDescriptor) bool {
	return md != nil && proto.HasExtension(md.Options(), apb.E_IsChoiceType)
}

func fieldsOf(md protoreflect.MessageDescriptor) map[string]fieldInfo {
	if m, ok := fieldMaps.Load(md.FullName()); ok {
		return m.(map[string]fieldInfo)
	}
	m := map[string]fieldInfo{}
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		req := proto.GetExtension(f.Options(), apb.E_ValidationRequirement).(apb.Requirement) == apb.Requirement_REQUIRED_BY_FHIR
		if isChoice(f.Message()) {
			cs := f.Message().Fields()
			for j := 0; j < cs.Len(); j++ {
				c := cs.Get(j)
				name := c.JSONName()
				if name == "" {
					continue
				}
				m[f.JSONName()+strings.ToUpper(name[:1])+name[1:]] = fieldInfo{fd: f, elem: c.Message(), required: req}
			}
			continue
		}
		m[f.JSONName()] = fieldInfo{fd: f, elem: f.Message(), required: req}
	}
	fieldMaps.Store(md.FullName(), m)
	return m
}

// fields applies the rules to every member of an element of type md, in
// place, except the members named in skip.
func (d *deid) fields(o obj, md protoreflect.MessageDescriptor, skip map[string]bool) {
	fm := fieldsOf(md)
	for k, v := range o {
		if skip[k] {
			continue
		}
		fi, ok := fm[k]
		if !ok || strings.HasPrefix(k, "_") {
			delete(o, k) // primitive extensions, or anything unexpected
			continue
		}
		c := ctx{parent: md.FullName(), field: k, required: fi.required}
		if list, isList := v.([]any); isList {
			var kept []any
			for _, e := range list {
				if nv, keep := d.value(e, fi.elem, c); keep {
					kept = append(kept, nv)
				}
			}
			if len(kept) == 0 && fi.required {
				if p, ok := placeholder(fi.elem); ok {
					kept = []any{p}
				}
			}
			if len(kept) == 0 {
				delete(o, k)
			} else {
				o[k] = kept
			}
			continue
		}
		nv, keep := d.value(v, fi.elem, c)
		if !keep && fi.required {
			nv, keep = placeholder(fi.elem)
		}
		if keep {
			o[k] = nv
		} else {
			delete(o, k)
		}
	}
}

// placeholder is what a required element becomes when its content was
// removed, for the types that have one.
func placeholder(md protoreflect.MessageDescriptor) (any, bool) {
	if md == nil {
		return nil, false
	}
	switch md.Name() {
	case "String", "Markdown":
		return "redacted", true
	case "Url":
		return "urn:redacted", true
	case "Reference":
		return obj{"display": "redacted"}, true
	}
	return nil, false
}

var quantityTypes = map[protoreflect.Name]bool{
	"Quantity": true, "SimpleQuantity": true, "MoneyQuantity": true, "Age": true,
	"Duration": true, "Distance": true, "Count": true,
}

// keepString reports whether a string value at c is coded text, kept by
// de-identification.
func keepString(c ctx) bool {
	parent := c.parent.Name()
	switch {
	case parent == "Coding" && (c.field == "display" || c.field == "version"):
		return true
	case parent == "CodeableConcept" && c.field == "text":
		return true
	case quantityTypes[parent] && c.field == "unit":
		return true
	case c.field == "linkId" && strings.Contains(string(c.parent), "Questionnaire"):
		return true
	}
	return false
}

var dropExtension = regexp.MustCompile(`(?i)geolocation|mothersMaidenName`)

// value applies the rules to one value of type md; keep=false removes it.
func (d *deid) value(v any, md protoreflect.MessageDescriptor, c ctx) (any, bool) {
	if md == nil {
		return nil, false
	}
	switch md.FullName() {
	case "google.protobuf.Any": // contained resources
		m, ok := v.(obj)
		if !ok {
			return nil, false
		}
		d.resource(m, true)
		return m, len(m) > 0
	}
	switch md.Name() {
	case "ContainedResource":
		m, ok := v.(obj)
		if !ok {
			return nil, false
		}
		d.resource(m, false)
		return m, len(m) > 0
	case "HumanName", "ContactPoint", "Identifier", "Narrative", "Annotation", "Signature",
		"Base64Binary", "Url":
		return nil, false
	case "String", "Markdown":
		return v, keepString(c)
	case "Date", "DateTime":
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		return d.date(s)
	case "Instant":
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		return d.instant(s, c.required)
	case "Id":
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		return Pseudonym(d.opts.Key, s), true
	case "Uri":
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		switch {
		case strings.HasSuffix(string(c.parent), "Bundle.Entry") && c.field == "fullUrl":
			return d.fullURL(s), true
		case strings.HasSuffix(string(c.parent), "Bundle.Entry.Request") && c.field == "url",
			strings.HasSuffix(string(c.parent), "Bundle.Entry.Response") && c.field == "location":
			if strings.ContainsAny(s, "/?") {
				return d.ref(s), true
			}
			return s, true
		case c.parent.Name() == "Meta" && c.field == "source":
			return nil, false
		}
		return s, true
	}
	m, ok := v.(obj)
	if !ok {
		// Other primitives: codes, numbers, booleans, canonical, oid, ...
		return v, true
	}
	switch md.Name() {
	case "Address":
		return d.address(m)
	case "Reference":
		return d.reference(m, md)
	case "Attachment":
		for _, k := range []string{"url", "data", "hash", "title"} {
			delete(m, k)
		}
	case "Extension":
		if dropExtension.MatchString(getStr(m, "url")) {
			return nil, false
		}
	}
	d.fields(m, md, nil)
	switch md.Name() {
	case "Extension":
		if len(m) == 1 && m["url"] != nil || len(m) == 0 {
			return nil, false
		}
	case "Age":
		if n, ok := number(m["value"]); ok {
			if f, err := n.Float64(); err == nil && f > 89 {
				m["value"] = json.Number("90")
				m["comparator"] = ">="
			}
		}
	}
	return m, len(m) > 0
}

func (d *deid) address(m obj) (any, bool) {
	out := obj{}
	for _, k := range []string{"use", "type", "state", "country"} {
		if v, ok := m[k].(string); ok {
			out[k] = v
		}
	}
	if zip := zip3(getStr(m, "postalCode")); zip != "" {
		out["postalCode"] = zip
	}
	return out, len(out) > 0
}

var usZIP = regexp.MustCompile(`^\d{5}(-?\d{4})?$`)

// zip3 keeps the first three digits of a US ZIP code, "000" for restricted
// areas, and nothing for other postal codes.
func zip3(zip string) string {
	zip = strings.TrimSpace(zip)
	if !usZIP.MatchString(zip) {
		return ""
	}
	if restrictedZIP3[zip[:3]] {
		return "000"
	}
	return zip[:3]
}

func (d *deid) reference(m obj, md protoreflect.MessageDescriptor) (any, bool) {
	out := obj{}
	if r := getStr(m, "reference"); r != "" {
		out["reference"] = d.ref(r)
	}
	if t, ok := m["type"].(string); ok && out["reference"] != nil {
		out["type"] = t
	}
	if ext, ok := m["extension"].([]any); ok {
		tmp := obj{"extension": ext}
		d.fields(tmp, md, nil)
		if e, ok := tmp["extension"]; ok {
			out["extension"] = e
		}
	}
	return out, len(out) > 0
}

// ref rewrites a literal reference with pseudonyms.
func (d *deid) ref(s string) string {
	switch {
	case s == "" || strings.HasPrefix(s, "#"):
		return s
	case strings.HasPrefix(s, "urn:uuid:"):
		return "urn:uuid:" + Pseudonym(d.opts.Key, strings.TrimPrefix(s, "urn:uuid:"))
	}
	base := s
	if i := strings.Index(base, "/_history/"); i >= 0 {
		base = base[:i]
	}
	if !strings.ContainsAny(base, "?#") {
		parts := strings.Split(base, "/")
		if n := len(parts); n >= 2 && parts[n-1] != "" && IsResourceType(parts[n-2]) {
			return parts[n-2] + "/" + Pseudonym(d.opts.Key, parts[n-1])
		}
	}
	return "urn:uuid:" + Pseudonym(d.opts.Key, s)
}

// fullURL rewrites a Bundle entry's fullUrl so that it still matches the
// rewritten references to the entry's resource.
func (d *deid) fullURL(s string) string {
	r := d.ref(s)
	if strings.HasPrefix(r, "urn:uuid:") {
		return r
	}
	return "urn:uuid:" + r[strings.LastIndexByte(r, '/')+1:]
}

// date applies the date rule to a FHIR date or dateTime.
func (d *deid) date(s string) (any, bool) {
	if len(s) < 4 {
		return nil, false
	}
	if d.opts.ShiftDays == 0 {
		return s[:4], true
	}
	return shiftDate(s, d.opts.ShiftDays), true
}

func (d *deid) instant(s string, required bool) (any, bool) {
	if d.opts.ShiftDays != 0 {
		return shiftDate(s, d.opts.ShiftDays), true
	}
	if !required || len(s) < 4 {
		return nil, false
	}
	return s[:4] + "-01-01T00:00:00Z", true
}

// shiftDate moves a date with at least day precision by days; coarser
// dates are returned as they are.
func shiftDate(s string, days int) string {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.AddDate(0, 0, days).Format("2006-01-02")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.AddDate(0, 0, days).Format(time.RFC3339Nano)
	}
	return s
}

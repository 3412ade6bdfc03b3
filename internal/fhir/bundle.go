package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	rpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// SplitBundle validates a FHIR R4 Bundle (of any type: Synthea writes
// transaction bundles) and returns one Record per patient resource, in
// bundle order. Directory resources (see IsDirectory) and entries without a
// resource are not returned but counted in Split.Skipped. A bundle with a
// single invalid entry is rejected whole; the error path names the entry,
// e.g. "Bundle.entry[12].resource.Observation.status". Bundles nested in a
// bundle's entries are returned as records (category other), not split.
func SplitBundle(bundle []byte) (*Split, error) {
	cr, rt, err := parse(bundle)
	if err != nil {
		return nil, err
	}
	if rt != "Bundle" {
		return nil, &Error{Path: "resourceType", Problem: "want Bundle, got " + rt}
	}
	c := mustCodecs()
	split := &Split{Skipped: map[string]int{}}
	for i, e := range cr.GetBundle().GetEntry() {
		res := e.GetResource()
		rt := containedType(res)
		if rt == "" {
			split.Skipped[SkippedNoResource]++
			continue
		}
		if IsDirectory(rt) {
			split.Skipped[rt]++
			continue
		}
		js, err := c.m.Marshal(res)
		if err != nil {
			return nil, &Error{Path: fmt.Sprintf("Bundle.entry[%d].resource", i), Problem: "cannot be re-encoded"}
		}
		if id := uuidFromFullURL(e.GetFullUrl().GetValue()); id != "" {
			if js, err = ensureID(js, id); err != nil {
				return nil, &Error{Path: fmt.Sprintf("Bundle.entry[%d].resource.id", i), Problem: "cannot be set from fullUrl"}
			}
		}
		rec, err := recordFrom(rt, js)
		if err != nil {
			return nil, err
		}
		split.Records = append(split.Records, rec)
	}
	return split, nil
}

// containedType returns the resource type held in a ContainedResource, or
// "" if it holds none.
func containedType(cr *rpb.ContainedResource) string {
	if cr == nil {
		return ""
	}
	m := cr.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("oneof_resource")
	if od == nil {
		return ""
	}
	f := m.WhichOneof(od)
	if f == nil || f.Message() == nil {
		return ""
	}
	return string(f.Message().Name())
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func uuidFromFullURL(fullURL string) string {
	id, ok := strings.CutPrefix(fullURL, "urn:uuid:")
	if !ok || !uuidRE.MatchString(id) {
		return ""
	}
	return id
}

// ensureID gives a canonical resource the id if it has none.
func ensureID(js []byte, id string) ([]byte, error) {
	o, err := decodeObject(js)
	if err != nil {
		return nil, err
	}
	if getStr(o, "id") != "" {
		return js, nil
	}
	o["id"] = id
	return canonicalize(o)
}

// encodeJSON writes a decoded object back as compact JSON, with sorted keys
// and without HTML escaping (as jsonformat writes it).
func encodeJSON(o any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalize validates a decoded resource and returns its canonical JSON.
func canonicalize(o obj) ([]byte, error) {
	js, err := encodeJSON(o)
	if err != nil {
		return nil, &Error{Problem: "cannot be encoded as JSON"}
	}
	cr, _, err := parse(js)
	if err != nil {
		return nil, err
	}
	out, err := mustCodecs().m.Marshal(cr)
	if err != nil {
		return nil, &Error{Problem: "cannot be re-encoded"}
	}
	return out, nil
}

// ImportResource validates a single resource (not a Bundle: use
// SplitBundle) and returns it as a Record with canonical JSON. Any resource
// type is accepted, directory types included.
func ImportResource(resource []byte) (Record, error) {
	cr, rt, err := parse(resource)
	if err != nil {
		return Record{}, err
	}
	if rt == "Bundle" {
		return Record{}, &Error{Path: "resourceType", Problem: "is Bundle: use SplitBundle"}
	}
	js, err := mustCodecs().m.Marshal(cr)
	if err != nil {
		return Record{}, &Error{Path: rt, Problem: "cannot be re-encoded"}
	}
	return recordFrom(rt, js)
}

// Canonical validates a resource and returns its canonical JSON (see the
// package doc), the form Record.JSON has.
func Canonical(resource []byte) ([]byte, error) {
	cr, rt, err := parse(resource)
	if err != nil {
		return nil, err
	}
	js, err := mustCodecs().m.Marshal(cr)
	if err != nil {
		return nil, &Error{Path: rt, Problem: "cannot be re-encoded"}
	}
	return js, nil
}

func recordFrom(rt string, js []byte) (Record, error) {
	o, err := decodeObject(js)
	if err != nil {
		return Record{}, &Error{Path: rt, Problem: "cannot be decoded after validation"}
	}
	return Record{
		ResourceType: rt,
		Category:     Categorize(rt, js),
		ID:           getStr(o, "id"),
		Date:         bestDate(o),
		Encounter:    encounterOf(rt, o),
		JSON:         js,
	}, nil
}

// ExportBundle wraps resources (as JSON, e.g. Record.JSON) in a FHIR R4
// Bundle of type "collection", one entry per resource in the given order.
// Each entry's fullUrl is urn:uuid:<id> when the id is a UUID (Synthea's
// references use that form) and ResourceType/id otherwise. Resources are
// embedded unchanged (only insignificant whitespace is removed). Every
// resource must have an id, no two may share type and id, and the whole
// bundle must validate.
func ExportBundle(records [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Bundle","type":"collection"`)
	if len(records) > 0 {
		buf.WriteString(`,"entry":[`)
	}
	seen := map[string]bool{}
	for i, r := range records {
		at := fmt.Sprintf("Bundle.entry[%d].resource", i)
		rt, err := precheck(r)
		if err != nil {
			e := err.(*Error)
			return nil, &Error{Path: joinPath(at, e.Path), Problem: e.Problem}
		}
		var head struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(r, &head)
		if head.ID == "" {
			return nil, &Error{Path: at + ".id", Problem: "missing: exported resources need an id"}
		}
		fullURL := rt + "/" + head.ID
		if uuidRE.MatchString(head.ID) {
			fullURL = "urn:uuid:" + head.ID
		}
		if seen[fullURL] {
			return nil, &Error{Path: at + ".id", Problem: "duplicate resource (same type and id as an earlier entry)"}
		}
		seen[fullURL] = true
		var compact bytes.Buffer
		if err := json.Compact(&compact, r); err != nil {
			return nil, &Error{Path: at, Problem: "not valid JSON"}
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		u, _ := json.Marshal(fullURL)
		buf.WriteString(`{"fullUrl":`)
		buf.Write(u)
		buf.WriteString(`,"resource":`)
		buf.Write(compact.Bytes())
		buf.WriteByte('}')
	}
	if len(records) > 0 {
		buf.WriteByte(']')
	}
	buf.WriteByte('}')
	out := buf.Bytes()
	if _, err := Validate(out); err != nil {
		return nil, err
	}
	return out, nil
}

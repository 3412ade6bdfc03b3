package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	rpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Error is a validation failure. It names where (Path, a FHIR path such as
// "Observation.component[1].valueQuantity") and what (Problem), and never
// holds a value from the resource that could be PHI (see the package doc).
type Error struct {
	Path    string
	Problem string
	// Others are further problems found in the same resource, ordered by
	// path. The receiver is the first of them all in that order.
	Others []*Error
}

// maxListed is how many problems Error() spells out.
const maxListed = 4

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.one())
	for i, o := range e.Others {
		if i+1 == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Others)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(o.one())
	}
	return b.String()
}

func (e *Error) one() string {
	if e.Path == "" {
		return e.Problem
	}
	return e.Path + ": " + e.Problem
}

// maxNestingDepth bounds how deep a resource may nest (counted in path
// segments). Real resources stay far below it; it keeps hostile input from
// exhausting the stack.
const maxNestingDepth = 96

type codecs struct {
	u *jsonformat.Unmarshaller
	m *jsonformat.Marshaller
	// resources maps each R4 resource type name to its proto descriptor.
	resources map[string]protoreflect.MessageDescriptor
}

var loadCodecs = sync.OnceValues(func() (*codecs, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, err
	}
	u.MaxNestingDepth = maxNestingDepth
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, err
	}
	c := &codecs{u: u, m: m, resources: map[string]protoreflect.MessageDescriptor{}}
	fields := (&rpb.ContainedResource{}).ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		if md := fields.Get(i).Message(); md != nil {
			c.resources[string(md.Name())] = md
		}
	}
	return c, nil
})

func mustCodecs() *codecs {
	c, err := loadCodecs()
	if err != nil {
		// Only a broken build of the FHIR library can get here.
		panic("fhir: cannot set up the R4 codecs: " + err.Error())
	}
	return c
}

// IsResourceType reports whether name is a FHIR R4 resource type.
func IsResourceType(name string) bool {
	_, ok := mustCodecs().resources[name]
	return ok
}

// Validate checks that resource is one valid FHIR R4 resource in JSON and
// returns its resource type. A Bundle is validated with all its entries.
// Any error is an *Error.
func Validate(resource []byte) (resourceType string, err error) {
	_, rt, err := parse(resource)
	return rt, err
}

// parse validates resource and returns it as a ContainedResource.
func parse(resource []byte) (cr *rpb.ContainedResource, resourceType string, err error) {
	rt, perr := precheck(resource)
	if perr != nil {
		return nil, "", perr
	}
	c := mustCodecs()
	defer func() {
		// The parser is fed untrusted bytes; a bug in it must not take the
		// client down. The panic value may quote input, so it is dropped.
		if recover() != nil {
			cr, resourceType, err = nil, "", &Error{Path: rt, Problem: "cannot be parsed as FHIR R4"}
		}
	}()
	msg, uerr := c.u.Unmarshal(resource)
	if uerr != nil {
		return nil, "", convertError(uerr, rt)
	}
	cr, ok := msg.(*rpb.ContainedResource)
	if !ok || cr == nil {
		return nil, "", &Error{Path: rt, Problem: "cannot be parsed as FHIR R4"}
	}
	return cr, rt, nil
}

// precheck gives clear errors for input that is not a JSON object with a
// known resourceType, before the FHIR parser sees it.
func precheck(resource []byte) (string, error) {
	trimmed := bytes.TrimSpace(resource)
	if len(trimmed) == 0 {
		return "", &Error{Problem: "empty input: want a FHIR R4 resource in JSON"}
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", &Error{Problem: fmt.Sprintf("not valid JSON (syntax error at byte %d)", se.Offset)}
		}
		return "", &Error{Problem: "not valid JSON"}
	}
	if trimmed[0] != '{' {
		return "", &Error{Problem: "not a JSON object: want a FHIR R4 resource"}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return "", &Error{Problem: "not a JSON object: want a FHIR R4 resource"}
	}
	raw, ok := top["resourceType"]
	if !ok {
		return "", &Error{Path: "resourceType", Problem: "missing: not a FHIR resource"}
	}
	var rt string
	if err := json.Unmarshal(raw, &rt); err != nil {
		return "", &Error{Path: "resourceType", Problem: "must be a string"}
	}
	if !IsResourceType(rt) {
		return "", &Error{Path: "resourceType", Problem: "unknown FHIR R4 resource type"}
	}
	// FHIR forbids empty strings; jsonformat accepts "" for a code and
	// silently drops it, which would make validation and canonical form
	// disagree. The walk only runs when the bytes hold an empty string.
	if bytes.Contains(trimmed, []byte(`""`)) {
		var v any
		if json.Unmarshal(trimmed, &v) == nil {
			if path, found := findEmptyString(rt, v, true); found {
				return "", &Error{Path: path, Problem: "empty string (FHIR values must not be empty)"}
			}
		}
	}
	return rt, nil
}

// findEmptyString returns the path of the first empty string value, in
// the form jsonformat writes paths. Member names that do not look like
// element names are not shown.
func findEmptyString(path string, v any, top bool) (string, bool) {
	switch x := v.(type) {
	case string:
		return path, x == ""
	case []any:
		for i, e := range x {
			if p, ok := findEmptyString(path+"["+strconv.Itoa(i)+"]", e, false); ok {
				return p, true
			}
		}
	case map[string]any:
		if rt, ok := x["resourceType"].(string); ok && !top && IsResourceType(rt) {
			path = joinPath(path, rt)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := k
			if !elementName.MatchString(k) {
				name = "(unnamed)"
			}
			if p, ok := findEmptyString(joinPath(path, name), x[k], false); ok {
				return p, true
			}
		}
	}
	return "", false
}

var (
	// elementName matches JSON member names that look like FHIR element
	// names; only those are shown in paths of unknown fields.
	elementName = regexp.MustCompile(`^_?[A-Za-z][A-Za-z0-9]{0,63}$`)
	// codeToken matches values shown in "invalid code" problems.
	codeToken = regexp.MustCompile(`^[a-z][a-z-]{0,31}$`)
)

// convertError turns the jsonformat error (an UnmarshalError or a list of
// them, from an internal package) into an *Error, reading only the parts
// that carry no PHI: the path and the fixed description. The diagnostics,
// which may quote the input, are used only to name unknown fields and
// invalid code tokens, under the rules in the package doc.
func convertError(err error, resourceType string) *Error {
	var list []*Error
	collectErrors(reflect.ValueOf(err), &list)
	if len(list) == 0 {
		return &Error{Path: resourceType, Problem: "cannot be parsed as FHIR R4"}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Path != list[j].Path {
			return list[i].Path < list[j].Path
		}
		return list[i].Problem < list[j].Problem
	})
	// Drop exact duplicates (the library can report one fault twice).
	out := list[:1]
	for _, e := range list[1:] {
		last := out[len(out)-1]
		if e.Path != last.Path || e.Problem != last.Problem {
			out = append(out, e)
		}
	}
	first := out[0]
	if len(out) > 1 {
		first.Others = out[1:]
	}
	return first
}

func collectErrors(v reflect.Value, out *[]*Error) {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			collectErrors(v.Index(i), out)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		s := v.Elem()
		if s.Kind() != reflect.Struct {
			return
		}
		path, okP := stringField(s, "Path")
		details, okD := stringField(s, "Details")
		diag, _ := stringField(s, "Diagnostics")
		if !okP || !okD {
			*out = append(*out, &Error{Problem: "cannot be parsed as FHIR R4"})
			return
		}
		*out = append(*out, describe(path, details, diag))
	default:
		*out = append(*out, &Error{Problem: "cannot be parsed as FHIR R4"})
	}
}

func stringField(s reflect.Value, name string) (string, bool) {
	f := s.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return "", false
	}
	return f.String(), true
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	if field == "" {
		return path
	}
	return path + "." + field
}

// describe maps one jsonformat error to an Error.
func describe(path, details, diag string) *Error {
	switch {
	case details == "unknown field":
		if k, err := strconv.Unquote(diag); err == nil && elementName.MatchString(k) {
			return &Error{Path: joinPath(path, k), Problem: "unknown field"}
		}
		return &Error{Path: path, Problem: "unknown field (name not shown)"}
	case strings.HasPrefix(details, "missing required field "):
		name, err := strconv.Unquote(strings.TrimPrefix(details, "missing required field "))
		if err != nil || !elementName.MatchString(name) {
			return &Error{Path: path, Problem: "missing required field"}
		}
		if name == "resourceType" {
			return &Error{Path: joinPath(path, name), Problem: "missing: not a FHIR resource"}
		}
		return &Error{Path: joinPath(path, name), Problem: "missing required field"}
	case details == "unknown resource type":
		// The last path segment is the unknown type name itself: drop it.
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			path = path[:i]
		} else {
			path = ""
		}
		return &Error{Path: joinPath(path, "resourceType"), Problem: "unknown FHIR R4 resource type"}
	case details == "invalid resource type":
		return &Error{Path: joinPath(path, "resourceType"), Problem: "must be a string"}
	case details == "code type mismatch":
		if q, err := strconv.QuotedPrefix(diag); err == nil {
			if v, err := strconv.Unquote(q); err == nil && codeToken.MatchString(v) {
				return &Error{Path: path, Problem: fmt.Sprintf("invalid code %q", v)}
			}
		}
		return &Error{Path: path, Problem: "invalid code"}
	case details == "invalid JSON":
		return &Error{Path: path, Problem: "not valid JSON"}
	}
	// The remaining details are fixed descriptions ("expected datetime",
	// "invalid reference", "invalid Id format", ...) without input values.
	return &Error{Path: path, Problem: details}
}

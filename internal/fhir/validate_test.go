package fhir

import (
	"errors"
	"strings"
	"testing"
)

// Planted PHI: no error text may contain any of these.
var plantedPHI = []string{"Zebediah", "Quuxworth", "999-12-3456", "555-867-5309", "42 Wallaby Way"}

const phiPatient = `"name":[{"family":"Quuxworth","given":["Zebediah"]}],
	"identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-12-3456"}],
	"telecom":[{"system":"phone","value":"555-867-5309"}],
	"address":[{"line":["42 Wallaby Way"]}]`

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, path, problem string
	}{
		{"bad status code",
			`{"resourceType":"Observation","status":"finalx","code":{"text":"Zebediah Quuxworth"},"valueString":"999-12-3456"}`,
			"Observation.status", `invalid code "finalx"`},
		{"PHI as a code is not echoed",
			`{"resourceType":"Observation","status":"Zebediah Quuxworth","code":{"text":"x"}}`,
			"Observation.status", "invalid code"},
		{"wrong type: number for a date",
			`{"resourceType":"Patient",` + phiPatient + `,"birthDate":19940201}`,
			"Patient.birthDate", "expected date"},
		{"wrong type: string for a boolean",
			`{"resourceType":"Patient",` + phiPatient + `,"active":"Zebediah"}`,
			"Patient.active", "expected boolean"},
		{"wrong type: object for an array",
			`{"resourceType":"Patient","name":{"family":"Quuxworth"}}`,
			"Patient.name", "expected array"},
		{"invalid date",
			`{"resourceType":"Patient",` + phiPatient + `,"birthDate":"1994-13-45"}`,
			"Patient.birthDate", "expected date"},
		{"unknown field",
			`{"resourceType":"Patient",` + phiPatient + `,"nickname":"Zebediah"}`,
			"Patient.nickname", "unknown field"},
		{"unknown field with a strange name",
			`{"resourceType":"Patient","Zebediah Quuxworth 999-12-3456":true}`,
			"Patient", "unknown field (name not shown)"},
		{"unknown nested field",
			`{"resourceType":"Patient","name":[{"family":"Quuxworth","nick":"Zebediah"}]}`,
			"Patient.name[0].nick", "unknown field"},
		{"missing resourceType",
			`{` + phiPatient + `}`,
			"resourceType", "missing"},
		{"resourceType not a string",
			`{"resourceType":42,` + phiPatient + `}`,
			"resourceType", "must be a string"},
		{"not JSON",
			`{"resourceType":"Patient","name":[{"family":Quuxworth}]}`,
			"", "not valid JSON"},
		{"empty", ``, "", "empty input"},
		{"JSON array", `[{"resourceType":"Patient"}]`, "", "not a JSON object"},
		{"JSON string", `"Zebediah Quuxworth"`, "", "not a JSON object"},
		{"unknown resource type",
			`{"resourceType":"Zebediah Quuxworth",` + phiPatient + `}`,
			"resourceType", "unknown FHIR R4 resource type"},
		{"unknown resource type in a bundle entry",
			`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Quuxworth","name":"Zebediah"}}]}`,
			"Bundle.entry[0].resource.resourceType", "unknown FHIR R4 resource type"},
		{"unknown contained resource type",
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Zebediah"}]}`,
			"Observation.contained[0].resourceType", "unknown FHIR R4 resource type"},
		{"missing required field",
			`{"resourceType":"Observation","code":{"text":"Zebediah Quuxworth"}}`,
			"Observation.status", "missing required field"},
		{"reference to the wrong type",
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Medication/Zebediah"}}`,
			"Observation.subject", "invalid reference"},
		{"bad id",
			`{"resourceType":"Patient","id":"Zebediah Quuxworth!"}`,
			"Patient.id", "invalid Id format"},
		{"empty code",
			`{"resourceType":"Bundle","type":""}`,
			"Bundle.type", "empty string"},
		{"empty string in an entry",
			`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Quuxworth","given":["Zebediah",""]}]}}]}`,
			"Bundle.entry[0].resource.Patient.name[0].given[1]", "empty string"},
		{"two values for a choice",
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"Zebediah","valueBoolean":true}`,
			"Observation", "multiple values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := Validate([]byte(tc.in))
			if err == nil {
				t.Fatalf("Validate = %q, nil; want an error", rt)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if fe.Path != tc.path || !strings.Contains(fe.Problem, tc.problem) {
				t.Errorf("got path %q problem %q, want path %q problem containing %q", fe.Path, fe.Problem, tc.path, tc.problem)
			}
			msg := err.Error()
			for _, phi := range plantedPHI {
				if strings.Contains(msg, phi) {
					t.Errorf("error text %q contains planted PHI %q", msg, phi)
				}
			}
		})
	}
}

func TestValidateManyProblems(t *testing.T) {
	_, err := Validate([]byte(`{"resourceType":"Observation","status":"finalx","valueQuantity":{"value":"high"},"issued":"yesterday","bogus":1}`))
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %v", err)
	}
	paths := []string{fe.Path}
	for _, o := range fe.Others {
		paths = append(paths, o.Path)
	}
	want := []string{"Observation.bogus", "Observation.issued", "Observation.status", "Observation.valueQuantity.value"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths %v, want %v", paths, want)
	}
	for _, p := range want {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%q does not mention %s", err.Error(), p)
		}
	}
}

func TestValidateOK(t *testing.T) {
	for _, tc := range []struct{ in, rt string }{
		{`{"resourceType":"Patient"}`, "Patient"},
		{`  {"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}}  `, "Observation"},
		{`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`, "Bundle"},
	} {
		rt, err := Validate([]byte(tc.in))
		if err != nil || rt != tc.rt {
			t.Errorf("Validate(%s) = %q, %v; want %q", tc.in, rt, err, tc.rt)
		}
	}
}

func TestCanonicalKeepsDecimals(t *testing.T) {
	out, err := Canonical([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"value":1.50`) {
		t.Errorf("canonical form lost the decimal's precision: %s", out)
	}
}

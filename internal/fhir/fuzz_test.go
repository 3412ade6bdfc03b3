package fhir

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var fuzzKey = []byte("fuzz-key-0123456789abcdef")

// FuzzValidate feeds arbitrary bytes to the validator and, when they are a
// valid resource, to everything downstream of it. Nothing may panic, every
// error must be an *Error, the canonical form must be stable, and errors
// must not echo the planted name (which has a space, so neither the
// element-name nor the code-token rule may show it). Seeds are below and in
// testdata/fuzz/FuzzValidate.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","name":[{"family":"Quuxworth","given":["Zebediah Quuxworth"]}],"birthDate":"1994-02-01"}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"Zebediah Quuxworth"},"valueQuantity":{"value":1.50,"unit":"mg"},"effectiveDateTime":"2020-01-01T10:00:00+01:00"}`,
		`{"resourceType":"Observation","status":"Zebediah Quuxworth","code":{"text":"x"}}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0f3a8a32-33e0-4c0b-9b6f-2c1b8f2a1e11","resource":{"resourceType":"Patient","gender":"female"}}]}`,
		`{"resourceType":"ExplanationOfBenefit","contained":[{"resourceType":"Coverage","id":"c","status":"active","beneficiary":{"reference":"Patient/p"},"payor":[{"display":"Zebediah Quuxworth"}]}]}`,
		`{"resourceType":"Zebediah Quuxworth"}`,
		`{"resourceType":"Patient","Zebediah Quuxworth":1}`,
		`{"resourceType":"Patient","_birthDate":{"extension":[{"url":"x","valueString":"Zebediah Quuxworth"}]}}`,
		`[]`, `{`, `null`, `""`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rt, err := Validate(data)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			if fe.Problem == "" {
				t.Fatalf("error without a problem: %+v", fe)
			}
			if strings.Contains(err.Error(), "Zebediah Quuxworth") {
				t.Fatalf("error echoes input: %v", err)
			}
			return
		}
		if !IsResourceType(rt) {
			t.Fatalf("Validate returned %q", rt)
		}
		canon, err := Canonical(data)
		if err != nil {
			t.Fatalf("valid input has no canonical form: %v", err)
		}
		again, err := Canonical(canon)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical form is not stable: %v\n%s\n%s", err, canon, again)
		}
		if rt == "Bundle" {
			if split, err := SplitBundle(data); err == nil {
				_ = Timeline(split.Records)
			}
		} else if r, err := ImportResource(data); err == nil {
			_ = Timeline([]Record{r})
		}
		_, _ = Deidentify(data, DeidOptions{Key: fuzzKey})
		_, _ = PHIStrings(data)
	})
}

package fhir

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestSplitSyntheaBundles(t *testing.T) {
	patients, _ := syntheaBundles(t)
	total := map[string]int{}
	var sizes, recs []int
	for _, bf := range patients {
		split, err := SplitBundle(bf.data)
		if err != nil {
			t.Errorf("%s: %v", bf.name, err)
			continue
		}
		entries := len(rawEntries(t, bf.data))
		sizes = append(sizes, entries)
		recs = append(recs, len(split.Records))
		skipped := 0
		for typ, n := range split.Skipped {
			if !IsDirectory(typ) {
				t.Errorf("%s: skipped %d %s, which is not directory data", bf.name, n, typ)
			}
			skipped += n
		}
		if got := len(split.Records) + skipped; got != entries {
			t.Errorf("%s: %d records + %d skipped != %d entries", bf.name, len(split.Records), skipped, entries)
		}
		if split.Skipped["Organization"] == 0 || split.Skipped["Practitioner"] == 0 {
			t.Errorf("%s: Skipped = %v, want Organization and Practitioner counted", bf.name, split.Skipped)
		}
		encounters := map[string]bool{}
		ids := map[string]bool{}
		patientsSeen := 0
		for _, r := range split.Records {
			if r.ResourceType == "Encounter" {
				encounters[r.ID] = true
			}
			if r.ResourceType == "Patient" {
				patientsSeen++
			}
		}
		if patientsSeen != 1 {
			t.Errorf("%s: %d Patient records, want 1", bf.name, patientsSeen)
		}
		for _, r := range split.Records {
			total[r.Category]++
			if r.ID == "" || ids[r.ID] {
				t.Errorf("%s: %s record with empty or repeated id %q", bf.name, r.ResourceType, r.ID)
			}
			ids[r.ID] = true
			if !slices.Contains(Categories(), r.Category) {
				t.Errorf("%s: %s has unknown category %q", bf.name, r.ResourceType, r.Category)
			}
			if rt, err := Validate(r.JSON); err != nil || rt != r.ResourceType {
				t.Errorf("%s: record %s/%s does not validate as itself: %q, %v", bf.name, r.ResourceType, r.ID, rt, err)
			}
			if r.Encounter != "" && !encounters[r.Encounter] {
				t.Errorf("%s: %s/%s refers to encounter %s, not in the bundle", bf.name, r.ResourceType, r.ID, r.Encounter)
			}
			if r.ResourceType != "Patient" && r.Date == "" {
				t.Errorf("%s: %s/%s has no date", bf.name, r.ResourceType, r.ID)
			} else if _, ok := ParseDate(r.Date); r.Date != "" && !ok {
				t.Errorf("%s: %s/%s has unparseable date %q", bf.name, r.ResourceType, r.ID, r.Date)
			}
			switch r.ResourceType {
			case "Observation", "Condition", "Procedure", "Immunization", "DiagnosticReport", "MedicationRequest", "CarePlan":
				if r.Encounter == "" {
					t.Errorf("%s: %s/%s has no encounter", bf.name, r.ResourceType, r.ID)
				}
			}
		}
	}
	for _, c := range []string{CategoryLab, CategoryVitalSigns, CategoryCondition, CategoryEncounter, CategoryImmunization, CategoryMedication, CategoryClaim, CategoryDemographics} {
		if total[c] == 0 {
			t.Errorf("no %s records across the Synthea bundles (counts %v)", c, total)
		}
	}
	if len(sizes) > 0 {
		t.Logf("%d patient bundles; entries per bundle %s; records per bundle %s; records by category %v", len(sizes), spread(sizes), spread(recs), total)
	}
}

// spread writes min, median and max.
func spread(v []int) string {
	s := slices.Clone(v)
	sort.Ints(s)
	n := len(s)
	median := float64(s[n/2])
	if n%2 == 0 {
		median = float64(s[n/2-1]+s[n/2]) / 2
	}
	return fmt.Sprintf("min %d, median %.1f, max %d", s[0], median, s[n-1])
}

func TestSplitDirectoryBundles(t *testing.T) {
	_, dirs := syntheaBundles(t)
	if len(dirs) == 0 {
		t.Fatal("no hospitalInformation/practitionerInformation bundles in the shared data")
	}
	for _, bf := range dirs {
		split, err := SplitBundle(bf.data)
		if err != nil {
			t.Errorf("%s: %v", bf.name, err)
			continue
		}
		if len(split.Records) != 0 {
			t.Errorf("%s: %d records, want none", bf.name, len(split.Records))
		}
		n := 0
		for _, c := range split.Skipped {
			n += c
		}
		if want := len(rawEntries(t, bf.data)); n != want || want == 0 {
			t.Errorf("%s: skipped %v, want all %d entries", bf.name, split.Skipped, want)
		}
	}
}

// TestImportKeepsContent checks that canonical JSON says the same as the
// Synthea input: import normalises form, not content.
func TestImportKeepsContent(t *testing.T) {
	patients, _ := syntheaBundles(t)
	for _, bf := range patients[:3] {
		for _, raw := range rawEntries(t, bf.data) {
			rec, err := ImportResource(raw)
			if err != nil {
				t.Fatalf("%s: %v", bf.name, err)
			}
			if !jsonEqual(t, raw, rec.JSON) {
				t.Errorf("%s: %s/%s: canonical JSON differs from the input\nin:  %s\nout: %s", bf.name, rec.ResourceType, rec.ID, raw, rec.JSON)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	patients, _ := syntheaBundles(t)
	for _, bf := range patients {
		split, err := SplitBundle(bf.data)
		if err != nil {
			t.Fatalf("%s: %v", bf.name, err)
		}
		var jsons [][]byte
		for _, r := range split.Records {
			jsons = append(jsons, r.JSON)
		}
		out, err := ExportBundle(jsons)
		if err != nil {
			t.Fatalf("%s: export: %v", bf.name, err)
		}
		if rt, err := Validate(out); err != nil || rt != "Bundle" {
			t.Fatalf("%s: exported bundle: %q, %v", bf.name, rt, err)
		}
		again, err := SplitBundle(out)
		if err != nil {
			t.Fatalf("%s: re-import: %v", bf.name, err)
		}
		if len(again.Records) != len(split.Records) || len(again.Skipped) != 0 {
			t.Fatalf("%s: re-import gave %d records (skipped %v), want %d", bf.name, len(again.Records), again.Skipped, len(split.Records))
		}
		byID := map[string]Record{}
		for _, r := range again.Records {
			byID[r.ResourceType+"/"+r.ID] = r
		}
		for _, r := range split.Records {
			r2, ok := byID[r.ResourceType+"/"+r.ID]
			if !ok {
				t.Errorf("%s: %s/%s lost in the round trip", bf.name, r.ResourceType, r.ID)
				continue
			}
			if !jsonEqual(t, r.JSON, r2.JSON) {
				t.Errorf("%s: %s/%s changed in the round trip", bf.name, r.ResourceType, r.ID)
			}
			if r.Category != r2.Category || r.Date != r2.Date || r.Encounter != r2.Encounter {
				t.Errorf("%s: %s/%s record fields changed: %+v vs %+v", bf.name, r.ResourceType, r.ID,
					[]string{r.Category, r.Date, r.Encounter}, []string{r2.Category, r2.Date, r2.Encounter})
			}
		}
	}
}

func TestExportBundleRejects(t *testing.T) {
	obs := []byte(`{"resourceType":"Observation","id":"a","status":"final","code":{"text":"x"}}`)
	noID := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`)
	bad := []byte(`{"resourceType":"Observation","id":"b","status":"finalx","code":{"text":"x"}}`)
	for _, tc := range []struct {
		name    string
		records [][]byte
		path    string
	}{
		{"missing id", [][]byte{obs, noID}, "Bundle.entry[1].resource.id"},
		{"duplicate", [][]byte{obs, obs}, "Bundle.entry[1].resource.id"},
		{"invalid resource", [][]byte{obs, bad}, "Bundle.entry[1].resource.Observation.status"},
		{"not JSON", [][]byte{[]byte(`{`)}, "Bundle.entry[0].resource"},
	} {
		_, err := ExportBundle(tc.records)
		var fe *Error
		if !errors.As(err, &fe) || fe.Path != tc.path {
			t.Errorf("%s: got %v, want an *Error at %s", tc.name, err, tc.path)
		}
	}
	out, err := ExportBundle(nil)
	if err != nil || !strings.Contains(string(out), `"collection"`) {
		t.Errorf("empty export: %s, %v", out, err)
	}
	out, err = ExportBundle([][]byte{obs, []byte(`{"resourceType":"Patient","id":"27de96c6-6910-4f0f-8f10-00ce6090f447"}`)})
	if err != nil || !strings.Contains(string(out), `"fullUrl":"Observation/a"`) || !strings.Contains(string(out), `"fullUrl":"urn:uuid:27de96c6-6910-4f0f-8f10-00ce6090f447"`) {
		t.Errorf("export: %s, %v", out, err)
	}
}

func TestSplitBundleRejects(t *testing.T) {
	_, err := SplitBundle([]byte(`{"resourceType":"Patient"}`))
	var fe *Error
	if !errors.As(err, &fe) || fe.Path != "resourceType" {
		t.Errorf("non-bundle: %v", err)
	}
	_, err = SplitBundle([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":{"resourceType":"Patient","id":"p"}},
		{"resource":{"resourceType":"Observation","id":"o","status":"finalx","code":{"text":"x"}}}]}`))
	if !errors.As(err, &fe) || fe.Path != "Bundle.entry[1].resource.Observation.status" {
		t.Errorf("bad entry: %v", err)
	}
}

func TestSplitBundleIDFromFullURL(t *testing.T) {
	split, err := SplitBundle([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:0f3a8a32-33e0-4c0b-9b6f-2c1b8f2a1e11","resource":{"resourceType":"Patient","gender":"female"},"request":{"method":"POST","url":"Patient"}},
		{"request":{"method":"DELETE","url":"Patient/x"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(split.Records) != 1 || split.Records[0].ID != "0f3a8a32-33e0-4c0b-9b6f-2c1b8f2a1e11" || !strings.Contains(string(split.Records[0].JSON), `"id":"0f3a8a32-33e0-4c0b-9b6f-2c1b8f2a1e11"`) {
		t.Errorf("records = %+v", split.Records)
	}
	if split.Skipped[SkippedNoResource] != 1 {
		t.Errorf("skipped = %v", split.Skipped)
	}
}

func TestImportResource(t *testing.T) {
	rec, err := ImportResource([]byte(`{"resourceType":"Observation","id":"o1","status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}]},
		"encounter":{"reference":"Encounter/e1"},
		"effectivePeriod":{"start":"2020-02-03T04:05:06+01:00"},"issued":"2020-02-04T00:00:00Z",
		"valueQuantity":{"value":5.40,"unit":"mmol/L"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Record{ResourceType: "Observation", Category: CategoryLab, ID: "o1", Date: "2020-02-03T04:05:06+01:00", Encounter: "e1"}
	rec.JSON = nil
	if rec.ResourceType != want.ResourceType || rec.Category != want.Category || rec.ID != want.ID || rec.Date != want.Date || rec.Encounter != want.Encounter {
		t.Errorf("got %+v, want %+v", rec, want)
	}
	_, err = ImportResource([]byte(`{"resourceType":"Bundle","type":"collection"}`))
	var fe *Error
	if !errors.As(err, &fe) || fe.Path != "resourceType" {
		t.Errorf("bundle: %v", err)
	}
}

func TestCategorize(t *testing.T) {
	for _, tc := range []struct {
		rt, json, want string
	}{
		{"Observation", `{"category":[{"coding":[{"code":"laboratory"}]}]}`, CategoryLab},
		{"Observation", `{"category":[{"coding":[{"code":"vital-signs"}]}]}`, CategoryVitalSigns},
		{"Observation", `{"category":[{"coding":[{"code":"survey"}]}]}`, CategoryObservation},
		{"Observation", `{}`, CategoryObservation},
		{"Observation", `not json`, CategoryObservation},
		{"DiagnosticReport", `{"category":[{"coding":[{"code":"LAB"}]}]}`, CategoryLab},
		{"DiagnosticReport", `{"category":[{"coding":[{"code":"RAD"}]}]}`, CategoryImaging},
		{"Condition", ``, CategoryCondition},
		{"MedicationStatement", ``, CategoryMedication},
		{"MedicationAdministration", ``, CategoryMedication},
		{"Medication", ``, CategoryMedication},
		{"Immunization", ``, CategoryImmunization},
		{"Encounter", ``, CategoryEncounter},
		{"Procedure", ``, CategoryProcedure},
		{"AllergyIntolerance", ``, CategoryAllergy},
		{"CareTeam", ``, CategoryCarePlan},
		{"Goal", ``, CategoryCarePlan},
		{"Coverage", ``, CategoryClaim},
		{"ExplanationOfBenefit", ``, CategoryClaim},
		{"ImagingStudy", ``, CategoryImaging},
		{"Media", ``, CategoryImaging},
		{"Composition", ``, CategoryDocument},
		{"DocumentReference", ``, CategoryDocument},
		{"Device", ``, CategoryDevice},
		{"Patient", ``, CategoryDemographics},
		{"Provenance", ``, CategoryProvenance},
		{"Organization", ``, CategoryOther},
		{"Basic", ``, CategoryOther},
	} {
		if got := Categorize(tc.rt, []byte(tc.json)); got != tc.want {
			t.Errorf("Categorize(%s, %s) = %q, want %q", tc.rt, tc.json, got, tc.want)
		}
	}
}

func BenchmarkSplitLargestBundle(b *testing.B) {
	patients, _ := syntheaBundles(b)
	largest := patients[0]
	for _, p := range patients {
		if len(p.data) > len(largest.data) {
			largest = p
		}
	}
	b.SetBytes(int64(len(largest.data)))
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := SplitBundle(largest.data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/bundle")
}

// TestConcurrentUse runs imports side by side (the codecs are shared).
func TestConcurrentUse(t *testing.T) {
	patients, _ := syntheaBundles(t)
	done := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func(b []byte) {
			s, err := SplitBundle(b)
			if err == nil {
				for _, r := range s.Records[:10] {
					if _, err = Deidentify(r.JSON, DeidOptions{Key: testKey}); err != nil {
						break
					}
				}
			}
			done <- err
		}(patients[i%len(patients)].data)
	}
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

package fhir

import (
	"regexp"
	"strings"
	"testing"
)

func TestTimelineSynthea(t *testing.T) {
	patients, _ := syntheaBundles(t)
	measured := regexp.MustCompile(`^Body Height: \d+(\.\d{1,2})? cm$`)
	bp := regexp.MustCompile(`^Blood Pressure: \d+(\.\d+)?/\d+(\.\d+)? mm\[Hg\]$`)
	var sawHeight, sawBP, sawClaim bool
	for _, bf := range patients {
		split, err := SplitBundle(bf.data)
		if err != nil {
			t.Fatalf("%s: %v", bf.name, err)
		}
		tl := Timeline(split.Records)
		if len(tl) != len(split.Records) {
			t.Fatalf("%s: %d entries for %d records", bf.name, len(tl), len(split.Records))
		}
		for i := 1; i < len(tl); i++ {
			a, okA := ParseDate(tl[i-1].Date)
			b, okB := ParseDate(tl[i].Date)
			if (!okA && okB) || (okA && okB && a.Before(b)) {
				t.Errorf("%s: entry %d (%s) before entry %d (%s): not newest first", bf.name, i-1, tl[i-1].Date, i, tl[i].Date)
			}
		}
		for _, e := range tl {
			switch e.Category {
			case CategoryLab, CategoryVitalSigns, CategoryObservation, CategoryCondition, CategoryEncounter,
				CategoryImmunization, CategoryMedication, CategoryClaim, CategoryProcedure, CategoryCarePlan, CategoryDemographics:
				if strings.TrimSpace(e.Title) == "" {
					t.Errorf("%s: %s %s entry without a title", bf.name, e.Category, e.ResourceType)
				}
			}
			switch {
			case strings.HasPrefix(e.Title, "Body Height"):
				sawHeight = true
				if !measured.MatchString(e.Title) {
					t.Errorf("%s: height title %q lacks value and unit", bf.name, e.Title)
				}
			case strings.HasPrefix(e.Title, "Blood Pressure"):
				sawBP = true
				if !bp.MatchString(e.Title) {
					t.Errorf("%s: blood pressure title %q", bf.name, e.Title)
				}
			case e.ResourceType == "Claim":
				sawClaim = true
				if !regexp.MustCompile(`^Claim \d+\.\d\d USD$`).MatchString(e.Title) {
					t.Errorf("%s: claim title %q lacks its total", bf.name, e.Title)
				}
			case e.ResourceType == "Patient":
				if !strings.HasPrefix(e.Title, "Patient: ") || e.Date != "" {
					t.Errorf("%s: patient entry %+v", bf.name, e)
				}
			}
		}
		if last := tl[len(tl)-1]; last.ResourceType != "Patient" {
			t.Errorf("%s: undated Patient entry should come last, got %+v", bf.name, last)
		}
	}
	if !sawHeight || !sawBP || !sawClaim {
		t.Errorf("missing entries: height %v, blood pressure %v, claim %v", sawHeight, sawBP, sawClaim)
	}
}

func rec(t *testing.T, js string) Record {
	t.Helper()
	r, err := ImportResource([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTimelineTitlesAndOrder(t *testing.T) {
	records := []Record{
		rec(t, `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes"}]},"onsetDateTime":"2020"}`),
		rec(t, `{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2","display":"Body Height"}]},"effectiveDateTime":"2020-06-01T00:00:00+02:00","valueQuantity":{"value":178.69452709041775,"unit":"cm"}}`),
		rec(t, `{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Glucose"},"effectiveDateTime":"2020-05-31T23:00:00Z","valueQuantity":{"value":0.0123456,"unit":"g/L"}}`),
		rec(t, `{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order","subject":{"reference":"Patient/p"},"medicationCodeableConcept":{"text":"Ibuprofen 200 MG Oral Tablet"},"authoredOn":"2021-01-01"}`),
		rec(t, `{"resourceType":"Immunization","id":"i","status":"completed","patient":{"reference":"Patient/p"},"vaccineCode":{"coding":[{"display":"Influenza"}]},"occurrenceDateTime":"2019-10-10"}`),
		rec(t, `{"resourceType":"Encounter","id":"e","status":"finished","class":{"code":"EMER"},"period":{"start":"2018-01-01T10:00:00Z"}}`),
		rec(t, `{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"Smoking"},"valueCodeableConcept":{"text":"Never smoker"}}`),
	}
	tl := Timeline(records)
	var got []string
	for _, e := range tl {
		got = append(got, e.Title)
	}
	want := []string{
		"Ibuprofen 200 MG Oral Tablet", // 2021-01-01
		"Glucose: 0.0123 g/L",          // 2020-05-31T23:00Z
		"Body Height: 178.69 cm",       // 2020-06-01T00:00+02:00 = 2020-05-31T22:00Z
		"Diabetes",                     // 2020
		"Influenza",                    // 2019-10-10
		"Emergency encounter",          // 2018
		"Smoking: Never smoker",        // no date
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("titles\n got %q\nwant %q", got, want)
	}
}

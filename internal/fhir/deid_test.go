package fhir

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("medledger-test-key-0123456789abcdef")

// dateLike matches any string that holds more of a date than its year.
var (
	dateLike   = regexp.MustCompile(`^\d{4}-\d{2}`)
	dateInText = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	yearOnly   = regexp.MustCompile(`^\d{4}$`)
)

// walkStrings calls f with the path and value of every string in v.
func walkStrings(path string, v any, f func(path, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walkStrings(path+"."+k, e, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(path+"[]", e, f)
		}
	case string:
		f(path, x)
	}
}

func TestDeidentifySynthea(t *testing.T) {
	patients, _ := syntheaBundles(t)
	asOf := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, bf := range patients {
		phi, err := PHIStrings(bf.data)
		if err != nil {
			t.Fatalf("%s: %v", bf.name, err)
		}
		if len(phi) < 6 {
			t.Fatalf("%s: only %d PHI strings: %q", bf.name, len(phi), phi)
		}
		// Every resource of the bundle, directory data included.
		var outs [][]byte
		targets := map[string]bool{}
		var originalIDs []string
		for _, raw := range rawEntries(t, bf.data) {
			var head struct{ ResourceType, ID string }
			_ = json.Unmarshal(raw, &head)
			originalIDs = append(originalIDs, head.ID)
			out, err := Deidentify(raw, DeidOptions{Key: testKey, AsOf: asOf})
			if err != nil {
				t.Fatalf("%s: %s/%s: %v\n%s", bf.name, head.ResourceType, head.ID, err, out)
			}
			if rt, err := Validate(out); err != nil || rt != head.ResourceType {
				t.Errorf("%s: de-identified %s does not validate: %v", bf.name, head.ResourceType, err)
			}
			var o map[string]any
			if err := json.Unmarshal(out, &o); err != nil {
				t.Fatal(err)
			}
			id, _ := o["id"].(string)
			if id != Pseudonym(testKey, head.ID) {
				t.Errorf("%s: id %q is not the pseudonym of the original", bf.name, id)
			}
			targets["urn:uuid:"+id] = true
			targets[head.ResourceType+"/"+id] = true
			outs = append(outs, out)
		}
		for _, out := range outs {
			text := string(out)
			for _, s := range phi {
				if strings.Contains(text, s) {
					t.Errorf("%s: de-identified output contains PHI %q", bf.name, s)
				}
			}
			for _, id := range originalIDs {
				if id != "" && strings.Contains(text, id) {
					t.Errorf("%s: de-identified output contains original id %s", bf.name, id)
				}
			}
			if m := dateInText.FindString(text); m != "" {
				t.Errorf("%s: de-identified output contains a date %q", bf.name, m)
			}
			var o any
			_ = json.Unmarshal(out, &o)
			walkStrings("", o, func(path, s string) {
				if dateLike.MatchString(s) {
					t.Errorf("%s: %s = %q looks like a date with more than a year", bf.name, path, s)
				}
				if strings.HasSuffix(path, ".postalCode") && len(s) != 3 {
					t.Errorf("%s: %s = %q is not a 3-digit ZIP", bf.name, path, s)
				}
				if strings.HasSuffix(path, ".reference") && !strings.HasPrefix(s, "#") && !targets[s] {
					t.Errorf("%s: %s = %q does not resolve within the de-identified set", bf.name, path, s)
				}
				if (strings.HasSuffix(path, ".birthDate") || strings.HasSuffix(path, "DateTime") || strings.HasSuffix(path, ".start") || strings.HasSuffix(path, ".end")) &&
					!yearOnly.MatchString(s) {
					t.Errorf("%s: %s = %q is not a year", bf.name, path, s)
				}
			})
		}
		// The whole bundle in one go gives the same resources.
		whole, err := Deidentify(bf.data, DeidOptions{Key: testKey, AsOf: asOf})
		if err != nil {
			t.Fatalf("%s: whole bundle: %v", bf.name, err)
		}
		entries := rawEntries(t, whole)
		if len(entries) != len(outs) {
			t.Fatalf("%s: whole bundle has %d entries, want %d", bf.name, len(entries), len(outs))
		}
		for i := range entries {
			if !jsonEqual(t, entries[i], outs[i]) {
				t.Errorf("%s: entry %d differs between whole-bundle and per-resource de-identification", bf.name, i)
			}
		}
		for _, s := range phi {
			if strings.Contains(string(whole), s) {
				t.Errorf("%s: de-identified bundle contains PHI %q", bf.name, s)
			}
		}
		var wb struct {
			Entry []struct {
				FullURL  string `json:"fullUrl"`
				Resource struct {
					ID string `json:"id"`
				} `json:"resource"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(whole, &wb)
		for _, e := range wb.Entry {
			if e.FullURL != "urn:uuid:"+e.Resource.ID {
				t.Errorf("%s: fullUrl %s does not match id %s", bf.name, e.FullURL, e.Resource.ID)
			}
		}
	}
}

func deidObj(t *testing.T, in string, opts DeidOptions) map[string]any {
	t.Helper()
	if opts.Key == nil {
		opts.Key = testKey
	}
	out, err := Deidentify([]byte(in), opts)
	if err != nil {
		t.Fatalf("Deidentify: %v\n%s", err, out)
	}
	var o map[string]any
	if err := json.Unmarshal(out, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDeidentifyAges(t *testing.T) {
	asOf := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	old := deidObj(t, `{"resourceType":"Patient","id":"p1","birthDate":"1930-05-05","deceasedBoolean":false}`, DeidOptions{AsOf: asOf})
	if _, ok := old["birthDate"]; ok {
		t.Errorf("birthDate of a 94-year-old kept: %v", old)
	}
	if ext, _ := json.Marshal(old["extension"]); !strings.Contains(string(ext), AgeGroupExtensionURL) || !strings.Contains(string(ext), `"90+"`) {
		t.Errorf("no 90+ age group: %s", ext)
	}
	young := deidObj(t, `{"resourceType":"Patient","id":"p2","birthDate":"1990-05-05"}`, DeidOptions{AsOf: asOf})
	if young["birthDate"] != "1990" || young["extension"] != nil {
		t.Errorf("young patient: %v", young)
	}
	// 89 at AsOf: still 89, year kept.
	edge := deidObj(t, `{"resourceType":"Patient","id":"p3","birthDate":"1934-12-31"}`, DeidOptions{AsOf: asOf})
	if edge["birthDate"] != "1934" {
		t.Errorf("89-year-old: %v", edge)
	}
	// Died at 70: the birth year does not reveal an age over 89.
	dead := deidObj(t, `{"resourceType":"Patient","id":"p4","birthDate":"1920-01-02","deceasedDateTime":"1990-03-04"}`, DeidOptions{AsOf: asOf})
	if dead["birthDate"] != "1920" || dead["deceasedDateTime"] != "1990" {
		t.Errorf("deceased patient: %v", dead)
	}
	cond := deidObj(t, `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"onsetAge":{"value":95,"unit":"a","system":"http://unitsofmeasure.org","code":"a"}}`, DeidOptions{})
	onset := cond["onsetAge"].(map[string]any)
	if onset["value"] != 90.0 || onset["comparator"] != ">=" {
		t.Errorf("onsetAge = %v", onset)
	}
}

func TestDeidentifyZIP(t *testing.T) {
	for in, want := range map[string]string{"02720": "027", "02720-1234": "027", "03601": "000", "89012": "000", "K1A 0B1": ""} {
		o := deidObj(t, `{"resourceType":"Patient","id":"p","address":[{"line":["1 Main St"],"city":"Fall River","state":"MA","postalCode":"`+in+`","country":"US"}]}`, DeidOptions{})
		addr := o["address"].([]any)[0].(map[string]any)
		got, _ := addr["postalCode"].(string)
		if got != want || addr["line"] != nil || addr["city"] != nil || addr["state"] != "MA" {
			t.Errorf("ZIP %q: address %v, want postalCode %q", in, addr, want)
		}
	}
}

func TestDeidentifyShift(t *testing.T) {
	o := deidObj(t, `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},
		"effectiveDateTime":"2011-12-28T22:28:27+00:00","issued":"2011-12-28T22:28:27.453+00:00"}`, DeidOptions{ShiftDays: 10})
	if o["effectiveDateTime"] != "2012-01-07T22:28:27Z" || o["issued"] != "2012-01-07T22:28:27.453Z" {
		t.Errorf("shifted: %v", o)
	}
	p := deidObj(t, `{"resourceType":"Patient","id":"p","birthDate":"1994-02-01"}`, DeidOptions{ShiftDays: -3, AsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if p["birthDate"] != "1994-01-29" {
		t.Errorf("shifted birthDate: %v", p)
	}
	y := deidObj(t, `{"resourceType":"Patient","id":"p","birthDate":"1994"}`, DeidOptions{ShiftDays: 40, AsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if y["birthDate"] != "1994" {
		t.Errorf("year-only birthDate: %v", y)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		n := PatientShiftDays(testKey, id, 30)
		if n == 0 || n < -30 || n > 30 || n != PatientShiftDays(testKey, id, 30) {
			t.Errorf("PatientShiftDays(%s) = %d", id, n)
		}
	}
}

func TestDeidentifyRemovals(t *testing.T) {
	in := `{"resourceType":"Media","id":"m1","status":"completed",
		"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Photo of Zebediah Quuxworth</div>"},
		"identifier":[{"value":"MRN-778899"}],
		"subject":{"reference":"https://ehr.example.org/fhir/Patient/pat-778899/_history/3","display":"Zebediah Quuxworth"},
		"content":{"contentType":"image/jpeg","data":"WmViZWRpYWg=","url":"https://ehr.example.org/photos/1.jpg","title":"Zebediah at home","creation":"2019-04-05"},
		"note":[{"text":"Zebediah asked for a copy"}],
		"deviceName":"Serial SN-12345",
		"meta":{"lastUpdated":"2019-04-05T01:02:03Z","source":"https://ehr.example.org","tag":[{"code":"x"}]}}`
	out, err := Deidentify([]byte(in), DeidOptions{Key: testKey})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, s := range []string{"Zebediah", "Quuxworth", "MRN-778899", "WmViZWRpYWg", "ehr.example.org", "SN-12345", "2019-04", "div", "pat-778899"} {
		if strings.Contains(string(out), s) {
			t.Errorf("output contains %q: %s", s, out)
		}
	}
	var o map[string]any
	_ = json.Unmarshal(out, &o)
	if ref := o["subject"].(map[string]any)["reference"]; ref != "Patient/"+Pseudonym(testKey, "pat-778899") {
		t.Errorf("subject = %v", ref)
	}
	if c := o["content"].(map[string]any); c["contentType"] != "image/jpeg" || c["creation"] != "2019" {
		t.Errorf("content = %v", c)
	}
}

func TestDeidentifyNeedsKeyAndValidInput(t *testing.T) {
	if _, err := Deidentify([]byte(`{"resourceType":"Patient"}`), DeidOptions{}); err == nil {
		t.Error("no key: no error")
	}
	_, err := Deidentify([]byte(`{"resourceType":"Patient","gender":"Zebediah"}`), DeidOptions{Key: testKey})
	var fe *Error
	if !errors.As(err, &fe) || strings.Contains(err.Error(), "Zebediah") {
		t.Errorf("invalid input: %v", err)
	}
}

func TestPseudonym(t *testing.T) {
	a := Pseudonym(testKey, "27de96c6-6910-4f0f-8f10-00ce6090f447")
	if a != Pseudonym(testKey, "27de96c6-6910-4f0f-8f10-00ce6090f447") {
		t.Error("not deterministic")
	}
	if a == Pseudonym([]byte("another-key-0123456789"), "27de96c6-6910-4f0f-8f10-00ce6090f447") {
		t.Error("same pseudonym under another key")
	}
	if !uuidRE.MatchString(a) || a[14] != '8' {
		t.Errorf("%q is not a version-8 UUID", a)
	}
}

func TestPHIStrings(t *testing.T) {
	got, err := PHIStrings([]byte(`{"resourceType":"Bundle","type":"collection","entry":[
		{"resource":{"resourceType":"Patient",` + phiPatient + `,
			"name":[{"prefix":["Mr."],"given":["Zebediah","Q."],"family":"Quuxworth"},{"given":["Li"],"family":"Wu"}],
			"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"Matilda Hoot"}],
			"contact":[{"name":{"given":["Ruth"],"family":"Quuxworth"},"telecom":[{"system":"email","value":"ruth@example.org"}]}]}},
		{"resource":{"resourceType":"Practitioner","name":[{"given":["Greta"],"family":"Doctor"}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"42 Wallaby Way", "555-867-5309", "999-12-3456", "Li Wu", "Matilda Hoot", "Mr. Zebediah Q. Quuxworth", "Ruth Quuxworth", "Zebediah Q. Quuxworth", "ruth@example.org"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("PHIStrings = %q\nwant %q", got, want)
	}
}

func TestDeidentifyRequiredInstant(t *testing.T) {
	o := deidObj(t, `{"resourceType":"Provenance","id":"pv","target":[{"reference":"Observation/o1"}],
		"recorded":"2019-04-05T01:02:03.456+02:00","agent":[{"who":{"reference":"Practitioner/dr","display":"Dr. Greta Doctor"}}],
		"signature":[{"type":[{"system":"urn:iso-astm:E1762-95:2013","code":"1.2.840.10065.1.12.1.1"}],"when":"2019-04-05T01:02:03Z","who":{"reference":"Practitioner/dr"},"data":"c2lnbmF0dXJl"}]}`, DeidOptions{})
	if o["recorded"] != "2019-01-01T00:00:00Z" {
		t.Errorf("recorded = %v", o["recorded"])
	}
	if o["signature"] != nil {
		t.Errorf("signature kept: %v", o["signature"])
	}
	who := o["agent"].([]any)[0].(map[string]any)["who"].(map[string]any)
	if who["display"] != nil || who["reference"] != "Practitioner/"+Pseudonym(testKey, "dr") {
		t.Errorf("agent.who = %v", who)
	}
}

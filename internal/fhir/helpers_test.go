package fhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// sharedData returns the shared test-data directory, which lives beside the
// repository checkout (../../../shared/data from this package). Without it
// the test is skipped, except under CI=true, where it fails: CI must run
// these tests.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		msg := "shared test data not found at " + dir + " (expected beside the repository checkout): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI=true requires it")
		}
		t.Skip(msg)
	}
	return dir
}

type bundleFile struct {
	name string
	data []byte
}

// syntheaBundles reads the Synthea bundles: patient bundles, and the
// hospital and practitioner directory bundles.
func syntheaBundles(t testing.TB) (patients, directories []bundleFile) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedData(t), "synthea", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bf := bundleFile{name: filepath.Base(f), data: b}
		if strings.HasPrefix(bf.name, "hospitalInformation") || strings.HasPrefix(bf.name, "practitionerInformation") {
			directories = append(directories, bf)
		} else {
			patients = append(patients, bf)
		}
	}
	if len(patients) == 0 {
		t.Fatal("no Synthea patient bundles in the shared data")
	}
	return patients, directories
}

// rawEntries returns the resources of a bundle as written in it.
func rawEntries(t testing.TB, bundle []byte) []json.RawMessage {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	for _, e := range b.Entry {
		if len(e.Resource) > 0 {
			out = append(out, e.Resource)
		}
	}
	return out
}

// jsonEqual compares two JSON documents semantically.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

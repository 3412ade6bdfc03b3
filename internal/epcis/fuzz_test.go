package epcis

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzImport: whatever the bytes, Import does not panic, fails with a
// *PathError and no steps, or returns steps whose messages are valid.
func FuzzImport(f *testing.F) {
	// The official examples, when the shared data is there (the fuzz
	// target does not need it, so it does not skip without it).
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "epcis2", "examples", "*.jsonld"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, tc := range errorCases() {
		if len(tc.doc) < 64<<10 {
			f.Add(tc.doc)
		}
	}
	for _, tc := range mappingCases() {
		f.Add(doc(tc.ev))
	}
	parties := map[string]string{"urn:epc:id:pgln:0614141.00777": "dist-co", "https://id.gs1.org/417/4012345000009": "corner-rx", "urn:x:bad": "Not An Org"}
	f.Fuzz(func(t *testing.T, b []byte) {
		steps, err := Import(b, ImportOptions{Parties: parties})
		if err != nil {
			var pe *PathError
			switch {
			case !errors.As(err, &pe):
				t.Fatalf("%T %v, want a *PathError", err, err)
			case strings.HasPrefix(pe.Problem, "internal error"):
				t.Fatalf("Import panicked: %v", err)
			case pe.Path == "" || pe.Problem == "":
				t.Fatalf("an error without a path or problem: %q", err)
			case strings.Contains(pe.Problem, "which medledger rejects"):
				t.Fatalf("an error only Validate caught: %v", err)
			case steps != nil:
				t.Fatalf("steps with an error: %v", steps)
			}
			return
		}
		for _, s := range steps {
			if !strings.HasPrefix(s.Path, "epcisBody.eventList[") {
				t.Fatalf("step path %q", s.Path)
			}
			if err := s.Msg.Validate(); err != nil {
				t.Fatalf("%s: %s does not validate: %v", s.Path, s.Msg.Type(), err)
			}
		}
	})
}

package medledger_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"medledger/internal/fhir"
	"medledger/internal/records"
)

// allowed lists, for each package, the medledger packages it may import
// (DESIGN §3: imports point down; siblings import each other only where
// listed). Packages not listed may import no medledger package at all.
var allowed = map[string][]string{
	"medledger":              {},
	"seal":                   {},
	"gs1":                    {},
	"internal/state":         {"medledger"},
	"internal/fhir":          {},
	"internal/blob":          {"medledger"},
	"internal/identity":      {"medledger", "internal/state"},
	"internal/consent":       {"medledger", "internal/state"},
	"internal/records":       {"medledger", "internal/state"},
	"internal/audit":         {"medledger", "internal/state", "internal/consent", "internal/records"},
	"internal/supply":        {"medledger", "internal/state", "gs1"},
	"internal/epcis":         {"medledger", "gs1", "internal/supply"},
	"internal/ledger":        {"medledger", "internal/state", "internal/identity", "internal/consent", "internal/records", "internal/audit", "internal/supply"},
	"internal/store":         {"medledger", "internal/state"},
	"internal/cometbft":      {"medledger", "internal/state", "internal/ledger"},
	"internal/gateway":       {"medledger", "internal/state", "internal/identity", "internal/consent", "internal/records", "internal/audit", "seal"},
	"internal/api":           {"medledger", "internal/state", "internal/identity", "internal/consent", "internal/records", "internal/audit", "internal/ledger", "internal/gateway", "seal", "gs1", "internal/supply", "internal/epcis"},
	"client":                 {"medledger", "seal", "client/account", "internal/identity", "internal/consent", "internal/records", "internal/audit", "internal/cometbft/light", "internal/state", "internal/supply", "gs1"},
	"internal/node":          {"medledger", "internal/state", "internal/store", "internal/ledger", "internal/identity", "internal/records", "internal/cometbft", "internal/blob", "internal/gateway", "internal/api", "internal/web", "seal"},
	"internal/cli":           {"medledger", "client", "seal", "internal/node", "internal/cometbft", "internal/identity", "internal/consent", "internal/fhir", "gs1", "internal/supply", "internal/epcis", "internal/bench"},
	"internal/bench":         {"medledger", "client", "seal", "gs1", "internal/node", "internal/cometbft", "internal/identity", "internal/consent", "internal/records"},
	"cmd/medledger":          {"internal/cli"},
	"internal/faults":        {"medledger", "client", "seal", "internal/identity", "internal/node"},
	"internal/blob/blobtest": {"medledger", "internal/blob"},

	// The SDK's key file and tx signing, with no I/O: the web portal's
	// crypto module compiles it to WebAssembly.
	"client/account": {"medledger", "seal"},

	// The web portal imports no medledger package: it serves embedded
	// files. Its crypto module, built for js/wasm, runs in the browser on
	// the SDK's key code and the messages it signs: identity's, consent's,
	// records' (anchors, erasures) and audit's (reads).
	"internal/web":      {},
	"internal/web/wasm": {"medledger", "seal", "client/account", "internal/identity", "internal/consent", "internal/records", "internal/audit"},

	// The light client: the one part of CometBFT the SDK imports.
	"internal/cometbft/light": {"medledger"},
}

// TestImportsPointDown fails when a package imports a medledger package it
// is not allowed to, or when a package is missing from the list.
func TestImportsPointDown(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		pkg := filepath.ToSlash(path)
		if path == "." {
			pkg = "medledger"
		}
		checked := false
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checked = true
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			ok, listed := allowed[pkg]
			if !listed {
				t.Errorf("package %s is not in the import allowlist", pkg)
				return nil
			}
			for _, imp := range af.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				if p != "medledger" && !strings.HasPrefix(p, "medledger/") {
					continue
				}
				dep := strings.TrimPrefix(p, "medledger/")
				if !slices.Contains(ok, dep) {
					t.Errorf("%s imports %s, which the allowlist does not allow", f, p)
				}
			}
		}
		_ = checked
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The records module's categories are FHIR's.
func TestCategoriesAgree(t *testing.T) {
	if !slices.Equal(records.Categories, fhir.Categories()) {
		t.Fatalf("records.Categories %v\nfhir.Categories   %v", records.Categories, fhir.Categories())
	}
}

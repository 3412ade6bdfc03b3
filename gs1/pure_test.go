package gs1_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The deterministic state machine imports this package, so it keeps to the
// same rules as the state machine: no clock, randomness, I/O, networking
// (net/url, a pure parser, excepted), locks or goroutines.
func TestPureImports(t *testing.T) {
	forbidden := []string{"os", "net", "math/rand", "math/rand/v2", "crypto/rand", "time", "io/ioutil", "syscall", "unsafe", "sync", "sync/atomic", "runtime"}
	files, _ := filepath.Glob("*.go")
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		checked++
		fset := token.NewFileSet()
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if slices.Contains(forbidden, p) || strings.HasPrefix(p, "net/") && p != "net/url" || strings.HasPrefix(p, "os/") || strings.Contains(p, ".") {
				t.Errorf("%s imports %q", f, p)
			}
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.GoStmt, *ast.SelectStmt:
				t.Errorf("%s: goroutine or select at %s", f, fset.Position(n.Pos()))
			}
			return true
		})
	}
	if checked != 4 {
		t.Fatalf("checked %d files, want gs1.go, epc.go, digitallink.go and elementstring.go", checked)
	}
}

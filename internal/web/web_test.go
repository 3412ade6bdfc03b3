package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", path, nil))
	resp := rr.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The portal answers / and its asset prefix only; every other path reaches
// the handler it is mounted next to (the API in a node).
func TestMountServesOnlyThePortalPaths(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-From", "api")
		w.WriteHeader(http.StatusTeapot)
	})
	mux := http.NewServeMux()
	mux.Handle("/", api)
	p := newPortal(fstest.MapFS{
		"portal.js":  {Data: []byte("// js")},
		"portal.css": {Data: []byte("/* css */")},
	})
	p.Mount(mux)

	resp, body := get(t, mux, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<main id="main"`, `<header`, `<nav aria-label="Portal">`, `<footer`, `lang="en"`, `name="viewport"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /: page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "'wasm-unsafe-eval'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	resp, body = get(t, mux, "/portal/portal.js")
	if resp.StatusCode != 200 || body != "// js" {
		t.Errorf("GET /portal/portal.js: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, mux, "/portal/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /portal/ lists the directory: %d", resp.StatusCode)
	}
	for _, path := range []string{"/v1/status", "/healthz", "/metrics", "/readyz", "/index.html", "/portalx"} {
		if resp, _ := get(t, mux, path); resp.Header.Get("X-From") != "api" {
			t.Errorf("GET %s did not reach the API (status %d)", path, resp.StatusCode)
		}
	}
	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest("POST", "/", nil))
	if rr.Header().Get("X-From") != "api" {
		t.Errorf("POST / was answered by the portal")
	}
}

// Without the crypto module the page says so, and how to build it, instead
// of loading a module that is not there.
func TestPageWithoutTheCryptoModule(t *testing.T) {
	p := newPortal(fstest.MapFS{"portal.js": {Data: []byte("//")}, "portal.css": {Data: []byte("")}})
	if p.ModuleBuilt() {
		t.Fatal("ModuleBuilt with no module")
	}
	_, body := get(t, p, "/")
	if !strings.Contains(body, "The crypto module is missing") || !strings.Contains(body, "make build") {
		t.Error("the page does not say that the crypto module is missing and how to build it")
	}
	if strings.Contains(body, WasmExecFile) || strings.Contains(body, `data-wasm="/`) {
		t.Error("the page loads a crypto module that is not there")
	}

	built := newPortal(fstest.MapFS{"portal.js": {Data: []byte("//")}, WasmFile: {Data: []byte("\x00asm")}, WasmExecFile: {Data: []byte("//")}})
	if !built.ModuleBuilt() {
		t.Fatal("not ModuleBuilt with both files")
	}
	resp, body := get(t, built, "/")
	if strings.Contains(body, "The crypto module is missing") || !strings.Contains(body, `data-wasm="/portal/medledger.wasm?v=`) {
		t.Errorf("with the module: page %d does not load it", resp.StatusCode)
	}
	resp, _ = get(t, built, "/portal/"+WasmFile)
	if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
		t.Errorf("the module is served as %q; browsers compile it while streaming only as application/wasm", ct)
	}
}

// The crypto module goes out gzip-compressed, from the copy `make wasm`
// writes next to it, to browsers that accept it, and as it is to those
// that do not.
func TestAssetsCompressed(t *testing.T) {
	module := bytes.Repeat([]byte("\x00asm medledger "), 4096)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(module)
	zw.Close()
	p := newPortal(fstest.MapFS{"portal.js": {Data: []byte("// js")}, WasmFile: {Data: module}, WasmFile + ".gz": {Data: gz.Bytes()}, WasmExecFile: {Data: []byte("//")}})
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{{"gzip, deflate, br", true}, {"br;q=1.0, GZIP;q=0.5", true}, {"", false}, {"deflate", false}, {"gzip;q=0", false}} {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/portal/"+WasmFile, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Encoding", tc.accept)
		}
		p.ServeHTTP(rr, req)
		resp := rr.Result()
		body, _ := io.ReadAll(resp.Body)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", tc.accept, got, tc.gzip)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
			t.Errorf("Accept-Encoding %q: Content-Type %q", tc.accept, ct)
		}
		if tc.gzip {
			if len(body) >= len(module)/4 {
				t.Errorf("compressed module is %d bytes of %d", len(body), len(module))
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(body, module) {
			t.Errorf("Accept-Encoding %q: the module served differs from the file", tc.accept)
		}
	}
}

// A stray or missing brace in the style sheet silently drops every rule
// after it; count them.
func TestStyleSheetBalanced(t *testing.T) {
	css, err := embedded.ReadFile("static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for i, line := range strings.Split(string(css), "\n") {
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth < 0 || depth > 2 {
			t.Fatalf("portal.css line %d: braces nest %d deep", i+1, depth)
		}
	}
	if depth != 0 {
		t.Fatalf("portal.css ends %d braces deep", depth)
	}
}

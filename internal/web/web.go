// Package web is medledger's web portal: server-rendered pages, a little
// plain JavaScript, and the crypto module, medledger's own Go code for keys
// and signing compiled to WebAssembly (internal/web/wasm). Everything is
// embedded in the binary and served by the node next to its API; nothing is
// fetched from anywhere else at run time.
//
// Private keys and plaintext stay in the browser: the page keeps the key
// file, encrypted under the user's passphrase, in IndexedDB, the crypto
// module decrypts it and signs txs, and only signed txs and public keys are
// sent to the node. The module runs in a Web Worker (static/worker.js), so
// Argon2id and sealing never freeze the page.
//
// The pages are listed once (pages) and share templates/layout.html and
// static/common.js. The account page (/) shows the views an account's kind
// may use as tabs: each view is a template (templates/<view>.html, a
// section.view with data-kinds) and a script registering with ml.view.
// The pages that need no keys (/verify, /network) are pages of their own.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// AssetPrefix is the path under which the portal's assets are served. It
// cannot collide with the API's /v1/..., /healthz, /readyz or /metrics.
const AssetPrefix = "/portal/"

// WasmFile and WasmExecFile are the crypto module and Go's JavaScript
// support for it, built by `make wasm` into static/ (and not committed).
const (
	WasmFile     = "medledger.wasm"
	WasmExecFile = "wasm_exec.js"
)

// The directory is embedded, rather than the files by name, so that a plain
// `go build` compiles before the crypto module is built; the portal then
// says that it is missing.
//
//go:embed static
var embedded embed.FS

//go:embed templates/*.html
var templates embed.FS

// contentSecurityPolicy allows the page its own scripts, styles and
// WebAssembly, and requests to its own origin only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Portal serves the web portal.
type Portal struct {
	static fs.FS
	tmpl   *template.Template
	assets map[string]string
	built  bool
	mux    *http.ServeMux
	gz     map[string][]byte // precompressed assets (NAME.gz in static) by NAME
}

// assetTypes are the content types of the assets that may come
// precompressed: `make wasm` writes medledger.wasm.gz, which shrinks the
// crypto module from about 6 MB to 1.7 MB, most of a first load.
var assetTypes = map[string]string{
	".wasm": "application/wasm",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// page is one of the portal's pages: a template in templates/ served at an
// exact path, with its scripts (in order, after common.js).
type page struct {
	Path     string
	Template string
	Title    string   // the page's title and its name in the navigation
	Scripts  []string // static files, loaded with defer in this order
	Module   bool     // the page loads the crypto module
}

// pages are the portal's pages, in the order of the navigation. The keys
// page at / holds the views of an unlocked account (records, grants, the
// access log, a clinician's patients); the others work without keys.
var pages = []page{
	{Path: "/", Template: "index.html", Title: "Your account", Module: true,
		Scripts: []string{"portal.js", "records.js", "grants.js", "accesslog.js", "delegates.js", "clinician.js"}},
	{Path: "/verify", Template: "verify.html", Title: "Verify a pack", Scripts: []string{"verify.js"}},
	{Path: "/network", Template: "network.html", Title: "Network", Module: true, Scripts: []string{"network.js"}},
}

// pageData is what a page's template sees.
type pageData struct {
	Page        page
	Pages       []page
	ModuleBuilt bool              // both crypto module files are present
	Asset       map[string]string // file name → URL with a content hash for cache busting
}

// New returns the portal serving the embedded assets.
func New() *Portal {
	static, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return newPortal(static)
}

func newPortal(static fs.FS) *Portal {
	p := &Portal{
		static: static,
		tmpl:   template.Must(template.ParseFS(templates, "templates/*.html")),
		mux:    http.NewServeMux(),
		assets: map[string]string{},
		gz:     map[string][]byte{},
	}
	built := 0
	entries, _ := fs.ReadDir(static, ".")
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(static, e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		p.assets[e.Name()] = AssetPrefix + e.Name() + "?v=" + hex.EncodeToString(sum[:6])
		if name, ok := strings.CutSuffix(e.Name(), ".gz"); ok && assetTypes[path.Ext(name)] != "" {
			p.gz[name] = b
		}
		if (e.Name() == WasmFile || e.Name() == WasmExecFile) && len(b) > 0 {
			built++
		}
	}
	p.built = built == 2
	for _, pg := range pages {
		p.mux.HandleFunc("GET "+exact(pg.Path), p.render(pg))
	}
	files := http.StripPrefix(AssetPrefix, http.FileServerFS(static))
	p.mux.HandleFunc("GET "+AssetPrefix+"{file}", func(w http.ResponseWriter, r *http.Request) {
		if p.serveGzip(w, r, r.PathValue("file")) {
			return
		}
		files.ServeHTTP(w, r)
	})
	return p
}

// ModuleBuilt reports whether the crypto module was built into the binary.
func (p *Portal) ModuleBuilt() bool { return p.built }

// exact turns a page's path into a ServeMux pattern that matches it only.
func exact(path string) string {
	if path == "/" {
		return "/{$}"
	}
	return path
}

// Mount registers the portal on mux for its pages' exact paths and the
// asset prefix, and nothing else, so the API keeps every other path.
func (p *Portal) Mount(mux *http.ServeMux) {
	for _, pg := range pages {
		mux.Handle("GET "+exact(pg.Path), p)
	}
	mux.Handle("GET "+AssetPrefix, p)
}

// ServeHTTP implements http.Handler.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The assets' URLs carry a content hash; revalidating keeps a rebuilt
	// module from being served stale when the URL did not change.
	h.Set("Cache-Control", "no-cache")
	if strings.HasPrefix(r.URL.Path, AssetPrefix) && strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r) // no directory listings
		return
	}
	p.mux.ServeHTTP(w, r)
}

// serveGzip serves the precompressed copy of an asset to a client that
// accepts gzip, and reports whether it did.
func (p *Portal) serveGzip(w http.ResponseWriter, r *http.Request, name string) bool {
	data := p.gz[name]
	if data == nil || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", assetTypes[path.Ext(name)])
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
	return true
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip.
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func (p *Portal) render(pg page) http.HandlerFunc {
	data := pageData{Page: pg, Pages: pages, ModuleBuilt: p.built, Asset: p.assets}
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := p.tmpl.ExecuteTemplate(&buf, pg.Template, data); err != nil {
			http.Error(w, "the portal page failed to render", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	}
}

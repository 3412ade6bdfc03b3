package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/client/account"
	"medledger/internal/cometbft"
	"medledger/internal/identity"
	"medledger/internal/node"
	"medledger/internal/web"
	"medledger/seal"
)

// requireChromium returns the path of Debian's chromium. Without it the
// test skips, except under CI=true, where a browser test that cannot run is
// a failure.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr == nil {
			path, err = "/usr/bin/chromium", nil
		}
	}
	if err != nil {
		notRunnable(t, "headless Chromium is not installed (`make chromium` installs Debian's chromium)")
	}
	if !web.New().ModuleBuilt() {
		notRunnable(t, "the portal's crypto module is not built into internal/web/static (`make wasm` builds it)")
	}
	return path
}

func notRunnable(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run the browser test under CI=true: %s", reason)
	}
	t.Skipf("skipping the browser test: %s", reason)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNode starts a real single-validator node in a temporary home, API on
// 127.0.0.1:0, and stops it when the test ends. It returns the node and the
// key of the consortium's one regulator.
func startNode(t *testing.T) (*node.Node, *account.Key) {
	t.Helper()
	n, reg, _ := startNodeWith(t, "")
	return n, reg
}

// startNodeWith is startNode with the node holding the break-glass escrow
// key of organisation escrowOrg, if not empty; it returns the escrow's
// public key, for the organisation to register (SetOrgKey) once admitted.
func startNodeWith(t *testing.T, escrowOrg string) (*node.Node, *account.Key, []byte) {
	t.Helper()
	home, err := os.MkdirTemp("", "medledger-web-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// CometBFT's address book may still write during shutdown: retry.
		for i := 0; i < 50; i++ {
			if err = os.RemoveAll(home); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("removing %s: %v", home, err)
	})
	reg, err := account.Generate("regulator")
	if err != nil {
		t.Fatal(err)
	}
	err = node.Init(home, node.InitOptions{ChainID: "medledger-web", Moniker: "web",
		Regulators: []identity.PublicKeys{client.PublicKeysOf(reg)}, Threshold: 1,
		Ports: cometbft.Ports{P2P: freePort(t), RPC: freePort(t)}, APIListen: "127.0.0.1:0", BlockTime: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var escrowPub []byte
	if escrowOrg != "" {
		escrow, err := seal.GenerateEncryptionKey()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := escrow.Bytes()
		if err := os.WriteFile(filepath.Join(home, node.EscrowKeyFile), []byte(hex.EncodeToString(raw)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := node.LoadConfig(home)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Escrow.Org = escrowOrg
		if err := node.WriteConfig(home, cfg); err != nil {
			t.Fatal(err)
		}
		escrowPub = escrow.PublicKey().Bytes()
	}
	n, err := node.New(home, node.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for n.Height() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no block within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n, reg, escrowPub
}

// request is what the test saw the page send.
type request struct {
	id      network.RequestID
	method  string
	url     string
	headers string
	body    []byte // decoded post data
	hasBody bool
}

// recorder captures every request the page makes, with its post data.
type recorder struct {
	mu   sync.Mutex
	reqs []*request
}

func (r *recorder) listen(ev any) {
	e, ok := ev.(*network.EventRequestWillBeSent)
	if !ok {
		return
	}
	q := &request{id: e.RequestID, method: e.Request.Method, url: e.Request.URL + e.Request.URLFragment, hasBody: e.Request.HasPostData}
	q.headers = fmt.Sprint(e.Request.Headers)
	for _, entry := range e.Request.PostDataEntries {
		b, err := base64.StdEncoding.DecodeString(entry.Bytes)
		if err != nil {
			b = []byte(entry.Bytes)
		}
		q.body = append(q.body, b...)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, q)
	r.mu.Unlock()
}

func (r *recorder) all() []*request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*request(nil), r.reqs...)
}

// encodings returns strings that any encoding of secret in raw bytes, hex
// or base64 (standard or URL-safe, padded or not) contains, wherever in a
// larger encoded value the secret starts: for base64 one string per
// alignment, trimmed of the characters its neighbours would change.
func encodings(secret []byte) []string {
	out := []string{string(secret), hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for align := 0; align < 3; align++ {
			s := enc.EncodeToString(append(make([]byte, align), secret...))
			out = append(out, s[4:len(s)-4])
		}
	}
	return out
}

// leaks returns a description of each secret found in data.
func leaks(data []byte, secrets map[string][]byte) []string {
	var found []string
	for name, secret := range secrets {
		for _, enc := range encodings(secret) {
			if bytes.Contains(data, []byte(enc)) {
				found = append(found, name)
				break
			}
		}
	}
	return found
}

// The leak check must find a key in each encoding at each alignment, or a
// clean result from the browser test would mean nothing.
func TestLeakCheckFindsEveryEncoding(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	secrets := map[string][]byte{"key": secret}
	for prefix := 0; prefix < 3; prefix++ {
		payload := append(bytes.Repeat([]byte{0xa5}, prefix), secret...)
		payload = append(payload, 0x5a, 0x01)
		forms := map[string]string{
			"raw": string(payload), "hex": hex.EncodeToString(payload), "HEX": strings.ToUpper(hex.EncodeToString(payload)),
			"base64": base64.StdEncoding.EncodeToString(payload), "base64 raw": base64.RawStdEncoding.EncodeToString(payload),
			"base64url": base64.URLEncoding.EncodeToString(payload), "base64url raw": base64.RawURLEncoding.EncodeToString(payload),
		}
		for form, s := range forms {
			if got := leaks([]byte(`{"x":"`+s+`"}`), secrets); len(got) != 1 {
				t.Errorf("prefix %d, %s: the check missed the key", prefix, form)
			}
		}
	}
	other := bytes.Repeat([]byte{7}, 64)
	if got := leaks([]byte(base64.StdEncoding.EncodeToString(other)+hex.EncodeToString(other)), secrets); len(got) != 0 {
		t.Errorf("found %v in data without the key", got)
	}
}

// labResult is the record a clinician adds for the patient.
const labResult = `{"resourceType":"Observation","id":"hba1c-1","status":"final",
"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
"effectiveDateTime":"2026-11-20T09:30:00Z","valueQuantity":{"value":6.1,"unit":"%"}}`

// TestPortalInChromium drives the portal in headless Chromium against a real
// node: create keys under a passphrase, register as a patient, reload,
// fail to unlock with a wrong passphrase, unlock. It checks the account on
// chain through the Go client, opens the exported key file with the Go
// keyring, and asserts that no request the page made carried a private key.
func TestPortalInChromium(t *testing.T) {
	chromium := requireChromium(t)
	n, reg := startNode(t)
	base := n.APIURL()

	shots := os.Getenv("MEDLEDGER_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // the tests run as root
		chromedp.WindowSize(1280, 900),
	) // each allocator gets its own temporary profile, removed when it is cancelled
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	rec := &recorder{}
	chromedp.ListenTarget(bctx, rec.listen)

	step := 0
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			step++
			return os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name)), png, 0o644)
		})
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	clear := func(id string) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`document.getElementById(%q).value = ""`, id), nil)
	}

	// Start the browser, so that the first load below times the page only.
	run("start Chromium", chromedp.Navigate("about:blank"))

	// First load: time to an interactive page.
	const passphrase = "correct horse battery staple"
	var ready string
	var readyOK bool
	start := time.Now()
	run("open the portal", network.Enable(), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#setup", chromedp.ByID),
		chromedp.AttributeValue("body", "data-ready", &ready, &readyOK, chromedp.ByQuery))
	loaded := time.Since(start)
	wasm, err := os.Stat(filepath.Join("static", web.WasmFile))
	if err != nil {
		t.Fatal(err)
	}
	var gzSize int64
	if gz, err := os.Stat(filepath.Join("static", web.WasmFile+".gz")); err == nil {
		gzSize = gz.Size()
	}
	t.Logf("first load to an interactive page: %v measured by the test, %s ms by the page (performance.now); crypto module %d bytes (%.1f MiB), %d gzip-compressed as served",
		loaded.Round(time.Millisecond), ready, wasm.Size(), float64(wasm.Size())/(1<<20), gzSize)
	run("screenshot", shot("create-keys"))
	checkAccessible(t, bctx)

	// A too-short passphrase is refused with a message, before any crypto.
	var errText string
	run("short passphrase", chromedp.SendKeys("#create-pass", "short", chromedp.ByID),
		chromedp.SendKeys("#create-pass2", "short", chromedp.ByID),
		chromedp.Click("#create-btn", chromedp.ByID),
		chromedp.WaitVisible("#error", chromedp.ByID), chromedp.Text("#error", &errText, chromedp.ByID))
	if !strings.Contains(errText, "at least 10 characters") {
		t.Errorf("short passphrase: error %q", errText)
	}

	// The crypto module runs in a worker, not on the page's thread: the
	// page has no Go runtime of its own, only the module's functions.
	var inWorker bool
	run("module in a worker", chromedp.Evaluate(`typeof Go === 'undefined' && typeof medledger.generateKeys === 'function' && Object.isFrozen(medledger)`, &inWorker))
	if !inWorker {
		t.Error("the crypto module runs on the page's thread")
	}

	// Create keys. While Argon2id runs in the worker the page keeps
	// drawing frames; the longest gap between two is logged.
	var id, regState string
	var longestFrame float64
	run("create keys",
		clear("create-pass"), clear("create-pass2"),
		chromedp.Evaluate(`window.frameGap = 0; (() => { let last = performance.now(); const tick = (t) => { window.frameGap = Math.max(window.frameGap, t - last); last = t; if (!window.stopFrames) requestAnimationFrame(tick); }; requestAnimationFrame(tick); })()`, nil),
		chromedp.SendKeys("#create-pass", passphrase, chromedp.ByID),
		chromedp.SendKeys("#create-pass2", passphrase, chromedp.ByID),
		chromedp.Click("#create-btn", chromedp.ByID),
		chromedp.WaitVisible("#account", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="unregistered"]`, chromedp.ByQuery),
		chromedp.Text("#account-id", &id, chromedp.ByID),
		chromedp.Evaluate(`window.stopFrames = true; window.frameGap`, &longestFrame),
		shot("keys-created"))
	t.Logf("creating keys (Argon2id in the worker): the longest gap between the page's frames was %.0f ms", longestFrame)
	if err := medledger.ID(id).Validate(); err != nil {
		t.Fatalf("the page shows account ID %q: %v", id, err)
	}

	// Register as a patient; the page waits for the commit.
	run("register",
		chromedp.Click("#register-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="registered"]`, chromedp.ByQuery),
		chromedp.Text("#reg-status", &regState, chromedp.ByID),
		chromedp.WaitVisible(`#view-records[data-state="empty"]`, chromedp.ByQuery),
		shot("registered"))
	if regState != "Registered as a patient" {
		t.Errorf("registration status %q", regState)
	}

	// The account is on chain, proven against the app hash, with the keys
	// of the key file the page exports.
	var keyFile string
	run("export the key file", chromedp.Evaluate(
		fmt.Sprintf(`medledger.exportKeyFile(%q).then(b => new TextDecoder().decode(b))`, passphrase), &keyFile,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	kr, err := client.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kr.Params = account.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	key, err := kr.ImportFile("patient", []byte(keyFile), passphrase)
	if err != nil {
		t.Fatalf("the Go keyring (medledger keys import) does not accept the page's key file: %v", err)
	}
	if string(key.ID) != id {
		t.Fatalf("key file holds account %s, the page shows %s", key.ID, id)
	}
	c := client.New(base)
	acct, _, err := c.ProvenAccount(ctx, key.ID)
	if err != nil {
		t.Fatalf("account %s on chain: %v", key.ID, err)
	}
	if acct.Kind != medledger.KindPatient || !bytes.Equal(acct.SigningKey, key.SigningPublicKey) || !bytes.Equal(acct.EncryptionKey, key.EncryptionPublicKey) {
		t.Fatalf("on chain: kind %s, keys match %v/%v", acct.Kind, bytes.Equal(acct.SigningKey, key.SigningPublicKey), bytes.Equal(acct.EncryptionKey, key.EncryptionPublicKey))
	}

	// A clinic's physician adds a lab result for the patient, sealed on the
	// clinic's side for the patient's key.
	_, doc := admitClinic(t, ctx, c, reg, "clinic-z", "Clinic Z")
	if _, err := c.PutRecord(ctx, doc, key.ID, []byte(labResult), "Observation", "lab"); err != nil {
		t.Fatal(err)
	}

	// Reload: the keys are stored, locked.
	var lockedID string
	run("reload", chromedp.Reload(), chromedp.WaitVisible("#unlock", chromedp.ByID),
		chromedp.Text("#locked-id", &lockedID, chromedp.ByID), shot("locked"))
	if lockedID != id {
		t.Errorf("after reload the page shows stored account %q, want %q", lockedID, id)
	}

	// A wrong passphrase is refused with a clear message.
	run("wrong passphrase", chromedp.SendKeys("#unlock-pass", "not the passphrase", chromedp.ByID),
		chromedp.Click("#unlock-btn", chromedp.ByID),
		chromedp.WaitVisible("#error", chromedp.ByID), chromedp.Text("#error", &errText, chromedp.ByID),
		shot("wrong-passphrase"))
	if !strings.Contains(errText, "Wrong passphrase") {
		t.Errorf("wrong passphrase: error %q", errText)
	}

	// Unlock: the account shows as registered.
	run("unlock", clear("unlock-pass"),
		chromedp.SendKeys("#unlock-pass", passphrase, chromedp.ByID),
		chromedp.Click("#unlock-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="registered"]`, chromedp.ByQuery),
		chromedp.Text("#account-id", &lockedID, chromedp.ByID),
		shot("unlocked"))
	if lockedID != id {
		t.Errorf("unlocked account %q, want %q", lockedID, id)
	}

	// The timeline shows the lab result, read through the node and
	// decrypted in the page, rendered from FHIR rather than as JSON.
	var timeline string
	run("timeline", chromedp.WaitVisible(`#view-records[data-state="loaded"]`, chromedp.ByQuery),
		chromedp.ScrollIntoView("#view-records", chromedp.ByID),
		chromedp.Text("#timeline", &timeline, chromedp.ByID),
		shot("timeline"))
	for _, want := range []string{"Hemoglobin A1c", "6.1 %", "Lab result", "from Clinic Z", "Nov"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	if strings.Contains(timeline, "resourceType") || strings.Contains(timeline, "{") {
		t.Errorf("timeline shows raw JSON:\n%s", timeline)
	}
	// The read was logged on chain (it commits a block or two after the
	// node served it).
	var logged []client.AccessEntry
	for deadline := time.Now().Add(15 * time.Second); len(logged) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if logged, err = c.AccessLog(ctx, client.SignerOf(key), key.ID, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(logged) == 0 {
		t.Error("the page's read of the record left no access event")
	}
	checkAccessible(t, bctx)

	// On a phone: nothing overflows sideways.
	var overflow bool
	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow),
		shot("phone"))
	if overflow {
		t.Error("the page is wider than a 390 px phone screen")
	}

	// A key made by the CLI (`medledger keys new`, then `keys export`)
	// imports into a browser that has no keys yet; the page shows its
	// account, unregistered. With the node stopped, registering says the
	// node is unreachable.
	cliKey, err := kr.New("cli", "cli passphrase 42")
	if err != nil {
		t.Fatal(err)
	}
	exported, err := kr.Export("cli", "cli passphrase 42")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "cli.key")
	if err := os.WriteFile(keyPath, exported, 0o600); err != nil {
		t.Fatal(err)
	}
	actx2, cancelAlloc2 := chromedp.NewExecAllocator(ctx, opts...) // a fresh profile: no keys stored
	defer cancelAlloc2()
	bctx, cancelBrowser2 := chromedp.NewContext(actx2)
	defer cancelBrowser2()
	chromedp.ListenTarget(bctx, rec.listen)
	var importedID string
	run("import a CLI key file", network.Enable(), chromedp.Navigate(base+"/"), chromedp.WaitVisible("#setup", chromedp.ByID),
		chromedp.SetUploadFiles("#import-file", []string{keyPath}, chromedp.ByID),
		chromedp.SendKeys("#import-pass", "cli passphrase 42", chromedp.ByID),
		chromedp.Click("#import-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="unregistered"]`, chromedp.ByQuery),
		chromedp.Text("#account-id", &importedID, chromedp.ByID),
		shot("imported"))
	if importedID != string(cliKey.ID) {
		t.Errorf("imported account %q, want %q", importedID, cliKey.ID)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	run("register with the node down", chromedp.Click("#register-btn", chromedp.ByID),
		chromedp.WaitVisible("#error", chromedp.ByID), chromedp.Text("#error", &errText, chromedp.ByID),
		shot("node-unreachable"))
	if !strings.Contains(errText, "node is unreachable") {
		t.Errorf("with the node down: error %q", errText)
	}

	// No request from either browser carried a private key in any
	// encoding; the register tx did go out, signed by the account, so the
	// capture saw the traffic.
	seed := key.SigningKey.Seed()
	encKey, err := key.EncryptionKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cliEnc, err := cliKey.EncryptionKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"signing key seed": seed, "signing private key": key.SigningKey, "encryption private key": encKey,
		"CLI key's signing seed": cliKey.SigningKey.Seed(), "CLI key's encryption private key": cliEnc,
		"record plaintext": []byte(labResult)}
	signers := map[medledger.ID]*client.Key{key.ID: key, cliKey.ID: cliKey}
	reqs := rec.all()
	var sawTx bool
	for _, q := range reqs {
		if q.hasBody && len(q.body) == 0 {
			t.Errorf("%s %s: has a body the capture could not read", q.method, q.url)
		}
		data := []byte(q.method + " " + q.url + "\n" + q.headers + "\n")
		data = append(data, q.body...)
		if found := leaks(data, secrets); len(found) > 0 {
			t.Errorf("%s %s carries the %v", q.method, q.url, found)
		}
		if q.method == "POST" && strings.Contains(q.url, "/v1/txs") {
			tx, err := medledger.DecodeTx(q.body)
			if err != nil {
				t.Errorf("POST /v1/txs body: %v", err)
				continue
			}
			k := signers[tx.Signer]
			if k == nil || tx.MsgType != identity.TypeRegisterPatient || tx.VerifySignature(k.SigningPublicKey) != nil {
				t.Errorf("POST /v1/txs: signer %s, type %s", tx.Signer, tx.MsgType)
				continue
			}
			sawTx = sawTx || tx.Signer == key.ID
		}
	}
	if !sawTx {
		t.Errorf("the capture saw no POST /v1/txs among %d requests", len(reqs))
	}
	t.Logf("%d requests checked for private keys", len(reqs))
}

// checkAccessible checks what can be checked without a full audit, on what
// the page shows: every form control has a label and every button and link
// a name; ids are unique and the ids that labels and descriptions point to
// exist; headings do not skip a level; no positive tabindex reorders the
// keyboard's path; images have alt text; the landmarks are there.
func checkAccessible(t *testing.T, ctx context.Context) {
	t.Helper()
	var problems []string
	err := chromedp.Run(ctx, chromedp.Evaluate(`(() => {
		const out = [];
		const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
		for (const el of document.querySelectorAll('input, select, textarea')) {
			if (el.type === 'hidden' || !shown(el)) continue;
			const named = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
			if (!named) out.push('control without a label: ' + (el.id || el.name));
		}
		for (const el of document.querySelectorAll('button, a[href]')) {
			if (!shown(el)) continue;
			if (!el.textContent.trim() && !el.getAttribute('aria-label') && !el.getAttribute('title')) out.push(el.tagName.toLowerCase() + ' without a name: ' + (el.id || el.getAttribute('href')));
		}
		const ids = {};
		for (const el of document.querySelectorAll('[id]')) {
			if (ids[el.id]) out.push('duplicate id: ' + el.id);
			ids[el.id] = true;
		}
		for (const attr of ['aria-labelledby', 'aria-describedby', 'aria-controls']) {
			for (const el of document.querySelectorAll('[' + attr + ']')) {
				for (const ref of el.getAttribute(attr).split(/\s+/).filter(Boolean)) {
					if (!document.getElementById(ref)) out.push(attr + ' of ' + (el.id || el.tagName.toLowerCase()) + ' points to no element: ' + ref);
				}
			}
		}
		for (const el of document.querySelectorAll('label[for]')) {
			if (!document.getElementById(el.htmlFor)) out.push('label for a missing control: ' + el.htmlFor);
		}
		for (const el of document.querySelectorAll('[tabindex]')) {
			if (el.tabIndex > 0) out.push('positive tabindex on ' + (el.id || el.tagName.toLowerCase()));
		}
		for (const el of document.querySelectorAll('img')) {
			if (!el.hasAttribute('alt')) out.push('image without alt: ' + el.src);
		}
		let last = 0;
		for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
			if (!shown(h)) continue;
			const level = Number(h.tagName[1]);
			if (last && level > last + 1) out.push('heading skips from h' + last + ' to h' + level + ': ' + h.textContent.trim().slice(0, 40));
			last = level;
		}
		if (document.querySelectorAll('h1').length !== 1) out.push(document.querySelectorAll('h1').length + ' h1 elements');
		for (const sel of ['header', 'nav', 'main', 'footer', 'h1']) {
			if (!document.querySelector(sel)) out.push('missing ' + sel);
		}
		if (!document.documentElement.lang) out.push('no lang on html');
		if (!document.title.trim()) out.push('no title');
		return out;
	})()`, &problems))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("accessibility: %s", p)
	}
}

package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/client/account"
)

// browser is one headless Chromium with its own profile (so its own
// IndexedDB: one person's keys), recording every request it makes and
// numbering its screenshots.
type browser struct {
	t        *testing.T
	parent   context.Context // what the browser was started under
	chromium string
	ctx      context.Context
	rec      *recorder
	shots    string // folder of the screenshots
	who      string // prefix of the screenshots' names
	step     *int   // shared by the browsers of one test, so the files sort in the order taken
}

// screenshotDir is $MEDLEDGER_SCREENSHOTS/<test>, or a temporary folder.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MEDLEDGER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "screenshots")
	} else {
		dir = filepath.Join(dir, t.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// newBrowser starts Chromium at chromium with a fresh profile; it stops
// when ctx ends or the test does.
func newBrowser(t *testing.T, ctx context.Context, chromium, shots, who string, step *int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // the tests run as root
		chromedp.WindowSize(1000, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	b := &browser{t: t, parent: ctx, chromium: chromium, ctx: bctx, rec: &recorder{}, shots: shots, who: who, step: step}
	chromedp.ListenTarget(bctx, b.rec.listen)
	b.run("start Chromium", network.Enable(), chromedp.Navigate("about:blank"))
	return b
}

// enrol creates keys in the page as a clinician, has admin enrol the
// page's public keys as a physician through the SDK, and unlocks the page
// again so that it shows the member's views.
func (b *browser) enrol(base, passphrase string, c *client.Client, admin client.User) medledger.ID {
	b.t.Helper()
	b.createKeys(base, passphrase, false)
	var pub struct {
		ID            medledger.ID `json:"id"`
		SigningKey    []byte       `json:"signing_key"`
		EncryptionKey []byte       `json:"encryption_key"`
	}
	b.eval("public keys", `medledger.publicKeys()`, &pub)
	if _, err := c.Send(b.ctx, admin.Signer, &client.EnrolMember{Keys: client.PublicKeys{SigningKey: pub.SigningKey, EncryptionKey: pub.EncryptionKey},
		Roles: []medledger.Role{medledger.RolePhysician}}); err != nil {
		b.t.Fatal(err)
	}
	b.run("unlock as a member", chromedp.Reload(), chromedp.WaitVisible("#unlock", chromedp.ByID),
		chromedp.SendKeys("#unlock-pass", passphrase, chromedp.ByID),
		chromedp.Click("#unlock-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="registered"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-patients[data-state]`, chromedp.ByQuery))
	return pub.ID
}

// admitClinic has the regulator admit a clinic and the clinic's admin
// enrol a physician, both through the SDK; it returns the admin and the
// physician.
func admitClinic(t *testing.T, ctx context.Context, c *client.Client, reg *account.Key, org, name string) (admin, physician client.User) {
	t.Helper()
	admin, adminPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	physician, docPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, client.SignerOf(reg), &client.AdmitOrg{Org: org, OrgType: medledger.OrgClinic, Name: name, Licence: "L-" + org, Admin: adminPub}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, admin.Signer, &client.EnrolMember{Keys: docPub, Roles: []medledger.Role{medledger.RolePhysician}}); err != nil {
		t.Fatal(err)
	}
	return admin, physician
}

// tab shows one of the account page's views and waits until it has
// loaded: the router marks the tab current and the view starts loading in
// the same task, so once the tab is current the view's state is its own.
func tab(view string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.Click(`#views-tabs a[data-view="`+view+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#views-tabs a[data-view="`+view+`"][aria-current="page"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-`+view+`:not([data-state="loading"])`, chromedp.ByQuery),
	}
}

// another starts a second Chromium with a fresh profile: a second person
// on another computer, with their own keys.
func (b *browser) another(who string) *browser {
	b.t.Helper()
	return newBrowser(b.t, b.parent, b.chromium, b.shots, who, b.step)
}

func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s (%s): %v", what, b.who, err)
	}
}

// shot saves a full-page screenshot as NN-who-name.png.
func (b *browser) shot(name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var png []byte
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return err
		}
		*b.step++
		return os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s-%s.png", *b.step, b.who, name)), png, 0o644)
	})
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// eval evaluates a JavaScript expression, awaiting it if it is a Promise.
func (b *browser) eval(what, expr string, out any) {
	b.t.Helper()
	b.run(what, chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
}

// waitFor waits up to 20 s for sel to match, running refresh between tries:
// what the node logs commits a block or two after the fact.
func (b *browser) waitFor(what, sel string, refresh chromedp.Action) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var found bool
		b.run(what, chromedp.Evaluate(fmt.Sprintf(`!!document.querySelector(%q)`, sel), &found))
		if found {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: %s never showed", what, sel)
		}
		time.Sleep(400 * time.Millisecond)
		if refresh != nil {
			b.run(what, refresh)
		}
	}
}

func clearInput(id string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`document.getElementById(%q).value = ""`, id), nil)
}

// createKeys opens the portal, creates keys under passphrase and returns
// the account ID the page shows; with register, it also registers the
// account as a patient.
func (b *browser) createKeys(base, passphrase string, register bool) medledger.ID {
	b.t.Helper()
	var id string
	b.run("create keys", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#setup", chromedp.ByID),
		chromedp.SendKeys("#create-pass", passphrase, chromedp.ByID),
		chromedp.SendKeys("#create-pass2", passphrase, chromedp.ByID),
		chromedp.Click("#create-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="unregistered"]`, chromedp.ByQuery),
		chromedp.Text("#account-id", &id, chromedp.ByID))
	if err := medledger.ID(id).Validate(); err != nil {
		b.t.Fatalf("the page shows account ID %q: %v", id, err)
	}
	if register {
		b.run("register", chromedp.Click("#register-btn", chromedp.ByID),
			chromedp.WaitVisible(`#reg-status[data-state="registered"]`, chromedp.ByQuery))
	}
	return medledger.ID(id)
}

// key exports the page's key file and opens it with the Go keyring, so the
// test knows the private keys the leak check looks for.
func (b *browser) key(passphrase string) *client.Key {
	b.t.Helper()
	var file string
	b.eval("export the key file", fmt.Sprintf(`medledger.exportKeyFile(%q).then(b => new TextDecoder().decode(b))`, passphrase), &file)
	kr, err := client.OpenKeyring(b.t.TempDir())
	if err != nil {
		b.t.Fatal(err)
	}
	kr.Params = account.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	k, err := kr.ImportFile(b.who, []byte(file), passphrase)
	if err != nil {
		b.t.Fatalf("the page's key file: %v", err)
	}
	return k
}

// checkNoLeaks fails the test if any request the browser made carries one
// of the secrets, in any encoding, and returns how many it checked.
func (b *browser) checkNoLeaks(secrets map[string][]byte) int {
	b.t.Helper()
	reqs := b.rec.all()
	for _, q := range reqs {
		if q.hasBody && len(q.body) == 0 {
			b.t.Errorf("%s %s: has a body the capture could not read", q.method, q.url)
		}
		data := []byte(q.method + " " + q.url + "\n" + q.headers + "\n")
		data = append(data, q.body...)
		if found := leaks(data, secrets); len(found) > 0 {
			b.t.Errorf("%s %s (%s) carries the %v", q.method, q.url, b.who, found)
		}
	}
	return len(reqs)
}

// secretsOf returns a key's private keys under names for the leak check.
func secretsOf(t *testing.T, name string, k *client.Key) map[string][]byte {
	t.Helper()
	enc, err := k.EncryptionKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{name + "'s signing seed": k.SigningKey.Seed(), name + "'s signing key": k.SigningKey, name + "'s encryption key": enc}
}

// elementShot saves a screenshot of the element sel to path (the README's
// screenshots).
func (b *browser) elementShot(sel, path string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot "+sel, chromedp.Screenshot(sel, &png, chromedp.ByQuery))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d bytes)", path, len(png))
}

// docsShots reports whether the test should rewrite the README's
// screenshots in docs/portal (MEDLEDGER_UPDATE_SCREENSHOTS=1).
func docsShots() bool { return strings.TrimSpace(os.Getenv("MEDLEDGER_UPDATE_SCREENSHOTS")) == "1" }

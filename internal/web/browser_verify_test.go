package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/client/account"
)

// The pack the verification tests look at: one product, lot L1 shipped
// from the manufacturer through a distributor to a pharmacy, one of its
// packs dispensed there, and lot L2 recalled.
const (
	verifyGTIN = "09506000134352"
	verifyName = "Insulin glargine"
)

func verifyUnit(serial string) string { return "urn:epc:id:sgtin:9506000.013435." + serial }

// seedSupply builds that supply chain through the Go client, as a
// manufacturer, a distributor, a pharmacy and the regulator would. It
// returns the lot's expiry date (YYYY-MM-DD).
func seedSupply(t *testing.T, ctx context.Context, c *client.Client, reg *account.Key) string {
	t.Helper()
	send := func(s client.Signer, m client.Msg) {
		t.Helper()
		if _, err := c.Send(ctx, s, m); err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
	}
	user := func() (client.User, client.PublicKeys) {
		t.Helper()
		u, pub, err := client.GenerateUser()
		if err != nil {
			t.Fatal(err)
		}
		return u, pub
	}
	mfr, mfrPub := user()
	dist, distPub := user()
	rx, rxPub := user()
	pharmacist, pharmacistPub := user()
	regulator := client.SignerOf(reg)
	send(regulator, &client.AdmitOrg{Org: "acme-pharma", OrgType: medledger.OrgManufacturer, Name: "Acme Pharma", Licence: "M-1", Admin: mfrPub})
	send(regulator, &client.AdmitOrg{Org: "dist-co", OrgType: medledger.OrgDistributor, Name: "Dist Co", Licence: "D-1", Admin: distPub})
	send(regulator, &client.AdmitOrg{Org: "corner-rx", OrgType: medledger.OrgPharmacy, Name: "Corner Pharmacy", Licence: "P-1", Admin: rxPub})
	send(rx.Signer, &client.EnrolMember{Keys: pharmacistPub, Roles: []medledger.Role{medledger.RolePharmacist}})

	expiry := time.Now().UTC().AddDate(1, 0, 0).Format("2006-01-02")
	send(mfr.Signer, &client.RegisterProduct{GTIN: verifyGTIN, CompanyPrefix: "9506000", Name: verifyName, NationalCode: "0002-8215",
		Strength: "100 IU/ml", Form: "injection", TempMin: 200, TempMax: 800, ShelfLifeDays: 730})
	send(mfr.Signer, &client.Commission{GTIN: verifyGTIN, Lot: "L1", Expiry: expiry, Serials: []string{"A1", "A2", "A3"}})
	send(mfr.Signer, &client.Commission{GTIN: verifyGTIN, Lot: "L2", Expiry: expiry, Serials: []string{"B1"}})
	packs := []string{verifyUnit("A1"), verifyUnit("A2"), verifyUnit("A3")}
	send(mfr.Signer, &client.Ship{Shipment: "SH-1", To: "dist-co", EPCs: packs})
	send(dist.Signer, &client.Receive{Shipment: "SH-1"})
	send(dist.Signer, &client.Ship{Shipment: "SH-2", To: "corner-rx", EPCs: packs})
	send(rx.Signer, &client.Receive{Shipment: "SH-2"})
	send(pharmacist.Signer, &client.Dispense{EPC: verifyUnit("A2")})
	send(regulator, &client.Recall{GTIN: verifyGTIN, Lot: "L2", Reason: "particulate matter", Class: "I"})
	return expiry
}

// yymmdd turns an ISO date into the YYMMDD of AI 17.
func yymmdd(iso string) string { return iso[2:4] + iso[5:7] + iso[8:10] }

// TestVerifyCodeOverHTTP asks a real node about packs by the code
// parameter, in each form a scanner or a person gives, with no account.
func TestVerifyCodeOverHTTP(t *testing.T) {
	n, reg := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	expiry := seedSupply(t, ctx, client.New(n.APIURL()), reg)
	get := func(code string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(n.APIURL() + "/v1/supply/verify?code=" + url.QueryEscape(code))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	for _, code := range []string{
		verifyUnit("A1"),
		"https://id.gs1.org/01/" + verifyGTIN + "/21/A1",
		"]d201" + verifyGTIN + "21A1\x1d17" + yymmdd(expiry) + "10L1",
		"(01)" + verifyGTIN + "(21)A1(17)" + yymmdd(expiry) + "(10)L1",
	} {
		status, v := get(code)
		if status != 200 || v["epc"] != verifyUnit("A1") || v["status"] != "active" || v["suspect"] != false || v["custodian"] != "corner-rx" {
			t.Errorf("code %q: %d %v", code, status, v)
		}
	}
	if status, v := get("(01)" + verifyGTIN + "(21)A1(10)L2"); status != 200 || fmt.Sprint(v["label"]) != "map[detail:the label says lot L2, the ledger lot L1 lot:L2 matches:false]" {
		t.Errorf("relabelled pack: %d %v", status, v["label"])
	}
	if status, v := get("(01)" + verifyGTIN + "(21)B1"); status != 200 || v["suspect"] != true || !strings.Contains(fmt.Sprint(v["flags"]), "recalled") {
		t.Errorf("recalled pack: %d %v", status, v)
	}
	if status, v := get("(01)" + verifyGTIN + "(21)NOPE"); status != 200 || v["status"] != "unknown" || v["authentic"] != false {
		t.Errorf("never commissioned: %d %v", status, v)
	}
	status, v := get("(01)09506000134353(21)A1")
	if status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(v["detail"]), "check digit is 3, want 2") {
		t.Errorf("bad check digit: %d %v", status, v)
	}
}

// TestVerifyPageInChromium verifies packs on the /verify page in headless
// Chromium against a real node: a good pack by SGTIN URN, by Digital Link
// and by a scanned element string with its GS separator; a recalled, a
// dispensed and a never-commissioned pack; a malformed code; a shared
// address that verifies on opening; a phone's width; the node down.
func TestVerifyPageInChromium(t *testing.T) {
	chromium := requireChromium(t)
	n, reg := startNode(t)
	base := n.APIURL()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	expiry := seedSupply(t, ctx, client.New(base), reg)

	step := 0
	b := newBrowser(t, ctx, chromium, screenshotDir(t), "verify", &step)
	bctx, rec, shot, run := b.ctx, b.rec, b.shot, b.run

	// result is what the page shows after a verification.
	type result struct {
		Verdict, Title, Reasons, Product, Custody, Error, Location, Value string
		Steps                                                             []string
		Trail                                                             []string
		Invalid                                                           bool
		ResultHidden                                                      bool
	}
	read := func(what string) result {
		t.Helper()
		var r result
		run(what, chromedp.Evaluate(`(() => {
			const $ = (id) => document.getElementById(id);
			return {
				Verdict: $('result').dataset.verdict, Title: $('verdict-title').textContent,
				Reasons: $('reasons').innerText, Product: $('product').innerText, Custody: $('custody').innerText,
				Error: $('error').hidden ? '' : $('error').textContent, Location: location.pathname + location.search,
				Value: $('code').value, Invalid: $('code').getAttribute('aria-invalid') === 'true', ResultHidden: $('result').hidden,
				Steps: [...document.querySelectorAll('#trail > li')].map((li) => li.dataset.step),
				Trail: [...document.querySelectorAll('#trail > li')].map((li) => li.innerText.replace(/\s+/g, ' ')),
			};
		})()`, &r))
		return r
	}
	// verify types code into the field and submits it with the key
	// (Enter, as a scanner ends a scan) or the button, then waits for the
	// page to finish.
	verify := func(what, code string, enter bool) result {
		t.Helper()
		actions := []chromedp.Action{
			chromedp.WaitReady("body[data-ready]", chromedp.ByQuery),
			chromedp.Evaluate(`document.getElementById('code').value = ''; document.body.dataset.state = ''`, nil),
			chromedp.SendKeys("#code", code, chromedp.ByID),
		}
		if enter {
			actions = append(actions, chromedp.SendKeys("#code", "\r", chromedp.ByID))
		} else {
			actions = append(actions, chromedp.Click("#verify-btn", chromedp.ByID))
		}
		actions = append(actions, chromedp.WaitVisible(`body[data-state="done"], body[data-state="error"]`, chromedp.ByQuery))
		run(what, actions...)
		return read(what)
	}
	goodTrail := []string{"commissioning", "shipping", "receiving", "shipping", "receiving"}
	checkGood := func(what string, r result) {
		t.Helper()
		if r.Verdict != "ok" || r.Title != "Genuine — OK to dispense" || r.Error != "" {
			t.Errorf("%s: verdict %q %q, error %q", what, r.Verdict, r.Title, r.Error)
		}
		if strings.Join(r.Steps, ",") != strings.Join(goodTrail, ",") {
			t.Errorf("%s: trail %v, want %v", what, r.Steps, goodTrail)
		}
		for _, want := range []string{verifyName, "100 IU/ml", verifyGTIN, "A1", "L1", expiry, "acme-pharma"} {
			if !strings.Contains(r.Product, want) {
				t.Errorf("%s: product lacks %q:\n%s", what, want, r.Product)
			}
		}
		if !strings.Contains(r.Custody, "In stock") || !strings.Contains(r.Custody, "corner-rx") {
			t.Errorf("%s: custody %q", what, r.Custody)
		}
		if len(r.Trail) == 5 && (!strings.Contains(r.Trail[1], "Shipped") || !strings.Contains(r.Trail[1], "from acme-pharma to dist-co") ||
			!strings.Contains(r.Trail[4], "Received") || !strings.Contains(r.Trail[4], "by corner-rx") || !strings.Contains(r.Trail[4], "SH-2")) {
			t.Errorf("%s: trail reads %q", what, r.Trail)
		}
	}

	// The page opens with the field focused, ready for a scan.
	run("start Chromium", chromedp.Navigate("about:blank"))
	start := time.Now()
	var focused, ready string
	run("open the page", network.Enable(), chromedp.Navigate(base+"/verify"),
		chromedp.WaitReady("body[data-ready]", chromedp.ByQuery),
		chromedp.Evaluate(`document.activeElement.id`, &focused),
		chromedp.Evaluate(`document.body.dataset.ready`, &ready),
		shot("empty"))
	t.Logf("first load to an interactive page: %v measured by the test, %s ms by the page", time.Since(start).Round(time.Millisecond), ready)
	if focused != "code" {
		t.Errorf("the focused element is %q, want the code field", focused)
	}
	checkAccessible(t, bctx)

	// A good pack by its SGTIN URN, submitted with Enter.
	r := verify("by SGTIN URN", verifyUnit("A1"), true)
	run("screenshot", shot("good-urn"))
	checkGood("by SGTIN URN", r)
	if u, err := url.Parse(r.Location); err != nil || u.Path != "/verify" || u.Query().Get("code") != verifyUnit("A1") {
		t.Errorf("the address is %q, want /verify?code= and the code", r.Location)
	}
	checkAccessible(t, bctx)

	// By Digital Link, submitted with the button.
	r = verify("by Digital Link", "https://id.gs1.org/01/"+verifyGTIN+"/21/A1", false)
	run("screenshot", shot("good-digital-link"))
	checkGood("by Digital Link", r)

	// By the element string a DataMatrix scanner types: symbology
	// identifier, the GS character after the variable-length serial, and
	// the scanner's Enter.
	scanned := "]d201" + verifyGTIN + "21A1\x1d17" + yymmdd(expiry) + "10L1"
	run("scan", chromedp.Evaluate(`document.getElementById('code').value = ''; document.body.dataset.state = ''`, nil),
		chromedp.SendKeys("#code", "]d201"+verifyGTIN+"21A1", chromedp.ByID),
		chromedp.KeyEvent("]", chromedp.KeyModifiers(input.ModifierCtrl)), // the wedge's GS
		chromedp.SendKeys("#code", "17"+yymmdd(expiry)+"10L1\r", chromedp.ByID),
		chromedp.WaitVisible(`body[data-state="done"], body[data-state="error"]`, chromedp.ByQuery))
	r = read("by scanned element string")
	run("screenshot", shot("good-scanned"))
	if r.Value != scanned {
		t.Errorf("the field holds %q, want the scanned %q with its GS character", r.Value, scanned)
	}
	checkGood("by scanned element string", r)

	if !strings.Contains(r.Product, "lot L1, expiry "+expiry+" — matches the ledger") {
		t.Errorf("by scanned element string: the label's lot and expiry are not shown as matching:\n%s", r.Product)
	}

	// A genuine serial on a label whose lot differs from the ledger's: red.
	r = verify("relabelled", "(01)"+verifyGTIN+"(21)A3(10)L2", true)
	run("screenshot", shot("relabelled"))
	if r.Verdict != "bad" || !strings.Contains(r.Reasons, "Label does not match the ledger") || !strings.Contains(r.Reasons, "The label says lot L2, the ledger lot L1.") {
		t.Errorf("relabelled pack: %q, reasons %q", r.Verdict, r.Reasons)
	}

	// A recalled pack: red, with the reason.
	r = verify("recalled", "(01)"+verifyGTIN+"(21)B1", true)
	run("screenshot", shot("recalled"))
	if r.Verdict != "bad" || r.Title != "Do not dispense" || !strings.Contains(r.Reasons, "Recalled") || !strings.Contains(r.Reasons, "particulate matter") {
		t.Errorf("recalled pack: %q %q, reasons %q", r.Verdict, r.Title, r.Reasons)
	}
	if len(r.Steps) == 0 || r.Steps[len(r.Steps)-1] != "holding" {
		t.Errorf("recalled pack: trail %v should end with the recall", r.Steps)
	}
	checkAccessible(t, bctx)

	// A dispensed pack offered again: red.
	r = verify("dispensed", verifyUnit("A2"), true)
	run("screenshot", shot("dispensed"))
	if r.Verdict != "bad" || !strings.Contains(r.Reasons, "Already dispensed") || !strings.Contains(r.Custody, "Dispensed") {
		t.Errorf("dispensed pack: %q, reasons %q, custody %q", r.Verdict, r.Reasons, r.Custody)
	}

	// A serial that was never commissioned: red, possible counterfeit.
	r = verify("never commissioned", "(01)"+verifyGTIN+"(21)FAKE99", true)
	run("screenshot", shot("counterfeit"))
	if r.Verdict != "bad" || !strings.Contains(r.Reasons, "Never commissioned — possible counterfeit") || len(r.Steps) != 0 {
		t.Errorf("never commissioned: %q, reasons %q, trail %v", r.Verdict, r.Reasons, r.Steps)
	}

	// A malformed code: a sentence saying what is wrong, no result.
	r = verify("malformed", "(01)09506000134353(21)A1", true)
	run("screenshot", shot("malformed"))
	if !strings.Contains(r.Error, "not a pack code that can be read") || !strings.Contains(r.Error, "GTIN 09506000134353: its check digit is 3 but should be 2") ||
		strings.Contains(r.Error, "gs1:") || !r.Invalid || !r.ResultHidden {
		t.Errorf("malformed code: error %q, invalid %v, result hidden %v", r.Error, r.Invalid, r.ResultHidden)
	}
	// Back returns to the previous verification, and verifies it again.
	run("back", chromedp.Evaluate(`document.body.dataset.state = ''; history.back()`, nil),
		chromedp.WaitVisible(`body[data-state="done"], body[data-state="error"]`, chromedp.ByQuery))
	if r := read("back"); r.Value != "(01)"+verifyGTIN+"(21)FAKE99" || r.Verdict != "bad" || r.Error != "" || r.Invalid {
		t.Errorf("after going back: field %q, verdict %q, error %q", r.Value, r.Verdict, r.Error)
	}

	// Two scans in quick succession: the second waits for the first, and
	// its answer is the one shown.
	run("two scans", chromedp.Evaluate(`(() => {
			const f = document.getElementById('verify-form'), c = document.getElementById('code');
			document.body.dataset.state = '';
			c.value = '`+verifyUnit("A1")+`'; f.requestSubmit();
			c.value = '(01)`+verifyGTIN+`(21)B1'; f.requestSubmit();
		})()`, nil),
		chromedp.WaitVisible(`#result[data-verdict="bad"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-state="done"]`, chromedp.ByQuery))
	var button string
	run("the button after two scans", chromedp.Text("#verify-btn", &button, chromedp.ByID))
	if r := read("two scans"); !strings.Contains(r.Reasons, "Recalled") || !strings.Contains(r.Product, "B1") || r.Value != "(01)"+verifyGTIN+"(21)B1" || button != "Verify" {
		t.Errorf("after two scans: reasons %q, product %q, field %q, button %q", r.Reasons, r.Product, r.Value, button)
	}

	r = verify("unknown AI", "]d201"+verifyGTIN+"99X", true)
	if !strings.Contains(r.Error, "unknown or not supported") {
		t.Errorf("unknown AI: error %q", r.Error)
	}
	r = verify("empty", "   ", true)
	if !strings.Contains(r.Error, "Scan the pack") {
		t.Errorf("empty code: error %q", r.Error)
	}

	// An address with the code, as shared or as a Digital Link QR pointing
	// at this node would open: it verifies at once.
	run("open a shared address", chromedp.Navigate(base+"/verify?code="+url.QueryEscape("https://id.gs1.org/01/"+verifyGTIN+"/21/A1")),
		chromedp.WaitVisible(`body[data-state="done"]`, chromedp.ByQuery), shot("shared-address"))
	checkGood("shared address", read("shared address"))
	// On a phone, with a red verdict and its long reasons: nothing
	// overflows sideways.
	var overflow bool
	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(base+"/verify?code="+url.QueryEscape("(01)"+verifyGTIN+"(21)B1")),
		chromedp.WaitVisible(`body[data-state="done"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow),
		shot("phone-recalled"))
	if overflow {
		t.Error("the verification page is wider than a 390 px phone screen")
	}
	run("phone, good pack", chromedp.Navigate(base+"/verify?code="+url.QueryEscape(verifyUnit("A1"))),
		chromedp.WaitVisible(`body[data-state="done"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow),
		shot("phone-good"))
	if overflow {
		t.Error("the verification page is wider than a 390 px phone screen")
	}

	// With the node down, the page says so.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	r = verify("node down", verifyUnit("A1"), true)
	run("screenshot", shot("node-unreachable"))
	if !strings.Contains(r.Error, "node is unreachable") {
		t.Errorf("with the node down: error %q", r.Error)
	}

	// The page is keyless: it only ever read, from its own node.
	reqs := rec.all()
	var verifies int
	for _, q := range reqs {
		if q.method != "GET" || q.hasBody || !strings.HasPrefix(q.url, base+"/") {
			t.Errorf("the page sent %s %s", q.method, q.url)
		}
		if strings.HasPrefix(q.url, base+"/v1/supply/verify?code=") {
			verifies++
		}
	}
	if verifies < 8 {
		t.Errorf("the capture saw %d verifications among %d requests", verifies, len(reqs))
	}
	t.Logf("%d requests checked, %d verifications", len(reqs), verifies)
}

package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"medledger"
	"medledger/client"
)

// tamper makes the browser's requests whose URL matches pattern answer
// with a lie, as a dishonest node would: change edits the JSON answer. It
// returns a function that stops it and reports how many answers changed.
func tamper(t *testing.T, b *browser, pattern string, change func(map[string]any) error) func() int {
	t.Helper()
	var changed atomic.Int32
	lctx, stop := context.WithCancel(b.ctx)
	chromedp.ListenTarget(lctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		go func() {
			c := chromedp.FromContext(b.ctx)
			ectx := cdp.WithExecutor(b.ctx, c.Target)
			body, err := fetch.GetResponseBody(e.RequestID).Do(ectx)
			if err == nil {
				var v map[string]any
				if err = json.Unmarshal(body, &v); err == nil {
					if err = change(v); err == nil {
						body, err = json.Marshal(v)
						changed.Add(1)
					}
				}
			}
			if err != nil {
				t.Errorf("tampering with %s: %v", e.Request.URL, err)
				fetch.ContinueRequest(e.RequestID).Do(ectx)
				return
			}
			if err := fetch.FulfillRequest(e.RequestID, e.ResponseStatusCode).WithResponseHeaders(e.ResponseHeaders).
				WithBody(base64.StdEncoding.EncodeToString(body)).Do(ectx); err != nil {
				t.Errorf("answering %s: %v", e.Request.URL, err)
			}
		}()
	})
	b.run("intercept "+pattern, fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: pattern, RequestStage: fetch.RequestStageResponse}}))
	return func() int {
		b.run("stop intercepting", fetch.Disable())
		stop()
		return int(changed.Load())
	}
}

// lieAboutTx changes a tx's status as a lying node would: the result code
// it reports, and one byte of the proven tx bytes.
func lieAboutTx(st map[string]any) error {
	st["code"] = 7 // the node says the tx failed
	p, ok := st["proof"].(map[string]any)
	if !ok {
		return fmt.Errorf("no proof in %v", st)
	}
	raw, err := base64.StdEncoding.DecodeString(p["tx"].(string))
	if err != nil {
		return err
	}
	raw[len(raw)/2] ^= 0x01
	p["tx"] = base64.StdEncoding.EncodeToString(raw)
	return nil
}

// forgeSignature flips a bit of the first commit signature of a light
// block, as a node forging a header would have to.
func forgeSignature(lb map[string]any) error {
	raw, err := base64.StdEncoding.DecodeString(lb["light_block"].(string))
	if err != nil {
		return err
	}
	var pb cmtproto.LightBlock
	if err := pb.Unmarshal(raw); err != nil {
		return err
	}
	pb.SignedHeader.Commit.Signatures[0].Signature[5] ^= 0x01
	if raw, err = pb.Marshal(); err != nil {
		return err
	}
	lb["light_block"] = base64.StdEncoding.EncodeToString(raw)
	return nil
}

// checkLines returns the proof check lines the page shows: id → "Pass" or
// "Fail" with its sentence.
func checkLines(b *browser) map[string]string {
	b.t.Helper()
	var lines map[string]string
	b.eval("read the checks", `Object.fromEntries([...document.querySelectorAll('#proof-checks li')].map(li => [li.dataset.id, li.textContent]))`, &lines)
	return lines
}

// TestNetworkPageInChromium opens the network page against a real node
// after a few txs submitted with the SDK: the status, the one validator
// with its power and organisation, the organisations, the recent blocks and
// txs; a committed tx's proof passes every check in the browser, an
// unknown hash and a malformed one give clear messages, and a proof a lying
// node tampered with fails visibly. No request carries more than the page
// needs: the leak check runs over all of them for the regulator's key.
func TestNetworkPageInChromium(t *testing.T) {
	chromium := requireChromium(t)
	n, reg := startNode(t)
	base := n.APIURL()
	shots := screenshotDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A hospital is admitted with the node's validator key, the authority
	// links the validator to it, and the hospital enrols a physician.
	c := client.New(base)
	status, err := c.Status(ctx)
	if err != nil || len(status.Validators) != 1 {
		t.Fatalf("status: %+v, %v", status, err)
	}
	val := status.Validators[0]
	admin, adminPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	_, docPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	var sent []*medledger.TxStatus
	for _, m := range []struct {
		who client.Signer
		msg client.Msg
	}{
		{client.SignerOf(reg), &client.AdmitOrg{Org: "st-marys", OrgType: medledger.OrgHospital, Name: "St Mary's Hospital", Licence: "H-1",
			ValidatorKey: val.PubKey, Admin: adminPub}},
		{client.SignerOf(reg), &client.SetValidator{PubKey: val.PubKey, Power: val.Power, Org: "st-marys"}},
		{admin.Signer, &client.EnrolMember{Keys: docPub, Roles: []medledger.Role{medledger.RolePhysician}}},
	} {
		st, err := c.Send(ctx, m.who, m.msg)
		if err != nil {
			t.Fatalf("%s: %v", m.msg.Type(), err)
		}
		sent = append(sent, st)
	}
	enrol := sent[2]

	step := 0
	b := newBrowser(t, ctx, chromium, shots, "auditor", &step)
	start := time.Now()
	b.run("open the network page", chromedp.Navigate(base+"/network"),
		chromedp.WaitVisible(`#net-txs[data-state="loaded"]`, chromedp.ByQuery))
	var ready string
	b.eval("ready time", `document.body.dataset.ready`, &ready)
	t.Logf("network page loaded with its tables in %v (%s ms by the page)", time.Since(start).Round(time.Millisecond), ready)
	b.waitFor("the validator's organisation", `#net-validators-body th + td`, nil)
	b.run("screenshot", b.shot("network"))
	checkAccessible(t, b.ctx)

	// Status: the chain, a height at least the last tx's, in sync.
	if got := b.text("#net-chain"); got != "medledger-web" {
		t.Errorf("chain ID %q", got)
	}
	var height int64
	b.eval("height", `Number(document.getElementById('net-height').textContent.replace(/[^0-9]/g, ''))`, &height)
	if height < enrol.Height {
		t.Errorf("the page shows height %d, the enrolment committed at %d", height, enrol.Height)
	}
	if got := b.text("#net-sync"); !strings.Contains(got, "In sync") {
		t.Errorf("sync: %q", got)
	}

	// The one validator: its power, all of it, and its organisation.
	valRows := b.text("#net-validators-body")
	for _, want := range []string{val.Address.String()[:8], fmt.Sprint(val.Power), "100.0 %", "St Mary's Hospital"} {
		if !strings.Contains(valRows, want) {
			t.Errorf("validators table lacks %q:\n%s", want, valRows)
		}
	}
	var valCount int
	b.eval("validators", `document.querySelectorAll('#net-validators-body tr').length`, &valCount)
	if valCount != 1 {
		t.Errorf("%d validator rows", valCount)
	}

	// Organisations: the hospital, its type and status.
	orgRows := b.text("#net-orgs-body")
	for _, want := range []string{"St Mary's Hospital", "st-marys", "Hospital", "Active"} {
		if !strings.Contains(orgRows, want) {
			t.Errorf("organisations table lacks %q:\n%s", want, orgRows)
		}
	}

	// Recent blocks: the last ten (or all, if fewer), newest first,
	// proposed by the hospital's validator.
	var blocks []string
	var heights []int64
	b.eval("blocks", `[...document.querySelectorAll('#net-blocks-body tr')].map(r => r.textContent)`, &blocks)
	b.eval("block heights", `[...document.querySelectorAll('#net-blocks-body th')].map(th => Number(th.textContent.replace(/[^0-9]/g, '')))`, &heights)
	if len(heights) == 0 || len(blocks) != min(10, int(heights[0])) {
		t.Fatalf("recent blocks %v (heights %v)", blocks, heights)
	}
	for i := range heights {
		if heights[i] != heights[0]-int64(i) {
			t.Errorf("block heights %v are not the latest, newest first", heights)
			break
		}
	}
	if heights[0] < enrol.Height || !strings.Contains(blocks[0], "St Mary's Hospital") {
		t.Errorf("first block row %q (height %d, enrolment at %d) does not name its proposer's organisation", blocks[0], heights[0], enrol.Height)
	}

	// Recent txs: the three, with their types and results.
	txRows := b.text("#net-txs-body")
	for i, want := range []string{"Admit org", "Set validator", "Enrol member"} {
		if !strings.Contains(txRows, want) || !strings.Contains(txRows, sent[i].Hash.String()[:8]) {
			t.Errorf("recent txs lack %q (%s):\n%s", want, sent[i].Hash.String()[:8], txRows)
		}
	}
	if !strings.Contains(txRows, "Succeeded") {
		t.Errorf("recent txs show no result:\n%s", txRows)
	}

	// The refresh keeps the rows in place when nothing changed: the
	// organisations' body is the same element with the same rows.
	b.eval("mark the rows", `document.querySelector('#net-orgs-body tr').dataset.mark = 'kept'`, nil)
	time.Sleep(4500 * time.Millisecond)
	var kept bool
	b.eval("rows kept", `document.querySelector('#net-orgs-body tr').dataset.mark === 'kept'`, &kept)
	if !kept {
		t.Error("a refresh with no change replaced the organisations' rows")
	}

	// A committed tx's proof: every check passes, in the crypto module.
	hash := enrol.Hash.String()
	b.run("check the enrolment's proof",
		chromedp.Click(fmt.Sprintf(`#net-txs-body button[data-hash="%s"]`, hash), chromedp.ByQuery),
		chromedp.WaitVisible(`#net-proof[data-state="pass"]`, chromedp.ByQuery), b.shot("proof-verified"))
	lines := checkLines(b)
	if len(lines) != 7 || !strings.Contains(lines["header"], "signed by validators") || !strings.Contains(lines["next-header"], "10 of 10 voting power") {
		t.Errorf("%d check lines: %v", len(lines), lines)
	}
	for id, line := range lines {
		if !strings.HasPrefix(line, "✓ Pass") {
			t.Errorf("check %s: %q", id, line)
		}
	}
	verdict := b.text("#proof-verdict")
	if !strings.Contains(verdict, "Proof verified") || !strings.Contains(verdict, fmt.Sprint(enrol.Height)) {
		t.Errorf("verdict %q", verdict)
	}
	var field string
	b.eval("hash field", `document.getElementById('proof-hash').value`, &field)
	if field != hash {
		t.Errorf("the hash field holds %q, want %s", field, hash)
	}

	// A hash this node does not know.
	unknown := strings.Repeat("AB", 32)
	b.run("check an unknown hash", clearInput("proof-hash"),
		chromedp.SendKeys("#proof-hash", unknown, chromedp.ByID), chromedp.Click("#proof-btn", chromedp.ByID),
		chromedp.WaitVisible(`#net-proof[data-state="not-found"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#proof-error", chromedp.ByID), b.shot("unknown-hash"))
	if got := b.text("#proof-error"); !strings.Contains(got, "knows no tx with hash") {
		t.Errorf("unknown hash: %q", got)
	}
	var resultHidden bool
	b.eval("result hidden", `document.getElementById('proof-result').hidden`, &resultHidden)
	if !resultHidden {
		t.Error("an unknown hash left a verdict on the page")
	}

	// A malformed hash is refused before any request.
	b.run("check a malformed hash", clearInput("proof-hash"),
		chromedp.SendKeys("#proof-hash", "not-a-hash", chromedp.ByID), chromedp.Click("#proof-btn", chromedp.ByID),
		chromedp.WaitVisible(`#net-proof[data-state="invalid"]`, chromedp.ByQuery))
	if got := b.text("#proof-error"); !strings.Contains(got, "64 hexadecimal characters") {
		t.Errorf("malformed hash: %q", got)
	}
	var invalid string
	b.eval("aria-invalid", `document.getElementById('proof-hash').getAttribute('aria-invalid')`, &invalid)
	if invalid != "true" {
		t.Errorf("the malformed hash's field is not marked invalid (%q)", invalid)
	}

	// A lying node: the proof's tx bytes and the result code it reports
	// are changed in flight. The checks they break fail, visibly; the
	// others still pass.
	stop := tamper(t, b, "*/v1/txs/*prove=true*", lieAboutTx)
	b.run("check a tampered proof", clearInput("proof-hash"),
		chromedp.SendKeys("#proof-hash", hash, chromedp.ByID), chromedp.Click("#proof-btn", chromedp.ByID),
		chromedp.WaitVisible(`#net-proof[data-state="fail"]`, chromedp.ByQuery), b.shot("proof-tampered"))
	if n := stop(); n != 1 {
		t.Errorf("%d proof answers tampered with, want 1", n)
	}
	lines = checkLines(b)
	want := map[string]string{"header": "Pass", "next-header": "Pass", medledger.CheckTxHash: "Fail", medledger.CheckTxPlace: "Pass", medledger.CheckInclusion: "Fail",
		medledger.CheckResult: "Pass", medledger.CheckCode: "Fail"}
	for id, w := range want {
		if !strings.Contains(lines[id], w) {
			t.Errorf("tampered proof, check %s: %q, want %s", id, lines[id], w)
		}
	}
	if v := b.text("#proof-verdict"); !strings.Contains(v, "3 of 7 checks failed") {
		t.Errorf("tampered verdict %q", v)
	}
	var failColour bool
	b.eval("fail styled", `getComputedStyle(document.getElementById('proof-verdict')).borderLeftColor !== getComputedStyle(document.querySelector('.net-check-line')).borderBottomColor`, &failColour)
	if !failColour {
		t.Error("the failed verdict is not styled apart")
	}
	checkAccessible(t, b.ctx)

	// A node forging the header of the tx's block: its signature fails,
	// and with it the verdict, though the proof matches the forged header.
	stop = tamper(t, b, "*/v1/light/*", func(lb map[string]any) error {
		if lb["height"] != float64(enrol.Height) {
			return nil
		}
		return forgeSignature(lb)
	})
	// The previous verdict was a failure too: forget it, so that the wait
	// below is for this check's.
	b.run("check with a forged header", chromedp.Evaluate(`document.getElementById('net-proof').dataset.state = 'stale'`, nil),
		chromedp.Click("#proof-btn", chromedp.ByID),
		chromedp.WaitVisible(`#net-proof[data-state="fail"]`, chromedp.ByQuery), b.shot("header-forged"))
	if n := stop(); n != 2 {
		t.Errorf("%d light block answers seen, want 2", n)
	}
	lines = checkLines(b)
	if !strings.Contains(lines["header"], "Fail") || !strings.Contains(lines["header"], "signature does not verify") ||
		!strings.Contains(lines["next-header"], "Pass") || !strings.Contains(lines[medledger.CheckInclusion], "Pass") {
		t.Errorf("forged header: %v", lines)
	}
	if v := b.text("#proof-verdict"); !strings.Contains(v, "1 of 7 checks failed") {
		t.Errorf("forged header verdict %q", v)
	}

	// Without interception the same tx verifies again.
	b.run("check again", chromedp.Click("#proof-btn", chromedp.ByID),
		chromedp.WaitVisible(`#net-proof[data-state="pass"]`, chromedp.ByQuery))

	// Keyboard: the hash field, then the button, submit with Enter.
	var focused string
	b.run("keyboard", chromedp.Focus("#proof-hash", chromedp.ByID), chromedp.KeyEvent("\t"))
	b.eval("focus", `document.activeElement.id`, &focused)
	if focused != "proof-btn" {
		t.Errorf("Tab from the hash field focuses %q", focused)
	}

	// On a phone: nothing overflows sideways (the tables scroll in their
	// own boxes).
	var overflow bool
	b.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow),
		b.shot("phone"))
	if overflow {
		var wide []string
		b.eval("what overflows", `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.net-scroll'))
			.map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`, &wide)
		t.Errorf("the network page is wider than a 390 px phone screen: %v", wide)
	}

	// The page is keyless and read-only: it only ever GETs, and no request
	// carries the regulator's key (the one private key in this test).
	if got := b.checkNoLeaks(secretsOf(t, "regulator", reg)); got < 10 {
		t.Errorf("only %d requests were captured", got)
	}
	for _, q := range b.rec.all() {
		if q.method != "GET" || q.hasBody {
			t.Errorf("the network page sent %s %s", q.method, q.url)
		}
	}
}

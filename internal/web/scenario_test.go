package web_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
)

// TestSeedsScenarioInChromium runs the seeds' scenario with the patient in
// a real headless Chromium: the patient creates keys; a clinician adds a
// lab result; the patient sees it and grants a second doctor; that doctor
// reads it; the patient sees the read in the access log and revokes; the
// doctor is refused; a break-glass read shows highlighted in the patient's
// log. The clinicians act through the SDK here; the clinician's view has its
// own browser test.
func TestSeedsScenarioInChromium(t *testing.T) {
	chromium := requireChromium(t)
	// This node holds clinic A's break-glass escrow, so an emergency
	// clinician can be given the keys of clinic A's records without the
	// patient (DESIGN §7).
	n, reg, escrowPub := startNodeWith(t, "clinic-a")
	base := n.APIURL()
	c := client.New(base)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The consortium: clinic A (the patient's clinic and its lab), clinic
	// B (a second doctor) and hospital E (an emergency department).
	member := func(org, name string, escrow []byte) client.User {
		admin, adminPub, err := client.GenerateUser()
		if err != nil {
			t.Fatal(err)
		}
		doc, docPub, err := client.GenerateUser()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, client.SignerOf(reg), &client.AdmitOrg{Org: org, OrgType: medledger.OrgClinic, Name: name, Licence: "L-" + org, Admin: adminPub}); err != nil {
			t.Fatal(err)
		}
		if escrow != nil {
			if _, err := c.Send(ctx, admin.Signer, &client.SetOrgKey{EncryptionKey: escrow}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Send(ctx, admin.Signer, &client.EnrolMember{Keys: docPub, Roles: []medledger.Role{medledger.RolePhysician}}); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	docA := member("clinic-a", "Clinic A", escrowPub)
	docB := member("clinic-b", "Clinic B", nil)
	erDoc := member("hospital-e", "Hospital E Emergency", nil)

	step := 0
	shots := screenshotDir(t)
	p := newBrowser(t, ctx, chromium, shots, "patient", &step)
	const passphrase = "my records are mine 2026"

	// 1. The patient creates keys in the browser and registers.
	pid := p.createKeys(base, passphrase, true)
	p.run("registered", chromedp.WaitVisible(`#view-records[data-state="empty"]`, chromedp.ByQuery), p.shot("1-keys-created"))
	key := p.key(passphrase)
	if key.ID != pid {
		t.Fatalf("key file holds %s, the page shows %s", key.ID, pid)
	}

	// 2. Clinic A's physician adds a lab result, sealed for the patient.
	ref, err := c.PutRecord(ctx, docA, pid, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}

	// 3. The patient sees it in the timeline, then grants clinic B's
	// physician, found by searching for the clinic.
	p.run("timeline", chromedp.Click("#records-refresh", chromedp.ByID),
		chromedp.WaitVisible(`#view-records[data-state="loaded"]`, chromedp.ByQuery))
	if tl := p.text("#timeline"); !strings.Contains(tl, "Hemoglobin A1c") || !strings.Contains(tl, "6.1 %") {
		t.Fatalf("timeline after the lab result: %q", tl)
	}
	p.run("timeline shot", p.shot("3-timeline"))
	if docsShots() {
		p.elementShot("#view-records", filepath.Join("..", "..", "docs", "portal", "timeline.png"))
	}
	p.run("grants view", chromedp.Click(`#views-tabs a[data-view="grants"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-grants[data-state="empty"]`, chromedp.ByQuery))
	checkAccessible(t, p.ctx)
	// Searching with nothing typed says what to type.
	p.run("empty search", chromedp.Click("#grantee-search", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID))
	if e := p.text("#error"); !strings.Contains(e, "organisation") {
		t.Errorf("empty search: %q", e)
	}
	// Giving access without choosing anyone is refused before signing.
	p.run("grant without a grantee", chromedp.Click("#grant-btn", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID))
	if e := p.text("#error"); !strings.Contains(e, "Choose who gets access") {
		t.Errorf("grant without a grantee: %q", e)
	}
	docBRadio := fmt.Sprintf(`#grantee-m-%s`, docB.Signer.ID)
	p.run("search clinic B", chromedp.SendKeys("#grantee-q", "clinic b", chromedp.ByID),
		chromedp.Click("#grantee-search", chromedp.ByID),
		chromedp.WaitVisible(docBRadio, chromedp.ByQuery))
	if opts := p.text("#grantee-options"); !strings.Contains(opts, "Everyone at Clinic B") || !strings.Contains(opts, "Physician at Clinic B") || strings.Contains(opts, "Clinic A") {
		t.Errorf("search results for clinic b: %q", opts)
	}
	p.run("grant doctor B", chromedp.Click(docBRadio, chromedp.ByQuery),
		chromedp.SetValue("#grant-purpose", "treatment", chromedp.ByID),
		chromedp.Click("#grant-btn", chromedp.ByID),
		chromedp.WaitVisible(`#grant-list li[data-state="live"]`, chromedp.ByQuery))
	if msg := p.text("#message"); !strings.Contains(msg, "Access given") || !strings.Contains(msg, "1 record version shared") {
		t.Errorf("after the grant: %q", msg)
	}
	list := p.text("#grant-list")
	for _, want := range []string{"Physician at Clinic B", "In force", "All records", "Treatment"} {
		if !strings.Contains(list, want) {
			t.Errorf("grant list lacks %q: %q", want, list)
		}
	}
	p.run("grant shot", p.shot("3-granted"))
	if docsShots() {
		p.elementShot("#view-grants", filepath.Join("..", "..", "docs", "portal", "grants.png"))
	}
	grants, _, err := c.Grants(ctx, client.SignerOf(key), pid)
	if err != nil || len(grants) != 1 || grants[0].Grantee.Member != docB.Signer.ID || !grants[0].Scope.All || grants[0].Purpose != consent.PurposeTreatment {
		t.Fatalf("on chain after the page's grant: %+v %v", grants, err)
	}

	// 4. Doctor B reads the lab result: the key wrap the page made for
	// them in the browser opens it.
	pt, err := c.Read(ctx, docB, pid, ref.Record, 0, consent.PurposeTreatment)
	if err != nil {
		t.Fatalf("doctor B reads under the page's grant: %v", err)
	}
	if string(pt.Content) != labResult || pt.Basis != consent.BasisGrant {
		t.Fatalf("doctor B read %q (basis %s)", pt.Content, pt.Basis)
	}

	// 5. The patient sees the read in the access log, then revokes.
	refreshLog := chromedp.Tasks{chromedp.Click("#log-refresh", chromedp.ByID), chromedp.WaitVisible("#log-refresh:not([aria-busy])", chromedp.ByQuery)}
	p.run("access log", chromedp.Click(`#views-tabs a[data-view="log"]`, chromedp.ByQuery))
	docBEntry := fmt.Sprintf(`#view-log[data-state="loaded"] #log-list li[data-reader="%s"][data-basis="grant"]`, docB.Signer.ID)
	p.waitFor("doctor B's read in the log", docBEntry, refreshLog)
	entry := p.text(docBEntry)
	for _, want := range []string{"Physician at Clinic B", "read your lab result, version 1", "Treatment", "Under your grant " + grants[0].ID[:8]} {
		if !strings.Contains(entry, want) {
			t.Errorf("doctor B's log entry lacks %q: %q", want, entry)
		}
	}
	checkAccessible(t, p.ctx)
	p.run("log shot", p.shot("5-access-log"))
	p.run("revoke", chromedp.Click(`#views-tabs a[data-view="grants"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#grant-list li[data-state="live"] button.danger`, chromedp.ByQuery),
		chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`#grant-list li[data-state="live"] button.danger`, chromedp.ByQuery),
		chromedp.WaitVisible(`#grant-list li[data-state="ended"]`, chromedp.ByQuery),
		p.shot("5-revoked"))
	if s := p.text(`#grant-list li[data-state="ended"]`); !strings.Contains(s, "Revoked") {
		t.Errorf("revoked grant shows %q", s)
	}

	// 6. Doctor B is refused, with the answer a stranger gets for a record
	// that does not exist: the refusal says nothing about the record.
	_, refused := c.Read(ctx, docB, pid, ref.Record, 0, consent.PurposeTreatment)
	missing := strings.Repeat("0", 32)
	_, absent := c.Read(ctx, docB, pid, missing, 0, consent.PurposeTreatment)
	if medledger.KindOf(refused) != medledger.KindNotFound || medledger.KindOf(absent) != medledger.KindNotFound ||
		strings.ReplaceAll(refused.Error(), ref.Record, missing) != absent.Error() {
		t.Fatalf("after revocation: %v; for a record that does not exist: %v", refused, absent)
	}

	// 7. An emergency physician at hospital E declares break-glass and
	// reads; the patient's log shows it highlighted, with the reason.
	const reason, reasonInWords = "unconscious", "The patient is unconscious"
	if _, err := c.Send(ctx, erDoc.Signer, &client.BreakGlass{Patient: pid, Reason: reason}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pt, err = c.Read(ctx, erDoc, pid, ref.Record, 0, consent.PurposeEmergency)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || string(pt.Content) != labResult || pt.Basis != consent.BasisBreakGlass {
		t.Fatalf("break-glass read: %v", err)
	}
	emergency := fmt.Sprintf(`#view-log[data-state="loaded"] #log-list li[data-reader="%s"][data-basis="break_glass"]`, erDoc.Signer.ID)
	p.run("access log again", chromedp.Click(`#views-tabs a[data-view="log"]`, chromedp.ByQuery))
	p.waitFor("the break-glass read in the log", emergency, refreshLog)
	entry = p.text(emergency)
	for _, want := range []string{"Emergency access", "Hospital E Emergency", "Emergency access, without a grant", reasonInWords} {
		if !strings.Contains(entry, want) {
			t.Errorf("break-glass log entry lacks %q: %q", want, entry)
		}
	}
	// Highlighted: its own background and a badge, not colour alone.
	var bgEmergency, bgOther, badge string
	p.run("highlight", chromedp.Evaluate(fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).backgroundColor`, emergency), &bgEmergency),
		chromedp.Evaluate(fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).backgroundColor`, docBEntry), &bgOther),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q + ' .badge.alert').textContent`, emergency), &badge))
	if bgEmergency == bgOther || badge != "Emergency access" {
		t.Errorf("break-glass entry: background %s (others %s), badge %q", bgEmergency, bgOther, badge)
	}
	if s := p.text("#log-status"); !strings.Contains(s, "1 under emergency access") {
		t.Errorf("log status: %q", s)
	}
	p.run("break-glass shot", chromedp.ScrollIntoView(emergency, chromedp.ByQuery), p.shot("7-break-glass"))
	if docsShots() {
		p.elementShot("#view-log", filepath.Join("..", "..", "docs", "portal", "access-log.png"))
	}
	// The grants view lists the declaration too.
	p.run("emergencies", chromedp.Click(`#views-tabs a[data-view="grants"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#emergencies", chromedp.ByID))
	if s := p.text("#emergency-list"); !strings.Contains(s, reasonInWords) || !strings.Contains(s, "Hospital E Emergency") {
		t.Errorf("emergency declarations: %q", s)
	}

	// No request carried the patient's private keys or the record's
	// plaintext.
	secrets := secretsOf(t, "patient", key)
	secrets["lab result plaintext"] = []byte(labResult)
	t.Logf("%d requests checked for private keys and plaintext", p.checkNoLeaks(secrets))
}

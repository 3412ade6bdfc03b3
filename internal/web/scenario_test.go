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

// TestSeedsScenarioInChromium runs the seeds' scenario through the portal
// in a real headless Chromium, each person in their own browser context
// with their own keys: the patient creates keys; a clinician adds a lab
// result; the patient sees it and grants a second doctor; that doctor reads
// it; the patient sees the read in the access log and revokes; the doctor
// is refused; a break-glass read shows highlighted in the patient's log.
// The SDK only sets the consortium up (organisations and enrolments) and
// checks, behind the pages, what reached the ledger.
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
	admit := func(org, name string, escrow []byte) client.User {
		admin, adminPub, err := client.GenerateUser()
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
		return admin
	}
	adminA := admit("clinic-a", "Clinic A", escrowPub)
	adminB := admit("clinic-b", "Clinic B", nil)
	adminE := admit("hospital-e", "Hospital E Emergency", nil)

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

	// The clinicians: clinic A's physician, clinic B's (the second
	// doctor) and hospital E's emergency physician, each in a browser of
	// their own, keys made there and enrolled by their organisation.
	docA := p.another("clinic-a")
	docAID := docA.enrol(base, "clinic a physician 2026", c, adminA)
	docB := p.another("clinic-b")
	docBID := docB.enrol(base, "clinic b physician 2026", c, adminB)
	erDoc := p.another("hospital-e")
	erDocID := erDoc.enrol(base, "emergency physician 2026", c, adminE)

	// 2. Clinic A's physician adds a lab result through the form, sealed
	// in their browser for the patient.
	docA.run("add a lab result", tab("add"), chromedp.WaitVisible("#add-form", chromedp.ByID),
		chromedp.SendKeys("#add-patient", string(pid), chromedp.ByID),
		chromedp.SetValue("#add-code", "4548-4", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('add-code').dispatchEvent(new Event('change'))`, nil),
		chromedp.SendKeys("#add-value", "6.1", chromedp.ByID),
		chromedp.SetValue("#add-when", "2026-11-20T09:30", chromedp.ByID),
		chromedp.Click("#add-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-add[data-state="added"]`, chromedp.ByQuery), docA.shot("2-lab-result-added"))
	views, err := c.Records(ctx, client.SignerOf(key), pid, consent.PurposePersonal)
	if err != nil || len(views) != 1 || views[0].Record.Author != docAID || views[0].Record.Category != "lab" {
		t.Fatalf("records on chain after the clinician's form: %+v %v", views, err)
	}
	recordID := views[0].Record.ID
	sent, err := c.Read(ctx, client.UserOf(key), pid, recordID, 0, consent.PurposePersonal)
	if err != nil {
		t.Fatal(err)
	}
	labJSON := string(sent.Content) // what the patient, and only they, can read

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
	p.run("grants view", tab("grants"),
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
	docBRadio := fmt.Sprintf(`#grantee-m-%s`, docBID)
	p.run("search clinic B", chromedp.SendKeys("#grantee-q", "clinic b", chromedp.ByID),
		chromedp.Click("#grantee-search", chromedp.ByID),
		chromedp.WaitVisible(docBRadio, chromedp.ByQuery))
	if opts := p.text("#grantee-options"); !strings.Contains(opts, "Everyone at Clinic B") || !strings.Contains(opts, "Physician at Clinic B") || strings.Contains(opts, "Clinic A") {
		t.Errorf("search results for clinic b: %q", opts)
	}
	p.run("grant doctor B", chromedp.Click(docBRadio, chromedp.ByQuery),
		chromedp.SetValue("#grant-purpose", "treatment", chromedp.ByID),
		chromedp.Click("#grant-btn", chromedp.ByID),
		chromedp.WaitVisible(`#grant-list li[data-state="live"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#grant-btn:not([aria-busy])", chromedp.ByQuery))
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
	if err != nil || len(grants) != 1 || grants[0].Grantee.Member != docBID || !grants[0].Scope.All || grants[0].Purpose != consent.PurposeTreatment {
		t.Fatalf("on chain after the page's grant: %+v %v", grants, err)
	}

	// 4. Doctor B opens the patient from their Patients view and reads the
	// lab result: the key wrap the patient's page made for them opens it.
	docB.run("doctor B's patients", tab("add"), tab("patients"),
		chromedp.WaitVisible(`#view-patients[data-state="loaded"]`, chromedp.ByQuery),
		chromedp.Click(`li[data-patient="`+string(pid)+`"] button.open`, chromedp.ByQuery),
		chromedp.WaitVisible(`#patient-detail[data-state="loaded"]`, chromedp.ByQuery), docB.shot("4-doctor-b-reads"))
	if recs := docB.text("#patient-records"); !strings.Contains(recs, "Hemoglobin A1c") || !strings.Contains(recs, "6.1 %") || !strings.Contains(recs, "from Clinic A") {
		t.Fatalf("doctor B's view of the patient's records: %q", recs)
	}

	// 5. The patient sees the read in the access log, then revokes.
	refreshLog := chromedp.Tasks{chromedp.Click("#log-refresh", chromedp.ByID), chromedp.WaitVisible("#log-refresh:not([aria-busy])", chromedp.ByQuery)}
	p.run("access log", tab("log"))
	docBEntry := fmt.Sprintf(`#view-log[data-state="loaded"] #log-list li[data-reader="%s"][data-basis="grant"]`, docBID)
	p.waitFor("doctor B's read in the log", docBEntry, refreshLog)
	entry := p.text(docBEntry)
	for _, want := range []string{"Physician at Clinic B", "read your lab result, version 1", "Treatment", "Under your grant " + grants[0].ID[:8]} {
		if !strings.Contains(entry, want) {
			t.Errorf("doctor B's log entry lacks %q: %q", want, entry)
		}
	}
	checkAccessible(t, p.ctx)
	p.run("log shot", p.shot("5-access-log"))
	p.run("revoke", tab("grants"),
		chromedp.WaitVisible(`#grant-list li[data-state="live"] button.danger`, chromedp.ByQuery),
		chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`#grant-list li[data-state="live"] button.danger`, chromedp.ByQuery),
		chromedp.WaitVisible(`#grant-list li[data-state="ended"]`, chromedp.ByQuery),
		p.shot("5-revoked"))
	if s := p.text(`#grant-list li[data-state="ended"]`); !strings.Contains(s, "Revoked") {
		t.Errorf("revoked grant shows %q", s)
	}

	// 6. Doctor B is refused: opening the patient again lists nothing,
	// and the node's answer to a read is the one a stranger gets for a
	// record that does not exist, so the refusal says nothing about it.
	docB.run("doctor B refused", chromedp.Click(`li[data-patient="`+string(pid)+`"] button.open`, chromedp.ByQuery),
		chromedp.WaitVisible(`#patient-detail[data-state="empty"]`, chromedp.ByQuery), docB.shot("6-doctor-b-refused"))
	if recs := docB.text("#patient-detail"); strings.Contains(recs, "Hemoglobin") || strings.Contains(recs, "6.1") || !strings.Contains(recs, "No records you may read") {
		t.Errorf("doctor B after the revocation sees %q", recs)
	}
	docBKey := docB.key("clinic b physician 2026")
	_, refused := c.Read(ctx, client.UserOf(docBKey), pid, recordID, 0, consent.PurposeTreatment)
	missing := strings.Repeat("0", 32)
	_, absent := c.Read(ctx, client.UserOf(docBKey), pid, missing, 0, consent.PurposeTreatment)
	if medledger.KindOf(refused) != medledger.KindNotFound || medledger.KindOf(absent) != medledger.KindNotFound ||
		strings.ReplaceAll(refused.Error(), recordID, missing) != absent.Error() {
		t.Fatalf("after revocation: %v; for a record that does not exist: %v", refused, absent)
	}

	// 7. Hospital E's emergency physician breaks the glass, with a reason
	// and a justification, and reads; the patient's log shows the read
	// highlighted, with the reason.
	const reasonInWords = "The patient is unconscious"
	erDoc.run("break the glass", tab("emergency"), chromedp.WaitVisible("#emergency-form", chromedp.ByID),
		chromedp.SendKeys("#em-patient", string(pid), chromedp.ByID),
		chromedp.SetValue("#em-reason", "unconscious", chromedp.ByID),
		chromedp.SendKeys("#em-why", "Brought in unresponsive; need the latest results before treating.", chromedp.ByID),
		chromedp.Click("#em-confirm", chromedp.ByID),
		chromedp.Click("#em-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-emergency[data-state="declared"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#em-detail[data-state="loaded"]`, chromedp.ByQuery), erDoc.shot("7-break-glass-read"))
	if recs := erDoc.text("#em-records"); !strings.Contains(recs, "Hemoglobin A1c") || !strings.Contains(recs, "6.1 %") {
		t.Fatalf("the emergency physician's read: %q", recs)
	}
	emergency := fmt.Sprintf(`#view-log[data-state="loaded"] #log-list li[data-reader="%s"][data-basis="break_glass"]`, erDocID)
	p.run("access log again", tab("log"))
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
	if s := p.text("#log-status"); !strings.Contains(s, "under emergency access") {
		t.Errorf("log status: %q", s)
	}
	p.run("break-glass shot", chromedp.ScrollIntoView(emergency, chromedp.ByQuery), p.shot("7-break-glass-in-log"))
	if docsShots() {
		p.elementShot("#view-log", filepath.Join("..", "..", "docs", "portal", "access-log.png"))
	}
	// The grants view lists the declaration too.
	p.run("emergencies", tab("grants"), chromedp.WaitVisible("#emergencies", chromedp.ByID))
	if s := p.text("#emergency-list"); !strings.Contains(s, reasonInWords) || !strings.Contains(s, "Hospital E Emergency") {
		t.Errorf("emergency declarations: %q", s)
	}

	// No request from any of the four browsers carried a private key or
	// the record's plaintext.
	secrets := secretsOf(t, "patient", key)
	for name, k := range map[string]*client.Key{"clinic A's physician": docA.key("clinic a physician 2026"), "doctor B": docBKey,
		"the emergency physician": erDoc.key("emergency physician 2026")} {
		for n, v := range secretsOf(t, name, k) {
			secrets[n] = v
		}
	}
	secrets["lab result plaintext"] = []byte(labJSON)
	checked := 0
	for _, b := range []*browser{p, docA, docB, erDoc} {
		checked += b.checkNoLeaks(secrets)
	}
	t.Logf("%d requests checked for private keys and plaintext", checked)
}

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/client/account"
	"medledger/internal/consent"
	"medledger/seal"
)

// conditionB is a record a colleague at the clinic wrote for the second
// patient, who granted nobody anything.
const conditionB = `{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
"code":{"coding":[{"system":"http://snomed.info/sct","code":"46635009","display":"Type 1 diabetes mellitus"}]},
"subject":{"reference":"Patient/b"},"onsetDateTime":"2010-05-01"}`

// TestClinicianInChromium drives the clinician's views in headless
// Chromium against a real node whose clinic holds an escrow key. The
// clinician makes keys in the browser, is enrolled as a physician, sees the
// patient who granted access and their record decrypted, adds a lab result
// through the form (which the patient reads with the SDK), is refused an
// invalid FHIR upload, and breaks the glass for a patient who granted
// nothing. No request carries the clinician's private keys or a record's
// plaintext.
func TestClinicianInChromium(t *testing.T) {
	chromium := requireChromium(t)
	const clinic = "clinic-c"
	n, reg, escrowPub := startNodeWith(t, clinic)
	base := n.APIURL()
	c := client.New(base)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The regulator admits the clinic; its admin publishes the escrow key
	// and enrols a colleague. Two patients register.
	admin, adminPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	colleague, colleaguePub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	patA, patAPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	patB, patBPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	send := func(s client.Signer, m client.Msg) {
		t.Helper()
		if _, err := c.Send(ctx, s, m); err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
	}
	send(client.SignerOf(reg), &client.AdmitOrg{Org: clinic, OrgType: medledger.OrgClinic, Name: "Clinic C", Licence: "C-1", Admin: adminPub})
	send(admin.Signer, &client.SetOrgKey{EncryptionKey: escrowPub})
	send(admin.Signer, &client.EnrolMember{Keys: colleaguePub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(patA.Signer, &client.RegisterPatient{Keys: patAPub})
	send(patB.Signer, &client.RegisterPatient{Keys: patBPub})
	// Patient A records a lab result themselves; the colleague records a
	// condition of patient B (wrapped for the clinic's escrow key too).
	if _, err := c.PutRecord(ctx, patA, patA.ID, []byte(labResult), "Observation", "lab"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, colleague, patB.ID, []byte(conditionB), "Condition", "condition"); err != nil {
		t.Fatal(err)
	}

	step := 0
	b := newBrowser(t, ctx, chromium, screenshotDir(t), "clinician", &step)
	bctx, rec, shot, run := b.ctx, b.rec, b.shot, b.run
	awaitPromise := func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	tab := func(view string) chromedp.Action {
		return chromedp.Click(`#views-tabs a[data-view="`+view+`"]`, chromedp.ByQuery)
	}

	// 1. The clinician creates keys in the browser.
	const passphrase = "clinic night shift 2026"
	run("create keys", network.Enable(), emulation.SetTimezoneOverride("UTC"),
		chromedp.Navigate(base+"/"), chromedp.WaitVisible("#setup", chromedp.ByID),
		chromedp.SendKeys("#create-pass", passphrase, chromedp.ByID),
		chromedp.SendKeys("#create-pass2", passphrase, chromedp.ByID),
		chromedp.Click("#create-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="unregistered"]`, chromedp.ByQuery),
		shot("keys-created"))

	// 2. The admin enrols the page's public keys as a physician.
	var pub struct {
		ID            string `json:"id"`
		SigningKey    []byte `json:"signing_key"`
		EncryptionKey []byte `json:"encryption_key"`
	}
	run("public keys", chromedp.Evaluate(`medledger.publicKeys()`, &pub, awaitPromise))
	docID := medledger.ID(pub.ID)
	if docID.Validate() != nil || len(pub.SigningKey) == 0 || len(pub.EncryptionKey) == 0 {
		t.Fatalf("the page's public keys: %+v", pub)
	}
	send(admin.Signer, &client.EnrolMember{Keys: client.PublicKeys{SigningKey: pub.SigningKey, EncryptionKey: pub.EncryptionKey},
		Roles: []medledger.Role{medledger.RolePhysician}})

	// 3. After a reload and unlock, the page shows the member's views; no
	// patient has granted access yet.
	run("unlock as a member", chromedp.Reload(), chromedp.WaitVisible("#unlock", chromedp.ByID),
		chromedp.SendKeys("#unlock-pass", passphrase, chromedp.ByID),
		chromedp.Click("#unlock-btn", chromedp.ByID),
		chromedp.WaitVisible(`#reg-status[data-state="registered"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-patients[data-state="empty"]`, chromedp.ByQuery),
		shot("member-no-patients"))
	if got := text("#reg-status"); got != "Registered (member)" {
		t.Errorf("registration status %q", got)
	}
	if got := text("#views-tabs"); !strings.Contains(got, "Patients") || !strings.Contains(got, "Add a record") ||
		!strings.Contains(got, "Emergency access") || strings.Contains(got, "Records") {
		t.Errorf("the member's tabs: %q", got)
	}
	if got := text("#patients-status"); !strings.Contains(got, "No patient has granted you") {
		t.Errorf("empty patients view: %q", got)
	}
	checkAccessible(t, bctx)

	// 4. Patient A grants the physician lab results for treatment (and the
	// SDK re-wraps the existing record for them). The Patients view lists
	// the patient; their record is read for treatment and decrypted.
	hdr, err := c.Header(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Grant(ctx, patA, &client.GrantAccess{Patient: patA.ID, Grantee: client.Grantee{Member: docID},
		Scope: client.Scope{Categories: []string{"lab", "vital-signs"}}, Purpose: consent.PurposeTreatment,
		Expires: hdr.Time.Add(30 * 24 * time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	run("patients", tab("add"), chromedp.WaitVisible("#view-add", chromedp.ByID), tab("patients"),
		chromedp.WaitVisible(`#view-patients[data-state="loaded"]`, chromedp.ByQuery))
	cards := text("#patients-list")
	for _, want := range []string{string(patA.ID[:8]), "For treatment", "Lab results, vital signs", "granted to you", "until"} {
		if !strings.Contains(cards, want) {
			t.Errorf("the patients list lacks %q:\n%s", want, cards)
		}
	}
	var fullID string
	run("full ID", chromedp.Evaluate(`document.querySelector('li[data-patient] details.fullid > code').textContent`, &fullID))
	if fullID != string(patA.ID) {
		t.Errorf("the patient's full ID is %q, want %q", fullID, patA.ID)
	}
	run("open the patient", chromedp.Click(`li[data-patient="`+string(patA.ID)+`"] button.open`, chromedp.ByQuery),
		chromedp.WaitVisible(`#patient-detail[data-state="loaded"]`, chromedp.ByQuery), shot("patient-records"))
	records := text("#patient-records")
	for _, want := range []string{"Hemoglobin A1c", "6.1 %", "Lab result"} {
		if !strings.Contains(records, want) {
			t.Errorf("the patient's records lack %q:\n%s", want, records)
		}
	}
	if strings.Contains(records, "{") || strings.Contains(records, "resourceType") {
		t.Errorf("the patient's records show raw JSON:\n%s", records)
	}
	if got := text("#patient-detail .notice"); !strings.Contains(got, "logged") || !strings.Contains(got, "treatment") {
		t.Errorf("the records do not say reads are logged: %q", got)
	}
	checkAccessible(t, bctx)

	// The read is in patient A's access log: for treatment, under the grant.
	var treatmentReads int
	for deadline := time.Now().Add(15 * time.Second); treatmentReads == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		log, err := c.AccessLog(ctx, patA.Signer, patA.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range log {
			if e.Reader == docID && e.Basis == consent.BasisGrant && e.Purpose == consent.PurposeTreatment {
				treatmentReads++
			}
		}
	}
	if treatmentReads != 1 {
		t.Errorf("patient A's access log has %d treatment reads by the clinician, want 1", treatmentReads)
	}

	// 5. The clinician adds a glucose result for the patient through the form.
	run("add a lab result", chromedp.Click("#patient-add-btn", chromedp.ByID),
		chromedp.WaitVisible("#add-form", chromedp.ByID),
		chromedp.SetValue("#add-code", "2345-7", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('add-code').dispatchEvent(new Event('change'))`, nil),
		chromedp.SendKeys("#add-value", "98", chromedp.ByID),
		chromedp.SetValue("#add-when", "2026-11-21T08:15", chromedp.ByID),
		shot("add-form"))
	var prefilled, unit string
	run("prefill", chromedp.Value("#add-patient", &prefilled, chromedp.ByID), chromedp.Value("#add-unit", &unit, chromedp.ByID))
	if prefilled != string(patA.ID) || unit != "mg/dL" {
		t.Errorf("the form holds patient %q and unit %q", prefilled, unit)
	}
	checkAccessible(t, bctx)
	run("submit the lab result", chromedp.Click("#add-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-add[data-state="added"]`, chromedp.ByQuery), shot("added"))
	if got := text("#add-result"); !strings.Contains(got, "Added") || !strings.Contains(got, "The patient sees it in their timeline") {
		t.Errorf("result after adding: %q", got)
	}
	// The patient reads it with their own key: the FHIR resource the form described.
	views, err := c.Records(ctx, patA.Signer, patA.ID, consent.PurposePersonal)
	if err != nil {
		t.Fatal(err)
	}
	var added *client.Record
	for _, v := range views {
		if v.Record.Author == docID {
			added = v.Record
		}
	}
	if added == nil {
		t.Fatalf("the patient has no record by the clinician among %d", len(views))
	}
	if added.Category != "lab" || added.ContentType != "Observation" || added.AuthorOrg != clinic || added.Latest != 1 {
		t.Errorf("anchored record: %+v", added)
	}
	p, err := c.Read(ctx, patA, patA.ID, added.ID, 0, consent.PurposePersonal)
	if err != nil {
		t.Fatalf("the patient reads the clinician's record: %v", err)
	}
	var obs struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Category     []struct {
			Coding []struct{ System, Code string } `json:"coding"`
		} `json:"category"`
		Code struct {
			Coding []struct{ System, Code, Display string } `json:"coding"`
		} `json:"code"`
		Effective string `json:"effectiveDateTime"`
		Value     struct {
			Value  float64 `json:"value"`
			Unit   string  `json:"unit"`
			System string  `json:"system"`
			Code   string  `json:"code"`
		} `json:"valueQuantity"`
	}
	if err := json.Unmarshal(p.Content, &obs); err != nil {
		t.Fatalf("the record is not JSON: %v", err)
	}
	if obs.ResourceType != "Observation" || obs.Status != "final" || len(obs.Code.Coding) != 1 ||
		obs.Code.Coding[0] != (struct{ System, Code, Display string }{"http://loinc.org", "2345-7", "Glucose"}) ||
		obs.Value.Value != 98 || obs.Value.Unit != "mg/dL" || obs.Value.System != "http://unitsofmeasure.org" ||
		obs.Effective != "2026-11-21T08:15:00Z" || len(obs.Category) != 1 || obs.Category[0].Coding[0].Code != "laboratory" {
		t.Errorf("the record is not the form's observation: %s", p.Content)
	}
	addedPlain := append([]byte(nil), p.Content...)
	// It was wrapped for the patient, the clinician and the clinic's escrow key.
	wrapped := map[string]bool{}
	for _, q := range rec.all() {
		if q.method == "PUT" && strings.Contains(q.url, "/v1/blobs/"+added.ID) && strings.Contains(q.url, "/wraps/") {
			wrapped[q.url[strings.LastIndex(q.url, "/")+1:]] = true
		}
	}
	for who, key := range map[string][]byte{"patient": patAPub.EncryptionKey, "clinician": pub.EncryptionKey, "escrow": escrowPub} {
		if !wrapped[seal.KeyID(key)] {
			t.Errorf("no wrap uploaded for the %s's key (uploaded: %v)", who, wrapped)
		}
	}

	// A clinical note, typed in the form, becomes a FHIR DocumentReference
	// the patient reads.
	const noteText = "Reviewed glucose and HbA1c with the patient.\nContinue diet; recheck in three months."
	run("add a note", chromedp.Click("#add-kind-note", chromedp.ByID),
		chromedp.WaitVisible("#add-note-text", chromedp.ByID),
		chromedp.SendKeys("#add-note-text", noteText, chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('view-add').dataset.state = ''`, nil),
		chromedp.Click("#add-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-add[data-state="added"]`, chromedp.ByQuery), shot("note-added"))
	if got := text("#add-result"); !strings.Contains(got, "Added Progress note") {
		t.Errorf("result after adding a note: %q", got)
	}
	views, err = c.Records(ctx, patA.Signer, patA.ID, consent.PurposePersonal)
	if err != nil {
		t.Fatal(err)
	}
	var notePlainA []byte
	for _, v := range views {
		if v.Record.Author == docID && v.Record.ContentType == "DocumentReference" && v.Record.Category == "document" {
			p, err := c.Read(ctx, patA, patA.ID, v.Record.ID, 0, consent.PurposePersonal)
			if err != nil {
				t.Fatalf("the patient reads the note: %v", err)
			}
			notePlainA = p.Content
		}
	}
	if got := noteAttachment(t, notePlainA); got != noteText {
		t.Errorf("the note the patient reads says %q, want %q", got, noteText)
	}

	// 6. An invalid FHIR file (an Observation without its code) is refused
	// before anything is uploaded.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"resourceType":"Observation","status":"final","valueQuantity":{"value":5}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	uploads := func() int {
		k := 0
		for _, q := range rec.all() {
			if q.method == "PUT" || (q.method == "POST" && strings.Contains(q.url, "/v1/txs")) {
				k++
			}
		}
		return k
	}
	before := uploads()
	run("upload an invalid resource", chromedp.Click("#add-kind-file", chromedp.ByID),
		chromedp.WaitVisible("#add-file", chromedp.ByID),
		chromedp.SetUploadFiles("#add-file", []string{bad}, chromedp.ByID),
		chromedp.Click("#add-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-add[data-state="error"]`, chromedp.ByQuery), shot("invalid-fhir"))
	if got := text("#add-error"); !strings.Contains(got, "cannot be added") || !strings.Contains(got, "Observation.code") {
		t.Errorf("invalid FHIR upload: error %q", got)
	}
	if after := uploads(); after != before {
		t.Errorf("the invalid resource was uploaded or anchored: %d uploads and txs before, %d after", before, after)
	}

	// 7. Break-glass for patient B, who granted nothing: the warning is
	// there in words; an empty and a too-short justification are refused
	// without a tx; with a reason the records show, read for "emergency".
	run("emergency view", tab("emergency"), chromedp.WaitVisible("#emergency-form", chromedp.ByID))
	warning := text("#view-emergency .alarm")
	for _, want := range []string{"Warning", "logged", "The patient is told", "reviewed", "misuse"} {
		if !strings.Contains(warning, want) {
			t.Errorf("the break-glass warning lacks %q:\n%s", want, warning)
		}
	}
	checkAccessible(t, bctx)
	before = uploads()
	run("no reason", chromedp.SendKeys("#em-patient", string(patB.ID), chromedp.ByID),
		chromedp.Click("#em-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-emergency[data-state="refused"]`, chromedp.ByQuery))
	if got := text("#em-error"); !strings.Contains(got, "Choose the reason") {
		t.Errorf("no reason: error %q", got)
	}
	run("empty justification", chromedp.Evaluate(`document.getElementById('view-emergency').dataset.state = ''`, nil),
		chromedp.SetValue("#em-reason", "unconscious", chromedp.ByID),
		chromedp.Click("#em-confirm", chromedp.ByID),
		chromedp.Click("#em-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-emergency[data-state="refused"]`, chromedp.ByQuery), shot("emergency-empty-reason"))
	if got := text("#em-error"); !strings.Contains(got, "Write a justification") {
		t.Errorf("empty justification: error %q", got)
	}
	run("short reason", chromedp.SendKeys("#em-why", "emergency", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('view-emergency').dataset.state = ''`, nil),
		chromedp.Click("#em-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-emergency[data-state="refused"]`, chromedp.ByQuery))
	if got := text("#em-error"); !strings.Contains(got, "too short") {
		t.Errorf("short justification: error %q", got)
	}
	if after := uploads(); after != before {
		t.Errorf("a refused break-glass sent %d requests", after-before)
	}
	const justification = "Brought in unresponsive after a collapse; need history and medication before treatment."
	run("break the glass", clearInput("em-why"), chromedp.SendKeys("#em-why", justification, chromedp.ByID),
		chromedp.Click("#em-btn", chromedp.ByID),
		chromedp.WaitVisible(`#view-emergency[data-state="declared"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#em-detail[data-state="loaded"]`, chromedp.ByQuery), shot("emergency-records"))
	emRecords := text("#em-records")
	for _, want := range []string{"Type 1 diabetes mellitus", "active", "Condition", "from Clinic C", "Emergency access justification", justification} {
		if !strings.Contains(emRecords, want) {
			t.Errorf("the emergency read lacks %q:\n%s", want, emRecords)
		}
	}
	if got := text("#em-records-status"); !strings.Contains(got, "2 records, 2 read") {
		t.Errorf("emergency read status %q", got)
	}
	checkAccessible(t, bctx)

	// The declaration is on the ledger with its reason, and patient B's
	// access log has the clinician's emergency read.
	_, ems, err := c.Grants(ctx, patB.Signer, patB.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ems) != 1 || ems[0].Clinician != docID || ems[0].Reason != "unconscious" || ems[0].Org != clinic || ems[0].Expires-ems[0].Start != 24*3600 {
		t.Errorf("break-glass declarations of patient B: %+v", ems)
	}
	var emergencyReads int
	for deadline := time.Now().Add(15 * time.Second); emergencyReads == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		log, err := c.AccessLog(ctx, patB.Signer, patB.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range log {
			if e.Reader == docID && e.Basis == consent.BasisBreakGlass && e.Purpose == consent.PurposeEmergency {
				emergencyReads++
			}
		}
	}
	if emergencyReads == 0 {
		t.Error("patient B's access log has no emergency read by the clinician")
	}
	// Patient B reads the justification the clinician sealed for them.
	bViews, err := c.Records(ctx, patB.Signer, patB.ID, consent.PurposePersonal)
	if err != nil {
		t.Fatal(err)
	}
	var notePlain []byte
	for _, v := range bViews {
		if v.Record.Author == docID {
			p, err := c.Read(ctx, patB, patB.ID, v.Record.ID, 0, consent.PurposePersonal)
			if err != nil {
				t.Fatalf("patient B reads the justification: %v", err)
			}
			notePlain = p.Content
		}
	}
	if got := noteAttachment(t, notePlain); got != justification {
		t.Errorf("the justification note patient B reads says %q, want %q", got, justification)
	}

	// 8. On a phone, no view overflows sideways.
	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, view := range []string{"patients", "add", "emergency"} {
		var overflow bool
		run("phone "+view, tab(view), chromedp.WaitVisible("#view-"+view, chromedp.ByID), chromedp.Sleep(300*time.Millisecond),
			chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow), shot("phone-"+view))
		if overflow {
			t.Errorf("the %s view is wider than a 390 px phone screen", view)
		}
	}

	// No request carried the clinician's private keys or a record's
	// plaintext; the anchor and the declaration went out signed by the
	// clinician, and the reads were signed read requests.
	var keyFile string
	run("export the key file", chromedp.Evaluate(
		fmt.Sprintf(`medledger.exportKeyFile(%q).then(b => new TextDecoder().decode(b))`, passphrase), &keyFile, awaitPromise))
	kr, err := client.OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kr.Params = account.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	key, err := kr.ImportFile("clinician", []byte(keyFile), passphrase)
	if err != nil || key.ID != docID {
		t.Fatalf("the page's key file: %v (account %s, want %s)", err, key.ID, docID)
	}
	encKey, err := key.EncryptionKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"clinician's signing key seed":       key.SigningKey.Seed(),
		"clinician's signing private key":    key.SigningKey,
		"clinician's encryption private key": encKey,
		"patient A's record":                 []byte(labResult),
		"patient B's record":                 []byte(conditionB),
		"the added lab result":               addedPlain,
		"the justification note":             notePlain,
		"the clinical note":                  notePlainA,
		"the clinical note's text":           []byte(noteText),
		"the justification":                  []byte(justification),
	}
	var txTypes []string
	reqs := rec.all()
	for _, q := range reqs {
		if q.hasBody && len(q.body) == 0 {
			t.Errorf("%s %s: has a body the capture could not read", q.method, q.url)
		}
		data := append([]byte(q.method+" "+q.url+"\n"+q.headers+"\n"), q.body...)
		if found := leaks(data, secrets); len(found) > 0 {
			t.Errorf("%s %s carries %v", q.method, q.url, found)
		}
		if q.method == "POST" && (strings.Contains(q.url, "/v1/txs") || strings.Contains(q.url, "/v1/read")) {
			tx, err := medledger.DecodeTx(q.body)
			if err != nil || tx.Signer != docID || tx.VerifySignature(key.SigningPublicKey) != nil {
				t.Errorf("%s %s: not a tx signed by the clinician (%v)", q.method, q.url, err)
				continue
			}
			txTypes = append(txTypes, tx.MsgType)
		}
	}
	for _, want := range []string{"records/anchor", "consent/break_glass", "audit/access"} {
		if !slices.Contains(txTypes, want) {
			t.Errorf("the capture saw no %s tx among %v", want, txTypes)
		}
	}
	t.Logf("%d requests checked for the clinician's keys and the records' plaintext (%d signed txs and reads)", len(reqs), len(txTypes))
}

// noteAttachment returns the text of a note the portal writes: a FHIR
// DocumentReference with one plain-text attachment.
func noteAttachment(t *testing.T, content []byte) string {
	t.Helper()
	var note struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Content      []struct {
			Attachment struct {
				ContentType string `json:"contentType"`
				Data        []byte `json:"data"`
			} `json:"attachment"`
		} `json:"content"`
	}
	if err := json.Unmarshal(content, &note); err != nil || note.ResourceType != "DocumentReference" || note.Status != "current" ||
		len(note.Content) != 1 || !strings.HasPrefix(note.Content[0].Attachment.ContentType, "text/plain") {
		t.Errorf("not a note: %s (%v)", content, err)
		return ""
	}
	return string(note.Content[0].Attachment.Data)
}

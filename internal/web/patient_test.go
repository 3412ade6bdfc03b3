package web_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
)

const (
	amendedLabResult = `{"resourceType":"Observation","id":"hba1c-1","status":"amended",
"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c/Hemoglobin.total in Blood"}],"text":"Hemoglobin A1c"},
"effectiveDateTime":"2026-11-20T09:30:00Z","valueQuantity":{"value":6.4,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}`
	condition = `{"resourceType":"Condition","id":"dm2","clinicalStatus":{"coding":[{"code":"active"}],"text":"Active"},
"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes mellitus type 2"}],"text":"Type 2 diabetes"},
"onsetDateTime":"2026-11-01T10:00:00Z"}`
	immunization = `{"resourceType":"Immunization","id":"flu-2026","status":"completed",
"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"158"}],"text":"Influenza vaccine"},
"occurrenceDateTime":"2026-10-15T14:00:00Z"}`
)

// TestPatientRecordsInChromium covers the rest of the patient's view in a
// real headless Chromium: a record's version history (an amended lab
// result, its first version read and compared), the FHIR export, delegates
// added and removed, and an erasure request.
func TestPatientRecordsInChromium(t *testing.T) {
	chromium := requireChromium(t)
	n, reg := startNode(t)
	base := n.APIURL()
	c := client.New(base)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	step := 0
	p := newBrowser(t, ctx, chromium, screenshotDir(t), "patient", &step)
	const passphrase = "history export erase 2026"
	pid := p.createKeys(base, passphrase, true)
	key := p.key(passphrase)

	// Clinic A's physician adds three records and amends the lab result.
	_, doc := admitClinic(t, ctx, c, reg, "clinic-a", "Clinic A")
	lab, err := c.PutRecord(ctx, doc, pid, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	cond, err := c.PutRecord(ctx, doc, pid, []byte(condition), "Condition", "condition")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, doc, pid, []byte(immunization), "Immunization", "immunization"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AmendRecord(ctx, doc, lab.Record, []byte(amendedLabResult)); err != nil {
		t.Fatal(err)
	}

	// The timeline shows the latest version of each, and the lab result's
	// history; its first version reads and compares with the current one.
	labEntry := `#timeline li[data-record="` + lab.Record + `"]`
	p.run("timeline", chromedp.Click("#records-refresh", chromedp.ByID),
		chromedp.WaitVisible(`#view-records[data-state="loaded"]`, chromedp.ByQuery))
	tl := p.text("#timeline")
	for _, want := range []string{"6.4 %", "Type 2 diabetes", "Influenza vaccine", "Given", "History: 2 versions"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q: %q", want, tl)
		}
	}
	if strings.Contains(tl, "6.1 %") {
		t.Errorf("the timeline shows the superseded value: %q", tl)
	}
	p.run("history", chromedp.Click(labEntry+" details.history summary", chromedp.ByQuery),
		chromedp.Click(labEntry+` li[data-version="1"] button`, chromedp.ByQuery),
		chromedp.WaitNotVisible(labEntry+` li[data-version="1"] button`, chromedp.ByQuery))
	old := p.text(labEntry + ` li[data-version="1"] .old`)
	if !strings.Contains(old, "Version 1: 6.1 %") || !strings.Contains(old, "now 6.4 %") {
		t.Errorf("version 1 shows %q", old)
	}
	if h := p.text(labEntry + " .versions"); !strings.Contains(h, "Version 2, the current one, amending version 1") || !strings.Contains(h, "from Clinic A") {
		t.Errorf("history: %q", h)
	}
	p.run("history shot", chromedp.ScrollIntoView(labEntry, chromedp.ByQuery), p.shot("history"))
	checkAccessible(t, p.ctx)

	// The FHIR export is a Bundle of the latest version of each record,
	// made in the page.
	downloads := t.TempDir()
	p.run("export", cdpbrowser.SetDownloadBehavior(cdpbrowser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads).WithEventsEnabled(true),
		chromedp.Click("#export-btn", chromedp.ByID))
	var file string
	for deadline := time.Now().Add(15 * time.Second); file == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		names, _ := filepath.Glob(filepath.Join(downloads, "medledger-records-*.json"))
		if len(names) == 1 {
			file = names[0]
		}
	}
	if file == "" {
		t.Fatal("the export downloaded no file")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		ResourceType, Type string
		Entry              []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		}
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatalf("the export is not JSON: %v", err)
	}
	if bundle.ResourceType != "Bundle" || bundle.Type != "collection" || len(bundle.Entry) != 3 {
		t.Fatalf("export: %s %s with %d entries", bundle.ResourceType, bundle.Type, len(bundle.Entry))
	}
	want := map[string]string{"urn:medledger:record:" + lab.Record + ":2": amendedLabResult, "urn:medledger:record:" + cond.Record + ":1": condition}
	for _, e := range bundle.Entry {
		if w, ok := want[e.FullURL]; ok {
			if !sameJSON(t, e.Resource, []byte(w)) {
				t.Errorf("export entry %s differs from what was written: %s", e.FullURL, e.Resource)
			}
			delete(want, e.FullURL)
		}
	}
	if len(want) > 0 {
		t.Errorf("export lacks %v", want)
	}
	if msg := p.text("#message"); !strings.Contains(msg, "FHIR R4 Bundle of 3 resources") {
		t.Errorf("after the export: %q", msg)
	}

	// Delegates: a malformed or unknown ID is refused with a clear message;
	// a registered account is added, shown, and removed, on chain.
	guardian, guardianPub, err := client.GenerateUser()
	if err != nil {
		t.Fatal(err)
	}
	p.run("delegates", tab("delegates"),
		chromedp.WaitVisible(`#view-delegates[data-state="empty"]`, chromedp.ByQuery),
		chromedp.SendKeys("#delegate-id", "not an id", chromedp.ByID),
		chromedp.Click("#delegate-btn", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID))
	if e := p.text("#error"); !strings.Contains(e, "26 characters") {
		t.Errorf("malformed delegate ID: %q", e)
	}
	p.run("unknown delegate", clearInput("delegate-id"), chromedp.SendKeys("#delegate-id", string(guardian.Signer.ID), chromedp.ByID),
		chromedp.Click("#delegate-btn", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID))
	if e := p.text("#error"); !strings.Contains(e, "No account has this ID") {
		t.Errorf("unregistered delegate: %q", e)
	}
	if _, err := c.Send(ctx, guardian.Signer, &client.RegisterPatient{Keys: guardianPub}); err != nil {
		t.Fatal(err)
	}
	p.run("add delegate", chromedp.SetValue("#delegate-relation", "guardian", chromedp.ByID),
		chromedp.Click("#delegate-btn", chromedp.ByID),
		chromedp.WaitVisible(`#delegate-list li[data-delegate="`+string(guardian.Signer.ID)+`"]`, chromedp.ByQuery),
		p.shot("delegate"))
	checkAccessible(t, p.ctx)
	if s := p.text("#delegate-list"); !strings.Contains(s, "Guardian") || !strings.Contains(s, "No end date") {
		t.Errorf("delegate list: %q", s)
	}
	acct, err := c.Account(ctx, pid)
	if err != nil || len(acct.Delegates) != 1 || acct.Delegates[0].ID != guardian.Signer.ID || acct.Delegates[0].Relation != "guardian" {
		t.Fatalf("delegates on chain: %+v %v", acct, err)
	}
	p.run("remove delegate", chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`#delegate-list li button.danger`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-delegates[data-state="empty"]`, chromedp.ByQuery))
	if acct, err = c.Account(ctx, pid); err != nil || len(acct.Delegates) != 0 {
		t.Fatalf("after removal, delegates on chain: %+v %v", acct, err)
	}

	// Erasure: the condition is erased at the patient's request; the
	// timeline says one erased record is hidden, and nobody can read it.
	condEntry := `#timeline li[data-record="` + cond.Record + `"]`
	p.run("erase", tab("records"),
		chromedp.Click(condEntry+" details.danger-zone summary", chromedp.ByQuery),
		p.shot("erase"),
		chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(condEntry+" details.danger-zone button.danger", chromedp.ByQuery),
		// The timeline reloads once the erasure commits.
		chromedp.WaitNotPresent(condEntry, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-records[data-state="loaded"]`, chromedp.ByQuery))
	if s := p.text("#records-status"); !strings.Contains(s, "2 records") || !strings.Contains(s, "1 erased record is not shown") {
		t.Errorf("after the erasure: %q", s)
	}
	if _, err := c.Read(ctx, client.UserOf(key), pid, cond.Record, 0, consent.PurposePersonal); medledger.KindOf(err) != medledger.KindGone {
		t.Errorf("reading the erased record: %v", err)
	}

	secrets := secretsOf(t, "patient", key)
	for name, body := range map[string]string{"lab result": labResult, "amended lab result": amendedLabResult, "condition": condition, "immunization": immunization} {
		secrets[name+" plaintext"] = []byte(body)
	}
	t.Logf("%d requests checked for private keys and plaintext", p.checkNoLeaks(secrets))
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
)

// TestGrantToOrganisationInChromium gives a whole organisation access from
// the grants view, limited to lab results, an end date and a number of
// reads, and checks what the seeds' scenario does not: the empty states,
// the form's refusals before anything is signed, that the page shares the
// record with every active member of the organisation (each one reads it),
// that the reads count down in the list, that the access log names a
// record by the title the timeline decrypted, and that both views fit a
// phone. The clinicians act through the SDK; the clinician's view has its
// own browser test.
func TestGrantToOrganisationInChromium(t *testing.T) {
	chromium := requireChromium(t)
	n, reg := startNode(t)
	base := n.APIURL()
	c := client.New(base)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// admit admits an organisation and enrols count physicians in it.
	admit := func(org, name string, count int) []client.User {
		admin, adminPub, err := client.GenerateUser()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, client.SignerOf(reg), &client.AdmitOrg{Org: org, OrgType: medledger.OrgClinic, Name: name, Licence: "L-" + org, Admin: adminPub}); err != nil {
			t.Fatal(err)
		}
		var docs []client.User
		for i := 0; i < count; i++ {
			doc, docPub, err := client.GenerateUser()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Send(ctx, admin.Signer, &client.EnrolMember{Keys: docPub, Roles: []medledger.Role{medledger.RolePhysician}}); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, doc)
		}
		return docs
	}
	docA := admit("clinic-a", "Clinic A", 1)[0]
	clinicB := admit("clinic-b", "Clinic B", 2)

	step := 0
	p := newBrowser(t, ctx, chromium, screenshotDir(t), "patient", &step)
	const passphrase = "grants for my whole clinic"
	pid := p.createKeys(base, passphrase, true)
	key := p.key(passphrase)

	// Before anything happens, both views say so in words.
	p.run("empty log", chromedp.Click(`#views-tabs a[data-view="log"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-log[data-state="empty"]`, chromedp.ByQuery), p.shot("empty-log"))
	if s := p.text("#log-status"); !strings.Contains(s, "Nobody has read your records yet") {
		t.Errorf("empty access log says %q", s)
	}
	checkAccessible(t, p.ctx)
	p.run("empty grants", chromedp.Click(`#views-tabs a[data-view="grants"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-grants[data-state="empty"]`, chromedp.ByQuery), p.shot("empty-grants"))
	if s := p.text("#grants-status"); !strings.Contains(s, "No grants yet") {
		t.Errorf("empty grants say %q", s)
	}

	// Clinic A's physician adds a lab result; the patient's timeline reads it.
	ref, err := c.PutRecord(ctx, docA, pid, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	p.run("timeline", chromedp.Click(`#views-tabs a[data-view="records"]`, chromedp.ByQuery),
		chromedp.Click("#records-refresh", chromedp.ByID),
		chromedp.WaitVisible(`#view-records[data-state="loaded"]`, chromedp.ByQuery), p.shot("timeline"))

	// The form refuses an end date in the past and a read limit of 0
	// before anything is signed.
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format("2006-01-02") }
	orgRadio := `#grantee-o-clinic-b`
	p.run("choose clinic B", chromedp.Click(`#views-tabs a[data-view="grants"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#view-grants[data-state="empty"]`, chromedp.ByQuery),
		chromedp.SendKeys("#grantee-q", "clinic-b", chromedp.ByID),
		chromedp.Click("#grantee-search", chromedp.ByID),
		chromedp.WaitVisible(orgRadio, chromedp.ByQuery),
		chromedp.Click(orgRadio, chromedp.ByQuery),
		chromedp.Click("#scope-some", chromedp.ByID),
		chromedp.WaitVisible("#scope-cat-lab", chromedp.ByID))
	if opts := p.text("#grantee-options"); strings.Count(opts, "Physician at Clinic B") != 2 {
		t.Errorf("search results for clinic-b: %q", opts)
	}
	p.run("no kind chosen", chromedp.Click("#grant-btn", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID))
	if e := p.text("#error"); !strings.Contains(e, "at least one kind of record") {
		t.Errorf("grant with no kind of record: %q", e)
	}
	p.run("past date", chromedp.Click("#scope-cat-lab", chromedp.ByID),
		chromedp.SetValue("#grant-expires", day(-1), chromedp.ByID),
		chromedp.Click("#grant-btn", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID), p.shot("past-date"))
	if e := p.text("#error"); !strings.Contains(e, "end date in the future") {
		t.Errorf("grant ending yesterday: %q", e)
	}
	var invalid string
	p.run("invalid mark", chromedp.AttributeValue("#grant-expires", "aria-invalid", &invalid, nil, chromedp.ByID))
	if invalid != "true" {
		t.Errorf("the end date is not marked invalid: aria-invalid=%q", invalid)
	}
	p.run("zero reads", chromedp.SetValue("#grant-expires", day(10), chromedp.ByID),
		chromedp.SetValue("#grant-max", "0", chromedp.ByID),
		chromedp.Click("#grant-btn", chromedp.ByID), chromedp.WaitVisible("#error", chromedp.ByID))
	if e := p.text("#error"); !strings.Contains(e, "whole number of 1 or more") {
		t.Errorf("grant with 0 reads: %q", e)
	}
	if grants, _, err := c.Grants(ctx, client.SignerOf(key), pid); err != nil || len(grants) != 0 {
		t.Fatalf("refused forms signed something: %+v %v", grants, err)
	}

	// Everyone at clinic B, lab results only, for 3 reads.
	p.run("grant clinic B", chromedp.SetValue("#grant-max", "3", chromedp.ByID),
		chromedp.SetValue("#grant-purpose", "treatment", chromedp.ByID),
		chromedp.Click("#grant-btn", chromedp.ByID),
		chromedp.WaitVisible(`#grant-list li[data-state="live"]`, chromedp.ByQuery), p.shot("granted"))
	if msg := p.text("#message"); !strings.Contains(msg, "Access given") || !strings.Contains(msg, "1 record version shared") {
		t.Errorf("after the grant: %q", msg)
	}
	list := p.text("#grant-list")
	for _, want := range []string{"Everyone at Clinic B", "In force", "Only: Lab result", "Treatment", "0 of 3"} {
		if !strings.Contains(list, want) {
			t.Errorf("grant list lacks %q: %q", want, list)
		}
	}
	grants, _, err := c.Grants(ctx, client.SignerOf(key), pid)
	if err != nil || len(grants) != 1 {
		t.Fatalf("on chain after the page's grant: %+v %v", grants, err)
	}
	g := grants[0]
	end, _ := time.ParseInLocation("2006-01-02", day(10), time.Local)
	if g.Grantee.Org != "clinic-b" || g.Grantee.Member != "" || g.Scope.All || len(g.Scope.Categories) != 1 || g.Scope.Categories[0] != "lab" ||
		g.MaxReads != 3 || g.Purpose != consent.PurposeTreatment || g.Expires != end.Unix() {
		t.Fatalf("on chain: %+v (want clinic-b, lab, 3 reads, expires %d)", g, end.Unix())
	}

	// Each of clinic B's physicians reads the lab result with a key wrap
	// the page made for them.
	for i, doc := range clinicB {
		pt, err := c.Read(ctx, doc, pid, ref.Record, 0, consent.PurposeTreatment)
		if err != nil {
			t.Fatalf("clinic B's physician %d reads under the page's grant: %v", i+1, err)
		}
		if string(pt.Content) != labResult {
			t.Fatalf("clinic B's physician %d read %q", i+1, pt.Content)
		}
	}

	// The log names the record by the title the timeline decrypted, and
	// lists both reads under the grant.
	p.run("access log", chromedp.Click(`#views-tabs a[data-view="log"]`, chromedp.ByQuery))
	refreshLog := chromedp.Tasks{chromedp.Click("#log-refresh", chromedp.ByID), chromedp.WaitVisible("#log-refresh:not([aria-busy])", chromedp.ByQuery)}
	for _, doc := range clinicB {
		p.waitFor("clinic B's reads in the log", fmt.Sprintf(`#view-log[data-state="loaded"] #log-list li[data-reader="%s"][data-basis="grant"]`, doc.Signer.ID), refreshLog)
	}
	own := fmt.Sprintf(`#log-list li[data-reader="%s"]`, pid)
	if s := p.text(own); !strings.Contains(s, "You read your lab result") || !strings.Contains(s, "Hemoglobin A1c") {
		t.Errorf("the patient's own read: %q", s)
	}
	if s := p.text(fmt.Sprintf(`#log-list li[data-reader="%s"]`, clinicB[0].Signer.ID)); !strings.Contains(s, "Physician at Clinic B") || !strings.Contains(s, "Under your grant "+g.ID[:8]) {
		t.Errorf("clinic B's read: %q", s)
	}
	p.run("log shot", p.shot("access-log"))

	// The grant counts the reads.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(400 * time.Millisecond) {
		// Leaving the view and coming back loads it again.
		p.run("grants again", chromedp.Click(`#views-tabs a[data-view="log"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#view-log`, chromedp.ByQuery),
			chromedp.Click(`#views-tabs a[data-view="grants"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#view-grants[data-state="loaded"]`, chromedp.ByQuery))
		s := p.text("#grant-list")
		if strings.Contains(s, "2 of 3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the grant does not count two reads: %q", s)
		}
	}
	p.run("reads counted", p.shot("reads-counted"))
	checkAccessible(t, p.ctx)

	// On a phone, neither view is wider than the screen.
	p.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, view := range []string{"grants", "log"} {
		var overflow bool
		p.run("phone "+view, chromedp.Click(fmt.Sprintf(`#views-tabs a[data-view="%s"]`, view), chromedp.ByQuery),
			chromedp.WaitVisible(fmt.Sprintf(`#view-%s[data-state="loaded"]`, view), chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow), p.shot("phone-"+view))
		if overflow {
			t.Errorf("the %s view is wider than a 390 px phone screen", view)
		}
	}

	secrets := secretsOf(t, "patient", key)
	secrets["lab result plaintext"] = []byte(labResult)
	t.Logf("%d requests checked for private keys and plaintext", p.checkNoLeaks(secrets))
}

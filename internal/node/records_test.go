package node_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
	"medledger/internal/node"
	"medledger/seal"
)

const labResult = `{"resourceType":"Observation","id":"hba1c-1","status":"final",
"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
"effectiveDateTime":"2026-11-20T09:30:00Z","valueQuantity":{"value":6.1,"unit":"%"}}`

// world is the seeds' cast on one node.
type world struct {
	n                                          interface{ APIURL() string }
	c                                          *client.Client
	reg, patient                               signer
	hospA, labB, hospD, hospE                  signer // admins
	registrarA, labTech, doctorC, erDoc, clerk signer
}

func setup(t *testing.T) (*world, func()) {
	w := &world{}
	w.reg = newSigner(t)
	home := initHome(t, w.reg)
	// This node is lab B's break-glass escrow.
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
	cfg.Escrow.Org = "lab-b"
	if err := node.WriteConfig(home, cfg); err != nil {
		t.Fatal(err)
	}
	n := start(t, home)
	w.n = n
	w.c = client.New(n.APIURL())
	for _, s := range []*signer{&w.patient, &w.hospA, &w.labB, &w.hospD, &w.hospE, &w.registrarA, &w.labTech, &w.doctorC, &w.erDoc, &w.clerk} {
		*s = newSigner(t)
	}
	admit := func(org string, typ medledger.OrgType, admin signer) {
		send(t, w.c, w.reg, &client.AdmitOrg{Org: org, OrgType: typ, Name: org, Licence: "L-" + org, Admin: admin.pub})
	}
	admit("hospital-a", medledger.OrgHospital, w.hospA)
	admit("lab-b", medledger.OrgLab, w.labB)
	send(t, w.c, w.labB, &client.SetOrgKey{EncryptionKey: escrow.PublicKey().Bytes()})
	admit("hospital-d", medledger.OrgHospital, w.hospD)
	admit("hospital-e", medledger.OrgHospital, w.hospE)
	enrol := func(admin, m signer, roles ...medledger.Role) {
		send(t, w.c, admin, &client.EnrolMember{Keys: m.pub, Roles: roles})
	}
	enrol(w.hospA, w.registrarA, medledger.RoleRegistrar)
	enrol(w.labB, w.labTech, medledger.RoleLabTechnician)
	enrol(w.hospD, w.doctorC, medledger.RolePhysician)
	enrol(w.hospE, w.erDoc, medledger.RolePhysician)
	enrol(w.hospE, w.clerk, medledger.RoleClaimsOfficer)
	// 1. The patient registers at hospital A.
	send(t, w.c, w.patient, &client.RegisterPatient{Keys: w.patient.pub})
	send(t, w.c, w.registrarA, &client.AttestPatient{Patient: w.patient.ID, Method: "in_person"})
	return w, func() { n.Close() }
}

func postRead(t *testing.T, url string, raw []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/read", "application/cbor", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// readRequest builds a signed read request the way client.Read does.
func readRequest(t *testing.T, w *world, s signer, record string, purpose string, nonce uint64) []byte {
	t.Helper()
	ctx := context.Background()
	chainID, _ := w.c.ChainID(ctx)
	h, err := w.c.Header(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	msg := &client.Access{Patient: w.patient.ID, Record: record, Purpose: purpose}
	tx := &medledger.Tx{ChainID: chainID, Signer: s.ID, Nonce: nonce, MsgType: msg.Type(), Msg: medledger.MustMarshal(msg), Unordered: true, TimeoutHeight: uint64(h.Height + 100)}
	if err := tx.Sign(s.Key); err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.Encode()
	return raw
}

func TestSeedsScenario(t *testing.T) {
	w, done := setup(t)
	defer done()
	ctx := context.Background()
	c := w.c

	// 1b. Lab B authors a lab result, sealed on the lab's machine.
	ref, err := c.PutRecord(ctx, w.labTech.user(), w.patient.ID, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	// The patient reads it.
	p, err := c.Read(ctx, w.patient.user(), w.patient.ID, ref.Record, 0, consent.PurposePersonal)
	if err != nil || string(p.Content) != labResult || p.Basis != consent.BasisPatient {
		t.Fatalf("patient read: %+v %v", p, err)
	}

	// Doctor C has no consent yet: the answer is exactly that of a record
	// that does not exist.
	code1, body1 := postRead(t, w.n.APIURL(), readRequest(t, w, w.doctorC, ref.Record, "treatment", 11))
	code2, body2 := postRead(t, w.n.APIURL(), readRequest(t, w, w.doctorC, strings.Repeat("0", 32), "treatment", 12))
	if code1 != http.StatusNotFound || code1 != code2 || !bytes.Equal(body1, body2) {
		t.Fatalf("no consent: %d %s; missing: %d %s", code1, body1, code2, body2)
	}

	// 2. The patient grants doctor C lab results, for treatment, 30 days.
	hdr, _ := c.Header(ctx, 0)
	g := &client.GrantAccess{Patient: w.patient.ID, Grantee: client.Grantee{Member: w.doctorC.ID},
		Scope: client.Scope{Categories: []string{"lab"}}, Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(30 * 24 * time.Hour).Unix()}
	if _, err := c.Grant(ctx, w.patient.user(), g); err != nil {
		t.Fatal(err)
	}
	p, err = c.Read(ctx, w.doctorC.user(), w.patient.ID, ref.Record, 0, consent.PurposeTreatment)
	if err != nil || string(p.Content) != labResult || p.Basis != consent.BasisGrant {
		t.Fatalf("doctor C read: %+v %v", p, err)
	}
	// The grant covers treatment only.
	if _, err := c.Read(ctx, w.doctorC.user(), w.patient.ID, ref.Record, 0, consent.PurposeResearch); medledger.KindOf(err) != medledger.KindNotFound {
		t.Fatalf("read for another purpose: %v", err)
	}
	// A replayed read request is refused.
	raw := readRequest(t, w, w.doctorC, ref.Record, "treatment", 77)
	if code, _ := postRead(t, w.n.APIURL(), raw); code != http.StatusOK {
		t.Fatalf("first read: %d", code)
	}
	if code, body := postRead(t, w.n.APIURL(), raw); code != http.StatusConflict || !bytes.Contains(body, []byte("duplicate")) {
		t.Fatalf("replayed read: %d %s", code, body)
	}

	// 3. The patient revokes; C is refused.
	if _, err := c.Send(ctx, w.patient.Signer, &client.Revoke{Patient: w.patient.ID, Grant: g.ID}); err != nil {
		t.Fatal(err)
	}
	code3, body3 := postRead(t, w.n.APIURL(), readRequest(t, w, w.doctorC, ref.Record, "treatment", 13))
	if code3 != http.StatusNotFound || !bytes.Equal(body3, body2) {
		t.Fatalf("after revocation: %d %s", code3, body3)
	}

	// 4. Break-glass at hospital E: a clerk may not, a physician may.
	if _, err := c.Send(ctx, w.clerk.Signer, &client.BreakGlass{Patient: w.patient.ID, Reason: "unconscious"}); medledger.KindOf(err) != medledger.KindUnauthorized {
		t.Fatalf("break-glass by a non-clinician: %v", err)
	}
	if _, err := c.Read(ctx, w.erDoc.user(), w.patient.ID, ref.Record, 0, consent.PurposeEmergency); medledger.KindOf(err) != medledger.KindNotFound {
		t.Fatalf("emergency read before break-glass: %v", err)
	}
	bg, err := c.Send(ctx, w.erDoc.Signer, &client.BreakGlass{Patient: w.patient.ID, Reason: "unconscious"})
	if err != nil {
		t.Fatal(err)
	}
	// The patient does nothing (unconscious): lab B's escrow on this node
	// re-wraps the lab's records for the clinician once the declaration
	// commits.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		p, err = c.Read(ctx, w.erDoc.user(), w.patient.ID, ref.Record, 0, consent.PurposeEmergency)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || p.Basis != consent.BasisBreakGlass || string(p.Content) != labResult {
		t.Fatalf("break-glass read: %+v %v", p, err)
	}
	// The patient is told: the break-glass event names them.
	ev, err := c.Events(ctx, "consent.break_glass.patient='"+string(w.patient.ID)+"'", 1)
	if err != nil || ev.Total != 1 || ev.Txs[0].Height != bg.Height {
		t.Fatalf("break-glass event: %+v %v", ev, err)
	}

	// Every read is in the patient's access log, proven against the app hash.
	waitCommitted(t, w)
	log, err := c.AccessLog(ctx, w.patient.Signer, w.patient.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	var byPatient, byC, byER int
	for _, e := range log {
		switch {
		case e.Reader == w.patient.ID:
			byPatient++
		case e.Reader == w.doctorC.ID && e.Basis == consent.BasisGrant && e.Grant == g.ID && e.Org == "hospital-d":
			byC++
		case e.Reader == w.erDoc.ID && e.Basis == consent.BasisBreakGlass && e.Purpose == consent.PurposeEmergency:
			byER++
		}
	}
	if byPatient != 1 || byC != 2 || byER != 1 {
		t.Fatalf("access log: patient %d, doctor C %d, break-glass %d; want 1, 2, 1: %+v", byPatient, byC, byER, log)
	}
	// Only the patient and delegates see it.
	if _, err := c.AccessLog(ctx, w.doctorC.Signer, w.patient.ID, false); medledger.KindOf(err) != medledger.KindUnauthorized {
		t.Fatalf("access log by a stranger: %v", err)
	}
	// A delegate acts for the patient: reads the access log, grants, revokes.
	guardian := newSigner(t)
	send(t, c, guardian, &client.RegisterPatient{Keys: guardian.pub})
	if _, err := c.Send(ctx, guardian.Signer, &client.GrantAccess{ID: client.NewGrantID(), Patient: w.patient.ID, Grantee: client.Grantee{Member: w.doctorC.ID},
		Scope: client.Scope{All: true}, Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(time.Hour).Unix()}); medledger.KindOf(err) != medledger.KindUnauthorized {
		t.Fatalf("grant by a non-delegate: %v", err)
	}
	send(t, c, w.patient, &client.SetDelegate{Delegate: guardian.ID, Relation: "guardian"})
	if dl, err := c.AccessLog(ctx, guardian.Signer, w.patient.ID, true); err != nil || len(dl) != len(log) {
		t.Fatalf("access log by a delegate: %d events, %v", len(dl), err)
	}
	dg := &client.GrantAccess{ID: client.NewGrantID(), Patient: w.patient.ID, Grantee: client.Grantee{Member: w.doctorC.ID},
		Scope: client.Scope{All: true}, Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(time.Hour).Unix()}
	if _, err := c.Send(ctx, guardian.Signer, dg); err != nil {
		t.Fatalf("grant by a delegate: %v", err)
	}
	if _, err := c.Send(ctx, guardian.Signer, &client.Revoke{Patient: w.patient.ID, Grant: dg.ID}); err != nil {
		t.Fatalf("revocation by a delegate: %v", err)
	}

	// Amendment by another organisation is refused; by the author's works.
	if _, err := c.AmendRecord(ctx, w.doctorC.user(), ref.Record, []byte(`{}`)); err == nil {
		t.Fatal("another organisation amended the record")
	}
	ref2, err := c.AmendRecord(ctx, w.labTech.user(), ref.Record, []byte(strings.Replace(labResult, "6.1", "6.2", 1)))
	if err != nil || ref2.Version != 2 {
		t.Fatalf("amend: %+v %v", ref2, err)
	}
	info, err := c.RecordInfo(ctx, w.patient.Signer, ref.Record)
	if err != nil || len(info.Versions) != 2 || info.Versions[1].Supersedes != 1 {
		t.Fatalf("history: %+v %v", info, err)
	}

	// 5. Erasure: only the patient (or a delegate); then the ciphertext is
	// gone from the store and reads answer 410.
	if _, err := c.Send(ctx, w.labTech.Signer, &client.Erase{Record: ref.Record}); medledger.KindOf(err) != medledger.KindUnauthorized {
		t.Fatalf("erasure by the author: %v", err)
	}
	if _, err := c.Send(ctx, w.patient.Signer, &client.Erase{Record: ref.Record}); err != nil {
		t.Fatal(err)
	}
	home := w.n.(interface{ Home() string }).Home()
	for _, b := range []medledger.BlobID{ref.Blob, ref2.Blob} {
		if n := countFiles(t, filepath.Join(home, "blobs"), b.String()); n != 0 {
			t.Fatalf("blob %s still has %d files after erasure", b, n)
		}
	}
	if _, err := c.Read(ctx, w.patient.user(), w.patient.ID, ref.Record, 0, consent.PurposePersonal); medledger.KindOf(err) != medledger.KindGone {
		t.Fatalf("read after erasure: %v", err)
	}
}

// countFiles counts files under dir whose path contains s.
func countFiles(t *testing.T, dir, s string) int {
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, s) {
			n++
		}
		return nil
	})
	return n
}

// waitCommitted waits until the node's outbox is empty: every served read
// has a committed access event.
func waitCommitted(t *testing.T, w *world) {
	t.Helper()
	n := w.n.(interface{ OutboxPending() ([]string, error) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := n.OutboxPending()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d access txs never committed", len(p))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAuditCompleteness stops the node after it served reads but before
// their access txs could commit (blocks are 3 s apart), restarts it, and
// checks that every served read ends with a committed access event: the
// outbox survived and resubmitted them.
func TestAuditCompleteness(t *testing.T) {
	ctx := context.Background()
	reg, admin, doc, pat := newSigner(t), newSigner(t), newSigner(t), newSigner(t)
	home := initHomeBlockTime(t, 3*time.Second, reg)
	n := start(t, home)
	c := client.New(n.APIURL())
	send(t, c, reg, &client.AdmitOrg{Org: "clinic-z", OrgType: medledger.OrgClinic, Name: "Z", Licence: "Z", Admin: admin.pub})
	send(t, c, admin, &client.EnrolMember{Keys: doc.pub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(t, c, pat, &client.RegisterPatient{Keys: pat.pub})
	ref, err := c.PutRecord(ctx, doc.user(), pat.ID, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	// Wait for a fresh block so the reads land early in the 3 s gap.
	waitHeight(t, n, n.Height()+1)
	const reads = 5
	for i := 0; i < reads; i++ {
		if _, err := c.Read(ctx, doc.user(), pat.ID, ref.Record, 0, consent.PurposeTreatment); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := n.OutboxPending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) == 0 {
		t.Fatal("every access tx committed before the stop; the test did not exercise recovery")
	}
	t.Logf("stopping with %d of %d served reads not yet committed", len(pending), reads)
	if err := n.Close(); err != nil { // the mempool, and the txs in it, are lost
		t.Fatal(err)
	}

	restarted := time.Now()
	n = start(t, home)
	defer n.Close()
	c = client.New(n.APIURL())
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := n.OutboxPending()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d access txs never committed after restart", len(p))
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, err := c.AccessLog(ctx, pat.Signer, pat.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, e := range log {
		if e.Reader == doc.ID && e.Allowed {
			got++
		}
	}
	if got != reads {
		t.Fatalf("%d served reads, %d committed access events", reads, got)
	}
	t.Logf("all %d access events committed %.1fs after restart", reads, time.Since(restarted).Seconds())
}

// TestGrantLimitsAndUploads: an expired grant and a grant past its read
// limit both get the not-found answer; uploads that do not hash to their ID
// or exceed the limit are refused and leave nothing behind.
func TestGrantLimitsAndUploads(t *testing.T) {
	ctx := context.Background()
	w, done := setup(t)
	defer done()
	c := w.c
	ref, err := c.PutRecord(ctx, w.labTech.user(), w.patient.ID, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := c.Header(ctx, 0)
	once := &client.GrantAccess{Patient: w.patient.ID, Grantee: client.Grantee{Org: "hospital-d"}, Scope: client.Scope{All: true},
		Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(time.Hour).Unix(), MaxReads: 1}
	if _, err := c.Grant(ctx, w.patient.user(), once); err != nil {
		t.Fatal(err)
	}
	// An org grant: any active member of hospital D reads, once in all.
	if _, err := c.Read(ctx, w.doctorC.user(), w.patient.ID, ref.Record, 0, consent.PurposeTreatment); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, w)
	if _, err := c.Read(ctx, w.doctorC.user(), w.patient.ID, ref.Record, 0, consent.PurposeTreatment); medledger.KindOf(err) != medledger.KindNotFound {
		t.Fatalf("read past the limit: %v", err)
	}
	gs, _, err := c.Grants(ctx, w.patient.Signer, w.patient.ID)
	if err != nil || len(gs) != 1 || gs[0].Reads != 1 {
		t.Fatalf("grant counter: %+v %v", gs, err)
	}

	short := &client.GrantAccess{Patient: w.patient.ID, Grantee: client.Grantee{Member: w.erDoc.ID}, Scope: client.Scope{Records: []string{ref.Record}},
		Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(4 * time.Second).Unix()}
	if _, err := c.Grant(ctx, w.patient.user(), short); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, w.erDoc.user(), w.patient.ID, ref.Record, 0, consent.PurposeTreatment); err != nil {
		t.Fatalf("read before expiry: %v", err)
	}
	for {
		h, _ := c.Header(ctx, 0)
		if h.Time.Unix() >= short.Expires {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := c.Read(ctx, w.erDoc.user(), w.patient.ID, ref.Record, 0, consent.PurposeTreatment); medledger.KindOf(err) != medledger.KindNotFound {
		t.Fatalf("read after expiry: %v", err)
	}

	// Uploads.
	home := w.n.(interface{ Home() string }).Home()
	good := bytes.Repeat([]byte("ciphertext"), 100)
	id := medledger.BlobIDOf(good)
	bad := append(bytes.Clone(good), '!')
	err = putBlobAs(t, c, w.labTech, id, bad)
	if medledger.KindOf(err) != medledger.KindInvalid {
		t.Fatalf("mismatched upload: %v", err)
	}
	if countFiles(t, filepath.Join(home, "blobs"), id.String()) != 0 {
		t.Fatal("a mismatched upload left a file")
	}
	big := make([]byte, 65<<20)
	if err := putBlobAs(t, c, w.labTech, medledger.BlobIDOf(big), big); medledger.KindOf(err) != medledger.KindTooLarge {
		t.Fatalf("oversized upload: %v", err)
	}
	// An unsigned upload is refused.
	req, _ := http.NewRequest(http.MethodPut, w.n.APIURL()+"/v1/blobs/"+id.String(), bytes.NewReader(good))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned upload: %d", resp.StatusCode)
	}
}

func putBlobAs(t *testing.T, c *client.Client, s signer, id medledger.BlobID, body []byte) error {
	t.Helper()
	return c.PutBlobAs(context.Background(), s.Signer, id, body)
}

// TestBlobGarbageCollection: a blob no anchor references is collected once
// it is older than the grace period; anchored blobs and fresh uploads stay.
func TestBlobGarbageCollection(t *testing.T) {
	ctx := context.Background()
	w, done := setup(t)
	defer done()
	n := w.n.(*node.Node)
	ref, err := w.c.PutRecord(ctx, w.labTech.user(), w.patient.ID, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	orphan, fresh := []byte("an upload whose anchor never came"), []byte("an upload still waiting for its anchor")
	oid, err := w.c.PutBlob(ctx, w.labTech.Signer, orphan)
	if err != nil {
		t.Fatal(err)
	}
	fid, err := w.c.PutBlob(ctx, w.labTech.Signer, fresh)
	if err != nil {
		t.Fatal(err)
	}
	home := n.Home()
	old := time.Now().Add(-2 * time.Hour)
	for _, id := range []medledger.BlobID{oid, ref.Blob} {
		p := filepath.Join(home, "blobs", "blobs", id.String()[:2], id.String()[2:4], id.String())
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	waitHeight(t, n, n.Height()+1) // the anchor's index entry is flushed
	got, err := n.CollectGarbage(ctx)
	if err != nil || got != 1 {
		t.Fatalf("collected %d, %v; want 1", got, err)
	}
	for id, want := range map[medledger.BlobID]int{oid: 0, fid: 1, ref.Blob: 1} {
		if n := countFiles(t, filepath.Join(home, "blobs", "blobs"), id.String()); n != want {
			t.Errorf("blob %s: %d files, want %d", id, n, want)
		}
	}
	if _, err := w.c.Read(ctx, w.patient.user(), w.patient.ID, ref.Record, 0, consent.PurposePersonal); err != nil {
		t.Fatalf("the anchored record after collection: %v", err)
	}
}

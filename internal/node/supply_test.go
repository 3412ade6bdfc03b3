package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/epcis"
	"medledger/internal/supply"
)

// The supply chain end to end through a real node: a manufacturer
// commissions and packs, a distributor receives and forwards, a pharmacy
// receives and dispenses to a patient; anyone verifies a pack over plain
// HTTP; a cloned serial, a recalled lot and a temperature excursion are
// caught at verification; a verified client recomputes every answer from
// proven state and refuses one a node tampered with.
func TestSupplyChain(t *testing.T) {
	ctx := context.Background()
	reg := newSigner(t)
	home := initHome(t, reg)
	n := start(t, home)
	defer n.Close()
	c := client.New(n.APIURL())
	mfr, dist, rx, rx2, pharmacist := newSigner(t), newSigner(t), newSigner(t), newSigner(t), newSigner(t)
	admit := func(org string, typ medledger.OrgType, admin signer) {
		send(t, c, reg, &client.AdmitOrg{Org: org, OrgType: typ, Name: org, Licence: "L-" + org, Admin: admin.pub})
	}
	admit("acme-pharma", medledger.OrgManufacturer, mfr)
	admit("dist-co", medledger.OrgDistributor, dist)
	admit("corner-rx", medledger.OrgPharmacy, rx)
	admit("grey-rx", medledger.OrgPharmacy, rx2)
	send(t, c, rx, &client.EnrolMember{Keys: pharmacist.pub, Roles: []medledger.Role{medledger.RolePharmacist}})

	const gtin, prefix = "09506000134352", "9506000"
	unit := func(serial string) string { return "urn:epc:id:sgtin:9506000.013435." + serial }
	const caseA, caseB = "urn:epc:id:sscc:9506000.0000000001", "urn:epc:id:sscc:9506000.0000000002"
	today := time.Now().UTC()
	expiry := today.AddDate(1, 0, 0).Format("2006-01-02")
	send(t, c, mfr, &client.RegisterProduct{GTIN: gtin, CompanyPrefix: prefix, Name: "Insulin glargine", NationalCode: "0002-8215",
		Strength: "100 IU/ml", Form: "injection", TempMin: 200, TempMax: 800, ShelfLifeDays: 730})
	send(t, c, mfr, &client.Commission{GTIN: gtin, Lot: "L1", Expiry: expiry, Range: &client.SerialRange{Prefix: "A", Start: 1, Count: 500, Width: 4}})
	send(t, c, mfr, &client.Commission{GTIN: gtin, Lot: "L2", Expiry: expiry, Serials: []string{"B1", "B2"}})
	send(t, c, mfr, &client.Aggregate{Parent: caseA, Children: []string{unit("A0001"), unit("A0002"), unit("A0003")}})
	send(t, c, mfr, &client.Ship{Shipment: "SH-1", To: "dist-co", EPCs: []string{caseA}, BizTx: []client.BizTransaction{{Type: "po", ID: "PO-1"}}})
	send(t, c, dist, &client.Receive{Shipment: "SH-1"})
	send(t, c, dist, &client.Ship{Shipment: "SH-2", To: "corner-rx", EPCs: []string{caseA}})
	send(t, c, rx, &client.Receive{Shipment: "SH-2"})
	salt := client.NewRxSalt()
	send(t, c, pharmacist, &client.Dispense{EPC: unit("A0002"), Prescription: client.RxCommitment("0123456789abcdef0123456789abcdef", salt)})

	// Anyone verifies, with no account, by URN or Digital Link.
	get := func(q string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(n.APIURL() + "/v1/supply/verify?" + q)
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
	code, v := get("link=" + url.QueryEscape("https://id.gs1.org/01/"+gtin+"/21/A0002"))
	if code != 200 || v["status"] != "dispensed" || v["authentic"] != true || v["suspect"] != true || v["custodian"] != "corner-rx" {
		t.Fatalf("dispensed pack: %d %v", code, v)
	}
	trail := v["trail"].([]any)
	var steps []string
	for _, e := range trail {
		steps = append(steps, e.(map[string]any)["biz_step"].(string))
	}
	if got := strings.Join(steps, ","); got != "commissioning,packing,shipping,receiving,shipping,receiving,dispensing" {
		t.Fatalf("trail %s", got)
	}
	// The dispense is public; its prescription is a salted commitment, not the record ID.
	raw, _ := json.Marshal(v)
	if strings.Contains(string(raw), "0123456789abcdef0123456789abcdef") {
		t.Fatal("the verification reveals the prescription record")
	}
	code, v = get("sgtin=" + url.QueryEscape(unit("A0003")))
	if code != 200 || v["status"] != "active" || v["suspect"] != false || v["custodian"] != "corner-rx" {
		t.Fatalf("clean pack: %d %v", code, v)
	}
	// Never commissioned: a 200 that says so.
	code, v = get("sgtin=" + url.QueryEscape(unit("NOPE")))
	if code != 200 || v["status"] != "unknown" || v["suspect"] != true || v["authentic"] != false {
		t.Fatalf("unknown pack: %d %v", code, v)
	}
	for _, bad := range []string{"sgtin=urn:epc:id:sgtin:9506000.013435", "link=" + url.QueryEscape("https://id.gs1.org/01/09506000134353/21/A1"), ""} {
		if code, v := get(bad); code != 422 && code != 400 {
			t.Errorf("%q: %d %v", bad, code, v)
		}
	}

	// The trail and a shipment as EPCIS 2.0 documents, which import back
	// into the same messages.
	for q, want := range map[string][]string{
		"epc=" + url.QueryEscape(unit("A0002")): {supply.TypeCommission, supply.TypeAggregate, supply.TypeShip, supply.TypeReceive, supply.TypeShip, supply.TypeReceive, supply.TypeDispense},
		"shipment=SH-1":                         {supply.TypeShip, supply.TypeReceive},
	} {
		resp, err := http.Get(n.APIURL() + "/v1/supply/epcis?" + q)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ld+json" {
			t.Fatalf("epcis %s: %d %s", q, resp.StatusCode, doc)
		}
		steps, err := epcis.Import(doc, epcis.ImportOptions{})
		if err != nil {
			t.Fatalf("epcis %s: re-import: %v", q, err)
		}
		var got []string
		for _, s := range steps {
			got = append(got, s.Msg.Type())
		}
		if !slices.Equal(got, want) {
			t.Errorf("epcis %s: %v, want %v", q, got, want)
		}
	}
	if resp, err := http.Get(n.APIURL() + "/v1/supply/epcis?shipment=NOPE"); err != nil || resp.StatusCode != 404 {
		t.Errorf("unknown shipment: %v %v", resp.StatusCode, err)
	}

	// Caught at verification: a clone, a recall, an excursion.
	send(t, c, rx2, &client.Observe{EPCs: []string{unit("A0003")}, BizStep: "receiving"})
	send(t, c, rx, &client.Observe{EPCs: []string{unit("A0003")}})
	send(t, c, reg, &client.Recall{GTIN: gtin, Lot: "L2", Reason: "particulate matter", Class: "I"})
	logger, _ := newDeviceKey(t)
	send(t, c, dist, &client.RegisterDevice{Device: "logger-1", Key: logger.Public().(ed25519.PublicKey), Model: "TL-200"})
	send(t, c, mfr, &client.Aggregate{Parent: caseB, Children: []string{unit("A0010"), unit("A0011")}})
	send(t, c, mfr, &client.Ship{Shipment: "SH-3", To: "dist-co", EPCs: []string{caseB}})
	send(t, c, dist, &client.AttachDevice{Device: "logger-1", Shipment: "SH-3"})
	now := time.Now().Unix()
	batch := &client.Readings{Device: "logger-1", Shipment: "SH-3", Seq: 1,
		Readings: []client.Reading{{Time: now - 900, Temp: 500}, {Time: now - 600, Temp: 1150}, {Time: now - 300, Temp: 1320}, {Time: now - 1, Temp: 600}}}
	if err := c.SignReadings(ctx, logger, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendUnordered(ctx, dist.Signer, batch); err != nil {
		t.Fatal(err)
	}
	// A batch from an unregistered device, or replayed, is refused.
	stranger, _ := newDeviceKey(t)
	forged := *batch
	forged.Seq = 2
	if err := c.SignReadings(ctx, stranger, &forged); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendUnordered(ctx, dist.Signer, &forged); medledger.KindOf(err) != medledger.KindBadSignature {
		t.Fatalf("forged batch: %v", err)
	}
	if _, err := c.SendUnordered(ctx, dist.Signer, batch); medledger.KindOf(err) != medledger.KindDuplicate {
		t.Fatalf("replayed batch: %v", err)
	}
	flags := func(epc string) []string {
		t.Helper()
		r, err := c.VerifyPack(ctx, epc)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range r.Flags {
			out = append(out, f.Code)
		}
		return out
	}
	for epc, want := range map[string]string{unit("A0003"): supply.FlagCloned, unit("B1"): supply.FlagRecalled, unit("A0011"): supply.FlagExcursion} {
		if got := flags(epc); len(got) != 1 || got[0] != want {
			t.Errorf("%s: flags %v, want [%s]", epc, got, want)
		}
	}
	sh, err := c.Shipment(ctx, "SH-3")
	if err != nil {
		t.Fatal(err)
	}
	if len(sh.Excursions) != 1 || sh.Excursions[0].Peak != 1320 || sh.Excursions[0].Duration != 599 || sh.Items[0] != caseB {
		t.Fatalf("shipment SH-3: %+v", sh)
	}
	// The flagged pack is refused at the counter, with the reason.
	send(t, c, dist, &client.Receive{Shipment: "SH-3"})
	send(t, c, dist, &client.Disaggregate{Parent: caseB})
	_, err = c.Send(ctx, dist.Signer, &client.Ship{Shipment: "SH-4", To: "corner-rx", EPCs: []string{unit("A0011")}})
	if medledger.KindOf(err) != medledger.KindConflict || !strings.Contains(err.Error(), "temperature excursion in shipment SH-3") {
		t.Fatalf("shipping an excursion-flagged pack: %v", err)
	}

	// A verified client recomputes each answer from proven state.
	h1, err := c.Header(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	trust := client.TrustOptions{ChainID: "medledger-e2e", Height: 1, Hash: h1.BlockHash, Period: time.Hour}
	vc, err := client.NewVerified(n.APIURL(), trust)
	if err != nil {
		t.Fatal(err)
	}
	r, err := vc.VerifyPack(ctx, "https://id.gs1.org/01/"+gtin+"/21/B1")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Suspect || len(r.Proofs) == 0 || r.Lot.Recall == nil {
		t.Fatalf("verified: %+v", r)
	}
	// A node that hides the recall is caught, with or without its proofs.
	for _, tamper := range []func(map[string]any){
		func(m map[string]any) { m["flags"], m["suspect"] = []any{}, false },
		func(m map[string]any) { m["flags"], m["suspect"], m["proofs"] = []any{}, false, []any{} },
	} {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			resp, err := http.Get(n.APIURL() + req.URL.RequestURI())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if strings.HasPrefix(req.URL.Path, "/v1/supply/verify") {
				var m map[string]any
				if json.Unmarshal(body, &m) == nil {
					tamper(m)
					body, _ = json.Marshal(m)
				}
			}
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			w.Write(body)
		}))
		lying, err := client.NewVerified(proxy.URL, trust)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lying.VerifyPack(ctx, unit("B1")); !errors.Is(err, client.ErrVerification) {
			t.Errorf("tampered verification accepted: %v", err)
		}
		// The plain client is fooled, which is why the verified one exists.
		if r, err := client.New(proxy.URL).VerifyPack(ctx, unit("B1")); err != nil || r.Suspect {
			t.Errorf("plain client through the proxy: %v %+v", err, r)
		}
		proxy.Close()
	}
}

func newDeviceKey(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// BenchmarkSupplyVerifyHTTP is the verify latency a pharmacist sees: GET
// /v1/supply/verify on a real node holding 100,000 commissioned units.
//
//	go test -run '^$' -bench SupplyVerifyHTTP -benchtime 2000x ./internal/node/
func BenchmarkSupplyVerifyHTTP(b *testing.B) {
	ctx := context.Background()
	reg := newSigner(b)
	n := start(b, initHome(b, reg))
	defer n.Close()
	c := client.New(n.APIURL())
	mfr := newSigner(b)
	if _, err := c.Send(ctx, reg.Signer, &client.AdmitOrg{Org: "acme-pharma", OrgType: medledger.OrgManufacturer, Name: "acme", Licence: "L", Admin: mfr.pub}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Send(ctx, mfr.Signer, &client.RegisterProduct{GTIN: "09506000134352", CompanyPrefix: "9506000", Name: "Vaccine", TempMin: 200, TempMax: 800, ShelfLifeDays: 365}); err != nil {
		b.Fatal(err)
	}
	expiry := time.Now().AddDate(0, 6, 0).Format("2006-01-02")
	for done := 0; done < 100_000; done += supply.MaxCommission {
		if _, err := c.Send(ctx, mfr.Signer, &client.Commission{GTIN: "09506000134352", Lot: "L1", Expiry: expiry,
			Range: &client.SerialRange{Start: uint64(done), Count: supply.MaxCommission, Width: 7}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, prove := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "prove"}[prove], func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				q := "sgtin=" + url.QueryEscape(fmt.Sprintf("urn:epc:id:sgtin:9506000.013435.%07d", (i*7919)%100_000))
				if prove {
					q += "&prove=true"
				}
				t0 := time.Now()
				resp, err := http.Get(n.APIURL() + "/v1/supply/verify?" + q)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

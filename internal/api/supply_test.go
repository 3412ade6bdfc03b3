package api

import (
	"strings"
	"testing"
	"time"

	"medledger"
	"medledger/internal/supply"
)

// mapReader is a state.Reader over a map, for reads that do not iterate.
type mapReader map[string][]byte

func (m mapReader) Get(k []byte) ([]byte, error) { return m[string(k)], nil }

func (m mapReader) Iterate(_, _ []byte, _ func(k, v []byte) bool) error { return nil }

// The code parameter takes whatever a scanner or a person gives and names
// the same pack however it is written; the SGTIN URN splits the GTIN at
// the registered product's company prefix.
func TestEPCFromCode(t *testing.T) {
	const gtin = "09506000134352"
	p, err := medledger.Marshal(&supply.Product{GTIN: gtin, CompanyPrefix: "950600013", Owner: "acme", Name: "Insulin"})
	if err != nil {
		t.Fatal(err)
	}
	rd := mapReader{string(supply.ProductKey(gtin)): p}
	const pack = "urn:epc:id:sgtin:950600013.0435.ABC123"
	for _, c := range []struct{ code, want string }{
		{"urn:epc:id:sgtin:950600013.0435.ABC123", pack},
		{"  urn:epc:id:sgtin:950600013.0435.ABC123\n", pack},
		{"https://id.gs1.org/01/09506000134352/10/L1/21/ABC123?17=271231", pack},
		{"HTTPS://pharmacy.example/verify/01/9506000134352/21/ABC123", pack},
		{"]Q1https://id.gs1.org/01/09506000134352/21/ABC123", pack},
		{"]d20109506000134352" + "21ABC123\x1d17271231" + "10L1", pack},
		{"]Q30109506000134352" + "10L1\x1d21ABC123", pack},
		{"(01)09506000134352(21)ABC123(17)271231(10)L1", pack},
		{"(01) 09506000134352 (21) ABC123", pack},
		// An unregistered GTIN splits at the common 7 digits.
		{"(01)04012345123456(21)9", "urn:epc:id:sgtin:4012345.012345.9"},
		// Logistic units.
		{"(00)106141412345678908", "urn:epc:id:sscc:0614141.1234567890"},
		{"urn:epc:id:sscc:0614141.1234567890", "urn:epc:id:sscc:0614141.1234567890"},
		{"https://id.gs1.org/00/106141412345678908", "urn:epc:id:sscc:0614141.1234567890"},
	} {
		got, err := epcFromCode(rd, c.code)
		if err != nil || got.EPC != c.want {
			t.Errorf("epcFromCode(%q) = %q, %v; want %q", c.code, got.EPC, err, c.want)
		}
	}
	// The lot and expiry a code prints come along, to check the label.
	for code, want := range map[string]scannedCode{
		"]d20109506000134352" + "21ABC123\x1d17271231" + "10L1":          {pack, "L1", "271231"},
		"https://id.gs1.org/01/09506000134352/10/L1/21/ABC123?17=271231": {pack, "L1", "271231"},
		"(01)09506000134352(21)ABC123":                                   {pack, "", ""},
		pack:                                                             {pack, "", ""},
	} {
		if got, err := epcFromCode(rd, code); err != nil || got != want {
			t.Errorf("epcFromCode(%q) = %+v, %v; want %+v", code, got, err, want)
		}
	}
	for _, c := range []struct{ code, want string }{
		{"(01)09506000134353(21)ABC123", "check digit is 3, want 2"},
		{"]d20109506000134352" + "99X", "unknown or not supported"},
		{"(01)09506000134352", "no serial (21)"},
		{"https://id.gs1.org/01/09506000134352", "names a product (GTIN 09506000134352) but no serial"},
		{"https://id.gs1.org/01/09506000134353/21/A", "check digit is 3, want 2"},
		{"urn:epc:id:sgtin:9506000.013435", "sgtin"},
		{"urn:epc:id:sgln:9506000.00001.0", "urn:epc:id:sgln"},
		{"hello", "expected an AI"},
	} {
		_, err := epcFromCode(rd, c.code)
		if medledger.KindOf(err) != medledger.KindInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("epcFromCode(%q): %v (kind %v), want an invalid-input error containing %q", c.code, err, medledger.KindOf(err), c.want)
		}
	}
}

// A label whose lot or expiry differs from the ledger's is caught; an
// expiry of day 00 (the month's end) matches any day of its month.
func TestCheckLabel(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	v := &supply.Verification{Lot: &supply.Lot{Lot: "L1", Expiry: "2027-12-31"}}
	for _, c := range []struct {
		sc      scannedCode
		matches bool
		detail  string
	}{
		{scannedCode{Lot: "L1", Expiry: "271231"}, true, ""},
		{scannedCode{Lot: "L1"}, true, ""},
		{scannedCode{Expiry: "271200"}, true, ""},
		{scannedCode{Lot: "L9", Expiry: "271231"}, false, "the label says lot L9, the ledger lot L1"},
		{scannedCode{Lot: "L1", Expiry: "281231"}, false, "the label says expiry 2028-12-31, the ledger 2027-12-31"},
		{scannedCode{Lot: "L2", Expiry: "271100"}, false, "lot L2, the ledger lot L1; the label says expiry 2027-11-30"},
	} {
		got := checkLabel(c.sc, v, now)
		if got == nil || got.Matches != c.matches || !strings.Contains(got.Detail, c.detail) || c.matches && got.Detail != "" {
			t.Errorf("checkLabel(%+v) = %+v, want matches %v, detail %q", c.sc, got, c.matches, c.detail)
		}
	}
	if got := checkLabel(scannedCode{EPC: "x"}, v, now); got != nil {
		t.Errorf("no lot or expiry scanned: %+v", got)
	}
	if got := checkLabel(scannedCode{Lot: "L9"}, &supply.Verification{}, now); got == nil || !got.Matches || got.Lot != "L9" {
		t.Errorf("nothing on the ledger to compare: %+v", got)
	}
	if got := checkLabel(scannedCode{Expiry: "271231"}, v, now); got.Expiry != "2027-12-31" {
		t.Errorf("expiry as a date: %q", got.Expiry)
	}
}

package api

import (
	"strings"
	"testing"

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
		if err != nil || got != c.want {
			t.Errorf("epcFromCode(%q) = %q, %v; want %q", c.code, got, err, c.want)
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

package gs1_test

import (
	"reflect"
	"strings"
	"testing"

	"medledger/gs1"
)

// FuzzParseDigitalLink checks that parsing never panics, that whatever
// parses holds valid identifiers, and that it formats to a URI that parses
// back to the same value and formats the same again.
func FuzzParseDigitalLink(f *testing.F) {
	for _, s := range []string{
		"https://id.gs1.org/01/09506000134352",
		"https://id.gs1.org/01/09506000134352/10/ABC/21/12345",
		"https://example.com/some/prefix/01/9506000134352/22/x/21/ABC%2F1?17=270630&linkType=all",
		"http://localhost:8080/00/106141412345678908",
		"HTTPS://[2001:DB8::1]:8443/gtin/96385074/lot/L/ser/S#x",
		"https://id.gs1.org/01/09506000134352/10/%22%25%26%3C%3E%3F/21/!'()*+,-.:;=_",
		"https://id.gs1.org/01/09506000134352/21/S?21=S&01=9506000134352&17=240200",
		"https://id.gs1.org/01/09506000134352/21/A%2",
		"https://id.gs1.org/01/09506000134352/21/S/10/L",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := gs1.ParseDigitalLink(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gs1: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if (d.GTIN == "") == (d.SSCC == "") {
			t.Fatalf("%q: want exactly one of GTIN and SSCC: %+v", s, d)
		}
		if d.GTIN != "" {
			if len(d.GTIN) != 14 || gs1.ValidateGTIN(d.GTIN) != nil {
				t.Fatalf("%q: bad GTIN %q", s, d.GTIN)
			}
		} else if gs1.ValidateSSCC(d.SSCC) != nil || d.Lot != "" || d.Serial != "" {
			t.Fatalf("%q: bad SSCC link %+v", s, d)
		}
		if d.Lot != "" && gs1.ValidateLot(d.Lot) != nil {
			t.Fatalf("%q: bad lot %q", s, d.Lot)
		}
		if d.Serial != "" && gs1.ValidateSerial(d.Serial) != nil {
			t.Fatalf("%q: bad serial %q", s, d.Serial)
		}
		out := d.String()
		d2, err := gs1.ParseDigitalLink(out)
		if err != nil {
			t.Fatalf("%q -> %+v -> %q: %v", s, d, out, err)
		}
		if d2 != d {
			t.Fatalf("%q -> %+v -> %q -> %+v", s, d, out, d2)
		}
		if out2 := d2.String(); out2 != out {
			t.Fatalf("String not stable: %q then %q", out, out2)
		}
	})
}

// FuzzParseEPC checks ParseEPC, and on the same input the other URN parsers:
// no panics, and whatever parses formats to a URN that parses to the same
// value; the canonical form is a fixed point.
func FuzzParseEPC(f *testing.F) {
	for _, s := range []string{
		"urn:epc:id:sgtin:0614141.812345.6789",
		"urn:epc:id:sgtin:061414112345.8.A%2FB",
		"urn:epc:id:sgtin:9506000.013435.x%22y%25z%26%3c%3E%3F",
		"urn:epc:id:sscc:0614141.1234567890",
		"urn:epc:id:sgln:0614141.12345.400",
		"urn:epc:id:sgln:061414112345..0",
		"urn:epc:class:lgtin:4012345.012345.998877",
		"urn:epc:id:sgtin:0614141.812345.%2",
		"urn:epc:id:sgtin:0614141.812345.%ZZ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := gs1.ParseEPC(s); err == nil {
			out := e.String()
			if out == "" || e.Key() == "" {
				t.Fatalf("%q parsed to %+v, which does not format", s, e)
			}
			e2, err := gs1.ParseEPC(out)
			if err != nil || e2 != e {
				t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, e, out, e2, err)
			}
			if e2.String() != out {
				t.Fatalf("String not stable: %q then %q", out, e2.String())
			}
			switch e.Kind {
			case "sgtin":
				if len(e.GTIN) != 14 || gs1.ValidateGTIN(e.GTIN) != nil || gs1.ValidateSerial(e.Serial) != nil || e.SSCC != "" {
					t.Fatalf("%q: bad sgtin %+v", s, e)
				}
				if e.Key() != "01"+e.GTIN+"21"+e.Serial {
					t.Fatalf("%q: key %q", s, e.Key())
				}
			case "sscc":
				if gs1.ValidateSSCC(e.SSCC) != nil || e.GTIN != "" || e.Serial != "" {
					t.Fatalf("%q: bad sscc %+v", s, e)
				}
			default:
				t.Fatalf("%q: kind %q", s, e.Kind)
			}
		} else if !strings.HasPrefix(err.Error(), "gs1: ") {
			t.Fatalf("error without the package prefix: %v", err)
		}

		if gln, ext, n, err := gs1.ParseSGLNURN(s); err == nil {
			out, err := gs1.SGLNURN(gln, ext, n)
			if err != nil {
				t.Fatalf("%q -> %s %q %d does not format: %v", s, gln, ext, n, err)
			}
			gln2, ext2, n2, err := gs1.ParseSGLNURN(out)
			if err != nil || gln2 != gln || ext2 != ext || n2 != n {
				t.Fatalf("%q -> %q -> %s %q %d, %v", s, out, gln2, ext2, n2, err)
			}
		}
		if gtin, lot, n, err := gs1.ParseLGTINURN(s); err == nil {
			out, err := gs1.LGTINURN(gtin, lot, n)
			if err != nil {
				t.Fatalf("%q -> %s %q %d does not format: %v", s, gtin, lot, n, err)
			}
			gtin2, lot2, n2, err := gs1.ParseLGTINURN(out)
			if err != nil || gtin2 != gtin || lot2 != lot || n2 != n {
				t.Fatalf("%q -> %q -> %s %q %d, %v", s, out, gtin2, lot2, n2, err)
			}
		}
	})
}

// FuzzParseElementString checks that parsing never panics, that whatever
// parses names a pack or a logistic unit with valid identifiers, and that
// its raw form (and its human-readable form, when no value holds a
// parenthesis) parses back to the same elements.
func FuzzParseElementString(f *testing.F) {
	for _, s := range []string{
		"(01)09506000134352(21)ABC123(17)271231(10)L1",
		"]d20109506000134352" + "21ABC123\x1d1727123110L1",
		"]Q3\x1d0109506000134352" + "10L{GS}21S[FNC1]17280200",
		"(00)106141412345678908(30)12",
		"(01)09506000134352(21)A(B)1",
		"]d20109506000134352" + "21X9\x1d71012345678\x1d10B-7\x1d17280200",
		"(01)09506000134352(21)S(21)T",
		"]d1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := gs1.ParseElementString(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gs1: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		if e.SSCC != "" {
			if gs1.ValidateSSCC(e.SSCC) != nil || e.GTIN != "" || e.Serial != "" {
				t.Fatalf("%q: bad SSCC %+v", s, e)
			}
		} else if len(e.GTIN) != 14 || gs1.ValidateGTIN(e.GTIN) != nil || gs1.ValidateSerial(e.Serial) != nil {
			t.Fatalf("%q: bad pack %+v", s, e)
		}
		if e.Lot != "" && gs1.ValidateLot(e.Lot) != nil {
			t.Fatalf("%q: bad lot %q", s, e.Lot)
		}
		same := func(form, out string) {
			e2, err := gs1.ParseElementString(out)
			if err != nil {
				t.Fatalf("%q -> %s %q: %v", s, form, out, err)
			}
			e2.SymbologyID = e.SymbologyID
			if !reflect.DeepEqual(e2, e) {
				t.Fatalf("%q -> %+v -> %s %q -> %+v", s, e, form, out, e2)
			}
		}
		same("data", e.Data())
		same("data with symbology identifier", "]d2"+e.Data())
		if !strings.Contains(e.Data(), "(") {
			same("human-readable", e.String())
		}
	})
}

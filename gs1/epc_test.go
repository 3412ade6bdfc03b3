package gs1_test

import (
	"strings"
	"testing"

	"medledger/gs1"
)

// The TDS §7 examples. The GTIN, SSCC and GLN check digits are worked out in
// gs1_test.go (validKeys).
func TestTDSExamples(t *testing.T) {
	x, n, err := gs1.ParseSGTINURN("urn:epc:id:sgtin:0614141.812345.6789")
	if err != nil || x != (gs1.SGTIN{GTIN: "80614141123458", Serial: "6789"}) || n != 7 {
		t.Errorf("ParseSGTINURN = %+v, %d, %v", x, n, err)
	}
	sscc, n, err := gs1.ParseSSCCURN("urn:epc:id:sscc:0614141.1234567890")
	if err != nil || sscc != "106141412345678908" || n != 7 {
		t.Errorf("ParseSSCCURN = %s, %d, %v", sscc, n, err)
	}
	gln, ext, n, err := gs1.ParseSGLNURN("urn:epc:id:sgln:0614141.12345.400")
	if err != nil || gln != "0614141123452" || ext != "400" || n != 7 {
		t.Errorf("ParseSGLNURN = %s, %s, %d, %v", gln, ext, n, err)
	}
	gtin, lot, n, err := gs1.ParseLGTINURN("urn:epc:class:lgtin:4012345.012345.998877")
	if err != nil || gtin != "04012345123456" || lot != "998877" || n != 7 {
		t.Errorf("ParseLGTINURN = %s, %s, %d, %v", gtin, lot, n, err)
	}

	if s, err := (gs1.SGTIN{GTIN: "80614141123458", Serial: "6789"}).URN(7); err != nil || s != "urn:epc:id:sgtin:0614141.812345.6789" {
		t.Errorf("SGTIN.URN = %s, %v", s, err)
	}
	if s, err := gs1.SSCCURN("106141412345678908", 7); err != nil || s != "urn:epc:id:sscc:0614141.1234567890" {
		t.Errorf("SSCCURN = %s, %v", s, err)
	}
	if s, err := gs1.SGLNURN("0614141123452", "400", 7); err != nil || s != "urn:epc:id:sgln:0614141.12345.400" {
		t.Errorf("SGLNURN = %s, %v", s, err)
	}
	if s, err := gs1.LGTINURN("04012345123456", "998877", 7); err != nil || s != "urn:epc:class:lgtin:4012345.012345.998877" {
		t.Errorf("LGTINURN = %s, %v", s, err)
	}
}

func TestSGTINURNForms(t *testing.T) {
	for _, c := range []struct {
		gtin   string
		serial string
		n      int
		urn    string
	}{
		// Every split of the same GTIN.
		{"80614141123458", "1", 6, "urn:epc:id:sgtin:061414.8112345.1"},
		{"80614141123458", "1", 12, "urn:epc:id:sgtin:061414112345.8.1"},
		// GTIN-13 input is normalised; indicator 0.
		{"9506000134352", "12345", 7, "urn:epc:id:sgtin:9506000.013435.12345"},
		// Escapes: '/' and '%' and the other five, and characters kept as they are.
		{"80614141123458", "ABC/1", 7, "urn:epc:id:sgtin:0614141.812345.ABC%2F1"},
		{"80614141123458", `"%&<>?`, 7, "urn:epc:id:sgtin:0614141.812345.%22%25%26%3C%3E%3F"},
		{"80614141123458", "!'()*+,-.:;=_", 7, "urn:epc:id:sgtin:0614141.812345.!'()*+,-.:;=_"},
		{"80614141123458", "a.b.c", 7, "urn:epc:id:sgtin:0614141.812345.a.b.c"},
		{"80614141123458", "12345678901234567890", 7, "urn:epc:id:sgtin:0614141.812345.12345678901234567890"},
	} {
		got, err := gs1.SGTIN{GTIN: c.gtin, Serial: c.serial}.URN(c.n)
		if err != nil || got != c.urn {
			t.Errorf("SGTIN{%s %q}.URN(%d) = %s, %v; want %s", c.gtin, c.serial, c.n, got, err, c.urn)
			continue
		}
		x, n, err := gs1.ParseSGTINURN(c.urn)
		g14, _ := gs1.NormalizeGTIN(c.gtin)
		if err != nil || x.GTIN != g14 || x.Serial != c.serial || n != c.n {
			t.Errorf("ParseSGTINURN(%s) = %+v, %d, %v", c.urn, x, n, err)
		}
	}
	// Lower-case hex and needless escapes are accepted on input.
	x, _, err := gs1.ParseSGTINURN("urn:epc:id:sgtin:0614141.812345.ab%2fc%41")
	if err != nil || x.Serial != "ab/cA" {
		t.Errorf("lower-case escape: %+v, %v", x, err)
	}
}

func TestURNRoundTrip(t *testing.T) {
	for _, s := range []string{
		"urn:epc:id:sgtin:0614141.812345.6789",
		"urn:epc:id:sgtin:061414112345.8.A%2FB",
		"urn:epc:id:sgtin:9506000.013435.x%22y%25z%26%3C%3E%3F",
		"urn:epc:id:sscc:0614141.1234567890",
		"urn:epc:id:sscc:061414123456.12345",
		"urn:epc:id:sgln:0614141.12345.400",
		"urn:epc:id:sgln:061414112345..0",
		"urn:epc:id:sgln:0614141.12345.a%2Fb.c",
		"urn:epc:class:lgtin:4012345.012345.998877",
		"urn:epc:class:lgtin:4012345.012345.L%2F1",
	} {
		var got string
		var err error
		switch {
		case strings.HasPrefix(s, "urn:epc:id:sgtin:"):
			var x gs1.SGTIN
			var n int
			x, n, err = gs1.ParseSGTINURN(s)
			if err == nil {
				got, err = x.URN(n)
			}
		case strings.HasPrefix(s, "urn:epc:id:sscc:"):
			var sscc string
			var n int
			sscc, n, err = gs1.ParseSSCCURN(s)
			if err == nil {
				got, err = gs1.SSCCURN(sscc, n)
			}
		case strings.HasPrefix(s, "urn:epc:id:sgln:"):
			var gln, ext string
			var n int
			gln, ext, n, err = gs1.ParseSGLNURN(s)
			if err == nil {
				got, err = gs1.SGLNURN(gln, ext, n)
			}
		default:
			var gtin, lot string
			var n int
			gtin, lot, n, err = gs1.ParseLGTINURN(s)
			if err == nil {
				got, err = gs1.LGTINURN(gtin, lot, n)
			}
		}
		if err != nil || got != s {
			t.Errorf("%s -> %s, %v", s, got, err)
		}
		if err == nil && strings.HasPrefix(s, "urn:epc:id:s") {
			e, err := gs1.ParseEPC(s)
			if strings.HasPrefix(s, "urn:epc:id:sgln:") {
				if err == nil {
					t.Errorf("ParseEPC(%s) accepted an sgln", s)
				}
				continue
			}
			if err != nil || e.String() != s {
				t.Errorf("ParseEPC(%s) = %+v (%s), %v", s, e, e.String(), err)
			}
		}
	}
}

func TestSGLNNoExtension(t *testing.T) {
	s, err := gs1.SGLNURN("0614141123452", "", 7)
	if err != nil || s != "urn:epc:id:sgln:0614141.12345.0" {
		t.Fatalf("SGLNURN without extension = %s, %v", s, err)
	}
}

func TestParseEPC(t *testing.T) {
	e, err := gs1.ParseEPC("urn:epc:id:sgtin:0614141.812345.A%2F1")
	want := gs1.EPC{Kind: "sgtin", GTIN: "80614141123458", Serial: "A/1", PrefixLen: 7}
	if err != nil || e != want {
		t.Errorf("ParseEPC sgtin = %+v, %v", e, err)
	}
	if k := e.Key(); k != "018061414112345821A/1" {
		t.Errorf("Key = %s", k)
	}
	e, err = gs1.ParseEPC("urn:epc:id:sscc:0614141.1234567890")
	want = gs1.EPC{Kind: "sscc", SSCC: "106141412345678908", PrefixLen: 7}
	if err != nil || e != want {
		t.Errorf("ParseEPC sscc = %+v, %v", e, err)
	}
	if k := e.Key(); k != "00106141412345678908" {
		t.Errorf("Key = %s", k)
	}
	// The key does not depend on where the URN split the company prefix.
	a, _ := gs1.ParseEPC("urn:epc:id:sgtin:0614141.812345.6789")
	b, _ := gs1.ParseEPC("urn:epc:id:sgtin:061414.8112345.6789")
	if a.Key() != b.Key() || a.Key() == "" || a.String() == b.String() {
		t.Errorf("keys %s %s, URNs %s %s", a.Key(), b.Key(), a.String(), b.String())
	}
	// Invalid EPC values format to nothing rather than to a wrong key.
	for _, e := range []gs1.EPC{
		{},
		{Kind: "sgln", GTIN: "80614141123458", Serial: "1", PrefixLen: 7},
		{Kind: "sgtin", GTIN: "80614141123459", Serial: "1", PrefixLen: 7},
		{Kind: "sgtin", GTIN: "80614141123458", Serial: "", PrefixLen: 7},
		{Kind: "sgtin", GTIN: "80614141123458", Serial: "1", PrefixLen: 13},
		{Kind: "sscc", SSCC: "106141412345678909", PrefixLen: 7},
	} {
		if e.String() != "" || e.Key() != "" {
			t.Errorf("%+v: String %q Key %q", e, e.String(), e.Key())
		}
	}
}

func TestParseURNBad(t *testing.T) {
	sgtin := []string{
		"",
		"urn:epc:id:sgtin:",
		"urn:epc:id:sgtin:0614141.812345",                       // no serial
		"urn:epc:id:sgtin:0614141.812345.",                      // empty serial
		"urn:epc:id:sgtin:0614141812345.6789",                   // one numeric component
		"urn:epc:id:sgtin:0614141.81234.6789",                   // 12 digits
		"urn:epc:id:sgtin:0614141.8123456.6789",                 // 14 digits
		"urn:epc:id:sgtin:06141.81234567.6789",                  // prefix of 5 digits
		"urn:epc:id:sgtin:0614141123456..6789",                  // prefix of 13 digits
		"urn:epc:id:sgtin:061414112345..6789",                   // 12-digit prefix leaves no indicator
		"urn:epc:id:sgtin:.0614141812345.6789",                  // empty prefix
		"urn:epc:id:sgtin:06141a1.812345.6789",                  // letter in the prefix
		"urn:epc:id:sgtin:0614141.81234x.6789",                  // letter in the item reference
		"urn:epc:id:sgtin:0614141.812345.123456789012345678901", // 21 characters
		"urn:epc:id:sgtin:0614141.812345.%2",                    // incomplete escape
		"urn:epc:id:sgtin:0614141.812345.%",                     // incomplete escape
		"urn:epc:id:sgtin:0614141.812345.%ZZ",                   // not hex
		"urn:epc:id:sgtin:0614141.812345.A%G1",                  // not hex
		"urn:epc:id:sgtin:0614141.812345.%23",                   // '#' is not CSET 82
		"urn:epc:id:sgtin:0614141.812345.%7E",                   // '~' is not CSET 82
		"urn:epc:id:sgtin:0614141.812345.%00",                   // NUL
		"urn:epc:id:sgtin:0614141.812345.%C3%A9",                // é
		"urn:epc:id:sgtin:0614141.812345.AB/1",                  // '/' must be escaped
		"urn:epc:id:sgtin:0614141.812345.A&B",                   // '&' must be escaped
		"urn:epc:id:sgtin:0614141.812345.A?B",                   // '?' must be escaped
		"urn:epc:id:sgtin:0614141.812345.A B",                   // space
		"urn:epc:id:sgtin:0614141.812345.A#B",                   // '#'
		"urn:epc:id:sgtin:0614141.812345.é",                     // non-ASCII
		"URN:EPC:ID:SGTIN:0614141.812345.6789",                  // the prefix is lower case
		"urn:epc:id:sgtin:0614141.812345.6789\n",                // trailing newline
		" urn:epc:id:sgtin:0614141.812345.6789",                 // leading space
		"urn:epc:tag:sgtin-96:3.0614141.812345.6789",            // a tag URI, not pure identity
		"urn:epc:id:sscc:0614141.1234567890",                    // another scheme
	}
	for _, s := range sgtin {
		if x, n, err := gs1.ParseSGTINURN(s); err == nil {
			t.Errorf("ParseSGTINURN(%q) = %+v, %d", s, x, n)
		} else if !strings.HasPrefix(err.Error(), "gs1: SGTIN URN ") {
			t.Errorf("ParseSGTINURN(%q): message %q does not name the field", s, err)
		}
	}
	sscc := []string{
		"",
		"urn:epc:id:sscc:0614141",
		"urn:epc:id:sscc:0614141.",
		"urn:epc:id:sscc:0614141.123456789",    // 16 digits
		"urn:epc:id:sscc:0614141.12345678901",  // 18 digits
		"urn:epc:id:sscc:06141.123456789012",   // prefix of 5
		"urn:epc:id:sscc:0614141234567.1234",   // prefix of 13
		"urn:epc:id:sscc:0614141.123456789A",   // letter
		"urn:epc:id:sscc:0614141.1234567890.1", // three components
		"urn:epc:id:sscc:0614141.%31234567890", // escapes are not digits
		"urn:epc:id:sgtin:0614141.812345.6789",
	}
	for _, s := range sscc {
		if v, n, err := gs1.ParseSSCCURN(s); err == nil {
			t.Errorf("ParseSSCCURN(%q) = %s, %d", s, v, n)
		} else if !strings.HasPrefix(err.Error(), "gs1: SSCC URN ") {
			t.Errorf("ParseSSCCURN(%q): message %q does not name the field", s, err)
		}
	}
	sgln := []string{
		"urn:epc:id:sgln:0614141.12345",
		"urn:epc:id:sgln:0614141.12345.",
		"urn:epc:id:sgln:0614141.1234.400",
		"urn:epc:id:sgln:0614141.123456.400",
		"urn:epc:id:sgln:06141.1234567.400",
		"urn:epc:id:sgln:0614141.12345.%2",
		"urn:epc:id:sgln:0614141.12345.123456789012345678901",
		"urn:epc:id:sgln:0614141.12345.a/b",
	}
	for _, s := range sgln {
		if g, e, n, err := gs1.ParseSGLNURN(s); err == nil {
			t.Errorf("ParseSGLNURN(%q) = %s, %s, %d", s, g, e, n)
		} else if !strings.HasPrefix(err.Error(), "gs1: SGLN URN ") {
			t.Errorf("ParseSGLNURN(%q): message %q does not name the field", s, err)
		}
	}
	lgtin := []string{
		"urn:epc:class:lgtin:4012345.012345",
		"urn:epc:class:lgtin:4012345.012345.",
		"urn:epc:class:lgtin:4012345.01234.998877",
		"urn:epc:class:lgtin:4012345.012345.%ZZ",
		"urn:epc:class:lgtin:4012345.012345.123456789012345678901",
		"urn:epc:id:lgtin:4012345.012345.998877",
	}
	for _, s := range lgtin {
		if g, l, n, err := gs1.ParseLGTINURN(s); err == nil {
			t.Errorf("ParseLGTINURN(%q) = %s, %s, %d", s, g, l, n)
		} else if !strings.HasPrefix(err.Error(), "gs1: LGTIN URN ") {
			t.Errorf("ParseLGTINURN(%q): message %q does not name the field", s, err)
		}
	}
	for _, s := range append(append([]string{"urn:epc:id:sgln:0614141.12345.400", "urn:epc:class:lgtin:4012345.012345.998877"}, sgtin[:len(sgtin)-1]...), sscc[:len(sscc)-1]...) {
		if e, err := gs1.ParseEPC(s); err == nil {
			t.Errorf("ParseEPC(%q) = %+v", s, e)
		}
	}
}

func TestFormatURNBad(t *testing.T) {
	bad := []struct {
		name string
		f    func() (string, error)
	}{
		{"SGTIN bad GTIN", func() (string, error) { return gs1.SGTIN{GTIN: "80614141123459", Serial: "1"}.URN(7) }},
		{"SGTIN prefix 5", func() (string, error) { return gs1.SGTIN{GTIN: "80614141123458", Serial: "1"}.URN(5) }},
		{"SGTIN prefix 13", func() (string, error) { return gs1.SGTIN{GTIN: "80614141123458", Serial: "1"}.URN(13) }},
		{"SGTIN negative prefix", func() (string, error) { return gs1.SGTIN{GTIN: "80614141123458", Serial: "1"}.URN(-1) }},
		{"SGTIN empty serial", func() (string, error) { return gs1.SGTIN{GTIN: "80614141123458"}.URN(7) }},
		{"SGTIN serial 21", func() (string, error) {
			return gs1.SGTIN{GTIN: "80614141123458", Serial: "123456789012345678901"}.URN(7)
		}},
		{"SGTIN serial #", func() (string, error) { return gs1.SGTIN{GTIN: "80614141123458", Serial: "a#b"}.URN(7) }},
		{"SSCC bad", func() (string, error) { return gs1.SSCCURN("106141412345678909", 7) }},
		{"SSCC prefix 13", func() (string, error) { return gs1.SSCCURN("106141412345678908", 13) }},
		{"SSCC prefix 0", func() (string, error) { return gs1.SSCCURN("106141412345678908", 0) }},
		{"SGLN bad", func() (string, error) { return gs1.SGLNURN("0614141123453", "1", 7) }},
		{"SGLN prefix 13", func() (string, error) { return gs1.SGLNURN("0614141123452", "1", 13) }},
		{"SGLN ext space", func() (string, error) { return gs1.SGLNURN("0614141123452", "a b", 7) }},
		{"LGTIN empty lot", func() (string, error) { return gs1.LGTINURN("04012345123456", "", 7) }},
		{"LGTIN lot 21", func() (string, error) { return gs1.LGTINURN("04012345123456", "123456789012345678901", 7) }},
		{"LGTIN bad GTIN", func() (string, error) { return gs1.LGTINURN("04012345123457", "1", 7) }},
	}
	for _, b := range bad {
		if s, err := b.f(); err == nil {
			t.Errorf("%s: %s, want an error", b.name, s)
		}
	}
}

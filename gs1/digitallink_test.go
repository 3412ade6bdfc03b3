package gs1_test

import (
	"strings"
	"testing"

	"medledger/gs1"
)

func TestParseDigitalLink(t *testing.T) {
	const base = "https://id.gs1.org"
	for _, c := range []struct {
		in   string
		want gs1.DigitalLink
	}{
		{"https://id.gs1.org/01/09506000134352", gs1.DigitalLink{Base: base, GTIN: "09506000134352"}},
		{"https://id.gs1.org/01/09506000134352/10/ABC/21/12345",
			gs1.DigitalLink{Base: base, GTIN: "09506000134352", Lot: "ABC", Serial: "12345"}},
		// GTIN-8, -12 and -13 are normalised to 14 digits.
		{"https://id.gs1.org/01/9506000134352/21/1", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Serial: "1"}},
		{"https://id.gs1.org/01/036000291452", gs1.DigitalLink{Base: base, GTIN: "00036000291452"}},
		{"https://id.gs1.org/01/96385074", gs1.DigitalLink{Base: base, GTIN: "00000096385074"}},
		// Any host, a path prefix, http, a port; scheme and host are lower-cased.
		{"https://example.com/some/prefix/01/09506000134352/21/X",
			gs1.DigitalLink{Base: "https://example.com/some/prefix", GTIN: "09506000134352", Serial: "X"}},
		{"HTTP://Example.COM:8080/01/09506000134352",
			gs1.DigitalLink{Base: "http://example.com:8080", GTIN: "09506000134352"}},
		{"https://[2001:db8::1]/01/09506000134352", gs1.DigitalLink{Base: "https://[2001:db8::1]", GTIN: "09506000134352"}},
		{"https://192.0.2.1:443/x%20y/01/09506000134352", gs1.DigitalLink{Base: "https://192.0.2.1:443/x%20y", GTIN: "09506000134352"}},
		// Percent-decoding of values; raw sub-delimiters are literal.
		{"https://id.gs1.org/01/09506000134352/21/ABC%2F1", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Serial: "ABC/1"}},
		{"https://id.gs1.org/01/09506000134352/10/a%25b%22c/21/x!y*z+w", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Lot: `a%b"c`, Serial: "x!y*z+w"}},
		// The CPV (22) is accepted in its place and dropped.
		{"https://id.gs1.org/01/09506000134352/22/2A/10/L1/21/S1", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Lot: "L1", Serial: "S1"}},
		{"https://id.gs1.org/01/09506000134352/22/2A", gs1.DigitalLink{Base: base, GTIN: "09506000134352"}},
		// Escaped digits are digits once decoded.
		{"https://id.gs1.org/01/%30%39506000134352", gs1.DigitalLink{Base: base, GTIN: "09506000134352"}},
		// SSCC.
		{"https://id.gs1.org/00/106141412345678908", gs1.DigitalLink{Base: base, SSCC: "106141412345678908"}},
		// Query: expiry, ignored parameters, a path AI repeated with the same value.
		{"https://id.gs1.org/01/09506000134352/10/ABC?17=270630", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Lot: "ABC", Expiry: "270630"}},
		{"https://id.gs1.org/01/09506000134352?17=270600&linkType=gs1:pip&3103=000189&&x", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Expiry: "270600"}},
		{"https://id.gs1.org/01/09506000134352/21/S?21=S&01=9506000134352&17=240229&17=240229", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Serial: "S", Expiry: "240229"}},
		// Fragment ignored.
		{"https://id.gs1.org/01/09506000134352/21/S#frag?17=xx", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Serial: "S"}},
		// Short names.
		{"https://id.gs1.org/gtin/09506000134352/lot/L/ser/S", gs1.DigitalLink{Base: base, GTIN: "09506000134352", Lot: "L", Serial: "S"}},
		{"https://id.gs1.org/sscc/106141412345678908", gs1.DigitalLink{Base: base, SSCC: "106141412345678908"}},
	} {
		got, err := gs1.ParseDigitalLink(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDigitalLink(%s)\n = %+v, %v\nwant %+v", c.in, got, err, c.want)
		}
	}
}

func TestDigitalLinkString(t *testing.T) {
	for _, c := range []struct {
		d    gs1.DigitalLink
		want string
	}{
		{gs1.DigitalLink{GTIN: "09506000134352", Lot: "ABC", Serial: "12345"}, "https://id.gs1.org/01/09506000134352/10/ABC/21/12345"},
		{gs1.DigitalLink{Base: "https://example.com/p/", GTIN: "09506000134352"}, "https://example.com/p/01/09506000134352"},
		{gs1.DigitalLink{GTIN: "09506000134352", Serial: "ABC/1"}, "https://id.gs1.org/01/09506000134352/21/ABC%2F1"},
		{gs1.DigitalLink{GTIN: "09506000134352", Serial: `!"%&'()*+,-./:;<=>?_`}, "https://id.gs1.org/01/09506000134352/21/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_"},
		{gs1.DigitalLink{SSCC: "106141412345678908", Expiry: "270630"}, "https://id.gs1.org/00/106141412345678908?17=270630"},
	} {
		if got := c.d.String(); got != c.want {
			t.Errorf("%+v.String() = %s, want %s", c.d, got, c.want)
		}
	}
}

func TestDigitalLinkRoundTrip(t *testing.T) {
	for _, s := range []string{
		"https://id.gs1.org/01/09506000134352/10/ABC/21/12345",
		"https://example.com/some/prefix/01/9506000134352/22/x/21/ABC%2F1?17=270630&linkType=all",
		"http://localhost:8080/00/106141412345678908",
		"https://id.gs1.org/01/09506000134352/10/%22%25%26%3C%3E%3F/21/!'()*+,-.:;=_",
	} {
		d, err := gs1.ParseDigitalLink(s)
		if err != nil {
			t.Errorf("ParseDigitalLink(%s): %v", s, err)
			continue
		}
		out := d.String()
		d2, err := gs1.ParseDigitalLink(out)
		if err != nil || d2 != d {
			t.Errorf("%s -> %+v -> %s -> %+v, %v", s, d, out, d2, err)
		}
		if out2 := d2.String(); out2 != out {
			t.Errorf("String is not stable: %s then %s", out, out2)
		}
	}
}

func TestParseDigitalLinkBad(t *testing.T) {
	for _, s := range []string{
		"",
		"id.gs1.org/01/09506000134352",
		"ftp://id.gs1.org/01/09506000134352",
		"https:/id.gs1.org/01/09506000134352",
		"https://",
		"https:///01/09506000134352", // no host
		"https://user@id.gs1.org/01/09506000134352",                     // user information
		"https://id.gs1.org:80a/01/09506000134352",                      // bad port
		"https://id.gs1.org:/01/09506000134352",                         // empty port
		"https://id_gs1.org/01/09506000134352",                          // '_' in a host name
		"https://[zz::1]/01/09506000134352",                             // bad IPv6 literal
		"https://[::1/01/09506000134352",                                // unclosed IPv6 literal
		"https://id.gs1.org",                                            // no path
		"https://id.gs1.org/",                                           // no key
		"https://id.gs1.org/10/ABC",                                     // a qualifier, no key
		"https://id.gs1.org/some/prefix",                                // no key
		"https://id.gs1.org/01",                                         // missing GTIN value
		"https://id.gs1.org/01/",                                        // empty GTIN
		"https://id.gs1.org/01/09506000134353",                          // wrong check digit
		"https://id.gs1.org/01/0950600013435",                           // 13 digits, wrong check
		"https://id.gs1.org/01/095060001343520",                         // 15 digits
		"https://id.gs1.org/01/0950600013435A",                          // letter
		"https://id.gs1.org/00/106141412345678909",                      // wrong SSCC
		"https://id.gs1.org/00/106141412345678908/21/1",                 // SSCC takes no qualifiers
		"https://id.gs1.org/01/09506000134352/21/S/10/L",                // wrong order
		"https://id.gs1.org/01/09506000134352/10/L/22/C",                // wrong order
		"https://id.gs1.org/01/09506000134352/21/S/21/T",                // repeated
		"https://id.gs1.org/01/09506000134352/21/",                      // empty serial
		"https://id.gs1.org/01/09506000134352/21",                       // serial without value
		"https://id.gs1.org/01/09506000134352/21/123456789012345678901", // 21 characters
		"https://id.gs1.org/01/09506000134352/10/123456789012345678901", // 21 characters
		"https://id.gs1.org/01/09506000134352/22/123456789012345678901", // 21 characters
		"https://id.gs1.org/01/09506000134352/21/A%23B",                 // '#' is not CSET 82
		"https://id.gs1.org/01/09506000134352/21/A%7EB",                 // '~' is not CSET 82
		"https://id.gs1.org/01/09506000134352/21/A~B",                   // '~' is not CSET 82
		"https://id.gs1.org/01/09506000134352/21/A@B",                   // '@' is not CSET 82
		"https://id.gs1.org/01/09506000134352/21/A$B",                   // '$' is not CSET 82
		"https://id.gs1.org/01/09506000134352/21/A%20B",                 // space
		"https://id.gs1.org/01/09506000134352/21/A B",                   // raw space
		"https://id.gs1.org/01/09506000134352/21/A\"B",                  // raw '"'
		"https://id.gs1.org/01/09506000134352/21/A<B",                   // raw '<'
		"https://id.gs1.org/01/09506000134352/21/A%2",                   // incomplete escape
		"https://id.gs1.org/01/09506000134352/21/A%",                    // incomplete escape
		"https://id.gs1.org/01/09506000134352/21/A%ZZ",                  // not hex
		"https://id.gs1.org/01/09506000134352/21/%C3%A9",                // é
		"https://id.gs1.org/01/09506000134352/21/é",                     // raw non-ASCII
		"https://id.gs1.org/01/09506000134352/21/S/",                    // trailing slash
		"https://id.gs1.org/01/09506000134352/21/S/extra",               // trailing garbage
		"https://id.gs1.org/01/09506000134352/21/S/99/x",                // unknown AI after the key
		"https://id.gs1.org/01/09506000134352/235/x",                    // a qualifier this package does not take
		"https://id.gs1.org/01/09506000134352//21/S",                    // empty segment
		"https://id.gs1.org//01/09506000134352",                         // empty prefix segment
		"https://id.gs1.org/a/../01/09506000134352",                     // dot segment
		"https://id.gs1.org/a%2/01/09506000134352",                      // bad escape in the prefix
		"https://id.gs1.org/[a]/01/09506000134352",                      // '[' in the path
		"https://id.gs1.org/01/09506000134352?17=2706",                  // short expiry
		"https://id.gs1.org/01/09506000134352?17=27063A",                // letter in expiry
		"https://id.gs1.org/01/09506000134352?17=271330",                // month 13
		"https://id.gs1.org/01/09506000134352?17=270631",                // 31 June
		"https://id.gs1.org/01/09506000134352?17=230229",                // 29 February 2023
		"https://id.gs1.org/01/09506000134352?17",                       // no value
		"https://id.gs1.org/01/09506000134352?17=270630&17=270631",      // two expiry dates
		"https://id.gs1.org/01/09506000134352/21/S?21=T",                // differs from the path
		"https://id.gs1.org/01/09506000134352?01=96385074",              // differs from the path
		"https://id.gs1.org/01/09506000134352?21=S",                     // a qualifier in the query only
		"https://id.gs1.org/01/09506000134352?00=106141412345678908",    // another key
		"https://id.gs1.org/01/09506000134352?x=%ZZ",                    // bad escape in an ignored parameter
		"https://id.gs1.org/01/09506000134352?x=[",                      // '[' in the query
		"https://id.gs1.org/01/09506000134352\n",                        // control character
	} {
		if d, err := gs1.ParseDigitalLink(s); err == nil {
			t.Errorf("ParseDigitalLink(%q) = %+v, want an error", s, d)
		} else if !strings.HasPrefix(err.Error(), "gs1: Digital Link ") {
			t.Errorf("ParseDigitalLink(%q): message %q does not name the field", s, err)
		}
	}
}

package gs1_test

import (
	"reflect"
	"strings"
	"testing"

	"medledger/gs1"
)

func TestParseElementString(t *testing.T) {
	const gtin = "09506000134352"
	el := func(pairs ...string) []gs1.Element {
		var out []gs1.Element
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, gs1.Element{AI: pairs[i], Value: pairs[i+1]})
		}
		return out
	}
	pack := func(sym string, elements []gs1.Element) gs1.ElementString {
		e := gs1.ElementString{SymbologyID: sym, Elements: elements}
		for _, x := range elements {
			switch x.AI {
			case "01":
				e.GTIN = x.Value
			case "21":
				e.Serial = x.Value
			case "10":
				e.Lot = x.Value
			case "17":
				e.Expiry = x.Value
			case "00":
				e.SSCC = x.Value
			}
		}
		return e
	}
	full := el("01", gtin, "21", "ABC123", "17", "271231", "10", "L1")
	for _, c := range []struct {
		name, in string
		want     gs1.ElementString
	}{
		{"human-readable", "(01)09506000134352(21)ABC123(17)271231(10)L1", pack("", full)},
		{"human-readable with spaces as printed", "  (01) 09506000134352 (21) ABC123 (17) 271231 (10) L1 ", pack("", full)},
		{"DataMatrix, GS after the serial", "]d201" + gtin + "21ABC123\x1d17271231" + "10L1", pack("]d2", full)},
		{"QR Code", "]Q301" + gtin + "21ABC123\x1d1727123110L1", pack("]Q3", full)},
		{"GS1-128, trailing GS", "]C101" + gtin + "21ABC123\x1d17271231" + "10L1\x1d", pack("]C1", full)},
		{"no symbology identifier, leading GS", "\x1d01" + gtin + "21ABC123\x1d17271231" + "10L1", pack("", full)},
		{"separator written as text", "01" + gtin + "10L1{GS}21ABC123[FNC1]17271231", pack("", el("01", gtin, "10", "L1", "21", "ABC123", "17", "271231"))},
		{"GS after a fixed-length value is tolerated", "01" + gtin + "\x1d21S", pack("", el("01", gtin, "21", "S"))},
		{"EU pack with a national number", "]d201" + gtin + "21X9\x1d71012345678\x1d10B-7\x1d17280200",
			pack("]d2", el("01", gtin, "21", "X9", "710", "12345678", "10", "B-7", "17", "280200"))},
		{"value with parentheses, human-readable", "(01)09506000134352(21)A(B)1", pack("", el("01", gtin, "21", "A(B)1"))},
		{"serial first", "(21)7(01)09506000134352", pack("", el("21", "7", "01", gtin))},
		{"a repeated AI with the same value", "(01)09506000134352(21)S(01)09506000134352", pack("", el("01", gtin, "21", "S", "01", gtin))},
		{"SSCC", "]C100106141412345678908", pack("]C1", el("00", "106141412345678908"))},
		{"SSCC with a count", "(00)106141412345678908(30)12", pack("", el("00", "106141412345678908", "30", "12"))},
	} {
		got, err := gs1.ParseElementString(c.in)
		if err != nil {
			t.Errorf("%s: ParseElementString(%q): %v", c.name, c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ParseElementString(%q)\n = %+v\nwant %+v", c.name, c.in, got, c.want)
		}
	}
}

func TestParseElementStringErrors(t *testing.T) {
	const gtin = "09506000134352"
	for _, c := range []struct{ in, want string }{
		{"", "element string is empty"},
		{"]d2", "element string is empty"},
		{"(01)09506000134353(21)S", "GTIN 09506000134353: check digit is 3, want 2"},
		{"]d20109506000134353" + "21S", "check digit is 3, want 2"},
		{"(01)9506000134352(21)S", "13 digits, want 14"},
		{"(01)0950600013435X(21)S", "is not a digit"},
		{"]d2010950600013435", "GTIN (01) has 13 characters, want 14"},
		{"(01)09506000134352(99)X", "AI (99) is unknown or not supported"},
		{"]d201" + gtin + "91ABC", "AI at position 17 (91...) is unknown or not supported"},
		{"(01)09506000134352", "no serial (21)"},
		{"]d201" + gtin + "10L1", "no serial (21)"},
		{"(21)ABC123", "no GTIN (01)"},
		{"(10)L1(17)271231", "no GTIN (01) and no serial (21)"},
		{"(01)09506000134352(21)", "serial (21) has no value"},
		{"]d201" + gtin + "21\x1d10L", "serial (21) has no value"},
		{"(01)09506000134352(21)123456789012345678901", "21 characters, at most 20"},
		{"(01)09506000134352(21)A B", "outside GS1 character set 82"},
		{"(01)09506000134352(21)S(17)271232", "expiry (17) 271232: day 32 is not 00 to 31"},
		{"(01)09506000134352(21)S(17)271301", "month 13"},
		{"(01)09506000134352(21)S(17)2712", "want 6 digits"},
		{"(01)09506000134352(21)S(21)T", "AI 21 appears twice"},
		{"(00)106141412345678909", "SSCC 106141412345678909: check digit is 9, want 8"},
		{"(00)106141412345678908(21)S", "cannot come with a GTIN"},
		{"]d101" + gtin + "21S", "symbology identifier \"]d1\" does not announce GS1 data"},
		{"(01)09506000134352(21S", "the AI at position 19 has no closing \")\""},
		{"(01)0950600013435X(21)S", "character 'X' at position 14 is not a digit"},
		{"(01)09506000134352(21", "has no closing"},
		{"(AB)x", "\"(AB)\" at position 1 is not an AI"},
		{"01" + gtin + "21S\x1d\x1d17271231", "expected an AI (digits) at position"},
		{"https://id.gs1.org/01/09506000134352/21/S", "expected an AI (digits) at position 1"},
		{"(01)09506000134352(21)S(30)1A", "count (30) \"1A\": want digits only"},
	} {
		_, err := gs1.ParseElementString(c.in)
		if err == nil {
			t.Errorf("ParseElementString(%q): no error, want %q", c.in, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "gs1: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseElementString(%q): %v\nwant an error containing %q", c.in, err, c.want)
		}
	}
}

func TestElementStringFormats(t *testing.T) {
	e, err := gs1.ParseElementString("]d20109506000134352" + "21ABC\x1d10L1\x1d17271231")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.String(), "(01)09506000134352(21)ABC(10)L1(17)271231"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := e.Data(), "0109506000134352"+"21ABC\x1d10L1\x1d17271231"; got != want {
		t.Errorf("Data() = %q, want %q", got, want)
	}
}

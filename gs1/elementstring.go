package gs1

import (
	"fmt"
	"strings"
)

// GS1 element strings (GS1 General Specifications §3 and §7.8): what a
// DataMatrix, QR or GS1-128 scanner reads from a pack, a run of
// Application Identifiers (AIs) and their values. A scanner working as a
// keyboard types it in one of two forms:
//
//   - raw, as encoded: an optional symbology identifier such as "]d2" (GS1
//     DataMatrix) or "]Q3" (GS1 QR Code), then AI and value after AI and
//     value, where a variable-length value that is not the last ends with
//     the group separator GS (ASCII 29, the transmitted FNC1);
//   - human-readable, as printed under the symbol: each AI in parentheses,
//     "(01)09506000134352(21)ABC123(17)271231(10)L1".
//
// Some scanners and label tools write the separator as text; "{GS}",
// "[GS]", "{FNC1}" and "[FNC1]" are accepted in its place (braces and
// brackets are outside CSET 82, so these cannot be part of a value).

// GroupSeparator is the ASCII GS character that ends a variable-length
// value in a raw element string.
const GroupSeparator = "\x1d"

// aiSpec describes one AI this package reads: its number, name, and value
// format: fixed is the exact length for a fixed-length AI (0 if variable),
// max the longest value, numeric whether only digits are allowed.
type aiSpec struct {
	ai      string
	name    string
	fixed   int
	max     int
	numeric bool
}

// elementAIs are the AIs ParseElementString understands: those a pharma
// pack or a logistic unit carries. Values of AIs other than 00, 01, 10, 17
// and 21 are checked for format and kept in Elements.
var elementAIs = []aiSpec{
	{"00", "SSCC", 18, 18, true},
	{"01", "GTIN", 14, 14, true},
	{"10", "lot", 0, 20, false},
	{"11", "production date", 6, 6, true},
	{"13", "packaging date", 6, 6, true},
	{"15", "best before date", 6, 6, true},
	{"16", "sell by date", 6, 6, true},
	{"17", "expiry", 6, 6, true},
	{"21", "serial", 0, 20, false},
	{"22", "consumer product variant", 0, 20, false},
	{"30", "count", 0, 8, true},
	{"240", "additional product identification", 0, 30, false},
	{"710", "national healthcare reimbursement number (Germany)", 0, 20, false},
	{"711", "national healthcare reimbursement number (France)", 0, 20, false},
	{"712", "national healthcare reimbursement number (Spain)", 0, 20, false},
	{"713", "national healthcare reimbursement number (Brazil)", 0, 20, false},
	{"714", "national healthcare reimbursement number (Portugal)", 0, 20, false},
	{"715", "national healthcare reimbursement number (United States)", 0, 20, false},
	{"716", "national healthcare reimbursement number (Italy)", 0, 20, false},
}

// lookupAI returns the spec of the AI that s starts with, if supported.
func lookupAI(s string) (aiSpec, bool) {
	for _, a := range elementAIs {
		if strings.HasPrefix(s, a.ai) {
			return a, true
		}
	}
	return aiSpec{}, false
}

// symbologyIDs are the symbology identifiers of the GS1 symbols, which
// announce a GS1 element string: GS1 DataMatrix, GS1 QR Code, GS1-128,
// GS1 DataBar and GS1 DotCode.
var symbologyIDs = []string{"]d2", "]Q3", "]C1", "]e0", "]J1"}

// separatorTexts are the written forms of the separator that scanners and
// label tools use in place of the GS character.
var separatorTexts = []string{GroupSeparator, "{GS}", "[GS]", "{FNC1}", "[FNC1]"}

// Element is one AI and its value.
type Element struct {
	AI    string
	Value string
}

// ElementString is a parsed GS1 element string that identifies a pack
// (GTIN and serial) or a logistic unit (SSCC).
type ElementString struct {
	SymbologyID string // "]d2", "]Q3", "]C1", "]e0", "]J1", or "" if none was given
	GTIN        string // AI 01, 14 digits with a valid check digit
	Serial      string // AI 21
	Lot         string // AI 10
	Expiry      string // AI 17, raw YYMMDD (day 00 means the month's last day)
	SSCC        string // AI 00
	// Elements are all the AIs in the order they came, those above
	// included.
	Elements []Element
}

// ParseElementString parses a GS1 element string in raw or human-readable
// form (see above), with an optional symbology identifier; surrounding
// white space is ignored. Every value is checked: GTIN and SSCC check
// digits, dates, lengths and character sets. The string must name a pack,
// with a GTIN (01) and a serial (21), or a logistic unit, with an SSCC
// (00); an AI this package does not know is an error, since its length, and
// so where the next AI starts, is unknown.
func ParseElementString(s string) (ElementString, error) {
	s = strings.TrimSpace(s)
	var e ElementString
	for _, id := range symbologyIDs {
		if strings.HasPrefix(s, id) {
			e.SymbologyID, s = id, s[len(id):]
			break
		}
	}
	if e.SymbologyID == "" && strings.HasPrefix(s, "]") {
		id := s
		if len(id) > 3 {
			id = id[:3]
		}
		return ElementString{}, fmt.Errorf("gs1: element string: symbology identifier %s does not announce GS1 data (want ]d2, ]Q3, ]C1, ]e0 or ]J1)", quote(id))
	}
	if s == "" {
		return ElementString{}, fmt.Errorf("gs1: element string is empty")
	}
	var err error
	if s[0] == '(' {
		e.Elements, err = splitHumanReadable(s)
	} else {
		e.Elements, err = splitRaw(s)
	}
	if err != nil {
		return ElementString{}, err
	}
	if err := e.interpret(); err != nil {
		return ElementString{}, err
	}
	return e, nil
}

// cutSeparator reports whether s starts with a separator, and its length.
func cutSeparator(s string) int {
	for _, sep := range separatorTexts {
		if strings.HasPrefix(s, sep) {
			return len(sep)
		}
	}
	return 0
}

// unknownAI builds the error for data at position pos (1-based) that does
// not start with a supported AI.
func unknownAI(s string, pos int) error {
	n := firstNonDigit(s)
	if n < 0 {
		n = len(s)
	}
	if n > 4 {
		n = 4
	}
	if n < 2 {
		return fmt.Errorf("gs1: element string: expected an AI (digits) at position %d, found %s", pos, quote(s[:min(len(s), 8)]))
	}
	return fmt.Errorf("gs1: element string: AI at position %d (%s...) is unknown or not supported; supported are %s", pos, s[:n], supportedAIs())
}

func supportedAIs() string {
	var list []string
	for _, a := range elementAIs {
		list = append(list, a.ai)
	}
	return strings.Join(list, ", ")
}

// splitRaw splits a raw element string into its elements.
func splitRaw(s string) ([]Element, error) {
	var out []Element
	i := cutSeparator(s) // a leading FNC1, as some scanners send without a symbology identifier
	for i < len(s) {
		spec, ok := lookupAI(s[i:])
		if !ok {
			return nil, unknownAI(s[i:], i+1)
		}
		i += len(spec.ai)
		var v string
		if spec.fixed > 0 {
			if len(s)-i < spec.fixed {
				return nil, fmt.Errorf("gs1: element string: %s (%s) has %d characters, want %d", spec.name, spec.ai, len(s)-i, spec.fixed)
			}
			v = s[i : i+spec.fixed]
			i += spec.fixed
		} else {
			j := i
			for j < len(s) && cutSeparator(s[j:]) == 0 {
				j++
			}
			v, i = s[i:j], j
		}
		out = append(out, Element{AI: spec.ai, Value: v})
		if n := cutSeparator(s[i:]); n > 0 {
			i += n
			if i == len(s) {
				break // a trailing separator
			}
		}
	}
	return out, nil
}

// splitHumanReadable splits "(AI)value(AI)value..." into its elements. A
// fixed-length value, all digits, runs to the next "("; a variable-length
// one to the next "(" that opens an AI, 2 to 4 digits and ")", so that it
// may itself hold other parentheses. White space around the parentheses
// (as printed under a symbol) is ignored.
func splitHumanReadable(s string) ([]Element, error) {
	var out []Element
	i := 0
	for i < len(s) {
		if s[i] != '(' {
			return nil, fmt.Errorf("gs1: element string: expected \"(\" opening an AI at position %d", i+1)
		}
		end := strings.IndexByte(s[i:], ')')
		if end < 0 {
			return nil, fmt.Errorf("gs1: element string: the AI at position %d has no closing \")\"", i+1)
		}
		ai := s[i+1 : i+end]
		spec, ok := lookupAI(ai)
		if !ok || spec.ai != ai {
			if !isDigits(ai) {
				return nil, fmt.Errorf("gs1: element string: %s at position %d is not an AI", quote("("+ai+")"), i+1)
			}
			return nil, fmt.Errorf("gs1: element string: AI (%s) is unknown or not supported; supported are %s", ai, supportedAIs())
		}
		start := i + end + 1
		j := start
		for j < len(s) && !(s[j] == '(' && (spec.fixed > 0 || opensAI(s[j:]))) {
			j++
		}
		out = append(out, Element{AI: ai, Value: strings.TrimSpace(s[start:j])})
		i = j
	}
	return out, nil
}

// opensAI reports whether s starts with "(", 2 to 4 digits and ")".
func opensAI(s string) bool {
	end := strings.IndexByte(s, ')')
	return len(s) > 0 && s[0] == '(' && end >= 3 && end <= 5 && isDigits(s[1:end])
}

// interpret checks every element's value and fills in the typed fields.
func (e *ElementString) interpret() error {
	seen := map[string]string{}
	for _, el := range e.Elements {
		spec, _ := lookupAI(el.AI)
		v := el.Value
		if prev, ok := seen[el.AI]; ok {
			if prev != v {
				return fmt.Errorf("gs1: element string: AI %s appears twice, as %s and %s", el.AI, quote(prev), quote(v))
			}
			continue
		}
		seen[el.AI] = v
		if v == "" {
			return fmt.Errorf("gs1: element string: %s (%s) has no value", spec.name, el.AI)
		}
		var err error
		switch el.AI {
		case "01":
			if len(v) != 14 {
				err = fmt.Errorf("gs1: GTIN (01) %s: %d digits, want 14", quote(v), len(v))
			} else {
				err = ValidateGTIN(v)
			}
			e.GTIN = v
		case "00":
			e.SSCC, err = v, ValidateSSCC(v)
		case "21":
			e.Serial, err = v, ValidateSerial(v)
		case "10":
			e.Lot, err = v, ValidateLot(v)
		case "17":
			e.Expiry, err = v, validYYMMDD("expiry (17)", v)
		case "11", "13", "15", "16":
			err = validYYMMDD(spec.name+" ("+el.AI+")", v)
		default:
			switch {
			case spec.numeric && !isDigits(v):
				err = fmt.Errorf("gs1: %s (%s) %s: want digits only", spec.name, el.AI, quote(v))
			default:
				err = validateX(spec.name+" ("+el.AI+")", v, spec.max)
			}
		}
		if err != nil {
			return fmt.Errorf("gs1: element string: %s", strings.TrimPrefix(err.Error(), "gs1: "))
		}
	}
	switch {
	case e.SSCC != "" && (e.GTIN != "" || e.Serial != ""):
		return fmt.Errorf("gs1: element string: an SSCC (00) names a logistic unit and cannot come with a GTIN (01) or serial (21)")
	case e.SSCC != "":
		return nil
	case e.GTIN == "" && e.Serial == "":
		return fmt.Errorf("gs1: element string: no GTIN (01) and no serial (21); a pack is identified by both")
	case e.GTIN == "":
		return fmt.Errorf("gs1: element string: no GTIN (01); a pack is identified by its GTIN and serial")
	case e.Serial == "":
		return fmt.Errorf("gs1: element string: no serial (21); the GTIN names a product, and a pack is identified by its serial too")
	}
	return nil
}

// String formats e in human-readable form, "(01)...(21)...", its elements
// in order.
func (e ElementString) String() string {
	var b strings.Builder
	for _, el := range e.Elements {
		b.WriteString("(" + el.AI + ")" + el.Value)
	}
	return b.String()
}

// Data formats e as raw element string data, as a symbol encodes it
// (without symbology identifier): each variable-length value but the last
// ends with the GS character.
func (e ElementString) Data() string {
	var b strings.Builder
	for i, el := range e.Elements {
		b.WriteString(el.AI + el.Value)
		if spec, _ := lookupAI(el.AI); spec.fixed == 0 && i < len(e.Elements)-1 {
			b.WriteString(GroupSeparator)
		}
	}
	return b.String()
}

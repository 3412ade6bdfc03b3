package gs1

import (
	"errors"
	"fmt"
	"strings"
)

// EPC pure-identity URNs, as the EPC Tag Data Standard (TDS) 2.x §6 and §7
// define them. A URN splits a GS1 key at the end of its GS1 Company Prefix:
// the position of the first '.' gives the prefix length, which a URN carries
// and a GS1 key alone does not; that is why the parsers return it and the
// formatters need it. The check digit is not written in a URN; it is
// computed on parsing.
//
// Serial, lot and extension components may hold any character of GS1 CSET
// 82. Letters, digits and ! ' ( ) * + , - . : ; = _ are written as they are;
// the seven others are percent-escaped: " %22, % %25, & %26, / %2F, < %3C,
// > %3E, ? %3F (TDS "Characters permitted in EPC URI"). Parsing accepts any
// %XX escape (hex digits in either case) whose character is in CSET 82;
// formatting writes the canonical form above, with upper-case hex.

const (
	sgtinPrefix = "urn:epc:id:sgtin:"
	ssccPrefix  = "urn:epc:id:sscc:"
	sglnPrefix  = "urn:epc:id:sgln:"
	lgtinPrefix = "urn:epc:class:lgtin:"
)

// fail builds an error about input s of the given kind.
func fail(kind, s, format string, args ...any) error {
	return fmt.Errorf("gs1: %s %s: %s", kind, quote(s), fmt.Sprintf(format, args...))
}

// within re-labels an error from a component check with the URI or URN it
// came from.
func within(kind, s string, err error) error {
	return fmt.Errorf("gs1: %s %s: %s", kind, quote(s), strings.TrimPrefix(err.Error(), "gs1: "))
}

// epcRaw reports whether c may appear unescaped in a serial, lot or
// extension component of an EPC URI.
func epcRaw(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	}
	switch c {
	case '!', '\'', '(', ')', '*', '+', ',', '-', '.', ':', ';', '=', '_':
		return true
	}
	return false
}

const upperHex = "0123456789ABCDEF"

// epcEscape writes s, already checked against CSET 82, in EPC URI form.
func epcEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if epcRaw(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// unhex returns the value of the hex digit c, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// epcUnescape decodes an EPC URI component named field. It rejects a '%'
// not followed by two hex digits and any character that the URI form
// requires to be escaped; the caller checks the decoded value against CSET
// 82 and its length limit.
func epcUnescape(field, s string) (string, error) {
	if !strings.ContainsRune(s, '%') {
		for i := 0; i < len(s); i++ {
			if !epcRaw(s[i]) {
				return "", badRaw(field, s, i)
			}
		}
		return s, nil
	}
	return percentDecode(field, s, func(c byte) (byte, bool) { return c, epcRaw(c) },
		func(i int) error { return badRaw(field, s, i) })
}

// percentDecode decodes %XX escapes in s, the component named what. keep
// says what an unescaped byte decodes to, if it may stand unescaped; bad
// describes the one at s[i] that may not.
func percentDecode(what, s string, keep func(c byte) (byte, bool), bad func(i int) error) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			d, ok := keep(c)
			if !ok {
				return "", bad(i)
			}
			b.WriteByte(d)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%s %s: incomplete escape %s at position %d", what, quote(s), quote(s[i:]), i+1)
		}
		h, l := unhex(s[i+1]), unhex(s[i+2])
		if h < 0 || l < 0 {
			return "", fmt.Errorf("%s %s: bad escape %s at position %d", what, quote(s), quote(s[i:i+3]), i+1)
		}
		b.WriteByte(byte(h<<4 | l))
		i += 2
	}
	return b.String(), nil
}

// badRaw describes the unescaped character at s[i].
func badRaw(field, s string, i int) error {
	c := s[i]
	if inCSET82(c) {
		return fmt.Errorf("%s %s: character %q at position %d must be written %%%02X", field, quote(s), c, i+1, c)
	}
	return fmt.Errorf("%s %s: character %q at position %d is outside GS1 character set 82", field, quote(s), c, i+1)
}

// splitPrefix checks the two numeric components of a URN: the company
// prefix (6 to 12 digits) and the rest of the key, together total digits.
// The second may be empty only when total leaves no digit for it.
func splitPrefix(cp, rest, restName string, total int) error {
	if !isDigits(cp) {
		return fmt.Errorf("company prefix %s must be 6 to 12 digits", quote(cp))
	}
	if len(cp) < 6 || len(cp) > 12 {
		return fmt.Errorf("company prefix %s has %d digits, want 6 to 12", cp, len(cp))
	}
	if rest != "" && !isDigits(rest) {
		return fmt.Errorf("%s %s must be digits", restName, quote(rest))
	}
	if len(cp)+len(rest) != total {
		return fmt.Errorf("company prefix %s and %s %s have %d digits together, want %d", cp, restName, quote(rest), len(cp)+len(rest), total)
	}
	return nil
}

// checkPrefixLen checks a company-prefix length given to a formatter.
func checkPrefixLen(kind, key string, prefixLen int) error {
	if prefixLen < 6 || prefixLen > 12 {
		return fmt.Errorf("gs1: %s %s: company prefix length %d, want 6 to 12", kind, key, prefixLen)
	}
	return nil
}

// withCheck appends the check digit to body, which the caller has checked
// is digits only.
func withCheck(body string) string {
	cd, _ := CheckDigit(body)
	return body + string(cd)
}

// SGTIN is a serialised GTIN: a GTIN (14 digits) and a serial number (AI 21).
type SGTIN struct{ GTIN, Serial string }

// parseGTINURN parses the body of an sgtin or lgtin URN: company prefix,
// indicator digit and item reference, and a CSET 82 component.
func parseGTINURN(kind, prefix, field, s string, check func(string) error) (gtin, value string, prefixLen int, err error) {
	body, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", "", 0, fail(kind, s, "want the prefix %s", prefix)
	}
	parts := strings.SplitN(body, ".", 3)
	if len(parts) != 3 {
		return "", "", 0, fail(kind, s, "want CompanyPrefix.IndicatorAndItemReference.%s after %s", field, prefix)
	}
	cp, ir := parts[0], parts[1]
	if err := splitPrefix(cp, ir, "indicator and item reference", 13); err != nil {
		return "", "", 0, within(kind, s, err)
	}
	if ir == "" {
		return "", "", 0, fail(kind, s, "indicator digit is missing")
	}
	v, err := epcUnescape(field, parts[2])
	if err != nil {
		return "", "", 0, within(kind, s, err)
	}
	if err := check(v); err != nil {
		return "", "", 0, within(kind, s, err)
	}
	return withCheck(ir[:1] + cp + ir[1:]), v, len(cp), nil
}

// ParseSGTINURN parses an SGTIN pure-identity URN such as
// "urn:epc:id:sgtin:0614141.812345.6789" and returns the 14-digit GTIN and
// the serial, together with the length of the company prefix.
func ParseSGTINURN(s string) (SGTIN, int, error) {
	gtin, serial, n, err := parseGTINURN("SGTIN URN", sgtinPrefix, "serial", s, ValidateSerial)
	if err != nil {
		return SGTIN{}, 0, err
	}
	return SGTIN{GTIN: gtin, Serial: serial}, n, nil
}

// formatGTINURN writes an sgtin or lgtin URN.
func formatGTINURN(kind, prefix, gtin, value string, prefixLen int, check func(string) error) (string, error) {
	g, err := NormalizeGTIN(gtin)
	if err != nil {
		return "", err
	}
	if err := checkPrefixLen(kind, g, prefixLen); err != nil {
		return "", err
	}
	if err := check(value); err != nil {
		return "", err
	}
	return prefix + g[1:1+prefixLen] + "." + g[:1] + g[1+prefixLen:13] + "." + epcEscape(value), nil
}

// URN formats x as an SGTIN pure-identity URN, splitting the GTIN after a
// company prefix of prefixLen digits (6 to 12). The GTIN may be given in
// any of the four lengths.
func (x SGTIN) URN(prefixLen int) (string, error) {
	return formatGTINURN("SGTIN", sgtinPrefix, x.GTIN, x.Serial, prefixLen, ValidateSerial)
}

// ParseSSCCURN parses an SSCC pure-identity URN such as
// "urn:epc:id:sscc:0614141.1234567890" and returns the 18-digit SSCC and the
// length of its company prefix.
func ParseSSCCURN(s string) (sscc string, prefixLen int, err error) {
	const kind = "SSCC URN"
	body, ok := strings.CutPrefix(s, ssccPrefix)
	if !ok {
		return "", 0, fail(kind, s, "want the prefix %s", ssccPrefix)
	}
	cp, sr, ok := strings.Cut(body, ".")
	if !ok {
		return "", 0, fail(kind, s, "want CompanyPrefix.ExtensionAndSerialReference after %s", ssccPrefix)
	}
	if err := splitPrefix(cp, sr, "extension and serial reference", 17); err != nil {
		return "", 0, within(kind, s, err)
	}
	return withCheck(sr[:1] + cp + sr[1:]), len(cp), nil
}

// SSCCURN formats an SSCC as a pure-identity URN, splitting it after a
// company prefix of prefixLen digits (6 to 12).
func SSCCURN(sscc string, prefixLen int) (string, error) {
	if err := ValidateSSCC(sscc); err != nil {
		return "", err
	}
	if err := checkPrefixLen("SSCC", sscc, prefixLen); err != nil {
		return "", err
	}
	return ssccPrefix + sscc[1:1+prefixLen] + "." + sscc[:1] + sscc[1+prefixLen:17], nil
}

// ParseSGLNURN parses an SGLN pure-identity URN such as
// "urn:epc:id:sgln:0614141.12345.400" and returns the 13-digit GLN, the
// extension (AI 254) and the length of the company prefix. TDS writes a GLN
// that has no extension with the extension "0"; that is returned as "0".
func ParseSGLNURN(s string) (gln, ext string, prefixLen int, err error) {
	const kind = "SGLN URN"
	body, ok := strings.CutPrefix(s, sglnPrefix)
	if !ok {
		return "", "", 0, fail(kind, s, "want the prefix %s", sglnPrefix)
	}
	parts := strings.SplitN(body, ".", 3)
	if len(parts) != 3 {
		return "", "", 0, fail(kind, s, "want CompanyPrefix.LocationReference.Extension after %s", sglnPrefix)
	}
	cp, lr := parts[0], parts[1]
	if err := splitPrefix(cp, lr, "location reference", 12); err != nil {
		return "", "", 0, within(kind, s, err)
	}
	ext, err = epcUnescape("GLN extension", parts[2])
	if err != nil {
		return "", "", 0, within(kind, s, err)
	}
	if err := validateExtension(ext); err != nil {
		return "", "", 0, within(kind, s, err)
	}
	return withCheck(cp + lr), ext, len(cp), nil
}

// SGLNURN formats a GLN and extension as an SGLN pure-identity URN,
// splitting the GLN after a company prefix of prefixLen digits (6 to 12).
// An empty ext is written "0", the TDS form for "no extension".
func SGLNURN(gln, ext string, prefixLen int) (string, error) {
	if err := ValidateGLN(gln); err != nil {
		return "", err
	}
	if err := checkPrefixLen("SGLN", gln, prefixLen); err != nil {
		return "", err
	}
	if ext == "" {
		ext = "0"
	}
	if err := validateExtension(ext); err != nil {
		return "", err
	}
	return sglnPrefix + gln[:prefixLen] + "." + gln[prefixLen:12] + "." + epcEscape(ext), nil
}

// ParseLGTINURN parses an LGTIN EPC class URN (a GTIN with a lot) such as
// "urn:epc:class:lgtin:4012345.012345.998877" and returns the 14-digit
// GTIN, the lot and the length of the company prefix.
func ParseLGTINURN(s string) (gtin, lot string, prefixLen int, err error) {
	return parseGTINURN("LGTIN URN", lgtinPrefix, "lot", s, ValidateLot)
}

// LGTINURN formats a GTIN and lot as an LGTIN EPC class URN, splitting the
// GTIN after a company prefix of prefixLen digits (6 to 12).
func LGTINURN(gtin, lot string, prefixLen int) (string, error) {
	return formatGTINURN("LGTIN", lgtinPrefix, gtin, lot, prefixLen, ValidateLot)
}

// EPC is a parsed sgtin or sscc URN: the two kinds of EPC that a serialised
// pack or a logistic unit carries. Kind is "sgtin" (GTIN and Serial set) or
// "sscc" (SSCC set); PrefixLen is the company-prefix length the URN used.
type EPC struct {
	Kind         string // "sgtin" | "sscc"
	GTIN, Serial string
	SSCC         string
	PrefixLen    int
}

// ParseEPC parses either an sgtin or an sscc pure-identity URN and says
// which it was.
func ParseEPC(s string) (EPC, error) {
	switch {
	case strings.HasPrefix(s, sgtinPrefix):
		x, n, err := ParseSGTINURN(s)
		if err != nil {
			return EPC{}, err
		}
		return EPC{Kind: "sgtin", GTIN: x.GTIN, Serial: x.Serial, PrefixLen: n}, nil
	case strings.HasPrefix(s, ssccPrefix):
		sscc, n, err := ParseSSCCURN(s)
		if err != nil {
			return EPC{}, err
		}
		return EPC{Kind: "sscc", SSCC: sscc, PrefixLen: n}, nil
	}
	return EPC{}, fail("EPC", s, "want an sgtin or sscc URN (%s... or %s...)", sgtinPrefix, ssccPrefix)
}

// errKind is returned by EPC methods on a value of an unknown kind.
var errKind = errors.New("gs1: EPC kind must be sgtin or sscc")

// urn formats e, or says why it cannot.
func (e EPC) urn() (string, error) {
	switch e.Kind {
	case "sgtin":
		return SGTIN{GTIN: e.GTIN, Serial: e.Serial}.URN(e.PrefixLen)
	case "sscc":
		return SSCCURN(e.SSCC, e.PrefixLen)
	}
	return "", errKind
}

// String returns the canonical URN of e, or "" if e is not a valid EPC.
func (e EPC) String() string {
	s, err := e.urn()
	if err != nil {
		return ""
	}
	return s
}

// Key returns a compact canonical key for e in the style of a GS1 element
// string: "01" + GTIN + "21" + Serial for an sgtin (the GTIN is always 14
// digits, so the split is unambiguous) and "00" + SSCC for an sscc. Unlike
// the URN it does not depend on the company-prefix length, so one pack has
// one key however its URN was split. Key returns "" if e is not a valid
// EPC.
func (e EPC) Key() string {
	if _, err := e.urn(); err != nil {
		return ""
	}
	switch e.Kind {
	case "sgtin":
		g, _ := NormalizeGTIN(e.GTIN)
		return "01" + g + "21" + e.Serial
	default:
		return "00" + e.SSCC
	}
}

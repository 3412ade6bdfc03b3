package gs1

import (
	"fmt"
	"strings"
)

// DefaultDigitalLinkBase is the resolver that DigitalLink.String uses when
// Base is empty: GS1's own, which makes the canonical form of a link.
const DefaultDigitalLinkBase = "https://id.gs1.org"

// DigitalLink is a GS1 Digital Link URI (GS1 Digital Link URI syntax 1.2 to
// 1.4), uncompressed form, reduced to what the supply chain module uses: a
// GTIN with optional lot and serial, or an SSCC, plus an optional expiry
// date from the query string.
type DigitalLink struct {
	Base   string // scheme+host(+path prefix), e.g. "https://id.gs1.org"
	GTIN   string // AI 01, normalised to 14 digits (empty for an SSCC link)
	Lot    string // AI 10 (optional qualifier)
	Serial string // AI 21 (optional qualifier)
	SSCC   string // AI 00 (primary key alternative to 01)
	Expiry string // AI 17 from the query string, raw YYMMDD (optional)
}

// Short names that the Digital Link standard once allowed in place of the
// numeric AIs (deprecated "convenience alphas"); accepted, never written.
var dlAlphas = map[string]string{"gtin": "01", "lot": "10", "ser": "21", "sscc": "00", "cpv": "22"}

// dlAI returns the numeric AI that a path segment names, or "".
func dlAI(seg string) string {
	switch seg {
	case "00", "01", "10", "21", "22":
		return seg
	}
	return dlAlphas[seg]
}

// qualifierOrder gives the position of each key qualifier of AI 01 in the
// only order the standard allows: 22 (CPV), 10 (lot), 21 (serial).
var qualifierOrder = map[string]int{"22": 0, "10": 1, "21": 2}

// dlUnreserved reports whether c is an RFC 3986 unreserved character, the
// only ones that String writes without percent-encoding.
func dlUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// pchar reports whether c may appear unescaped in an RFC 3986 path segment.
func pchar(c byte) bool {
	if dlUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

// dlEscape percent-encodes every byte of s but the unreserved characters.
func dlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if dlUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// dlUnescape decodes a path segment or, with query set, a query component
// (where '+' stands for a space and '/' and '?' may appear). It rejects a
// '%' not followed by two hex digits and characters that RFC 3986 does not
// allow there.
func dlUnescape(what, s string, query bool) (string, error) {
	return percentDecode(what, s, func(c byte) (byte, bool) {
		switch {
		case query && c == '+':
			return ' ', true
		case pchar(c), query && (c == '/' || c == '?'):
			return c, true
		}
		return 0, false
	}, func(i int) error {
		return fmt.Errorf("%s %s: character %q at position %d is not allowed in a URI here", what, quote(s), s[i], i+1)
	})
}

// parseHost checks and lower-cases an authority: a host name or IPv4
// address of letters, digits, '-' and '.', or an IPv6 literal in brackets,
// either optionally followed by ":port". User information is not allowed.
func parseHost(a string) (string, error) {
	if a == "" {
		return "", fmt.Errorf("host is missing")
	}
	a = strings.ToLower(a)
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", fmt.Errorf("host %s: unclosed '['", quote(a))
		}
		host, port = a[:end+1], a[end+1:]
		inner := a[1:end]
		if inner == "" {
			return "", fmt.Errorf("host %s: empty IPv6 literal", quote(a))
		}
		for i := 0; i < len(inner); i++ {
			if c := inner[i]; unhex(c) < 0 && c != ':' && c != '.' {
				return "", fmt.Errorf("host %s: character %q is not allowed in an IPv6 literal", quote(a), c)
			}
		}
		if port != "" && port[0] != ':' {
			return "", fmt.Errorf("host %s: unexpected %s after ']'", quote(a), quote(port))
		}
	} else if i := strings.IndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i:]
	}
	if port != "" {
		if p := port[1:]; len(p) > 5 || !isDigits(p) {
			return "", fmt.Errorf("host %s: port %s must be 1 to 5 digits", quote(a), quote(p))
		}
	}
	if !strings.HasPrefix(host, "[") {
		if host == "" {
			return "", fmt.Errorf("host %s: empty host name", quote(a))
		}
		for i := 0; i < len(host); i++ {
			if c := host[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return "", fmt.Errorf("host %s: character %q is not allowed in a host name", quote(a), c)
			}
		}
	}
	return a, nil
}

// ParseDigitalLink parses an uncompressed GS1 Digital Link URI:
//
//	http(s)://host[/prefix...]/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}][?17={YYMMDD}&...][#...]
//	http(s)://host[/prefix...]/00/{sscc}[?...][#...]
//
// The scheme is http or https and the host any host name, IPv4 address or
// bracketed IPv6 address, with an optional port. Path segments before the
// first primary-key AI (01 or 00) form a path prefix kept in Base. The GTIN
// may have 8, 12, 13 or 14 digits and is normalised to 14; check digits
// are verified. The key qualifiers of 01 must come in the order 22, 10, 21;
// a CPV (22) is checked and then dropped. Path segments are percent-decoded
// and then checked against GS1 CSET 82 and the length limits. The
// deprecated short names gtin, cpv, lot, ser and sscc are accepted for 01,
// 22, 10, 21 and 00.
//
// In the query string, 17 (expiry) must be six digits YYMMDD with a
// plausible month and day (00 allowed); a path AI (00, 01, 10, 21, 22)
// there must repeat the path's value exactly, and one the path lacks is an
// error, since key qualifiers belong in the path; other parameters are
// ignored. A fragment is ignored.
func ParseDigitalLink(s string) (DigitalLink, error) {
	const kind = "Digital Link"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !pchar(c) && !strings.ContainsRune("%/?#[]", rune(c)) {
			return DigitalLink{}, fail(kind, s, "character %q at position %d is not allowed in a URI", c, i+1)
		}
	}
	u, _, _ := strings.Cut(s, "#")
	scheme, rest, ok := strings.Cut(u, "://")
	scheme = strings.ToLower(scheme)
	if !ok || scheme != "http" && scheme != "https" {
		return DigitalLink{}, fail(kind, s, "want a URI starting http:// or https://")
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	host, err := parseHost(rest[:end])
	if err != nil {
		return DigitalLink{}, within(kind, s, err)
	}
	path, query, _ := strings.Cut(rest[end:], "?")
	if path == "" || path == "/" {
		return DigitalLink{}, fail(kind, s, "no GTIN (01) or SSCC (00) in the path")
	}
	segs := strings.Split(path[1:], "/")

	// The path prefix runs up to the first primary key.
	k := 0
	for ; k < len(segs); k++ {
		if ai := dlAI(segs[k]); ai == "01" || ai == "00" {
			break
		}
		if segs[k] == "" {
			return DigitalLink{}, fail(kind, s, "empty path segment in the path prefix")
		}
		if segs[k] == "." || segs[k] == ".." {
			return DigitalLink{}, fail(kind, s, "dot segment %s in the path prefix", quote(segs[k]))
		}
		if _, err := dlUnescape("path segment", segs[k], false); err != nil {
			return DigitalLink{}, within(kind, s, err)
		}
	}
	if k == len(segs) {
		return DigitalLink{}, fail(kind, s, "no GTIN (01) or SSCC (00) in the path")
	}
	d := DigitalLink{Base: scheme + "://" + host}
	if k > 0 {
		d.Base += "/" + strings.Join(segs[:k], "/")
	}

	// Then come pairs of AI and value.
	pk := dlAI(segs[k])
	cpv := ""
	last := -1
	for j := k; j < len(segs); j += 2 {
		ai := dlAI(segs[j])
		if j > k {
			if segs[j] == "" && j == len(segs)-1 {
				return DigitalLink{}, fail(kind, s, "trailing '/' after the path")
			}
			if pk == "00" {
				return DigitalLink{}, fail(kind, s, "unexpected path segment %s after the SSCC, which takes no key qualifiers", quote(segs[j]))
			}
			pos, isQ := qualifierOrder[ai]
			if !isQ {
				return DigitalLink{}, fail(kind, s, "unexpected path segment %s after the GTIN (want 22, 10 or 21)", quote(segs[j]))
			}
			if pos <= last {
				return DigitalLink{}, fail(kind, s, "key qualifier %s out of order or repeated (want 22, then 10, then 21)", ai)
			}
			last = pos
		}
		if j+1 >= len(segs) {
			return DigitalLink{}, fail(kind, s, "AI %s has no value", ai)
		}
		v, err := dlUnescape("AI "+ai+" value", segs[j+1], false)
		if err != nil {
			return DigitalLink{}, within(kind, s, err)
		}
		switch ai {
		case "01":
			d.GTIN, err = NormalizeGTIN(v)
		case "00":
			d.SSCC, err = v, ValidateSSCC(v)
		case "22":
			cpv, err = v, validateX("CPV", v, 20)
		case "10":
			d.Lot, err = v, ValidateLot(v)
		case "21":
			d.Serial, err = v, ValidateSerial(v)
		}
		if err != nil {
			return DigitalLink{}, within(kind, s, err)
		}
	}

	// Data attributes in the query string.
	if query != "" {
		for _, p := range strings.Split(query, "&") {
			if p == "" {
				continue
			}
			rawKey, rawVal, hasVal := strings.Cut(p, "=")
			key, err := dlUnescape("query key", rawKey, true)
			if err != nil {
				return DigitalLink{}, within(kind, s, err)
			}
			v, err := dlUnescape("query value", rawVal, true)
			if err != nil {
				return DigitalLink{}, within(kind, s, err)
			}
			if !isDigits(key) || len(key) < 2 || len(key) > 4 {
				continue // not an AI: a link type or other parameter
			}
			var inPath string
			switch key {
			case "17":
				if !hasVal {
					return DigitalLink{}, fail(kind, s, "query AI 17 has no value")
				}
				if err := validYYMMDD("expiry (AI 17)", v); err != nil {
					return DigitalLink{}, within(kind, s, err)
				}
				if d.Expiry != "" && d.Expiry != v {
					return DigitalLink{}, fail(kind, s, "query gives AI 17 twice, as %s and %s", d.Expiry, quote(v))
				}
				d.Expiry = v
				continue
			case "01":
				inPath = d.GTIN
				if n, err := NormalizeGTIN(v); err == nil {
					v = n
				}
			case "00":
				inPath = d.SSCC
			case "10":
				inPath = d.Lot
			case "21":
				inPath = d.Serial
			case "22":
				inPath = cpv
			default:
				continue // an attribute this package does not use
			}
			if inPath == "" {
				return DigitalLink{}, fail(kind, s, "AI %s belongs in the path, not the query", key)
			}
			if v != inPath {
				return DigitalLink{}, fail(kind, s, "query AI %s is %s but the path says %s", key, quote(v), quote(inPath))
			}
		}
	}
	return d, nil
}

// String formats d as a Digital Link URI: Base (default
// https://id.gs1.org, without a trailing '/'), then /01/{GTIN} with /10/{Lot}
// and /21/{Serial} when set, or /00/{SSCC} when there is no GTIN, then
// ?17={Expiry} when set. Values are percent-encoded except for the RFC 3986
// unreserved characters. String does not validate; a DigitalLink from
// ParseDigitalLink formats to a URI that parses back to it, provided Base
// has no path segment that is itself a primary key (01, 00, gtin, sscc).
func (d DigitalLink) String() string {
	base := strings.TrimRight(d.Base, "/")
	if base == "" {
		base = DefaultDigitalLinkBase
	}
	var b strings.Builder
	b.WriteString(base)
	if d.GTIN != "" {
		b.WriteString("/01/" + dlEscape(d.GTIN))
		if d.Lot != "" {
			b.WriteString("/10/" + dlEscape(d.Lot))
		}
		if d.Serial != "" {
			b.WriteString("/21/" + dlEscape(d.Serial))
		}
	} else {
		b.WriteString("/00/" + dlEscape(d.SSCC))
	}
	if d.Expiry != "" {
		b.WriteString("?17=" + dlEscape(d.Expiry))
	}
	return b.String()
}

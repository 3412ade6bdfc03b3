// Package gs1 validates, parses and formats the GS1 identifiers that the
// pharma supply chain module records: GTIN, SSCC and GLN with their check
// digits, serial and lot numbers, expiry dates, EPC pure-identity URNs (EPC
// Tag Data Standard), GS1 Digital Link URIs, and GS1 element strings as a
// DataMatrix or QR scanner types them.
//
// The deterministic state machine imports this package, so it uses the
// standard library only and never reads a clock, the environment, the
// network or a random source; it starts no goroutines. Every function is a
// pure function of its arguments and returns an error, never panics, on bad
// input. Errors are plain errors whose message starts with "gs1: " and names
// the field and the problem.
package gs1

import (
	"errors"
	"fmt"
	"strconv"
)

// quote renders untrusted input for an error message: quoted, and cut short
// when it is long, so that an error never carries megabytes or control
// characters.
func quote(s string) string {
	const max = 96
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// isDigits reports whether s is non-empty and consists of ASCII digits only.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// firstNonDigit returns the index of the first byte of s that is not an ASCII
// digit, or -1.
func firstNonDigit(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return i
		}
	}
	return -1
}

// CheckDigit computes the GS1 mod-10 check digit (GS1 General
// Specifications §7.9) of body, the digits of a GTIN, SSCC, GLN or other GS1
// key without its check digit. Digits are weighted 3, 1, 3, ... starting
// from the rightmost digit of body; the check digit brings the weighted sum
// up to a multiple of ten. It returns the digit as a byte '0'..'9'.
func CheckDigit(body string) (byte, error) {
	if body == "" {
		return 0, errors.New("gs1: check digit: empty body")
	}
	if i := firstNonDigit(body); i >= 0 {
		return 0, fmt.Errorf("gs1: check digit of %s: character %q at position %d is not a digit", quote(body), body[i], i+1)
	}
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10), nil
}

// validateKey checks a fixed-length GS1 key: digits only, one of the given
// lengths, and a correct check digit in the last position.
func validateKey(name, s string, lengths []int, want string) error {
	if i := firstNonDigit(s); i >= 0 {
		return fmt.Errorf("gs1: %s %s: character %q at position %d is not a digit", name, quote(s), s[i], i+1)
	}
	ok := false
	for _, n := range lengths {
		if len(s) == n {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("gs1: %s %s: %d digits, want %s", name, quote(s), len(s), want)
	}
	cd, err := CheckDigit(s[:len(s)-1])
	if err != nil {
		return err
	}
	if s[len(s)-1] != cd {
		return fmt.Errorf("gs1: %s %s: check digit is %c, want %c", name, s, s[len(s)-1], cd)
	}
	return nil
}

// ValidateGTIN checks a GTIN-8, GTIN-12, GTIN-13 or GTIN-14: digits only, one
// of those lengths, and a correct check digit.
func ValidateGTIN(s string) error {
	return validateKey("GTIN", s, []int{8, 12, 13, 14}, "8, 12, 13 or 14")
}

// NormalizeGTIN validates a GTIN of any of the four lengths and returns its
// 14-digit form, left-padded with zeros (the check digit is unchanged by
// leading zeros).
func NormalizeGTIN(s string) (string, error) {
	if err := ValidateGTIN(s); err != nil {
		return "", err
	}
	const zeros = "000000"
	return zeros[:14-len(s)] + s, nil
}

// ValidateSSCC checks an SSCC: 18 digits with a correct check digit.
func ValidateSSCC(s string) error {
	return validateKey("SSCC", s, []int{18}, "18")
}

// ValidateGLN checks a GLN: 13 digits with a correct check digit.
func ValidateGLN(s string) error {
	return validateKey("GLN", s, []int{13}, "13")
}

// inCSET82 reports whether c belongs to the GS1 AI encodable character set
// 82 of the GS1 General Specifications: the digits, the letters, and
// ! " % & ' ( ) * + , - . / : ; < = > ? _
func inCSET82(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	}
	switch c {
	case '!', '"', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
		':', ';', '<', '=', '>', '?', '_':
		return true
	}
	return false
}

// validateX checks an AI value of format X..max: 1..max characters of CSET 82.
func validateX(name, s string, max int) error {
	if s == "" {
		return fmt.Errorf("gs1: %s is empty", name)
	}
	if len(s) > max {
		return fmt.Errorf("gs1: %s %s: %d characters, at most %d allowed", name, quote(s), len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if !inCSET82(s[i]) {
			return fmt.Errorf("gs1: %s %s: character %q at position %d is outside GS1 character set 82", name, quote(s), s[i], i+1)
		}
	}
	return nil
}

// ValidateSerial checks a serial number (AI 21): 1 to 20 characters of the
// GS1 AI encodable character set 82.
func ValidateSerial(s string) error { return validateX("serial", s, 20) }

// ValidateLot checks a batch or lot number (AI 10): 1 to 20 characters of
// the GS1 AI encodable character set 82.
func ValidateLot(s string) error { return validateX("lot", s, 20) }

// validateExtension checks a GLN extension component (AI 254): 1 to 20
// characters of CSET 82.
func validateExtension(s string) error { return validateX("GLN extension", s, 20) }

// ValidateCompanyPrefix checks that prefix is a GS1 Company Prefix of 6 to 12
// digits and that the GTIN carries it: in the 14-digit form, the digits that
// follow the indicator digit start with prefix. gtin14 may be given in any
// of the four GTIN lengths; it is normalised first.
func ValidateCompanyPrefix(gtin14, prefix string) error {
	g, err := NormalizeGTIN(gtin14)
	if err != nil {
		return err
	}
	if i := firstNonDigit(prefix); i >= 0 || prefix == "" {
		return fmt.Errorf("gs1: company prefix %s: must be digits only", quote(prefix))
	}
	if len(prefix) < 6 || len(prefix) > 12 {
		return fmt.Errorf("gs1: company prefix %s: %d digits, want 6 to 12", prefix, len(prefix))
	}
	if g[1:1+len(prefix)] != prefix {
		return fmt.Errorf("gs1: GTIN %s: company prefix %s does not match digits 2 to %d (%s)", g, prefix, 1+len(prefix), g[1:1+len(prefix)])
	}
	return nil
}

// Date is a calendar date in the proleptic Gregorian calendar, without a
// time zone: an expiry date (AI 17) or a CBV date. Month is 1..12 and Day
// 1..31 in a valid Date.
type Date struct{ Year, Month, Day int }

// isLeap reports whether year is a Gregorian leap year.
func isLeap(year int) bool {
	return year%4 == 0 && (year%100 != 0 || year%400 == 0)
}

// daysIn returns the number of days in the given month (1..12) of year, or
// 0 for a month out of range.
func daysIn(year, month int) int {
	switch month {
	case 1, 3, 5, 7, 8, 10, 12:
		return 31
	case 4, 6, 9, 11:
		return 30
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	}
	return 0
}

// ParseDate parses an ISO 8601 calendar date in the extended form
// "YYYY-MM-DD" (for example "2027-06-30"), strictly: exactly ten characters,
// a four-digit year 0000..9999, and a day that exists in that month of that
// year (leap years follow the Gregorian rule).
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !isDigits(s[0:4]) || !isDigits(s[5:7]) || !isDigits(s[8:10]) {
		return Date{}, fmt.Errorf("gs1: date %s: want the form YYYY-MM-DD", quote(s))
	}
	y, _ := strconv.Atoi(s[0:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:10])
	if m < 1 || m > 12 {
		return Date{}, fmt.Errorf("gs1: date %s: month %02d is not 01 to 12", s, m)
	}
	if d < 1 || d > daysIn(y, m) {
		return Date{}, fmt.Errorf("gs1: date %s: day %02d is not 01 to %02d", s, d, daysIn(y, m))
	}
	return Date{Year: y, Month: m, Day: d}, nil
}

// String formats d as "YYYY-MM-DD".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// floorDiv returns a/b rounded towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Days returns the number of days from 1970-01-01 to d (negative before
// it), by the days-from-civil algorithm on the proleptic Gregorian calendar.
// The result is meaningful only for a valid Date.
func (d Date) Days() int64 {
	y := int64(d.Year)
	m := int64(d.Month)
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400                     // [0, 399]
	mp := (m + 9) % 12                     // March = 0 ... February = 11
	doy := (153*mp+2)/5 + int64(d.Day) - 1 // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468
}

// DateFromDays is the inverse of Date.Days: the date that is days days after
// 1970-01-01.
func DateFromDays(days int64) Date {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365]
	mp := (5*doy + 2) / 153                  // [0, 11]
	day := doy - (153*mp+2)/5 + 1            // [1, 31]
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	if month <= 2 {
		y++
	}
	return Date{Year: int(y), Month: int(month), Day: int(day)}
}

// DateOfUnix returns the UTC calendar date of the Unix time sec.
func DateOfUnix(sec int64) Date {
	return DateFromDays(floorDiv(sec, 86400))
}

// ParseYYMMDD parses the six-digit date of AI 17 (expiry), AI 15 (best
// before) and their kin. A day of 00 means the last day of the month, as
// the GS1 General Specifications define these AIs. The century follows the
// sliding window of §7.12, relative to refYear (the current year, which the
// caller supplies so that the result is deterministic): with cc the century
// of refYear and
// diff = YY - (refYear mod 100), a diff of 51..99 puts the date in the
// previous century, -99..-50 in the next one, and anything else in cc; so
// the window runs from 49 years before refYear to 50 years after it.
func ParseYYMMDD(s string, refYear int) (Date, error) {
	if len(s) != 6 {
		return Date{}, fmt.Errorf("gs1: date %s: %d characters, want 6 digits YYMMDD", quote(s), len(s))
	}
	if i := firstNonDigit(s); i >= 0 {
		return Date{}, fmt.Errorf("gs1: date %s: character %q at position %d is not a digit", quote(s), s[i], i+1)
	}
	yy, _ := strconv.Atoi(s[0:2])
	mm, _ := strconv.Atoi(s[2:4])
	dd, _ := strconv.Atoi(s[4:6])
	cur := refYear % 100
	if cur < 0 {
		cur += 100
	}
	year := refYear - cur + yy
	switch diff := yy - cur; {
	case diff >= 51:
		year -= 100
	case diff <= -50:
		year += 100
	}
	if mm < 1 || mm > 12 {
		return Date{}, fmt.Errorf("gs1: date %s: month %02d is not 01 to 12", s, mm)
	}
	last := daysIn(year, mm)
	if dd == 0 {
		dd = last
	} else if dd > last {
		return Date{}, fmt.Errorf("gs1: date %s: day %02d is not 00 to %02d in %04d-%02d", s, dd, last, year, mm)
	}
	return Date{Year: year, Month: mm, Day: dd}, nil
}

// YYMMDD formats d as six digits YYMMDD, the form of AI 17. The day is
// always the actual day (never 00).
func (d Date) YYMMDD() string {
	yy := d.Year % 100
	if yy < 0 {
		yy += 100
	}
	return fmt.Sprintf("%02d%02d%02d", yy, d.Month, d.Day)
}

// validYYMMDD checks six digits YYMMDD without knowing the century: month
// 01..12 and day 00 up to the length of the month, February allowing 29 in
// years whose two digits are a multiple of four (the only case this gets
// wrong is 2100, whose YY is 00).
func validYYMMDD(name, s string) error {
	if len(s) != 6 || !isDigits(s) {
		return fmt.Errorf("gs1: %s %s: want 6 digits YYMMDD", name, quote(s))
	}
	yy, _ := strconv.Atoi(s[0:2])
	mm, _ := strconv.Atoi(s[2:4])
	dd, _ := strconv.Atoi(s[4:6])
	if mm < 1 || mm > 12 {
		return fmt.Errorf("gs1: %s %s: month %02d is not 01 to 12", name, s, mm)
	}
	last := daysIn(2000+yy, mm)
	if dd > last {
		return fmt.Errorf("gs1: %s %s: day %02d is not 00 to %02d", name, s, dd, last)
	}
	return nil
}

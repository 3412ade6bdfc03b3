package gs1_test

import (
	"strings"
	"testing"

	"medledger/gs1"
)

// Valid keys, each with its check digit worked out by hand: the body digits
// from the right times 3, 1, 3, ...; the check digit brings the sum up to a
// multiple of ten.
var validKeys = []struct {
	code, kind string
}{
	// GS1 Digital Link example GTIN-13.
	// 5x3 3x1 4x3 3x1 1x3 0x1 0x3 0x1 6x3 0x1 5x3 9x1 = 78 -> 2
	{"9506000134352", "GTIN"},
	// The same as a GTIN-14: a leading zero adds nothing.
	{"09506000134352", "GTIN"},
	// 3x3 9x1 3x3 3x1 3x3 1x1 8x3 3x1 6x3 0x1 0x3 4x1 = 89 -> 1
	{"4006381333931", "GTIN"},
	// GTIN-12 (UPC-A).
	// 5x3 4x1 1x3 9x1 2x3 0x1 0x3 0x1 6x3 3x1 0x3 = 58 -> 2
	{"036000291452", "GTIN"},
	// GTIN-8.
	// 7x3 0x1 5x3 8x1 3x3 6x1 9x3 = 86 -> 4
	{"96385074", "GTIN"},
	// TDS §7 SGTIN example 0614141.812345 as a GTIN-14.
	// 5x3 4x1 3x3 2x1 1x3 1x1 4x3 1x1 4x3 1x1 6x3 0x1 8x3 = 102 -> 8
	{"80614141123458", "GTIN"},
	// TDS LGTIN example 4012345.012345 as a GTIN-14.
	// 5x3 4x1 3x3 2x1 1x3 5x1 4x3 3x1 2x3 1x1 0x3 4x1 0x3 = 64 -> 6
	{"04012345123456", "GTIN"},
	// 9x3 8x1 7x3 6x1 5x3 4x1 3x3 2x1 1x3 1x1 4x3 1x1 4x3 1x1 6x3 0x1 1x3 = 143 -> 7
	{"106141411234567897", "SSCC"},
	// The same digits with extension 0: the sum drops by 1x3 to 140 -> 0,
	// so this one is valid too.
	{"006141411234567890", "SSCC"},
	// TDS §7 SSCC example 0614141.1234567890.
	// 0x3 9x1 8x3 7x1 6x3 5x1 4x3 3x1 2x3 1x1 4x3 1x1 4x3 1x1 6x3 0x1 1x3 = 132 -> 8
	{"106141412345678908", "SSCC"},
	// TDS §7 SGLN example 0614141.12345.
	// 5x3 4x1 3x3 2x1 1x3 1x1 4x3 1x1 4x3 1x1 6x3 0x1 = 78 -> 2
	{"0614141123452", "GLN"},
}

func TestCheckDigitOfValidKeys(t *testing.T) {
	for _, k := range validKeys {
		body, want := k.code[:len(k.code)-1], k.code[len(k.code)-1]
		got, err := gs1.CheckDigit(body)
		if err != nil || got != want {
			t.Errorf("CheckDigit(%s) = %q, %v; want %q", body, got, err, want)
		}
		var verr error
		switch k.kind {
		case "GTIN":
			verr = gs1.ValidateGTIN(k.code)
		case "SSCC":
			verr = gs1.ValidateSSCC(k.code)
		case "GLN":
			verr = gs1.ValidateGLN(k.code)
		}
		if verr != nil {
			t.Errorf("Validate%s(%s): %v", k.kind, k.code, verr)
		}
		// Every other final digit must be refused.
		for c := byte('0'); c <= '9'; c++ {
			if c == want {
				continue
			}
			bad := body + string(c)
			switch k.kind {
			case "GTIN":
				verr = gs1.ValidateGTIN(bad)
			case "SSCC":
				verr = gs1.ValidateSSCC(bad)
			case "GLN":
				verr = gs1.ValidateGLN(bad)
			}
			if verr == nil {
				t.Errorf("Validate%s(%s) accepted a wrong check digit", k.kind, bad)
			}
		}
	}
}

func TestCheckDigitSmall(t *testing.T) {
	cases := map[string]byte{
		"0":   '0', // 0 -> 0
		"1":   '7', // 1x3 = 3 -> 7
		"5":   '5', // 5x3 = 15 -> 5
		"12":  '3', // 2x3 1x1 = 7 -> 3
		"999": '7', // 9x3 9x1 9x3 = 63 -> 7
	}
	for body, want := range cases {
		got, err := gs1.CheckDigit(body)
		if err != nil || got != want {
			t.Errorf("CheckDigit(%q) = %q, %v; want %q", body, got, err, want)
		}
	}
}

func TestCheckDigitBad(t *testing.T) {
	for _, body := range []string{"", "12a4", " 123", "１２３", "-1"} {
		if _, err := gs1.CheckDigit(body); err == nil {
			t.Errorf("CheckDigit(%q) accepted", body)
		}
	}
}

func TestValidateGTINErrorMessage(t *testing.T) {
	err := gs1.ValidateGTIN("09506000134353")
	if err == nil || err.Error() != "gs1: GTIN 09506000134353: check digit is 3, want 2" {
		t.Fatalf("got %v", err)
	}
}

func TestValidateGTINBad(t *testing.T) {
	for _, s := range []string{
		"",
		"9506000134352 ",
		// 12 digits: as a GTIN-12 the body 95060001343 gives
		// 3x3 4x1 3x3 1x1 0x3 0x1 0x3 6x1 0x3 5x1 9x3 = 61 -> 9, not 5.
		"950600013435",
		"95060001343521",  // 14 digits, wrong check
		"950600013435200", // 15 digits
		"9506000134",      // 10 digits
		"9638507",         // 7 digits
		"96385075",        // GTIN-8, wrong check
		"950600013435A",   // letter
		"+506000134352",   // sign
		"9506000134352\x00",
	} {
		if err := gs1.ValidateGTIN(s); err == nil {
			t.Errorf("ValidateGTIN(%q) accepted", s)
		} else if !strings.HasPrefix(err.Error(), "gs1: GTIN ") {
			t.Errorf("ValidateGTIN(%q): message %q does not name the field", s, err)
		}
	}
}

func TestNormalizeGTIN(t *testing.T) {
	for in, want := range map[string]string{
		"96385074":       "00000096385074",
		"036000291452":   "00036000291452",
		"9506000134352":  "09506000134352",
		"09506000134352": "09506000134352",
		"80614141123458": "80614141123458",
	} {
		got, err := gs1.NormalizeGTIN(in)
		if err != nil || got != want {
			t.Errorf("NormalizeGTIN(%s) = %q, %v; want %s", in, got, err, want)
		}
		if err := gs1.ValidateGTIN(got); err != nil {
			t.Errorf("normalised %s does not validate: %v", got, err)
		}
	}
	for _, bad := range []string{"", "9506000134353", "0950600013435x", "123"} {
		if got, err := gs1.NormalizeGTIN(bad); err == nil {
			t.Errorf("NormalizeGTIN(%q) = %q, want an error", bad, got)
		}
	}
}

func TestValidateSSCCBad(t *testing.T) {
	for _, s := range []string{
		"",
		"10614141234567890",   // 17 digits
		"1061414123456789080", // 19 digits
		"106141412345678909",  // wrong check
		"10614141234567890A",  // letter
		"9506000134352",       // a GTIN
	} {
		if err := gs1.ValidateSSCC(s); err == nil {
			t.Errorf("ValidateSSCC(%q) accepted", s)
		} else if !strings.HasPrefix(err.Error(), "gs1: SSCC ") {
			t.Errorf("ValidateSSCC(%q): message %q does not name the field", s, err)
		}
	}
}

func TestValidateGLNBad(t *testing.T) {
	for _, s := range []string{
		"",
		"061414112345",   // 12 digits
		"06141411234520", // 14 digits
		"0614141123453",  // wrong check
		"O614141123452",  // letter O
	} {
		if err := gs1.ValidateGLN(s); err == nil {
			t.Errorf("ValidateGLN(%q) accepted", s)
		} else if !strings.HasPrefix(err.Error(), "gs1: GLN ") {
			t.Errorf("ValidateGLN(%q): message %q does not name the field", s, err)
		}
	}
}

// cset82 is GS1 AI encodable character set 82, typed out from the GS1
// General Specifications figure.
const cset82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`

func TestCSET82(t *testing.T) {
	if len(cset82) != 82 {
		t.Fatalf("the table has %d characters", len(cset82))
	}
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		in := strings.Contains(cset82, s)
		if err := gs1.ValidateSerial(s); (err == nil) != in {
			t.Errorf("ValidateSerial(%q): %v, in CSET 82: %v", s, err, in)
		}
		if err := gs1.ValidateLot(s); (err == nil) != in {
			t.Errorf("ValidateLot(%q): %v, in CSET 82: %v", s, err, in)
		}
	}
}

func TestSerialAndLot(t *testing.T) {
	good := []string{"1", "6789", "ABC/1", "12345678901234567890", `!"%&'()*+,-./:;<=>?_`, "lot-A.2027"}
	bad := []string{"", "123456789012345678901", "AB C", "AB#1", "x~y", "é", "a\tb", "tab\n", "€", "[x]", "a@b", "a$b", "a\\b", "{}", "^", "`", "|"}
	for _, s := range good {
		if err := gs1.ValidateSerial(s); err != nil {
			t.Errorf("ValidateSerial(%q): %v", s, err)
		}
		if err := gs1.ValidateLot(s); err != nil {
			t.Errorf("ValidateLot(%q): %v", s, err)
		}
	}
	for _, s := range bad {
		if err := gs1.ValidateSerial(s); err == nil {
			t.Errorf("ValidateSerial(%q) accepted", s)
		} else if !strings.HasPrefix(err.Error(), "gs1: serial") {
			t.Errorf("ValidateSerial(%q): message %q does not name the field", s, err)
		}
		if err := gs1.ValidateLot(s); err == nil {
			t.Errorf("ValidateLot(%q) accepted", s)
		} else if !strings.HasPrefix(err.Error(), "gs1: lot") {
			t.Errorf("ValidateLot(%q): message %q does not name the field", s, err)
		}
	}
}

func TestValidateCompanyPrefix(t *testing.T) {
	good := [][2]string{
		{"80614141123458", "0614141"},
		{"80614141123458", "061414"},
		{"80614141123458", "061414112345"},
		{"9506000134352", "950600"}, // a GTIN-13 is normalised first
		{"09506000134352", "9506000"},
	}
	for _, c := range good {
		if err := gs1.ValidateCompanyPrefix(c[0], c[1]); err != nil {
			t.Errorf("ValidateCompanyPrefix(%s, %s): %v", c[0], c[1], err)
		}
	}
	bad := [][2]string{
		{"80614141123458", "8061414"},       // includes the indicator digit
		{"80614141123458", "06141"},         // 5 digits
		{"80614141123458", "0614141123458"}, // 13 digits
		{"80614141123458", "0614142"},       // does not match
		{"80614141123458", "06141a1"},       // letter
		{"80614141123458", ""},
		{"80614141123459", "0614141"}, // bad GTIN
	}
	for _, c := range bad {
		if err := gs1.ValidateCompanyPrefix(c[0], c[1]); err == nil {
			t.Errorf("ValidateCompanyPrefix(%s, %s) accepted", c[0], c[1])
		}
	}
}

func TestParseDate(t *testing.T) {
	good := map[string]gs1.Date{
		"2027-06-30": {2027, 6, 30},
		"2024-02-29": {2024, 2, 29}, // divisible by 4
		"2000-02-29": {2000, 2, 29}, // divisible by 400
		"1970-01-01": {1970, 1, 1},
		"2023-12-31": {2023, 12, 31},
		"2023-04-30": {2023, 4, 30},
		"0000-01-01": {0, 1, 1},
		"9999-12-31": {9999, 12, 31},
	}
	for s, want := range good {
		got, err := gs1.ParseDate(s)
		if err != nil || got != want {
			t.Errorf("ParseDate(%s) = %v, %v; want %v", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("%v.String() = %s, want %s", got, got.String(), s)
		}
	}
	for _, s := range []string{
		"2023-02-29", // not a leap year
		"1900-02-29", // divisible by 100, not by 400
		"2100-02-29",
		"2024-02-30",
		"2023-04-31",
		"2023-06-31",
		"2023-09-31",
		"2023-11-31",
		"2023-01-32",
		"2023-13-01",
		"2023-00-10",
		"2023-01-00",
		"2023-1-01",
		"23-01-01",
		"2023/01/01",
		"2023-01-01T00:00:00Z",
		"20230101",
		"+023-01-01",
		"２０２３-01-01",
		"",
	} {
		if d, err := gs1.ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", s, d)
		}
	}
}

// Known day numbers, each checked with `date -u -d DATE +%s` divided by 86400.
var knownDays = []struct {
	date string
	days int64
}{
	{"1970-01-01", 0},
	{"2000-03-01", 11017},
	{"2026-11-21", 20778},
	{"2025-11-21", 20413},
	{"2024-02-29", 19782},
	{"1900-03-01", -25508},
	{"0001-01-01", -719162},
	{"9999-12-31", 2932896},
}

func TestDays(t *testing.T) {
	for _, k := range knownDays {
		d, err := gs1.ParseDate(k.date)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Days(); got != k.days {
			t.Errorf("%s.Days() = %d, want %d", k.date, got, k.days)
		}
		if got := gs1.DateFromDays(k.days); got != d {
			t.Errorf("DateFromDays(%d) = %v, want %v", k.days, got, d)
		}
		if got := gs1.DateOfUnix(k.days*86400 + 86399); got != d {
			t.Errorf("DateOfUnix(last second of %s) = %v", k.date, got)
		}
	}
}

func TestDateFromDaysInverse(t *testing.T) {
	// Walk day by day across several 400-year cycles, with an independent
	// calendar kept by hand, and check both directions.
	isLeap := func(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
	monthLen := func(y, m int) int {
		switch m {
		case 2:
			if isLeap(y) {
				return 29
			}
			return 28
		case 4, 6, 9, 11:
			return 30
		}
		return 31
	}
	start := gs1.Date{Year: -1200, Month: 3, Day: 1}
	n := start.Days()
	if got := gs1.DateFromDays(n); got != start {
		t.Fatalf("DateFromDays(%d) = %v, want %v", n, got, start)
	}
	cur := start
	for ; cur.Year < 2800; n++ {
		if got := gs1.DateFromDays(n); got != cur {
			t.Fatalf("DateFromDays(%d) = %v, want %v", n, got, cur)
		}
		if got := cur.Days(); got != n {
			t.Fatalf("%v.Days() = %d, want %d", cur, got, n)
		}
		cur.Day++
		if cur.Day > monthLen(cur.Year, cur.Month) {
			cur.Day = 1
			cur.Month++
			if cur.Month > 12 {
				cur.Month = 1
				cur.Year++
			}
		}
	}
	// Far out, the two directions still agree.
	for _, n := range []int64{-1e9, -123456789, 1e9, 3e9, 1<<40 + 7} {
		if got := gs1.DateFromDays(n).Days(); got != n {
			t.Errorf("DateFromDays(%d).Days() = %d", n, got)
		}
	}
}

func TestDateOfUnix(t *testing.T) {
	for _, c := range []struct {
		sec  int64
		want string
	}{
		{0, "1970-01-01"},
		{86399, "1970-01-01"},
		{86400, "1970-01-02"},
		{-1, "1969-12-31"},
		{-86400, "1969-12-31"},
		{-86401, "1969-12-30"},
		{951782400, "2000-02-29"},  // date -u -d 2000-02-29 +%s
		{1795305599, "2026-11-21"}, // 20778*86400 + 86399
	} {
		if got := gs1.DateOfUnix(c.sec).String(); got != c.want {
			t.Errorf("DateOfUnix(%d) = %s, want %s", c.sec, got, c.want)
		}
	}
}

func TestParseYYMMDD(t *testing.T) {
	for _, c := range []struct {
		s    string
		ref  int
		want string
	}{
		{"270630", 2026, "2027-06-30"},
		{"270600", 2026, "2027-06-30"}, // day 00: last day of June
		{"240200", 2026, "2024-02-29"}, // last day of a leap February
		{"230200", 2026, "2023-02-28"},
		{"001200", 2026, "2000-12-31"},
		{"000229", 2026, "2000-02-29"},
		// The sliding window, relative to 2026 (26): a difference of up to
		// +50 stays in this century, +51 goes to the previous one.
		{"760101", 2026, "2076-01-01"}, // 76-26 = 50
		{"770101", 2026, "1977-01-01"}, // 77-26 = 51
		{"990101", 2026, "1999-01-01"},
		// Near the end of a century: -50 or less goes to the next one.
		{"490101", 2099, "2149-01-01"}, // 49-99 = -50
		{"500101", 2099, "2050-01-01"}, // 50-99 = -49
		{"000101", 2099, "2100-01-01"}, // 00-99 = -99
		{"000229", 2099, ""},           // 2100 is not a leap year
		{"000200", 2099, "2100-02-28"},
		{"990101", 1999, "1999-01-01"},
		{"480101", 1999, "2048-01-01"}, // 48-99 = -51
	} {
		d, err := gs1.ParseYYMMDD(c.s, c.ref)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseYYMMDD(%s, %d) = %v, want an error", c.s, c.ref, d)
			}
			continue
		}
		if err != nil || d.String() != c.want {
			t.Errorf("ParseYYMMDD(%s, %d) = %v, %v; want %s", c.s, c.ref, d, err, c.want)
		}
	}
	for _, s := range []string{"", "2706", "2706300", "27063O", "271330", "270001", "270631", "230229", "27-6-3", " 70630"} {
		if d, err := gs1.ParseYYMMDD(s, 2026); err == nil {
			t.Errorf("ParseYYMMDD(%q) = %v, want an error", s, d)
		}
	}
}

func TestYYMMDD(t *testing.T) {
	for d, want := range map[gs1.Date]string{
		{2027, 6, 30}:  "270630",
		{2000, 1, 5}:   "000105",
		{1999, 12, 31}: "991231",
	} {
		if got := d.YYMMDD(); got != want {
			t.Errorf("%v.YYMMDD() = %s, want %s", d, got, want)
		}
		back, err := gs1.ParseYYMMDD(want, 2026)
		if err != nil || back != d {
			t.Errorf("ParseYYMMDD(%s) = %v, %v; want %v", want, back, err, d)
		}
	}
}

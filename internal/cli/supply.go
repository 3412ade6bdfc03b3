package cli

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/client"
	"medledger/gs1"
	"medledger/internal/supply"
)

// The pharma supply chain: `medledger supply <noun> <verb>`. Writes are
// signed txs from a keyring key (--from); reads need no account.

// defaultPrefixLen is the company-prefix length a Digital Link is split
// with when the node knows no product for its GTIN (or for an SSCC).
const defaultPrefixLen = 7

// listFlag is a flag that may be repeated or given comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// parseGTIN accepts a GTIN-8, -12, -13 or -14 and returns its 14 digits; a
// wrong check digit is a usage error that names the expected one.
func parseGTIN(s string) (string, error) {
	if s == "" {
		return "", usagef("a GTIN is required (--gtin)")
	}
	g, err := gs1.NormalizeGTIN(s)
	if err != nil {
		return "", usagef("%v", err)
	}
	return g, nil
}

// parseCelsius parses degrees Celsius, with optional decimals, into
// hundredths of a degree.
func parseCelsius(s string) (int32, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "C"), "°")
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || f < -273.15 || f > 1000 {
		return 0, fmt.Errorf("%q is not a temperature in °C", s)
	}
	return int32(math.Round(f * 100)), nil
}

// parseTempRange parses "LOW..HIGH" in °C (e.g. 2..8, -20..-15, 2.5..8).
func parseTempRange(s string) (lo, hi int32, err error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return 0, 0, usagef("--temp must be LOW..HIGH in °C, e.g. 2..8 or -20..-15")
	}
	if lo, err = parseCelsius(a); err == nil {
		hi, err = parseCelsius(b)
	}
	if err != nil {
		return 0, 0, usagef("--temp: %v", err)
	}
	if lo >= hi {
		return 0, 0, usagef("--temp: the low end must be below the high end")
	}
	return lo, hi, nil
}

// parseShelfLife accepts days (730 or 730d) or years (2y, 365 days each).
func parseShelfLife(s string) (uint32, error) {
	num, mult := s, uint64(1)
	switch {
	case strings.HasSuffix(s, "d"):
		num = strings.TrimSuffix(s, "d")
	case strings.HasSuffix(s, "y"):
		num, mult = strings.TrimSuffix(s, "y"), 365
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 || n*mult > 36500 {
		return 0, usagef("--shelf-life must be days (730 or 730d) or years (2y), at most 100 years")
	}
	return uint32(n * mult), nil
}

// parseRange parses PREFIX:START:COUNT[:WIDTH] (the prefix may be empty).
func parseRange(s string) (prefix string, start, count uint64, width uint8, err error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 && len(parts) != 4 {
		return "", 0, 0, 0, usagef("--range must be PREFIX:START:COUNT[:WIDTH], e.g. A:1:500:4 for A0001..A0500")
	}
	prefix = parts[0]
	start, err1 := strconv.ParseUint(parts[1], 10, 64)
	count, err2 := strconv.ParseUint(parts[2], 10, 64)
	var w uint64
	var err3 error
	if len(parts) == 4 {
		w, err3 = strconv.ParseUint(parts[3], 10, 8)
	}
	if err1 != nil || err2 != nil || err3 != nil || count == 0 || w > 20 {
		return "", 0, 0, 0, usagef("--range must be PREFIX:START:COUNT[:WIDTH] with numbers, a count of at least 1 and a width up to 20")
	}
	return prefix, start, count, uint8(w), nil
}

// readSerials reads serials from a file: one per line or comma-separated;
// blank lines and lines starting with # are skipped.
func readSerials(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, s := range strings.Split(line, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out, sc.Err()
}

func isLink(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// epcResolver turns identifiers as users give them (an EPC URN or a GS1
// Digital Link) into EPC URNs.
type epcResolver struct {
	c        *client.Client
	prefixes map[string]int // GTIN → company-prefix length
}

func (e *env) epcs() *epcResolver {
	return &epcResolver{c: client.New(e.apiURL()), prefixes: map[string]int{}}
}

// prefixLen is the length of a GTIN's company prefix, as its product
// records it, or the common 7 for a GTIN the node does not know.
func (r *epcResolver) prefixLen(ctx context.Context, gtin string) (int, error) {
	if n, ok := r.prefixes[gtin]; ok {
		return n, nil
	}
	n := defaultPrefixLen
	p, _, err := r.c.Product(ctx, gtin)
	switch {
	case err == nil && p != nil:
		n = len(p.CompanyPrefix)
	case err != nil && medledger.KindOf(err) != medledger.KindNotFound:
		return 0, err
	}
	r.prefixes[gtin] = n
	return n, nil
}

// urn returns the EPC URN of an EPC URN or Digital Link.
func (r *epcResolver) urn(ctx context.Context, s string) (string, error) {
	if isLink(s) {
		dl, err := gs1.ParseDigitalLink(s)
		if err != nil {
			return "", usagef("%v", err)
		}
		if dl.SSCC != "" {
			u, err := gs1.SSCCURN(dl.SSCC, defaultPrefixLen)
			if err != nil {
				return "", usagef("%v", err)
			}
			return u, nil
		}
		if dl.Serial == "" {
			return "", usagef("%s names a product, not a pack: a pack's Digital Link carries its serial (/21/...)", s)
		}
		n, err := r.prefixLen(ctx, dl.GTIN)
		if err != nil {
			return "", err
		}
		u, err := gs1.SGTIN{GTIN: dl.GTIN, Serial: dl.Serial}.URN(n)
		if err != nil {
			return "", usagef("%v", err)
		}
		return u, nil
	}
	x, err := gs1.ParseEPC(s)
	if err != nil {
		return "", usagef("%v", err)
	}
	return x.String(), nil
}

// all resolves a list of identifiers.
func (r *epcResolver) all(ctx context.Context, list []string) ([]string, error) {
	out := make([]string, len(list))
	for i, s := range list {
		u, err := r.urn(ctx, s)
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}

// validate checks a message as the node will, so a malformed one is a
// usage error before anything is signed.
func validate(m supply.Msg) error {
	if err := m.Validate(); err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), medledger.KindInvalid.String()+": "))
	}
	return nil
}

// sendSupply validates msg, signs it with the keyring key from, waits for
// it to commit and prints the result.
func (e *env) sendSupply(ctx context.Context, from string, m supply.Msg) error {
	if err := validate(m); err != nil {
		return err
	}
	return e.send(ctx, from, m)
}

// commitSupply is sendSupply returning the tx status instead of printing it.
func (e *env) commitSupply(ctx context.Context, from string, m supply.Msg) (*medledger.TxStatus, error) {
	if err := validate(m); err != nil {
		return nil, err
	}
	if from == "" {
		return nil, usagef("--from is required")
	}
	k, err := e.key(from)
	if err != nil {
		return nil, err
	}
	defer k.Zero()
	return e.client().Send(ctx, client.SignerOf(k), m)
}

// loadDeviceKey reads a device's Ed25519 key (a hex seed) from path, or,
// if create is set and path does not exist, generates one there (0600).
func loadDeviceKey(path string, create bool) (ed25519.PrivateKey, bool, error) {
	if path == "" {
		return nil, false, usagef("--key-file is required")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, err
		}
		_, err = f.WriteString(hex.EncodeToString(seed) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, false, err
		}
		return ed25519.NewKeyFromSeed(seed), true, nil
	}
	if err != nil {
		return nil, false, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	switch {
	case err == nil && len(raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), false, nil
	case err == nil && len(raw) == ed25519.PrivateKeySize:
		return ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize]), false, nil
	}
	return nil, false, fmt.Errorf("%s: not a device key (a hex Ed25519 seed, as `medledger supply device register` writes)", path)
}

// parseReadings reads a CSV of time,celsius rows (time RFC 3339 or Unix
// seconds); a header row is skipped.
func parseReadings(r io.Reader, name string) ([]supply.Reading, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var out []supply.Reading
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, usagef("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 2 {
			return nil, usagef("%s:%d: want time,celsius", name, line)
		}
		ts, terr := parseReadingTime(rec[0])
		if terr != nil && first && !strings.ContainsAny(rec[0], "0123456789") {
			continue // a header such as time,celsius
		}
		if terr != nil {
			return nil, usagef("%s:%d: %v", name, line, terr)
		}
		temp, err := parseCelsius(rec[1])
		if err != nil {
			return nil, usagef("%s:%d: %v", name, line, err)
		}
		if len(out) > 0 && ts <= out[len(out)-1].Time {
			return nil, usagef("%s:%d: times must increase from row to row", name, line)
		}
		out = append(out, supply.Reading{Time: ts, Temp: temp})
	}
	if len(out) == 0 {
		return nil, usagef("%s holds no readings", name)
	}
	return out, nil
}

func parseReadingTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("time %q is neither RFC 3339 nor Unix seconds", s)
	}
	return t.Unix(), nil
}

func unixText(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

func tempRange(lo, hi int32) string { return supply.FormatTemp(lo) + " to " + supply.FormatTemp(hi) }

func excursionText(x supply.Excursion, lo, hi int32) string {
	open := ""
	if x.Open {
		open = ", still under way"
	}
	return fmt.Sprintf("peak %s, %s outside %s (device %s, %s to %s, %d readings%s)", supply.FormatTemp(x.Peak),
		supply.FormatDuration(x.Duration), tempRange(lo, hi), x.Device, unixText(x.Start), unixText(x.End), x.Readings, open)
}

// verdict is the first word of a verification: what a pharmacist needs at
// a glance.
func verdict(v *client.VerifyResult) string {
	switch {
	case !v.Suspect:
		return "AUTHENTIC"
	case v.Status == supply.VerifyUnknown:
		return "UNKNOWN"
	}
	return "SUSPECT"
}

func productText(p *supply.Product) string {
	desc := p.Name
	for _, x := range []string{p.Strength, p.Form} {
		if x != "" {
			desc += " " + x
		}
	}
	desc += " (GTIN " + p.GTIN
	if p.NationalCode != "" {
		desc += ", NDC " + p.NationalCode
	}
	return desc + "), by " + p.Owner
}

func verificationRows(tw io.Writer, v *client.VerifyResult, verified bool) {
	fmt.Fprintln(tw, verdict(v))
	fmt.Fprintf(tw, "pack\t%s\n", v.EPC)
	if v.Product != nil {
		fmt.Fprintf(tw, "product\t%s\n", productText(v.Product))
		fmt.Fprintf(tw, "storage\t%s\n", tempRange(v.Product.TempMin, v.Product.TempMax))
	} else if v.GTIN != "" {
		fmt.Fprintf(tw, "product\tnone registered under GTIN %s\n", v.GTIN)
	}
	if v.Lot != nil {
		fmt.Fprintf(tw, "lot\t%s (%d units, commissioned by %s)\n", v.Lot.Lot, v.Lot.Count, v.Lot.Commissioner)
	}
	if v.Expiry != "" {
		fmt.Fprintf(tw, "expiry\t%s\n", v.Expiry)
	}
	status := v.Status
	switch v.Status {
	case supply.VerifyInTransit:
		status = "in transit in shipment " + v.Shipment
	case supply.VerifyUnknown:
		status = "never commissioned"
	}
	fmt.Fprintf(tw, "status\t%s\n", status)
	if v.Custodian != "" {
		fmt.Fprintf(tw, "custodian\t%s\n", v.Custodian)
	}
	for _, c := range v.Containers {
		fmt.Fprintf(tw, "inside\t%s\n", c)
	}
	for _, f := range v.Flags {
		fmt.Fprintf(tw, "flag\t%s: %s\n", f.Code, f.Detail)
	}
	for _, x := range v.Excursions {
		fmt.Fprintf(tw, "excursion\tshipment %s: %s\n", x.Shipment, excursionText(x.Excursion, x.TempMin, x.TempMax))
	}
	if v.Status == supply.VerifyUnknown {
		for _, s := range v.Sightings {
			fmt.Fprintf(tw, "seen\tby %s at height %d\n", s.Org, s.Height)
		}
	}
	checked := fmt.Sprintf("at height %d (%s)", v.Height, v.Time.UTC().Format(time.RFC3339))
	if verified {
		checked += fmt.Sprintf(", recomputed here from %d state proofs against a verified app hash", len(v.Proofs))
	}
	fmt.Fprintf(tw, "checked\t%s\n", checked)
	if len(v.Trail) > 0 {
		fmt.Fprintln(tw, "\nTIME\tSTEP\tORG\tSHIPMENT")
		for _, ev := range v.Trail {
			t := ev.EventTime
			if t == 0 {
				t = ev.Time
			}
			sh := ev.Shipment
			if sh != "" && ev.Source != "" && ev.Dest != "" {
				sh += " (" + ev.Source + " -> " + ev.Dest + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", unixText(t), ev.BizStep, ev.Org, sh)
		}
	}
}

func shipmentRows(tw io.Writer, s *supply.Shipment) {
	fmt.Fprintf(tw, "shipment\t%s\nfrom\t%s\nto\t%s\nstatus\t%s\n", s.ID, s.From, s.To, s.Status)
	if s.Return {
		fmt.Fprintln(tw, "return\tyes")
	}
	fmt.Fprintf(tw, "sent\theight %d, %s\n", s.Sent, unixText(s.SentTime))
	if s.Received != 0 {
		fmt.Fprintf(tw, "received\theight %d\n", s.Received)
	}
	if s.Ranged {
		fmt.Fprintf(tw, "storage\t%s\n", tempRange(s.TempMin, s.TempMax))
	}
	for _, b := range s.BizTx {
		fmt.Fprintf(tw, "%s\t%s\n", strings.TrimSpace(b.Type+" "), b.ID)
	}
	for _, it := range s.Items {
		fmt.Fprintf(tw, "item\t%s\n", it)
	}
	for _, it := range s.Missing {
		fmt.Fprintf(tw, "missing\t%s\n", it)
	}
	for _, it := range s.Unexpected {
		fmt.Fprintf(tw, "unexpected\t%s\n", it)
	}
	for _, d := range s.Devices {
		detached := ""
		if d.Detached {
			detached = ", detached"
		}
		if d.Count == 0 {
			fmt.Fprintf(tw, "device\t%s: no readings yet%s\n", d.Device, detached)
			continue
		}
		fmt.Fprintf(tw, "device\t%s: %d readings, %s, %s to %s%s\n", d.Device, d.Count, tempRange(d.Min, d.Max), unixText(d.First), unixText(d.Last), detached)
	}
	for _, x := range s.Excursions {
		fmt.Fprintf(tw, "excursion\t%s\n", excursionText(x, s.TempMin, s.TempMax))
	}
}

func supplyCommands() []command {
	var (
		from, gtin, prefix, name, ndc, strength, form, temp, shelf string
		to, owner, lot, expiry, serials, serialsFile, serialRange  string
		into, id, po, rx, reason, class, step, model, keyFile      string
		device, shipment                                           string
		seq                                                        uint64
		devices                                                    listFlag
		ret, transaction                                           bool
	)
	fromFlag := func(fs *flag.FlagSet) { fs.StringVar(&from, "from", "", "keyring `key` that signs the tx") }
	gtinFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&gtin, "gtin", "", "the product's `GTIN` (8, 12, 13 or 14 digits)")
	}
	epcArgs := func(ctx context.Context, e *env, args []string, what string) ([]string, error) {
		if len(args) == 0 {
			return nil, usagef("name the %s: EPC URNs or GS1 Digital Links", what)
		}
		return e.epcs().all(ctx, args)
	}
	return []command{
		{path: "supply product register", summary: "A manufacturer registers a product under a GTIN it owns: name, codes, storage range and shelf life",
			example: "medledger supply product register --from acme-admin --gtin 09506000134352 --prefix 9506000 \\\n  --name \"Insulin glargine\" --ndc 0002-8215 --strength \"100 IU/ml\" --form injection --temp 2..8 --shelf-life 2y",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				gtinFlag(fs)
				fs.StringVar(&prefix, "prefix", "", "the GS1 company `prefix` the GTIN starts with (6 to 12 digits)")
				fs.StringVar(&name, "name", "", "product `name`")
				fs.StringVar(&ndc, "ndc", "", "NDC or another national `code`")
				fs.StringVar(&strength, "strength", "", "`strength`, e.g. \"500 mg\"")
				fs.StringVar(&form, "form", "", "dosage `form`, e.g. tablet, injection")
				fs.StringVar(&temp, "temp", "", "storage `range` in °C, LOW..HIGH: 2..8, -20..-15, 15..25")
				fs.StringVar(&shelf, "shelf-life", "", "shelf `life`: days (730 or 730d) or years (2y)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				g, err := parseGTIN(gtin)
				if err != nil {
					return err
				}
				if temp == "" {
					return usagef("--temp is required, e.g. 2..8")
				}
				lo, hi, err := parseTempRange(temp)
				if err != nil {
					return err
				}
				if shelf == "" {
					return usagef("--shelf-life is required, e.g. 730d or 2y")
				}
				days, err := parseShelfLife(shelf)
				if err != nil {
					return err
				}
				return e.sendSupply(ctx, from, &client.RegisterProduct{GTIN: g, CompanyPrefix: prefix, Name: name, NationalCode: ndc,
					Strength: strength, Form: form, TempMin: lo, TempMax: hi, ShelfLifeDays: days})
			}},
		{path: "supply product transfer", summary: "The GTIN owner's admin transfers a product to another manufacturer",
			example: "medledger supply product transfer --from acme-admin --gtin 09506000134352 --to beta-pharma",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				gtinFlag(fs)
				fs.StringVar(&to, "to", "", "the receiving manufacturer's organisation `ID`")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				g, err := parseGTIN(gtin)
				if err != nil {
					return err
				}
				return e.sendSupply(ctx, from, &client.TransferProduct{GTIN: g, To: to})
			}},
		{path: "supply product show", usage: "GTIN", summary: "Show a product and its lots (no account needed)",
			example: "medledger supply product show 09506000134352",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one GTIN")
				}
				g, err := parseGTIN(args[0])
				if err != nil {
					return err
				}
				p, lots, err := e.client().Product(ctx, g)
				if err != nil {
					return err
				}
				return e.print(map[string]any{"product": p, "lots": lots}, func(tw io.Writer) {
					fmt.Fprintf(tw, "gtin\t%s\nname\t%s\n", p.GTIN, p.Name)
					for _, f := range [][2]string{{"ndc", p.NationalCode}, {"strength", p.Strength}, {"form", p.Form}} {
						if f[1] != "" {
							fmt.Fprintf(tw, "%s\t%s\n", f[0], f[1])
						}
					}
					fmt.Fprintf(tw, "storage\t%s\nshelf life\t%d days\ncompany prefix\t%s\nowner\t%s\nregistered\theight %d\n",
						tempRange(p.TempMin, p.TempMax), p.ShelfLifeDays, p.CompanyPrefix, p.Owner, p.Registered)
					if p.PreviousOwner != "" {
						fmt.Fprintf(tw, "transferred\tfrom %s at height %d\n", p.PreviousOwner, p.OwnerSince)
					}
					if len(lots) == 0 {
						return
					}
					fmt.Fprintln(tw, "\nLOT\tEXPIRY\tUNITS\tCOMMISSIONED BY\tRECALL")
					for _, l := range lots {
						recall := "-"
						if l.Recall != nil {
							recall = "class " + l.Recall.Class + ": " + l.Recall.Reason
							if l.Recall.Class == "" {
								recall = l.Recall.Reason
							}
						}
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", l.Lot, l.Expiry, l.Count, l.Commissioner, recall)
					}
				})
			}},
		{path: "supply product list", summary: "List registered products, or those one organisation owns (no account needed)",
			example: "medledger supply product list --owner acme-pharma",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&owner, "owner", "", "only this organisation's products")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				ps, err := e.client().Products(ctx, owner)
				if err != nil {
					return err
				}
				return e.print(ps, func(tw io.Writer) {
					fmt.Fprintln(tw, "GTIN\tNAME\tSTRENGTH\tFORM\tSTORAGE\tOWNER")
					for _, p := range ps {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.GTIN, p.Name, p.Strength, p.Form, tempRange(p.TempMin, p.TempMax), p.Owner)
					}
				})
			}},
		{path: "supply commission", summary: fmt.Sprintf("Commission serialized units of a lot: serials listed, from a file, or a numeric range (over %d, in several txs)", supply.MaxCommission),
			example: "medledger supply commission --from acme-admin --gtin 09506000134352 --lot L1 --expiry 2027-12-31 --range A:1:500:4\nmedledger supply commission --from acme-admin --gtin 09506000134352 --lot L2 --expiry 2027-12-31 --serials B1,B2,B3",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				gtinFlag(fs)
				fs.StringVar(&lot, "lot", "", "`lot` (batch) number")
				fs.StringVar(&expiry, "expiry", "", "the lot's expiry `date`, YYYY-MM-DD")
				fs.StringVar(&serials, "serials", "", "comma-separated `serials`")
				fs.StringVar(&serialsFile, "serials-file", "", "`file` of serials, one a line (or comma-separated)")
				fs.StringVar(&serialRange, "range", "", "numeric serials `PREFIX:START:COUNT[:WIDTH]`: A:1:500:4 is A0001..A0500")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				g, err := parseGTIN(gtin)
				if err != nil {
					return err
				}
				if _, err := gs1.ParseDate(expiry); err != nil {
					return usagef("--expiry: %v", err)
				}
				given := 0
				for _, s := range []string{serials, serialsFile, serialRange} {
					if s != "" {
						given++
					}
				}
				if given != 1 {
					return usagef("give one of --serials, --serials-file and --range")
				}
				// Split into txs of at most supply.MaxCommission units.
				var msgs []*client.Commission
				var total int
				var firstSerial, lastSerial string
				if serialRange != "" {
					pfx, start, count, width, err := parseRange(serialRange)
					if err != nil {
						return err
					}
					for done := uint64(0); done < count; {
						n := min(count-done, supply.MaxCommission)
						r := &client.SerialRange{Prefix: pfx, Start: start + done, Count: uint32(n), Width: width}
						msgs = append(msgs, &client.Commission{GTIN: g, Lot: lot, Expiry: expiry, Range: r})
						done += n
					}
					total = int(count)
					firstSerial, lastSerial = msgs[0].Serial(0), msgs[len(msgs)-1].Serial(msgs[len(msgs)-1].Count()-1)
				} else {
					var list []string
					if serialsFile != "" {
						if list, err = readSerials(serialsFile); err != nil {
							return err
						}
					} else {
						list = splitList(serials)
					}
					if len(list) == 0 {
						return usagef("no serials given")
					}
					seen := make(map[string]bool, len(list))
					for _, s := range list {
						if seen[s] {
							return usagef("serial %s is given twice", s)
						}
						seen[s] = true
					}
					for i := 0; i < len(list); i += supply.MaxCommission {
						msgs = append(msgs, &client.Commission{GTIN: g, Lot: lot, Expiry: expiry, Serials: list[i:min(i+supply.MaxCommission, len(list))]})
					}
					total, firstSerial, lastSerial = len(list), list[0], list[len(list)-1]
				}
				for _, m := range msgs {
					if err := validate(m); err != nil {
						return err
					}
				}
				c := e.client()
				p, _, err := c.Product(ctx, g)
				if err != nil {
					if medledger.KindOf(err) == medledger.KindNotFound {
						return fmt.Errorf("no product is registered under GTIN %s; register it first (medledger supply product register)", g)
					}
					return err
				}
				firstURN, err := gs1.SGTIN{GTIN: g, Serial: firstSerial}.URN(len(p.CompanyPrefix))
				if err != nil {
					return usagef("%v", err)
				}
				lastURN, _ := gs1.SGTIN{GTIN: g, Serial: lastSerial}.URN(len(p.CompanyPrefix))
				if from == "" {
					return usagef("--from is required")
				}
				k, err := e.key(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				var bar *progress
				if len(msgs) > 1 {
					bar = &progress{w: e.stderr, total: total, start: time.Now()}
					fmt.Fprintf(e.stderr, "commissioning %d units in %d txs of up to %d\n", total, len(msgs), supply.MaxCommission)
				}
				var txs []*medledger.TxStatus
				done := 0
				for _, m := range msgs {
					st, err := c.Send(ctx, client.SignerOf(k), m)
					if err != nil {
						if done > 0 {
							return fmt.Errorf("after %d units were commissioned: %w", done, err)
						}
						return err
					}
					txs = append(txs, st)
					done += m.Count()
					if bar != nil {
						bar.show(done, "units")
					}
				}
				hashes := make([]string, len(txs))
				for i, st := range txs {
					hashes[i] = st.Hash.String()
				}
				last := txs[len(txs)-1]
				out := map[string]any{"gtin": g, "lot": lot, "expiry": expiry, "count": total, "first": firstURN, "last": lastURN, "txs": hashes, "height": last.Height}
				return e.print(out, func(tw io.Writer) {
					fmt.Fprintf(tw, "commissioned\t%d units of GTIN %s, lot %s, expiry %s\nfirst\t%s\nlast\t%s\n", total, g, lot, expiry, firstURN, lastURN)
					if len(txs) == 1 {
						fmt.Fprintf(tw, "tx\t%s\nheight\t%d\n", last.Hash, last.Height)
					} else {
						fmt.Fprintf(tw, "txs\t%d, the last %s at height %d\n", len(txs), last.Hash, last.Height)
					}
				})
			}},
		{path: "supply pack", usage: "EPC...", summary: "Pack units or cases into a case or pallet (an SSCC); moving the container then moves everything in it",
			example: "medledger supply pack --from acme-logistics --into urn:epc:id:sscc:9506000.0000000001 \\\n  urn:epc:id:sgtin:9506000.013435.A0001 urn:epc:id:sgtin:9506000.013435.A0002",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&into, "into", "", "the container: an SSCC `URN` (or Digital Link)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if into == "" {
					return usagef("--into is required: the container's SSCC URN")
				}
				r := e.epcs()
				parent, err := r.urn(ctx, into)
				if err != nil {
					return err
				}
				children, err := epcArgs(ctx, e, args, "items to pack")
				if err != nil {
					return err
				}
				return e.sendSupply(ctx, from, &client.Aggregate{Parent: parent, Children: children})
			}},
		{path: "supply unpack", usage: "SSCC [EPC...]", summary: "Unpack a container: the items named, or everything in it",
			example: "medledger supply unpack --from dist-logistics urn:epc:id:sscc:9506000.0000000001",
			setup:   func(e *env, fs *flag.FlagSet) { fromFlag(fs) },
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) == 0 {
					return usagef("name the container (an SSCC URN), then optionally the items to take out")
				}
				list, err := e.epcs().all(ctx, args)
				if err != nil {
					return err
				}
				return e.sendSupply(ctx, from, &client.Disaggregate{Parent: list[0], Children: list[1:]})
			}},
		{path: "supply ship", usage: "EPC...", summary: "Ship items (units, cases, pallets) to another organisation, which must receive them; loggers may travel along",
			example: "medledger supply ship --from acme-logistics --id SH-1 --to dist-co --po PO-1001 urn:epc:id:sscc:9506000.0000000001",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				devices = nil
				fs.StringVar(&id, "id", "", "shipment `ID` (letters, digits and . _ - :)")
				fs.StringVar(&to, "to", "", "the receiving organisation `ID`")
				fs.Var(&devices, "device", "cold-chain `device` travelling with it (repeat, or comma-separate)")
				fs.StringVar(&po, "po", "", "purchase `order` the shipment fills")
				fs.BoolVar(&ret, "return", false, "a return to a previous custodian or the GTIN's owner")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				list, err := epcArgs(ctx, e, args, "items to ship")
				if err != nil {
					return err
				}
				m := &client.Ship{Shipment: id, To: to, EPCs: list, Devices: devices, Return: ret}
				if po != "" {
					m.BizTx = []client.BizTransaction{{Type: "po", ID: po}}
				}
				return e.sendSupply(ctx, from, m)
			}},
		{path: "supply receive", usage: "[EPC...]", summary: "Receive a shipment addressed to your organisation: everything, or the items named (the rest is recorded missing)",
			example: "medledger supply receive --from dist-logistics --id SH-1",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&id, "id", "", "shipment `ID`")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				list, err := e.epcs().all(ctx, args)
				if err != nil {
					return err
				}
				st, err := e.commitSupply(ctx, from, &client.Receive{Shipment: id, EPCs: list})
				if err != nil {
					return err
				}
				sh, err := e.client().Shipment(ctx, id)
				if err != nil {
					return err
				}
				return e.print(map[string]any{"tx": st, "shipment": sh}, func(tw io.Writer) {
					txRows(tw, st)
					fmt.Fprintf(tw, "shipment\t%s from %s: %s\n", sh.ID, sh.From, sh.Status)
					for _, it := range sh.Missing {
						fmt.Fprintf(tw, "missing\t%s\n", it)
					}
					for _, it := range sh.Unexpected {
						fmt.Fprintf(tw, "unexpected\t%s\n", it)
					}
					for _, x := range sh.Excursions {
						fmt.Fprintf(tw, "excursion\t%s\n", excursionText(x, sh.TempMin, sh.TempMax))
					}
				})
			}},
		{path: "supply dispense", usage: "EPC", summary: "A pharmacist dispenses a pack; with --prescription, a salted commitment to the prescription record goes on-chain, never the record ID",
			example: "medledger supply dispense --from rx-pharmacist urn:epc:id:sgtin:9506000.013435.A0002 --prescription 3f2a...9c",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&rx, "prescription", "", "the prescription's `record` ID (stays on this machine)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("name one pack: an EPC URN or a GS1 Digital Link")
				}
				epc, err := e.epcs().urn(ctx, args[0])
				if err != nil {
					return err
				}
				m := &client.Dispense{EPC: epc}
				var salt []byte
				if rx != "" {
					salt = client.NewRxSalt()
					m.Prescription = client.RxCommitment(rx, salt)
				}
				st, err := e.commitSupply(ctx, from, m)
				if err != nil {
					return err
				}
				out := map[string]any{"tx": st, "epc": epc}
				if rx != "" {
					out["prescription_commitment"] = m.Prescription
					out["prescription_salt"] = hex.EncodeToString(salt)
				}
				return e.print(out, func(tw io.Writer) {
					txRows(tw, st)
					if rx != "" {
						fmt.Fprintf(tw, "prescription salt\t%s\n", hex.EncodeToString(salt))
						fmt.Fprintf(tw, "Keep this salt with prescription record %s: with the record ID it proves this dispense's link to the record, which never goes on-chain.\n", rx)
					}
				})
			}},
		{path: "supply decommission", usage: "EPC...", summary: "Take items out of the supply chain: destroyed, stolen, sample, expired or damaged",
			example: "medledger supply decommission --from dist-logistics --reason damaged urn:epc:id:sgtin:9506000.013435.A0007",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&reason, "reason", "", "`reason`: "+strings.Join(supply.DecommissionReasons(), ", "))
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if reason == "" {
					return usagef("--reason is required: %s", strings.Join(supply.DecommissionReasons(), ", "))
				}
				list, err := epcArgs(ctx, e, args, "items to decommission")
				if err != nil {
					return err
				}
				return e.sendSupply(ctx, from, &client.Decommission{EPCs: list, Reason: reason})
			}},
		{path: "supply recall", summary: "The GTIN owner or a regulator recalls a lot: every pack of it verifies as suspect and is refused at the counter",
			example: "medledger supply recall --from acme-admin --gtin 09506000134352 --lot L2 --reason \"particulate matter\" --class I",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				gtinFlag(fs)
				fs.StringVar(&lot, "lot", "", "the `lot` recalled")
				fs.StringVar(&reason, "reason", "", "the `reason`, public")
				fs.StringVar(&class, "class", "", "recall `class`: I, II or III")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				g, err := parseGTIN(gtin)
				if err != nil {
					return err
				}
				return e.sendSupply(ctx, from, &client.Recall{GTIN: g, Lot: lot, Reason: reason, Class: class})
			}},
		{path: "supply observe", usage: "EPC...", summary: "Record that your organisation saw items (a scan at inspection or receiving, or a business-transaction link)",
			example: "medledger supply observe --from rx-pharmacist --step inspecting urn:epc:id:sgtin:9506000.013435.A0003\nmedledger supply observe --from dist-logistics --po PO-1001 --transaction urn:epc:id:sscc:9506000.0000000001",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&step, "step", "", "CBV business `step` (default inspecting): "+strings.Join(supply.ObserveBizSteps, ", "))
				fs.StringVar(&po, "po", "", "purchase `order` to link the items to")
				fs.BoolVar(&transaction, "transaction", false, "record an EPCIS TransactionEvent linking the items to --po")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				list, err := epcArgs(ctx, e, args, "items seen")
				if err != nil {
					return err
				}
				m := &client.Observe{EPCs: list, BizStep: step, Transaction: transaction}
				if po != "" {
					m.BizTx = []client.BizTransaction{{Type: "po", ID: po}}
				}
				return e.sendSupply(ctx, from, m)
			}},
		{path: "supply device register", summary: "Register a cold-chain logger with its own Ed25519 key (generated into --key-file if the file does not exist)",
			example: "medledger supply device register --from dist-logistics --id logger-1 --model TL-200 --key-file logger-1.key",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&id, "id", "", "device `ID`")
				fs.StringVar(&model, "model", "", "device `model`")
				fs.StringVar(&keyFile, "key-file", "", "the device's key `file` (hex Ed25519 seed); created, 0600, if missing")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if err := validate(&client.RegisterDevice{Device: id, Key: make([]byte, ed25519.PublicKeySize), Model: model}); err != nil {
					return err
				}
				key, created, err := loadDeviceKey(keyFile, true)
				if err != nil {
					return err
				}
				pub := key.Public().(ed25519.PublicKey)
				if created {
					fmt.Fprintf(e.stderr, "generated a device key in %s; install it on the device and keep it secret\n", keyFile)
				}
				st, err := e.commitSupply(ctx, from, &client.RegisterDevice{Device: id, Key: pub, Model: model})
				if err != nil {
					return err
				}
				return e.print(map[string]any{"tx": st, "device": id, "public_key": hex.EncodeToString(pub), "key_file": keyFile}, func(tw io.Writer) {
					txRows(tw, st)
					fmt.Fprintf(tw, "device\t%s\npublic key\t%s\nkey file\t%s\n", id, hex.EncodeToString(pub), keyFile)
				})
			}},
		{path: "supply device show", usage: "DEVICE", summary: "Show a registered cold-chain device (no account needed)",
			example: "medledger supply device show logger-1",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one device ID")
				}
				d, err := e.client().Device(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(d, func(tw io.Writer) {
					fmt.Fprintf(tw, "device\t%s\norg\t%s\n", d.ID, d.Org)
					if d.Model != "" {
						fmt.Fprintf(tw, "model\t%s\n", d.Model)
					}
					fmt.Fprintf(tw, "public key\t%s\nregistered\theight %d\n", hex.EncodeToString(d.Key), d.Registered)
					if d.Shipment != "" {
						fmt.Fprintf(tw, "attached to\tshipment %s\n", d.Shipment)
					}
					if d.Seq != 0 {
						fmt.Fprintf(tw, "last batch\t%d, last reading %s\n", d.Seq, unixText(d.LastTime))
					}
				})
			}},
		{path: "supply device attach", summary: "Attach a registered device to a shipment in transit",
			example: "medledger supply device attach --from dist-logistics --id logger-1 --shipment SH-2",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&id, "id", "", "device `ID`")
				fs.StringVar(&shipment, "shipment", "", "shipment `ID`")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				return e.sendSupply(ctx, from, &client.AttachDevice{Device: id, Shipment: shipment})
			}},
		{path: "supply readings", usage: "FILE.csv", summary: fmt.Sprintf("Post a device's temperature readings (CSV of time,celsius) for its shipment, in signed batches of up to %d", supply.MaxReadings),
			details: "Each row is time,celsius: the time RFC 3339 or Unix seconds, increasing, and the temperature in °C.\n" +
				"Each batch is signed with the device's key (--key-file) and relayed by --from; the node\n" +
				"keeps a summary and any excursion outside the product's range on the shipment.",
			example: "medledger supply readings --from dist-logistics --device logger-1 --key-file logger-1.key --shipment SH-2 logger-1.csv",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&device, "device", "", "device `ID`")
				fs.StringVar(&keyFile, "key-file", "", "the device's key `file`")
				fs.StringVar(&shipment, "shipment", "", "shipment `ID` the device is attached to")
				fs.Uint64Var(&seq, "seq", 0, "sequence `number` of the first batch, then +1 a batch (default: the device's last batch + 1)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one CSV file of time,celsius rows")
				}
				if device == "" || shipment == "" {
					return usagef("--device and --shipment are required")
				}
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				readings, err := parseReadings(f, args[0])
				f.Close()
				if err != nil {
					return err
				}
				key, _, err := loadDeviceKey(keyFile, false)
				if err != nil {
					return err
				}
				c := e.client()
				if seq == 0 {
					d, err := c.Device(ctx, device)
					if err != nil {
						return err
					}
					seq = d.Seq + 1
				}
				var batches []*client.Readings
				for i := 0; i < len(readings); i += supply.MaxReadings {
					b := &client.Readings{Device: device, Shipment: shipment, Seq: seq + uint64(len(batches)), Readings: readings[i:min(i+supply.MaxReadings, len(readings))]}
					if err := c.SignReadings(ctx, key, b); err != nil {
						return err
					}
					if err := validate(b); err != nil {
						return err
					}
					batches = append(batches, b)
				}
				if from == "" {
					return usagef("--from is required")
				}
				k, err := e.key(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				var bar *progress
				if len(batches) > 1 {
					bar = &progress{w: e.stderr, total: len(readings), start: time.Now()}
				}
				var hashes []string
				done := 0
				for _, b := range batches {
					st, err := c.SendUnordered(ctx, client.SignerOf(k), b)
					if err != nil {
						if done > 0 {
							return fmt.Errorf("after %d readings were accepted (up to batch %d): %w", done, b.Seq-1, err)
						}
						return err
					}
					hashes = append(hashes, st.Hash.String())
					done += len(b.Readings)
					if bar != nil {
						bar.show(done, "readings")
					}
				}
				sh, err := c.Shipment(ctx, shipment)
				if err != nil {
					return err
				}
				lastSeq := batches[len(batches)-1].Seq
				out := map[string]any{"readings": len(readings), "batches": len(batches), "first_seq": seq, "last_seq": lastSeq,
					"txs": hashes, "excursions": sh.Excursions, "devices": sh.Devices}
				return e.print(out, func(tw io.Writer) {
					batchText := fmt.Sprintf("1 batch (seq %d)", seq)
					if len(batches) > 1 {
						batchText = fmt.Sprintf("%d batches (seq %d to %d)", len(batches), seq, lastSeq)
					}
					fmt.Fprintf(tw, "sent\t%d readings in %s\nshipment\t%s, %s\n", len(readings), batchText, sh.ID, sh.Status)
					if sh.Ranged {
						fmt.Fprintf(tw, "storage\t%s\n", tempRange(sh.TempMin, sh.TempMax))
					}
					if len(sh.Excursions) == 0 {
						fmt.Fprintln(tw, "excursions\tnone")
					}
					for _, x := range sh.Excursions {
						fmt.Fprintf(tw, "excursion\t%s\n", excursionText(x, sh.TempMin, sh.TempMax))
					}
				})
			}},
		{path: "supply shipment show", usage: "SHIPMENT", summary: "Show a shipment: parties, items, receipt, discrepancies, devices and excursions (no account needed)",
			example: "medledger supply shipment show SH-1",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one shipment ID")
				}
				sh, err := e.client().Shipment(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(sh, func(tw io.Writer) { shipmentRows(tw, sh) })
			}},
		{path: "supply verify", usage: "EPC|LINK", summary: "Verify a pack by its EPC URN or GS1 Digital Link: AUTHENTIC, SUSPECT or UNKNOWN, with why and its custody trail (no account needed)",
			details: "The first line is AUTHENTIC (commissioned by the GTIN's owner, nothing wrong), SUSPECT (each\n" +
				"flag says why: dispensed, decommissioned, missing, recalled, expired, excursion, custody gap,\n" +
				"cloned) or UNKNOWN (never commissioned: the pack may be counterfeit).\n\n" +
				"Exit status: 0 when the pack is not suspect; 3 when it is SUSPECT or UNKNOWN, so a script at\n" +
				"the counter can branch on it; 2 for a malformed identifier; 1 when no answer could be had.\n\n" +
				"With --trust-height and --trust-hash the answer is recomputed here from state proofs against\n" +
				"a light-client-verified app hash, and a node that lies is refused.",
			example: "medledger supply verify urn:epc:id:sgtin:9506000.013435.A0003\nmedledger supply verify https://id.gs1.org/01/09506000134352/21/A0003 || echo \"do not dispense\"",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("name one pack: an EPC URN or a GS1 Digital Link")
				}
				id := args[0]
				if isLink(id) {
					dl, err := gs1.ParseDigitalLink(id)
					if err != nil {
						return usagef("%v", err)
					}
					if dl.SSCC == "" && dl.Serial == "" {
						return usagef("%s names a product, not a pack: a pack's Digital Link carries its serial (/21/...)", id)
					}
				} else if _, err := gs1.ParseEPC(id); err != nil {
					return usagef("%v", err)
				}
				v, err := e.client().VerifyPack(ctx, id)
				if err != nil {
					return err
				}
				if err := e.print(v, func(tw io.Writer) { verificationRows(tw, v, e.verified != nil) }); err != nil {
					return err
				}
				if v.Suspect {
					return exitStatus(exitSuspect)
				}
				return nil
			}},
	}
}

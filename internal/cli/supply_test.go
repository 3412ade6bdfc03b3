package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"medledger/client"
)

// TestSupplyWalkthrough runs the README's supply-chain walkthrough with the
// CLI against a real node: a manufacturer registers a product, commissions
// a lot by range and packs a case; a distributor receives it, unpacks it
// and ships packs on; a pharmacy receives them and dispenses one against a
// prescription. Then the counter's checks: a clean pack is AUTHENTIC (exit
// 0), the dispensed one SUSPECT and a never-commissioned serial UNKNOWN
// (exit 3), by URN, by Digital Link and as JSON; and a logger's readings
// with an excursion make a pack of that shipment suspect.
func TestSupplyWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv("MEDLEDGER_PASSPHRASE", "supply")
	home := filepath.Join(nodeDir(t), "home")
	if code, out, errs := runCLI(t, "init", "--home", home, "--p2p-port", itoa(freePort(t)), "--rpc-port", itoa(freePort(t)), "--api-listen", "127.0.0.1:"+itoa(freePort(t))); code != 0 {
		t.Fatalf("init: %s %s", out, errs)
	}
	// Shorter blocks keep the walkthrough's two dozen txs quick.
	cfgFile := filepath.Join(home, "config", "config.toml")
	cfg, _ := os.ReadFile(cfgFile)
	if !strings.Contains(string(cfg), `timeout_commit = "1s"`) {
		t.Fatal("config.toml has no timeout_commit to shorten")
	}
	os.WriteFile(cfgFile, []byte(strings.Replace(string(cfg), `timeout_commit = "1s"`, `timeout_commit = "150ms"`, 1)), 0o600)
	runNode(t, home)

	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(args, "--home", home)...)
	}
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := run(args...)
		if code != 0 {
			t.Fatalf("medledger %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	// verify runs `supply verify` and checks its exit code and first line.
	verify := func(id string, wantCode int, wantFirst string, args ...string) string {
		t.Helper()
		code, out, errs := run(append([]string{"supply", "verify", id}, args...)...)
		if code != wantCode || !strings.HasPrefix(out, wantFirst+"\n") {
			t.Fatalf("supply verify %s: exit %d, want %d and %s first\n%s%s", id, code, wantCode, wantFirst, out, errs)
		}
		return out
	}

	for _, k := range []string{"acme-admin", "dist-admin", "rx-admin", "pharmacist"} {
		cli("keys", "new", k)
	}
	cli("org", "admit", "--from", "authority", "--id", "acme-pharma", "--type", "manufacturer", "--name", "Acme Pharma", "--licence", "M-0001", "--admin", "acme-admin")
	cli("org", "admit", "--from", "authority", "--id", "dist-co", "--type", "distributor", "--name", "Dist Co", "--licence", "D-0002", "--admin", "dist-admin")
	cli("org", "admit", "--from", "authority", "--id", "corner-rx", "--type", "pharmacy", "--name", "Corner Pharmacy", "--licence", "P-0003", "--admin", "rx-admin")
	cli("member", "enrol", "--from", "rx-admin", "--keys", "pharmacist", "--roles", "pharmacist")

	// A mistyped GTIN is caught before anything is signed, naming the right check digit.
	register := []string{"supply", "product", "register", "--from", "acme-admin", "--prefix", "9506000", "--name", "Insulin glargine",
		"--ndc", "0002-8215", "--strength", "100 IU/ml", "--form", "injection", "--temp", "2..8", "--shelf-life", "2y"}
	if code, _, errs := run(append(register, "--gtin", "09506000134353")...); code != exitUsage || !strings.Contains(errs, "check digit is 3, want 2") {
		t.Fatalf("wrong check digit: exit %d %s", code, errs)
	}
	cli(append(register, "--gtin", "09506000134352")...)
	expiry := time.Now().UTC().AddDate(1, 0, 0).Format("2006-01-02")
	out := cli("supply", "commission", "--from", "acme-admin", "--gtin", "09506000134352", "--lot", "L1", "--expiry", expiry, "--range", "A:1:500:4")
	if !strings.Contains(out, "500 units") || !strings.Contains(out, "urn:epc:id:sgtin:9506000.013435.A0001") || !strings.Contains(out, "urn:epc:id:sgtin:9506000.013435.A0500") {
		t.Fatalf("commission: %s", out)
	}
	unit := func(serial string) string { return "urn:epc:id:sgtin:9506000.013435." + serial }
	const caseA = "urn:epc:id:sscc:9506000.0000000001"
	cli("supply", "pack", "--from", "acme-admin", "--into", caseA, unit("A0001"), unit("A0002"), unit("A0003"))
	cli("supply", "ship", "--from", "acme-admin", "--id", "SH-1", "--to", "dist-co", "--po", "PO-1001", caseA)

	// Only the organisation a shipment is addressed to receives it; the node says so.
	if code, _, errs := run("supply", "receive", "--from", "rx-admin", "--id", "SH-1"); code != exitError || !strings.Contains(errs, "addressed to dist-co") {
		t.Fatalf("receiving as the wrong organisation: exit %d %s", code, errs)
	}
	if out := cli("supply", "receive", "--from", "dist-admin", "--id", "SH-1"); !strings.Contains(out, "SH-1 from acme-pharma: received") {
		t.Fatalf("receive: %s", out)
	}
	cli("supply", "unpack", "--from", "dist-admin", caseA)
	cli("supply", "ship", "--from", "dist-admin", "--id", "SH-2", "--to", "corner-rx", unit("A0001"), unit("A0002"))
	cli("supply", "receive", "--from", "rx-admin", "--id", "SH-2")

	// Dispensing against a prescription: the salt stays with the pharmacy.
	const rx = "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7"
	out = cli("supply", "dispense", "--from", "pharmacist", unit("A0002"), "--prescription", rx)
	m := regexp.MustCompile(`prescription salt\s+([0-9a-f]{32})\n`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Keep this salt with prescription record "+rx) {
		t.Fatalf("dispense: %s", out)
	}
	salt, _ := hex.DecodeString(m[1])

	// At the counter.
	out = verify(unit("A0001"), 0, "AUTHENTIC")
	for _, want := range []string{"Insulin glargine 100 IU/ml injection", "custodian  corner-rx", "expiry     " + expiry, "receiving      corner-rx    SH-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify of a clean pack lacks %q:\n%s", want, out)
		}
	}
	if out = verify(unit("A0002"), exitSuspect, "SUSPECT"); !strings.Contains(out, "flag       dispensed: this pack was already dispensed") {
		t.Errorf("verify of a dispensed pack:\n%s", out)
	}
	if out = verify(unit("A9999"), exitSuspect, "UNKNOWN"); !strings.Contains(out, "unknown_serial") {
		t.Errorf("verify of a never-commissioned serial:\n%s", out)
	}
	if out = verify("https://id.gs1.org/01/09506000134352/21/A0001", 0, "AUTHENTIC"); !strings.Contains(out, unit("A0001")) {
		t.Errorf("verify by Digital Link:\n%s", out)
	}
	if code, _, errs := run("supply", "verify", "https://id.gs1.org/01/09506000134353/21/A0001"); code != exitUsage || !strings.Contains(errs, "want 2") {
		t.Errorf("a Digital Link with a wrong check digit: exit %d %s", code, errs)
	}
	code, out, _ := run("supply", "verify", unit("A0002"), "--output", "json")
	var v client.VerifyResult
	if err := json.Unmarshal([]byte(out), &v); code != exitSuspect || err != nil || v.Status != "dispensed" || !v.Authentic || len(v.Flags) != 1 {
		t.Fatalf("verify --output json: exit %d %v\n%s", code, err, out)
	}
	var steps []string
	for _, ev := range v.Trail {
		steps = append(steps, ev.BizStep)
	}
	if got := strings.Join(steps, ","); got != "commissioning,packing,shipping,receiving,unpacking,shipping,receiving,dispensing" {
		t.Errorf("trail %s", got)
	}
	last := v.Trail[len(v.Trail)-1]
	if last.Rx != client.RxCommitment(rx, salt) || strings.Contains(out, rx) {
		t.Errorf("the dispense records %q, want the commitment to the prescription with the printed salt, and never the record", last.Rx)
	}
	// With trust flags the answer is recomputed from proofs.
	var hdr struct {
		BlockHash string `json:"block_hash"`
	}
	json.Unmarshal([]byte(cli("query", "header", "1", "--output", "json")), &hdr)
	if out = verify(unit("A0001"), 0, "AUTHENTIC", "--trust-height", "1", "--trust-hash", hdr.BlockHash); !strings.Contains(out, "recomputed here from") {
		t.Errorf("verified verify:\n%s", out)
	}

	// Cold chain: a logger travels with SH-3 and records an excursion.
	keyFile := filepath.Join(t.TempDir(), "logger-1.key")
	cli("supply", "device", "register", "--from", "dist-admin", "--id", "logger-1", "--model", "TL-200", "--key-file", keyFile)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device key file: %v %v", fi, err)
	}
	cli("supply", "ship", "--from", "dist-admin", "--id", "SH-3", "--to", "corner-rx", unit("A0003"))
	cli("supply", "device", "attach", "--from", "dist-admin", "--id", "logger-1", "--shipment", "SH-3")
	now := time.Now().Unix()
	csvFile := filepath.Join(t.TempDir(), "logger-1.csv")
	csv := fmt.Sprintf("time,celsius\n%s,5.0\n%d,5.4\n%d,9.5\n%d,11.2\n%d,6.1\n",
		time.Unix(now-1260, 0).UTC().Format(time.RFC3339), now-960, now-660, now-360, now-60)
	os.WriteFile(csvFile, []byte(csv), 0o600)
	out = cli("supply", "readings", "--from", "dist-admin", "--device", "logger-1", "--key-file", keyFile, "--shipment", "SH-3", csvFile)
	if !strings.Contains(out, "5 readings in 1 batch") || !strings.Contains(out, "peak 11.20 °C, 10m outside 2.00 °C to 8.00 °C") {
		t.Fatalf("readings: %s", out)
	}
	cli("supply", "receive", "--from", "rx-admin", "--id", "SH-3")
	if out = verify(unit("A0003"), exitSuspect, "SUSPECT"); !strings.Contains(out, "flag       excursion: shipment SH-3: 11.20 °C for 10m outside 2.00 °C to 8.00 °C") {
		t.Errorf("verify of a pack from an excursion:\n%s", out)
	}
	if out = cli("supply", "shipment", "show", "SH-3"); !strings.Contains(out, "device     logger-1: 5 readings") {
		t.Errorf("shipment show:\n%s", out)
	}

	// EPCIS 2.0 out and back in: the dispensed pack's trail, then a
	// document of the distributor's own that ships two packs on.
	doc := filepath.Join(t.TempDir(), "trail.jsonld")
	cli("supply", "epcis", "export", unit("A0002"), "--out", doc)
	b, err := os.ReadFile(doc)
	if err != nil || !strings.Contains(string(b), `"type": "EPCISDocument"`) || strings.Count(string(b), `"bizStep"`) != 8 {
		t.Fatalf("export: %v\n%s", err, b)
	}
	if out = cli("supply", "epcis", "import", "--dry-run", doc); strings.Count(out, "supply/") != 8 || !strings.Contains(out, "supply/dispense") {
		t.Errorf("dry-run import of the export:\n%s", out)
	}
	ship := `{"@context":["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0",
"creationDate":"2026-11-21T10:00:00Z","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-11-21T09:00:00Z",
"eventTimeZoneOffset":"+00:00","action":"OBSERVE","bizStep":"shipping","disposition":"in_transit",
"epcList":["` + unit("A0004") + `","` + unit("A0005") + `"],
"bizTransactionList":[{"type":"desadv","bizTransaction":"urn:medledger:shipment:SH-9"}],
"destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00001"}]}]}}`
	shipFile := filepath.Join(t.TempDir(), "ship.jsonld")
	os.WriteFile(shipFile, []byte(ship), 0o600)
	if code, _, errs := runCLI(t, "supply", "epcis", "import", "--from", "acme-admin", shipFile, "--home", home); code == 0 || !strings.Contains(errs, "destinationList") {
		t.Errorf("import with an unmapped party: exit %d: %s", code, errs)
	}
	if out = cli("supply", "epcis", "import", "--from", "acme-admin", "--party", "urn:epc:id:pgln:9506000.00001=dist-co", shipFile); !strings.Contains(out, "imported 1 txs") {
		t.Errorf("import: %s", out)
	}
	if out = cli("supply", "shipment", "show", "SH-9"); !strings.Contains(out, "dist-co") {
		t.Errorf("the imported shipment:\n%s", out)
	}
}

// The argument parsers: temperatures in °C to hundredths, shelf lives,
// serial ranges and readings CSVs.
func TestSupplyParsers(t *testing.T) {
	for in, want := range map[string][2]int32{"2..8": {200, 800}, "-20..-15": {-2000, -1500}, "2.5..8": {250, 800}, "15..25.25": {1500, 2525}} {
		if lo, hi, err := parseTempRange(in); err != nil || lo != want[0] || hi != want[1] {
			t.Errorf("--temp %s: %d %d %v", in, lo, hi, err)
		}
	}
	for _, bad := range []string{"8..2", "2-8", "x..8", "2..2"} {
		if _, _, err := parseTempRange(bad); err == nil {
			t.Errorf("--temp %s accepted", bad)
		}
	}
	for in, want := range map[string]uint32{"730": 730, "730d": 730, "2y": 730} {
		if d, err := parseShelfLife(in); err != nil || d != want {
			t.Errorf("--shelf-life %s: %d %v", in, d, err)
		}
	}
	for _, bad := range []string{"0", "2w", "", "101y"} {
		if _, err := parseShelfLife(bad); err == nil {
			t.Errorf("--shelf-life %q accepted", bad)
		}
	}
	if p, start, count, width, err := parseRange(":7:3"); err != nil || p != "" || start != 7 || count != 3 || width != 0 {
		t.Errorf("--range :7:3: %q %d %d %d %v", p, start, count, width, err)
	}
	if _, err := parseGTIN("9506000134352"); err != nil {
		t.Errorf("a GTIN-13: %v", err)
	}
	rs, err := parseReadings(strings.NewReader("time,celsius\n2026-01-02T03:04:05Z,5.5\n1767323146, -0.25\n"), "x.csv")
	if err != nil || len(rs) != 2 || rs[0].Time != 1767323045 || rs[0].Temp != 550 || rs[1].Temp != -25 {
		t.Errorf("readings: %+v %v", rs, err)
	}
	for _, bad := range []string{"1767323146,5\n1767323146,6\n", "2026-13-01,5\n", "1767323146,warm\n"} {
		if _, err := parseReadings(strings.NewReader(bad), "x.csv"); !errors.As(err, new(usageError)) {
			t.Errorf("readings %q: %v", bad, err)
		}
	}
}

package epcis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"medledger"
	"medledger/internal/state"
	"medledger/internal/supply"
)

// sharedData returns the directory of the shared test data (the EPCIS 2.0
// schema and examples). When it is absent the test is skipped, except on
// CI (CI=true), where missing data is a failure.
func sharedData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(dir, "epcis2")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared test data is missing on CI: %v", err)
		}
		t.Skipf("shared test data is absent (%v); it holds the EPCIS 2.0 schema and examples", err)
	}
	return dir
}

// chain runs supply messages through the real supply state machine on an
// in-memory store, so that the events exported are the ones medledger
// records.
type chain struct {
	t     *testing.T
	store *state.MemStore
	now   int64
	next  uint64 // the next event ID
	orgs  map[string]medledger.OrgType
}

const (
	now0  = 1740819600 // 2025-03-01T09:00:00Z
	gtin  = "80614141123458"
	unit1 = "urn:epc:id:sgtin:0614141.812345.S1"
	unit2 = "urn:epc:id:sgtin:0614141.812345.S2"
	unit3 = "urn:epc:id:sgtin:0614141.812345.S3"
	unit4 = "urn:epc:id:sgtin:0614141.812345.S4"
	case1 = "urn:epc:id:sscc:0614141.1000000001"
	pal1  = "urn:epc:id:sscc:0614141.2000000001"
	gln1  = "0614141123452"
	rx    = "abababababababababababababababababababababababababababababababab"
)

func newChain(t *testing.T) *chain {
	c := &chain{t: t, store: state.NewMemStore(), now: now0, next: 1, orgs: map[string]medledger.OrgType{
		"acme-pharma": medledger.OrgManufacturer,
		"dist-co":     medledger.OrgDistributor,
		"corner-rx":   medledger.OrgPharmacy,
	}}
	c.apply("acme-pharma", &supply.RegisterProduct{GTIN: gtin, CompanyPrefix: "0614141", Name: "Amoxicillin 500 mg",
		TempMin: 1500, TempMax: 2500, ShelfLifeDays: 730})
	return c
}

func (c *chain) Principal(id medledger.ID) (medledger.Principal, error) {
	return medledger.Principal{}, medledger.Errorf(medledger.KindUnknownAccount, "no account %s", id)
}
func (c *chain) IsDelegate(patient, delegate medledger.ID, now int64) (bool, error) {
	return false, nil
}
func (c *chain) OrgActive(org string) (bool, error) { _, ok := c.orgs[org]; return ok, nil }
func (c *chain) OrgType(org string) (medledger.OrgType, error) {
	t, ok := c.orgs[org]
	if !ok {
		return "", medledger.Errorf(medledger.KindNotFound, "no organisation %s", org)
	}
	return t, nil
}
func (c *chain) EncryptionKey(id medledger.ID) ([]byte, error) { return nil, nil }

// apply applies m, signed by a member of org holding every custody role,
// one minute after the previous message, and returns the events it
// recorded.
func (c *chain) apply(org string, m supply.Msg) []supply.Event {
	c.t.Helper()
	if err := m.Validate(); err != nil {
		c.t.Fatalf("%s: %v", m.Type(), err)
	}
	c.now += 60
	signer := medledger.Principal{ID: medledger.ID("member-of-" + org), Kind: medledger.KindMember, Status: medledger.StatusActive,
		Org: org, OrgType: c.orgs[org], Roles: []medledger.Role{medledger.RoleAdmin, medledger.RoleQuality, medledger.RoleLogistics, medledger.RolePharmacist}}
	env := medledger.Env{ChainID: "epcis-test", Height: int64(c.next), Time: c.now}
	if _, err := supply.Apply(state.Batch{KV: c.store, Index: c.store.Index()}, env, signer, c, m); err != nil {
		c.t.Fatalf("%s by %s: %v", m.Type(), org, err)
	}
	var out []supply.Event
	for {
		e, err := supply.GetEvent(c.store, c.next)
		if err != nil {
			c.t.Fatal(err)
		}
		if e == nil {
			return out
		}
		out = append(out, *e)
		c.next++
	}
}

// at is a context with an event time a little before the block's.
func (c *chain) at(id string) supply.Context {
	return supply.Context{ReadPoint: gln1, EventTime: c.now + 30, EventID: id}
}

// story runs a pack's whole path and returns every event recorded.
func story(t *testing.T) []supply.Event {
	c := newChain(t)
	var evs []supply.Event
	add := func(org string, m supply.Msg) { evs = append(evs, c.apply(org, m)...) }
	add("acme-pharma", &supply.Commission{GTIN: gtin, Lot: "L1", Expiry: "2026-06-30", Serials: []string{"S1", "S2", "S3", "S4"}, Context: c.at("urn:uuid:7d5c3b1e-0000-4000-8000-000000000001")})
	add("acme-pharma", &supply.Commission{GTIN: gtin, Lot: "L1", Expiry: "2026-06-30", Range: &supply.SerialRange{Prefix: "N", Start: 1, Count: 100, Width: 4}})
	add("acme-pharma", &supply.Commission{GTIN: gtin, Lot: "L2", Expiry: "2026-09-30", Serials: []string{"R1", "R2"}})
	add("acme-pharma", &supply.Aggregate{Parent: case1, Children: []string{unit1, unit2, unit3}, Context: c.at("")})
	add("acme-pharma", &supply.Aggregate{Parent: pal1, Children: []string{case1}})
	add("acme-pharma", &supply.Ship{Shipment: "SH-1", To: "dist-co", EPCs: []string{pal1}, BizTx: []supply.BizTransaction{{Type: "po", ID: "PO-77"}}, Context: c.at("")})
	add("dist-co", &supply.Receive{Shipment: "SH-1"})
	add("dist-co", &supply.Disaggregate{Parent: pal1})
	add("dist-co", &supply.Observe{EPCs: []string{case1}, BizStep: "inspecting", Transaction: true,
		BizTx: []supply.BizTransaction{{Type: "inv", ID: "urn:epcglobal:cbv:bt:0614141000005:INV-9"}, {Type: "recadv", ID: "RA 2025/11"}}})
	add("dist-co", &supply.Ship{Shipment: "SH-2", To: "corner-rx", EPCs: []string{case1}})
	add("corner-rx", &supply.Receive{Shipment: "SH-2", EPCs: []string{case1}})
	add("corner-rx", &supply.Disaggregate{Parent: case1, Children: []string{unit1, unit2}})
	add("corner-rx", &supply.Observe{EPCs: []string{unit1, unit2}, BizStep: "storing"})
	add("corner-rx", &supply.Dispense{EPC: unit1, Prescription: rx})
	add("corner-rx", &supply.Decommission{EPCs: []string{unit2}, Reason: "damaged"})
	add("acme-pharma", &supply.Recall{GTIN: gtin, Lot: "L2", Reason: "particulate matter in vials", Class: "II"})
	return evs
}

// schemaLoader serves the EPCIS schema files from the local copy and
// refuses every other URL, so that validation never touches the network.
type schemaLoader struct {
	dir    string
	loaded []string
}

const schemaBase = "https://gs1.github.io/EPCIS/"

func (l *schemaLoader) Load(url string) (any, error) {
	rest, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("refusing to fetch %s: the schema must resolve offline", url)
	}
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(rest)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l.loaded = append(l.loaded, rest)
	return jsonschema.UnmarshalJSON(f)
}

// schemas compiles the official EPCIS 2.0 JSON Schema twice: the single
// inlined file, and the split sources whose $refs cross files.
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	dir := filepath.Join(sharedData(t), "epcis2")
	out := map[string]*jsonschema.Schema{}

	l := &schemaLoader{dir: dir}
	c := jsonschema.NewCompiler()
	c.UseLoader(l)
	c.UseRegexpEngine(regexpEngine)
	c.AssertFormat()
	s, err := c.Compile(schemaBase + "EPCIS-JSON-Schema.json")
	if err != nil {
		t.Fatal(err)
	}
	out["inlined"] = s

	// The split root declares the $id of the inlined file one folder
	// down; it is added under that $id and its children are loaded
	// relative to it.
	root := &schemaLoader{dir: dir}
	doc, err := root.Load(schemaBase + "JSON-Schema/EPCIS-JSON-Schema-root.json")
	if err != nil {
		t.Fatal(err)
	}
	id := doc.(map[string]any)["$id"].(string)
	if id != schemaBase+"JSON-Schema/EPCIS-JSON-Schema.json" {
		t.Fatalf("the split root's $id is %s", id)
	}
	c = jsonschema.NewCompiler()
	c.UseLoader(root)
	c.UseRegexpEngine(regexpEngine)
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Compile(id); err != nil {
		t.Fatal(err)
	}
	out["split"] = s
	// The $refs across files were followed, from the local copy.
	for _, f := range []string{"JSON-Schema/EPCIS-Document-JSON-Schema.json", "JSON-Schema/schemas/ObjectEvent-JSON-Schema.json",
		"JSON-Schema/schemas/AggregationEvent-JSON-Schema.json", "JSON-Schema/schemas/TransactionEvent-JSON-Schema.json",
		"JSON-Schema/schemas/event-definitions-JSON-Schema.json", "JSON-Schema/schemas/bizStep-JSON-Schema.json"} {
		if !slices.Contains(root.loaded, f) {
			t.Errorf("compiling the split schema did not load %s (loaded %v)", f, root.loaded)
		}
	}
	return out
}

// regexpEngine compiles the schema's patterns. Go's regexp (RE2) has no
// lookahead, and the schema uses one form of it: a whole pattern ^(?!X),
// "does not start with X", which is the negation of ^(?:X). Anything else
// goes to Go's regexp as it is.
func regexpEngine(pattern string) (jsonschema.Regexp, error) {
	if inner, ok := strings.CutPrefix(pattern, "^(?!"); ok && strings.HasSuffix(inner, ")") {
		inner = strings.TrimSuffix(inner, ")")
		if !balanced(inner) {
			return nil, fmt.Errorf("pattern %q: only a whole-pattern ^(?!...) lookahead is supported", pattern)
		}
		re, err := regexp.Compile("^(?:" + inner + ")")
		if err != nil {
			return nil, err
		}
		return notPrefix{re: re, pattern: pattern}, nil
	}
	return regexp.Compile(pattern)
}

// balanced reports whether the parentheses of a pattern pair up.
func balanced(p string) bool {
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

type notPrefix struct {
	re      *regexp.Regexp
	pattern string
}

func (n notPrefix) MatchString(s string) bool { return !n.re.MatchString(s) }
func (n notPrefix) String() string            { return n.pattern }

func validate(s *jsonschema.Schema, doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestExportValidatesAgainstSchema(t *testing.T) {
	sch := schemas(t)
	evs := story(t)
	prefixLen := func(g string) int {
		if g != gtin {
			t.Errorf("PrefixLen asked about GTIN %s", g)
		}
		return 7
	}
	for _, tc := range []struct {
		name string
		opts ExportOptions
	}{
		{"class-level", ExportOptions{CreationTime: now0 + 86400, PrefixLen: prefixLen}},
		{"focus", ExportOptions{CreationTime: now0 + 86400, Focus: "urn:epc:id:sgtin:0614141.812345.N0042"}},
	} {
		doc, err := Export(evs, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range sch {
			if err := validate(s, doc); err != nil {
				t.Errorf("%s export against the %s schema: %v\n%s", tc.name, name, err, doc)
			}
		}
	}

	// What the document says, event by event.
	doc, err := Export(evs, ExportOptions{CreationTime: now0 + 86400})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Context      []any  `json:"@context"`
		Type         string `json:"type"`
		CreationDate string `json:"creationDate"`
		Body         struct {
			Events []map[string]any `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if d.Context[0] != ContextURL || d.Type != "EPCISDocument" || d.CreationDate != "2025-03-02T09:00:00Z" {
		t.Errorf("document head: %v %s %s", d.Context, d.Type, d.CreationDate)
	}
	if len(d.Context) != 2 || !reflect.DeepEqual(d.Context[1], map[string]any{"medledger": Namespace}) {
		t.Errorf("@context %v: want the medledger prefix, since a recall and a dispense use it", d.Context)
	}
	var got []string
	for _, e := range d.Body.Events {
		got = append(got, fmt.Sprint(e["type"], " ", e["action"], " ", e["bizStep"]))
	}
	want := []string{
		"ObjectEvent ADD commissioning", "ObjectEvent ADD commissioning", "ObjectEvent ADD commissioning",
		"AggregationEvent ADD packing", "AggregationEvent ADD packing",
		"ObjectEvent OBSERVE shipping", "ObjectEvent OBSERVE receiving", "AggregationEvent DELETE unpacking",
		"TransactionEvent ADD inspecting",
		"ObjectEvent OBSERVE shipping", "ObjectEvent OBSERVE receiving", "AggregationEvent DELETE unpacking",
		"ObjectEvent OBSERVE storing", "ObjectEvent OBSERVE dispensing", "ObjectEvent DELETE decommissioning",
		"ObjectEvent OBSERVE holding",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for i, w := range map[int]map[string]string{
		0: {"eventID": `"urn:uuid:7d5c3b1e-0000-4000-8000-000000000001"`, "readPoint": `{"id":"https://id.gs1.org/414/0614141123452"}`,
			"quantityList": `[{"epcClass":"urn:epc:class:lgtin:0614141.812345.L1","quantity":4}]`,
			"ilmd":         `{"cbvmda:itemExpirationDate":"2026-06-30","cbvmda:lotNumber":"L1"}`, "disposition": `"active"`},
		1: {"eventID": `"urn:medledger:event:2"`, "quantityList": `[{"epcClass":"urn:epc:class:lgtin:0614141.812345.L1","quantity":100}]`},
		3: {"parentID": js(case1), "childEPCs": js([]string{unit1, unit2, unit3}), "disposition": `"container_closed"`},
		5: {"epcList": js([]string{pal1}), "disposition": `"in_transit"`,
			"bizTransactionList": `[{"bizTransaction":"urn:medledger:shipment:SH-1","type":"desadv"},{"bizTransaction":"urn:medledger:biztx:PO-77","type":"po"}]`,
			"sourceList":         `[{"source":"urn:medledger:org:acme-pharma","type":"owning_party"}]`,
			"destinationList":    `[{"destination":"urn:medledger:org:dist-co","type":"owning_party"}]`},
		6: {"epcList": js([]string{pal1}), "bizTransactionList": `[{"bizTransaction":"urn:medledger:shipment:SH-1","type":"desadv"},{"bizTransaction":"urn:medledger:biztx:PO-77","type":"po"}]`},
		7: {"parentID": js(pal1), "childEPCs": js([]string{case1})},
		8: {"epcList": js([]string{case1}),
			"bizTransactionList": `[{"bizTransaction":"urn:epcglobal:cbv:bt:0614141000005:INV-9","type":"inv"},{"bizTransaction":"urn:medledger:biztx:RA%202025%2F11","type":"recadv"}]`},
		13: {"epcList": js([]string{unit1}), "medledger:prescription": js(rx)},
		14: {"epcList": js([]string{unit2}), "disposition": `"damaged"`},
		15: {"quantityList": `[{"epcClass":"urn:epc:class:lgtin:0614141.812345.L2","quantity":2}]`, "disposition": `"recalled"`,
			"medledger:reason": `"particulate matter in vials"`},
	} {
		for k, v := range w {
			if g := js(d.Body.Events[i][k]); g != v {
				t.Errorf("event %d %s = %s, want %s", i, k, g, v)
			}
		}
	}
	for i, e := range d.Body.Events {
		if e["eventTimeZoneOffset"] != "+00:00" || !strings.HasSuffix(fmt.Sprint(e["eventTime"]), "Z") || !strings.HasSuffix(fmt.Sprint(e["recordTime"]), "Z") {
			t.Errorf("event %d times: %v %v %v", i, e["eventTime"], e["recordTime"], e["eventTimeZoneOffset"])
		}
	}

	// With a focus, the commissioning that created it lists just it. A
	// commissioning by range says which serials it created; one by list
	// does not, so any unit of its GTIN is taken to be one of them (the
	// caller exports the focus's own trail).
	for _, tc := range []struct {
		evs   []supply.Event
		focus string
		want  string
	}{
		{evs[1:2], "urn:epc:id:sgtin:0614141.812345.N0042", `["urn:epc:id:sgtin:0614141.812345.N0042"]`},
		{evs[1:2], "urn:epc:id:sgtin:0614141.812345.N0101", ""},
		{evs[1:2], "urn:epc:id:sgtin:0614141.812345.X0042", ""},
		{evs[0:1], unit1, `["` + unit1 + `"]`},
		{evs[0:1], "urn:epc:id:sgtin:0614141.107346.2017", ""},
		{evs[0:1], case1, ""},
	} {
		doc, err := Export(tc.evs, ExportOptions{Focus: tc.focus})
		if err != nil {
			t.Fatal(err)
		}
		d.Body.Events = nil
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		e := d.Body.Events[0]
		if _, ok := e["quantityList"]; ok == (tc.want != "") {
			t.Errorf("focus %s: quantityList %v", tc.focus, e["quantityList"])
		}
		if tc.want != "" && js(e["epcList"]) != tc.want {
			t.Errorf("focus %s: epcList %s, want %s", tc.focus, js(e["epcList"]), tc.want)
		}
		for name, s := range sch {
			if err := validate(s, doc); err != nil {
				t.Errorf("focus %s, %s schema: %v", tc.focus, name, err)
			}
		}
	}
}

// A broken document fails validation: the validator is live, and each
// of these rules is one the schema really enforces.
func TestSchemaRejectsBrokenExport(t *testing.T) {
	sch := schemas(t)
	doc, err := Export(story(t), ExportOptions{CreationTime: now0})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range sch {
		if err := validate(s, doc); err != nil {
			t.Fatalf("%s schema: the unbroken export fails: %v", name, err)
		}
	}
	for _, tc := range []struct{ name, old, new string }{
		{"bad action", `"action": "ADD"`, `"action": "INSERT"`},
		{"bizStep as a CBV URN", `"bizStep": "shipping"`, `"bizStep": "urn:epcglobal:cbv:bizstep:shipping"`},
		{"eventID not a URI", `"eventID": "urn:medledger:event:2"`, `"eventID": "event 2"`},
		{"bad time zone offset", `"eventTimeZoneOffset": "+00:00"`, `"eventTimeZoneOffset": "+15:00"`},
		{"no @context", `"@context": [`, `"context": [`},
		{"unknown member", `"disposition": "damaged"`, `"disposition": "damaged", "colour": "red"`},
	} {
		broken := bytes.Replace(doc, []byte(tc.old), []byte(tc.new), 1)
		if bytes.Equal(broken, doc) {
			t.Fatalf("%s: %s is not in the export", tc.name, tc.old)
		}
		for name, s := range sch {
			if err := validate(s, broken); err == nil {
				t.Errorf("%s: the %s schema accepts it", tc.name, name)
			}
		}
	}
}

// Import(Export(x)) gives back the messages that made x.
func TestRoundTrip(t *testing.T) {
	c := newChain(t)
	c.apply("acme-pharma", &supply.Commission{GTIN: gtin, Lot: "L1", Expiry: "2026-06-30", Serials: []string{"S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"}})
	unit := func(n int) string { return fmt.Sprintf("urn:epc:id:sgtin:0614141.812345.S%d", n) }
	ctx := func(id string) supply.Context {
		return supply.Context{ReadPoint: gln1, EventTime: c.now + 10, EventID: id}
	}
	for _, tc := range []struct {
		org string
		m   supply.Msg
	}{
		{"acme-pharma", &supply.Aggregate{Parent: case1, Children: []string{unit(1), unit(2), unit(3), unit(4)}, Context: ctx("urn:uuid:1")}},
		{"acme-pharma", &supply.Ship{Shipment: "SH-1", To: "dist-co", EPCs: []string{case1, unit(5), unit(6), unit(7), unit(8), unit(9)},
			BizTx: []supply.BizTransaction{{Type: "po", ID: "PO-77"}, {Type: "desadv", ID: "urn:epcglobal:cbv:bt:0614141073467:1152"},
				{Type: "internal ref", ID: "urn:medledger:shipment:not-a-marker"}, {ID: "no type"}}, Context: ctx("urn:uuid:2")}},
		{"dist-co", &supply.Receive{Shipment: "SH-1", EPCs: []string{case1, unit(5), unit(6), unit(7), unit(8), unit(9)}, Context: ctx("")}},
		{"dist-co", &supply.Disaggregate{Parent: case1, Children: []string{unit(3), unit(4)}, Context: ctx("urn:uuid:3")}},
		{"dist-co", &supply.Observe{EPCs: []string{case1, unit(3)}, BizStep: "storing", Context: ctx("urn:uuid:4")}},
		{"dist-co", &supply.Observe{EPCs: []string{unit(4)}, BizStep: "inspecting", Transaction: true,
			BizTx: []supply.BizTransaction{{Type: "inv", ID: "INV 9/2025"}, {Type: "https://example.com/btt/claim", ID: "https://example.com/claims/7"}}, Context: ctx("urn:uuid:5")}},
		{"dist-co", &supply.Ship{Shipment: "RET-1", To: "acme-pharma", EPCs: []string{unit(9)}, Return: true, Context: ctx("urn:uuid:6")}},
		{"acme-pharma", &supply.Receive{Shipment: "RET-1", EPCs: []string{unit(9)}, Context: ctx("urn:uuid:7")}},
		{"dist-co", &supply.Decommission{EPCs: []string{unit(5)}, Reason: "destroyed", Context: ctx("urn:uuid:8")}},
		{"dist-co", &supply.Decommission{EPCs: []string{unit(6)}, Reason: "stolen", Context: ctx("urn:uuid:9")}},
		{"dist-co", &supply.Decommission{EPCs: []string{unit(7)}, Reason: "sample", Context: ctx("urn:uuid:10")}},
		{"dist-co", &supply.Decommission{EPCs: []string{unit(8)}, Reason: "damaged", Context: ctx("urn:uuid:11")}},
		{"dist-co", &supply.Decommission{EPCs: []string{unit(3)}, Reason: "expired", Context: ctx("urn:uuid:12")}},
		{"dist-co", &supply.Ship{Shipment: "SH-2", To: "corner-rx", EPCs: []string{case1, unit(4)}, Context: ctx("urn:uuid:13")}},
		{"corner-rx", &supply.Receive{Shipment: "SH-2", EPCs: []string{case1, unit(4)}, Context: ctx("urn:uuid:14")}},
		{"corner-rx", &supply.Dispense{EPC: unit(4), Prescription: rx, Context: ctx("urn:uuid:15")}},
		{"corner-rx", &supply.Dispense{EPC: unit(1), Context: ctx("urn:uuid:16")}},
	} {
		evs := c.apply(tc.org, tc.m)
		if len(evs) != 1 {
			t.Fatalf("%s recorded %d events", tc.m.Type(), len(evs))
		}
		doc, err := Export(evs, ExportOptions{CreationTime: c.now})
		if err != nil {
			t.Fatal(err)
		}
		steps, err := Import(doc, ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.m.Type(), err, doc)
		}
		want := tc.m
		if reflect.ValueOf(want).Elem().FieldByName("EventID").String() == "" {
			// The export names an event without an EPCIS ID by its number.
			reflect.ValueOf(want).Elem().FieldByName("Context").FieldByName("EventID").SetString(fmt.Sprintf("urn:medledger:event:%d", evs[0].ID))
		}
		if len(steps) != 1 || !reflect.DeepEqual(steps[0].Msg, want) {
			t.Errorf("%s round trip:\n got %s\nwant %s\n%s", tc.m.Type(), show(steps), show([]Step{{Msg: want}}), doc)
		}
	}
}

func show(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		j, _ := json.Marshal(s.Msg)
		fmt.Fprintf(&b, "%s %s %s; ", s.Path, s.Msg.Type(), j)
	}
	return b.String()
}

// Commissioning is recorded for a lot, without the serials of a list, so
// only a focused export says which unit it created; that unit comes back.
func TestRoundTripFocusedCommission(t *testing.T) {
	c := newChain(t)
	evs := c.apply("acme-pharma", &supply.Commission{GTIN: gtin, Lot: "L1", Expiry: "2026-06-30",
		Range: &supply.SerialRange{Prefix: "N", Start: 1, Count: 100, Width: 4}, Context: supply.Context{EventID: "urn:uuid:c1", EventTime: c.now}})
	for _, tc := range []struct {
		focus string
		want  supply.Msg
		err   string
	}{
		{focus: "urn:epc:id:sgtin:0614141.812345.N0042", want: &supply.Commission{GTIN: gtin, Lot: "L1", Expiry: "2026-06-30", Serials: []string{"N0042"},
			Context: supply.Context{EventID: "urn:uuid:c1", EventTime: evs[0].EventTime}}},
		// Not in the range: the export stays class-level, which medledger
		// cannot import as a commission.
		{focus: "urn:epc:id:sgtin:0614141.812345.N0101", err: "epcis: epcisBody.eventList[0].quantityList: class-level quantities are not supported by medledger, which tracks serialized items only"},
		{focus: "urn:epc:id:sgtin:0614141.812345.N042", err: "epcis: epcisBody.eventList[0].quantityList: class-level quantities are not supported by medledger, which tracks serialized items only"},
	} {
		doc, err := Export(evs, ExportOptions{Focus: tc.focus})
		if err != nil {
			t.Fatal(err)
		}
		steps, err := Import(doc, ImportOptions{})
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("focus %s: %v, want %s", tc.focus, err, tc.err)
			}
			continue
		}
		if err != nil || len(steps) != 1 || !reflect.DeepEqual(steps[0].Msg, tc.want) {
			t.Errorf("focus %s: %s %v", tc.focus, show(steps), err)
		}
	}
}

func TestExportRefuses(t *testing.T) {
	ok := supply.Event{ID: 1, Type: supply.ObjectEvent, Action: supply.ActionObserve, BizStep: "inspecting", EPCs: []string{unit1}, EventTime: now0}
	for _, tc := range []struct {
		name string
		edit func(*supply.Event)
		opts ExportOptions
		err  string
	}{
		{"unknown type", func(e *supply.Event) { e.Type = "AssociationEvent" }, ExportOptions{}, `epcis: event 1: unknown event type "AssociationEvent"`},
		{"unknown action", func(e *supply.Event) { e.Action = "INSERT" }, ExportOptions{}, `epcis: event 1: unknown action "INSERT"`},
		{"transaction without one", func(e *supply.Event) { e.Type = supply.TransactionEvent }, ExportOptions{}, "epcis: event 1: a TransactionEvent needs a business transaction"},
		{"bad focus", func(e *supply.Event) {}, ExportOptions{Focus: "urn:epc:id:giai:0614141.1"}, "epcis: focus: "},
		{"bad prefix length", func(e *supply.Event) { e.BizStep, e.GTIN, e.Lot = "commissioning", gtin, "L1" }, ExportOptions{PrefixLen: func(string) int { return 13 }}, "epcis: event 1: gs1: LGTIN 80614141123458: company prefix length 13, want 6 to 12"},
	} {
		e := ok
		tc.edit(&e)
		_, err := Export([]supply.Event{e}, tc.opts)
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.err)
		}
	}
}

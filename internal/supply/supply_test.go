package supply_test

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"medledger"
	"medledger/internal/identity"
	"medledger/internal/ledger"
	"medledger/internal/state"
	"medledger/internal/supply"
)

// The scripts in testdata drive the supply module through the real ledger
// with signed txs. Names stand for accounts and devices (keys derive from
// the name; IDs print as <name>). Run with -rewrite to update.
//
//	genesis                              one regulator, "reg", threshold 1
//	org id=ID type=T members=NAME:ROLE+ROLE,...   admit an organisation (its first member is its admin)
//	block [time=UNIX]                    commit the block and start the next (5 s later by default)
//	tx signer=NAME type=T args...        deliver a supply tx (see msg below)
//	verify epc=URN                       what GET /v1/supply/verify answers
//	shipment id=ID | item epc=URN | lot gtin=G lot=L
const chainID = "medledger-test"

type harness struct {
	store  state.Committer
	l      *ledger.Ledger
	names  map[medledger.ID]string
	nonces map[string]uint64
	unord  uint64
	time   int64
	inBlk  bool
}

func seed(parts ...string) []byte {
	h := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return h[:]
}

func signingKey(name string) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(seed("sig", name)) }

func (h *harness) pubKeys(name string) identity.PublicKeys {
	k := signingKey(name)
	enc, err := hpke.MLKEM768X25519().DeriveKeyPair(seed("enc", name))
	if err != nil {
		panic(err)
	}
	pk := identity.PublicKeys{SigningKey: k.Public().(ed25519.PublicKey), EncryptionKey: enc.PublicKey().Bytes()}
	h.names[pk.ID()] = name
	return pk
}

func (h *harness) id(name string) medledger.ID { return h.pubKeys(name).ID() }

func (h *harness) show(s string) string {
	ids := make([]string, 0, len(h.names))
	for id := range h.names {
		ids = append(ids, string(id))
	}
	sort.Strings(ids)
	for _, id := range ids {
		s = strings.ReplaceAll(s, id, "<"+h.names[medledger.ID(id)]+">")
	}
	return s
}

func (h *harness) env() medledger.Env {
	return medledger.Env{ChainID: chainID, Height: h.store.Version() + 1, Time: h.time}
}

func arg(d *datadriven.TestData, key string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return strings.Join(a.Vals, ",")
		}
	}
	return ""
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func num[T int32 | int64 | uint32 | uint64](t *testing.T, s string) T {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return T(v)
}

func bizTx(s string) []supply.BizTransaction {
	var out []supply.BizTransaction
	for _, b := range list(s) {
		typ, id, _ := strings.Cut(b, ":")
		out = append(out, supply.BizTransaction{Type: typ, ID: id})
	}
	return out
}

func (h *harness) msg(t *testing.T, d *datadriven.TestData) (any, bool) {
	ctx := supply.Context{ReadPoint: arg(d, "readpoint"), EventTime: num[int64](t, arg(d, "eventtime"))}
	switch arg(d, "type") {
	case "register_product":
		return &supply.RegisterProduct{GTIN: arg(d, "gtin"), CompanyPrefix: arg(d, "prefix"), Name: arg(d, "name"), NationalCode: arg(d, "ndc"),
			Strength: arg(d, "strength"), Form: arg(d, "form"), TempMin: num[int32](t, arg(d, "min")), TempMax: num[int32](t, arg(d, "max")),
			ShelfLifeDays: num[uint32](t, arg(d, "shelf"))}, false
	case "transfer":
		return &supply.TransferProduct{GTIN: arg(d, "gtin"), To: arg(d, "to")}, false
	case "commission":
		m := &supply.Commission{GTIN: arg(d, "gtin"), Lot: arg(d, "lot"), Expiry: arg(d, "expiry"), Serials: list(arg(d, "serials")), Context: ctx}
		if r := arg(d, "range"); r != "" {
			p := strings.Split(r, ":")
			m.Range = &supply.SerialRange{Prefix: p[0], Start: num[uint64](t, p[1]), Count: num[uint32](t, p[2]), Width: uint8(num[uint32](t, p[3]))}
		}
		return m, false
	case "aggregate":
		return &supply.Aggregate{Parent: arg(d, "parent"), Children: list(arg(d, "children")), Context: ctx}, false
	case "disaggregate":
		return &supply.Disaggregate{Parent: arg(d, "parent"), Children: list(arg(d, "children")), Context: ctx}, false
	case "ship":
		return &supply.Ship{Shipment: arg(d, "id"), To: arg(d, "to"), EPCs: list(arg(d, "epcs")), Devices: list(arg(d, "devices")),
			Return: d.HasArg("return"), BizTx: bizTx(arg(d, "biztx")), Context: ctx}, false
	case "receive":
		return &supply.Receive{Shipment: arg(d, "id"), EPCs: list(arg(d, "epcs")), Context: ctx}, false
	case "dispense":
		return &supply.Dispense{EPC: arg(d, "epc"), Prescription: arg(d, "rx"), Context: ctx}, false
	case "decommission":
		return &supply.Decommission{EPCs: list(arg(d, "epcs")), Reason: arg(d, "reason"), Context: ctx}, false
	case "recall":
		return &supply.Recall{GTIN: arg(d, "gtin"), Lot: arg(d, "lot"), Reason: arg(d, "reason"), Class: arg(d, "class"), Context: ctx}, false
	case "observe":
		return &supply.Observe{EPCs: list(arg(d, "epcs")), BizStep: arg(d, "step"), BizTx: bizTx(arg(d, "biztx")),
			Transaction: d.HasArg("transaction"), Context: ctx}, false
	case "register_device":
		return &supply.RegisterDevice{Device: arg(d, "device"), Key: signingKey(arg(d, "key")).Public().(ed25519.PublicKey), Model: arg(d, "model")}, false
	case "attach":
		return &supply.AttachDevice{Device: arg(d, "device"), Shipment: arg(d, "shipment")}, false
	case "readings":
		m := &supply.Readings{Device: arg(d, "device"), Shipment: arg(d, "shipment"), Seq: num[uint64](t, arg(d, "seq"))}
		for _, r := range list(arg(d, "temps")) {
			tm, tp, _ := strings.Cut(r, ":")
			m.Readings = append(m.Readings, supply.Reading{Time: h.time + num[int64](t, tm), Temp: num[int32](t, tp)})
		}
		key := signingKey(arg(d, "key"))
		m.Signature = ed25519.Sign(key, m.SignedBytes(chainID))
		return m, true
	}
	t.Fatalf("%s: unknown type %q", d.Pos, arg(d, "type"))
	return nil, false
}

type typed interface{ Type() string }

func (h *harness) send(t testing.TB, signer string, m typed, unordered bool) (ledger.Result, bool) {
	h.pubKeys(signer)
	tx := &medledger.Tx{ChainID: chainID, Signer: h.id(signer), MsgType: m.Type(), Msg: medledger.MustMarshal(m)}
	if unordered {
		h.unord++
		tx.Unordered, tx.Nonce, tx.TimeoutHeight = true, h.unord, uint64(h.store.Version()+10)
	} else {
		tx.Nonce = h.nonces[signer] + 1
	}
	if err := tx.Sign(signingKey(signer)); err != nil {
		t.Fatal(err)
	}
	raw, err := tx.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !h.inBlk {
		if err := h.l.BeginBlock(h.env()); err != nil {
			t.Fatal(err)
		}
		h.inBlk = true
	}
	before := h.store.WorkingHash()
	res := h.l.DeliverTx(raw)
	if res.OK() && !unordered {
		h.nonces[signer] = tx.Nonce
	}
	return res, !res.OK() && !slices.Equal(before, h.store.WorkingHash())
}

func (h *harness) tx(t *testing.T, d *datadriven.TestData) string {
	m, unordered := h.msg(t, d)
	res, changed := h.send(t, arg(d, "signer"), m.(typed), unordered)
	if changed {
		t.Errorf("%s: a failed tx changed state", d.Pos)
	}
	if !res.OK() {
		return h.show(fmt.Sprintf("error %d %s\n", res.Code, res.Log))
	}
	var b strings.Builder
	b.WriteString("ok\n")
	for _, e := range res.Events {
		if e.Type == "message" {
			continue
		}
		b.WriteString(e.Type)
		for _, a := range e.Attrs {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
		}
		b.WriteString("\n")
	}
	return h.show(b.String())
}

func (h *harness) mustOK(t testing.TB, signer string, m typed) {
	if res, _ := h.send(t, signer, m, false); !res.OK() {
		t.Fatalf("%s %s: %s", signer, m.Type(), res.Log)
	}
}

// org admits an organisation and enrols its members.
func (h *harness) org(t *testing.T, d *datadriven.TestData) string {
	h.admit(t, arg(d, "id"), medledger.OrgType(arg(d, "type")), list(arg(d, "members"))...)
	return "ok\n"
}

// admit admits an organisation whose members are given as NAME:ROLE+ROLE;
// the first is its admin.
func (h *harness) admit(t testing.TB, org string, typ medledger.OrgType, members ...string) {
	var admin string
	for i, mem := range members {
		name, rs, _ := strings.Cut(mem, ":")
		var roles []medledger.Role
		for _, r := range strings.Split(rs, "+") {
			roles = append(roles, medledger.Role(r))
		}
		if i == 0 {
			admin = name
			h.mustOK(t, "reg", &identity.AdmitOrg{Org: org, OrgType: typ, Name: org, Licence: "L-" + org, Admin: h.pubKeys(name)})
			if !slices.Equal(roles, []medledger.Role{medledger.RoleAdmin}) {
				h.mustOK(t, admin, &identity.SetMemberRoles{Member: h.id(name), Roles: roles})
			}
			continue
		}
		h.mustOK(t, admin, &identity.EnrolMember{Keys: h.pubKeys(name), Roles: roles})
	}
}

func (h *harness) verify(t *testing.T, epc string) string {
	v, err := supply.Verify(h.store, epc, h.time)
	if err != nil {
		return "error " + err.Error() + "\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "status=%s authentic=%t suspect=%t custodian=%s", v.Status, v.Authentic, v.Suspect, v.Custodian)
	if v.Shipment != "" {
		fmt.Fprintf(&b, " shipment=%s", v.Shipment)
	}
	if v.Expiry != "" {
		fmt.Fprintf(&b, " expiry=%s", v.Expiry)
	}
	b.WriteString("\n")
	for _, c := range v.Containers {
		fmt.Fprintf(&b, "in %s\n", c)
	}
	for _, f := range v.Flags {
		fmt.Fprintf(&b, "flag %s: %s\n", f.Code, f.Detail)
	}
	for _, s := range v.Sightings {
		fmt.Fprintf(&b, "sighting org=%s custodian=%t event=%d\n", s.Org, s.Custodian, s.Event)
	}
	for _, e := range v.Trail {
		fmt.Fprintf(&b, "event %d %s %s %s", e.ID, e.Type, e.Action, e.BizStep)
		if e.Disposition != "" {
			fmt.Fprintf(&b, " disposition=%s", e.Disposition)
		}
		fmt.Fprintf(&b, " org=%s", e.Org)
		if e.Shipment != "" {
			fmt.Fprintf(&b, " shipment=%s %s->%s", e.Shipment, e.Source, e.Dest)
		}
		if e.Parent != "" {
			fmt.Fprintf(&b, " parent=%s", e.Parent)
		}
		if e.Reason != "" {
			fmt.Fprintf(&b, " reason=%q", e.Reason)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "proof keys: %d\n", len(v.Keys))
	return h.show(b.String())
}

func (h *harness) shipment(t *testing.T, id string) string {
	s, err := supply.GetShipment(h.store, id)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return "not found\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s->%s status=%s items=%d", s.ID, s.From, s.To, s.Status, len(s.Items))
	if s.Ranged {
		fmt.Fprintf(&b, " range=%s..%s", supply.FormatTemp(s.TempMin), supply.FormatTemp(s.TempMax))
	}
	b.WriteString("\n")
	for _, k := range s.Missing {
		fmt.Fprintf(&b, "missing %s\n", k)
	}
	for _, k := range s.Unexpected {
		fmt.Fprintf(&b, "unexpected %s\n", k)
	}
	for _, l := range s.Devices {
		fmt.Fprintf(&b, "device %s count=%d min=%s max=%s detached=%t\n", l.Device, l.Count, supply.FormatTemp(l.Min), supply.FormatTemp(l.Max), l.Detached)
	}
	for _, x := range s.Excursions {
		fmt.Fprintf(&b, "excursion device=%s start=+%d duration=%s peak=%s readings=%d open=%t\n", x.Device, x.Start-s.SentTime,
			supply.FormatDuration(x.Duration), supply.FormatTemp(x.Peak), x.Readings, x.Open)
	}
	return b.String()
}

func newHarness(st state.Committer) *harness {
	h := &harness{store: st, names: map[medledger.ID]string{}, nonces: map[string]uint64{}, time: 1_780_000_000}
	h.l = ledger.New(h.store, chainID)
	return h
}

func (h *harness) genesis(t testing.TB) {
	g := &ledger.Genesis{}
	g.Identity.Regulators = []identity.PublicKeys{h.pubKeys("reg")}
	g.Identity.Threshold = 1
	if _, err := h.l.InitChain(medledger.Env{ChainID: chainID, Time: h.time}, g); err != nil {
		t.Fatal(err)
	}
}

// commit ends and commits the current block, if one is open.
func (h *harness) commit(t testing.TB) {
	if !h.inBlk {
		return
	}
	if err := h.l.EndBlock(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.l.Commit(); err != nil {
		t.Fatal(err)
	}
	h.inBlk = false
}

func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(state.NewMemStore())
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "genesis":
				h.genesis(t)
				return "ok\n"
			case "org":
				return h.org(t, d)
			case "block":
				h.commit(t)
				if s := arg(d, "time"); s != "" {
					h.time = num[int64](t, s)
				} else {
					h.time += 5
				}
				return fmt.Sprintf("height %d\n", h.store.Version()+1)
			case "tx":
				return h.tx(t, d)
			case "verify":
				return h.verify(t, arg(d, "epc"))
			case "shipment":
				return h.shipment(t, arg(d, "id"))
			case "item":
				k, _, err := supply.ParseEPC(arg(d, "epc"))
				if err != nil {
					return "error " + err.Error() + "\n"
				}
				it, err := supply.GetItem(h.store, k)
				if err != nil {
					t.Fatal(err)
				}
				if it == nil {
					return "not found\n"
				}
				return h.show(fmt.Sprintf("%+v\n", *it))
			case "lot":
				l, err := supply.GetLot(h.store, arg(d, "gtin"), arg(d, "lot"))
				if err != nil {
					t.Fatal(err)
				}
				if l == nil {
					return "not found\n"
				}
				s := fmt.Sprintf("lot %s expiry=%s count=%d commissioner=%s", l.Lot, l.Expiry, l.Count, l.Commissioner)
				if l.Recall != nil {
					s += fmt.Sprintf(" recalled by=%s org=%s class=%s reason=%q", l.Recall.By, l.Recall.ByOrg, l.Recall.Class, l.Recall.Reason)
				}
				return h.show(s + "\n")
			}
			t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
			return ""
		})
	})
}

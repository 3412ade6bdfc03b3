package identity_test

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/hex"
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
)

// The scripts in testdata drive the identity module through the real ledger
// with signed txs. Names stand for accounts: each name's keys derive from
// the name, and IDs print as <name>. Run with -rewrite to update.
//
//	genesis regulators=a,b threshold=2 [validators=v0,v1]
//	block [time=SECONDS]             end and commit the current block (printing its
//	                                 validator updates) and start the next
//	tx signer=NAME type=T [nonce=N] [chain=C] [badsig] args...
//	check signer=NAME type=T ...     CheckTx instead of DeliverTx
//	account NAME | org ID | members ORG | proposals | delegators NAME | did NAME | validators
//
// Validator keys derive from their names too and print as {name}.
const chainID = "medledger-test"

type harness struct {
	store  *state.MemStore
	l      *ledger.Ledger
	keys   map[string]ed25519.PrivateKey // current signing key per name
	names  map[medledger.ID]string
	nonces map[string]uint64
	time   int64
	inBlk  bool
	vnames map[string]string // hex validator key → name
}

// valKey is the validator key named name; show prints it as {name}.
func (h *harness) valKey(name string) []byte {
	pub := signingKey("validator/" + name).Public().(ed25519.PublicKey)
	h.vnames[hex.EncodeToString(pub)] = name
	return pub
}

func seed(parts ...string) []byte {
	h := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return h[:]
}

func signingKey(name string) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(seed("sig", name)) }

func encKey(name string) []byte {
	k, err := hpke.MLKEM768X25519().DeriveKeyPair(seed("enc", name))
	if err != nil {
		panic(err)
	}
	return k.PublicKey().Bytes()
}

func (h *harness) pubKeys(name string) identity.PublicKeys {
	k := signingKey(name)
	id := medledger.AccountID(k.Public().(ed25519.PublicKey))
	if _, ok := h.names[id]; !ok {
		h.names[id] = name
		h.keys[name] = k
	}
	return identity.PublicKeys{SigningKey: k.Public().(ed25519.PublicKey), EncryptionKey: encKey(name)}
}

func (h *harness) id(name string) medledger.ID { return h.pubKeys(name).ID() }

// show replaces account IDs in s with <name>.
func (h *harness) show(s string) string {
	ids := make([]string, 0, len(h.names))
	for id := range h.names {
		ids = append(ids, string(id))
	}
	sort.Strings(ids)
	for _, id := range ids {
		s = strings.ReplaceAll(s, id, "<"+h.names[medledger.ID(id)]+">")
	}
	for k, name := range h.vnames {
		s = strings.ReplaceAll(s, k, "{"+name+"}")
	}
	return s
}

func (h *harness) env() medledger.Env {
	return medledger.Env{ChainID: chainID, Height: h.store.Version() + 1, Time: h.time}
}

func (h *harness) ensureBlock(t *testing.T) {
	if !h.inBlk {
		if err := h.l.BeginBlock(h.env()); err != nil {
			t.Fatal(err)
		}
		h.inBlk = true
	}
}

func arg(d *datadriven.TestData, key string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return strings.Join(a.Vals, ",")
		}
	}
	return ""
}

func roles(s string) []medledger.Role {
	var out []medledger.Role
	for _, r := range strings.Split(s, ",") {
		if r != "" {
			out = append(out, medledger.Role(r))
		}
	}
	return out
}

func (h *harness) msg(t *testing.T, d *datadriven.TestData, signer string) (string, any) {
	typ := arg(d, "type")
	switch typ {
	case "admit_org":
		m := &identity.AdmitOrg{Org: arg(d, "org"), OrgType: medledger.OrgType(arg(d, "orgtype")), Name: arg(d, "name"),
			Licence: arg(d, "licence"), GatewayURL: arg(d, "gateway"), Admin: h.pubKeys(arg(d, "admin"))}
		if v := arg(d, "validator"); v != "" {
			m.ValidatorKey = h.valKey(v)
		}
		return identity.TypeAdmitOrg, m
	case "set_validator":
		power, _ := strconv.ParseInt(arg(d, "power"), 10, 64)
		return identity.TypeSetValidator, &identity.SetValidator{PubKey: h.valKey(arg(d, "pub")), Power: power, Org: arg(d, "org")}
	case "remove_org":
		return identity.TypeRemoveOrg, &identity.RemoveOrg{Org: arg(d, "org"), Reason: arg(d, "reason")}
	case "enrol":
		return identity.TypeEnrolMember, &identity.EnrolMember{Keys: h.pubKeys(arg(d, "member")), Roles: roles(arg(d, "roles"))}
	case "member_status":
		return identity.TypeSetMemberStatus, &identity.SetMemberStatus{Member: h.id(arg(d, "member")), Status: medledger.Status(arg(d, "status")), Reason: arg(d, "reason")}
	case "member_roles":
		return identity.TypeSetMemberRoles, &identity.SetMemberRoles{Member: h.id(arg(d, "member")), Roles: roles(arg(d, "roles"))}
	case "register":
		keys := h.pubKeys(signer)
		if o := arg(d, "keys"); o != "" {
			keys = h.pubKeys(o)
		}
		return identity.TypeRegisterPatient, &identity.RegisterPatient{Keys: keys}
	case "attest":
		return identity.TypeAttestPatient, &identity.AttestPatient{Patient: h.id(arg(d, "patient")), Method: arg(d, "method")}
	case "delegate":
		exp, _ := strconv.ParseInt(arg(d, "expires"), 10, 64)
		return identity.TypeSetDelegate, &identity.SetDelegate{Delegate: h.id(arg(d, "delegate")), Relation: arg(d, "relation"), Expires: exp}
	case "undelegate":
		return identity.TypeRemoveDelegate, &identity.RemoveDelegate{Delegate: h.id(arg(d, "delegate"))}
	case "rotate":
		m := &identity.RotateKeys{}
		target := signer
		if a := arg(d, "account"); a != "" {
			target = a
			m.Account = h.id(a)
		}
		if s := arg(d, "signing"); s != "" {
			k := signingKey(s)
			m.SigningKey = k.Public().(ed25519.PublicKey)
			proofKey := k
			if p := arg(d, "proofby"); p != "" {
				proofKey = signingKey(p)
			}
			m.Proof = ed25519.Sign(proofKey, identity.RotationProofBytes(chainID, h.id(target), m.SigningKey))
		}
		if e := arg(d, "encryption"); e != "" {
			m.EncryptionKey = encKey(e)
		}
		return identity.TypeRotateKeys, m
	case "org_key":
		return identity.TypeSetOrgKey, &identity.SetOrgKey{EncryptionKey: encKey(arg(d, "key"))}
	case "raw":
		return arg(d, "msgtype"), &identity.RemoveDelegate{}
	}
	t.Fatalf("%s: unknown msg type %q", d.Pos, typ)
	return "", nil
}

func (h *harness) tx(t *testing.T, d *datadriven.TestData) string {
	signer := arg(d, "signer")
	h.pubKeys(signer)
	msgType, m := h.msg(t, d, signer)
	nonce := h.nonces[signer] + 1
	if n := arg(d, "nonce"); n != "" {
		nonce, _ = strconv.ParseUint(n, 10, 64)
	}
	chain := chainID
	if c := arg(d, "chain"); c != "" {
		chain = c
	}
	tx := &medledger.Tx{ChainID: chain, Signer: h.id(signer), Nonce: nonce, MsgType: msgType, Msg: medledger.MustMarshal(m)}
	key := h.keys[signer]
	if d.HasArg("badsig") {
		key = signingKey("someone-else")
	}
	if k := arg(d, "signwith"); k != "" {
		key = signingKey(k)
	}
	if err := tx.Sign(key); err != nil {
		t.Fatal(err)
	}
	raw, err := tx.Encode()
	if err != nil {
		t.Fatal(err)
	}
	before := h.store.WorkingHash()
	var res ledger.Result
	if d.Cmd == "check" {
		res = h.l.CheckTx(raw, false)
	} else {
		h.ensureBlock(t)
		res = h.l.DeliverTx(raw)
	}
	var b strings.Builder
	if !res.OK() {
		fmt.Fprintf(&b, "error %d %s\n", res.Code, res.Log)
		if !slices.Equal(before, h.store.WorkingHash()) {
			t.Errorf("%s: failed tx changed state", d.Pos)
		}
		return h.show(b.String())
	}
	if d.Cmd == "tx" {
		h.nonces[signer] = nonce
		if s := arg(d, "signing"); s != "" && arg(d, "account") == "" {
			h.keys[signer] = signingKey(s)
		}
		if s := arg(d, "signing"); s != "" && arg(d, "account") != "" {
			h.keys[arg(d, "account")] = signingKey(s)
		}
	}
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

func (h *harness) account(t *testing.T, name string) string {
	a, err := identity.GetAccount(h.store, h.id(name))
	if err != nil {
		t.Fatal(err)
	}
	if a == nil {
		return "not found\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kind=%s status=%s org=%s roles=%v keys=%d created=%d updated=%d\n", a.Kind, a.Status, a.Org, a.Roles, len(a.Keys), a.Created, a.Updated)
	for _, at := range a.Attestations {
		fmt.Fprintf(&b, "attested org=%s by=%s method=%s height=%d\n", at.Org, at.By, at.Method, at.Height)
	}
	for _, d := range a.Delegates {
		fmt.Fprintf(&b, "delegate %s relation=%s expires=%d\n", d.ID, d.Relation, d.Expires)
	}
	if cur := medledger.AccountID(a.SigningKey); cur != a.ID {
		fmt.Fprintf(&b, "signing key now %s's\n", cur)
	}
	return h.show(b.String())
}

func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{store: state.NewMemStore(), keys: map[string]ed25519.PrivateKey{}, names: map[medledger.ID]string{}, nonces: map[string]uint64{}, time: 1_700_000_000, vnames: map[string]string{}}
		h.l = ledger.New(h.store, chainID)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "genesis":
				g := &ledger.Genesis{}
				for _, r := range strings.Split(arg(d, "regulators"), ",") {
					g.Identity.Regulators = append(g.Identity.Regulators, h.pubKeys(r))
				}
				g.Identity.Threshold, _ = strconv.Atoi(arg(d, "threshold"))
				for _, v := range strings.Split(arg(d, "validators"), ",") {
					if v != "" {
						g.Validators = append(g.Validators, medledger.ValidatorUpdate{PubKey: h.valKey(v), Power: 10})
					}
				}
				if _, err := h.l.InitChain(medledger.Env{ChainID: chainID, Time: h.time}, g); err != nil {
					return "error " + err.Error() + "\n"
				}
				return "ok\n"
			case "block":
				var ups strings.Builder
				if h.inBlk {
					if err := h.l.EndBlock(); err != nil {
						t.Fatal(err)
					}
					for _, u := range h.l.ValidatorUpdates() {
						fmt.Fprintf(&ups, "validator update %s power=%d\n", hex.EncodeToString(u.PubKey), u.Power)
					}
					if _, _, err := h.l.Commit(); err != nil {
						t.Fatal(err)
					}
					h.inBlk = false
				}
				if s := arg(d, "time"); s != "" {
					h.time, _ = strconv.ParseInt(s, 10, 64)
				} else {
					h.time += 5
				}
				return h.show(ups.String() + fmt.Sprintf("height %d\n", h.store.Version()+1))
			case "tx", "check":
				return h.tx(t, d)
			case "account":
				return h.account(t, d.CmdArgs[0].Key)
			case "org":
				o, err := identity.GetOrg(h.store, d.CmdArgs[0].Key)
				if err != nil {
					t.Fatal(err)
				}
				if o == nil {
					return "not found\n"
				}
				return h.show(fmt.Sprintf("type=%s status=%s name=%q licence=%s gateway=%s admin=%s admitted=%d\n", o.Type, o.Status, o.Name, o.Licence, o.GatewayURL, o.Admin, o.Admitted))
			case "validators":
				vs, err := identity.Validators(h.store)
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for _, v := range vs {
					fmt.Fprintf(&b, "%s power=%d org=%s updated=%d\n", hex.EncodeToString(v.PubKey), v.Power, v.Org, v.Updated)
				}
				return h.show(b.String())
			case "members":
				ids, err := identity.ListMembers(h.store.Index(), d.CmdArgs[0].Key)
				if err != nil {
					t.Fatal(err)
				}
				return h.show(fmt.Sprintln(ids))
			case "delegators":
				ids, err := identity.ListDelegators(h.store.Index(), h.id(d.CmdArgs[0].Key))
				if err != nil {
					t.Fatal(err)
				}
				return h.show(fmt.Sprintln(ids))
			case "proposals":
				ps, err := identity.ListProposals(h.store)
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for _, p := range ps {
					fmt.Fprintf(&b, "%s %s approvals=%v\n", p.ID, p.MsgType, p.Approvals)
				}
				return h.show(b.String())
			case "rebuild-index":
				// The index rebuilt from authenticated state equals the one
				// the txs maintained.
				fresh := state.NewMem()
				if err := ledger.RebuildIndex(h.store, fresh); err != nil {
					t.Fatal(err)
				}
				var got, want []string
				fresh.Iterate(nil, nil, func(k, _ []byte) bool { got = append(got, string(k)); return true })
				h.store.Index().Iterate(nil, nil, func(k, _ []byte) bool { want = append(want, string(k)); return true })
				if !slices.Equal(got, want) {
					return h.show(fmt.Sprintf("MISMATCH rebuilt=%v live=%v\n", got, want))
				}
				return fmt.Sprintf("index rebuilt: %d keys match\n", len(got))
			}
			t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

package ledger_test

import (
	"crypto/sha256"
	"testing"

	"medledger"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/identity"
	"medledger/internal/ledger"
	"medledger/internal/records"
	"medledger/internal/state"
)

// TestUnorderedAccessTxs: a read request is accepted once, refused when
// replayed (in the mempool or after commit), refused outside its timeout
// window, and forgotten from state once its timeout has passed.
func TestUnorderedAccessTxs(t *testing.T) {
	st := state.NewMemStore()
	l := ledger.New(st, chainID)
	reg, admin, doc, pat := newAcct("u-reg"), newAcct("u-admin"), newAcct("u-doc"), newAcct("u-pat")
	g := &ledger.Genesis{Identity: identity.Genesis{Regulators: []identity.PublicKeys{reg.pub}, Threshold: 1}}
	if _, err := l.InitChain(medledger.Env{ChainID: chainID, Time: 1000}, g); err != nil {
		t.Fatal(err)
	}
	nonces := map[medledger.ID]uint64{}
	ordered := func(a acct, m interface{ Type() string }) []byte {
		nonces[a.id]++
		tx := &medledger.Tx{ChainID: chainID, Signer: a.id, Nonce: nonces[a.id], MsgType: m.Type(), Msg: medledger.MustMarshal(m)}
		tx.Sign(a.priv)
		b, _ := tx.Encode()
		return b
	}
	blob := medledger.BlobID(sha256.Sum256([]byte("x")))
	rec := records.IDFor(blob)
	read := func(id, timeout uint64) []byte {
		m := &audit.Access{Patient: pat.id, Record: rec, Purpose: consent.PurposeTreatment}
		tx := &medledger.Tx{ChainID: chainID, Signer: doc.id, Nonce: id, MsgType: m.Type(), Msg: medledger.MustMarshal(m), Unordered: true, TimeoutHeight: timeout}
		tx.Sign(doc.priv)
		b, _ := tx.Encode()
		return b
	}
	height := int64(0)
	block := func(txs ...[]byte) []ledger.Result {
		height++
		if err := l.BeginBlock(medledger.Env{ChainID: chainID, Height: height, Time: 1000 + height}); err != nil {
			t.Fatal(err)
		}
		var out []ledger.Result
		for _, tx := range txs {
			out = append(out, l.DeliverTx(tx))
		}
		if err := l.EndBlock(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Commit(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, r := range block(ordered(reg, &identity.AdmitOrg{Org: "u-org", OrgType: medledger.OrgClinic, Name: "U", Licence: "U", Admin: admin.pub}),
		ordered(admin, &identity.EnrolMember{Keys: doc.pub, Roles: []medledger.Role{medledger.RolePhysician}}),
		ordered(pat, &identity.RegisterPatient{Keys: pat.pub}),
		ordered(doc, &records.Anchor{Record: rec, Version: 1, Patient: pat.id, Blob: blob, Size: 10, ContentType: "Observation", Category: "lab"})) {
		if !r.OK() {
			t.Fatalf("setup: %s", r.Log)
		}
	}

	// Height 1 is committed; the next block is 2.
	if r := l.CheckTx(read(5, 1), false); r.Code != medledger.KindExpired {
		t.Fatalf("timed-out request: %d %s", r.Code, r.Log)
	}
	if r := l.CheckTx(read(5, 2+medledger.MaxUnorderedWindow+1), false); r.Code != medledger.KindInvalid {
		t.Fatalf("request too far ahead: %d %s", r.Code, r.Log)
	}
	req := read(5, 4)
	if r := l.CheckTx(req, false); !r.OK() {
		t.Fatalf("first check: %s", r.Log)
	}
	if r := l.CheckTx(req, false); r.Code != medledger.KindDuplicate {
		t.Fatalf("replay into the mempool: %d %s", r.Code, r.Log)
	}
	// An ordered tx of the same signer is not held up by it.
	if r := l.CheckTx(ordered(doc, &consent.BreakGlass{Patient: pat.id, Reason: "unconscious"}), false); !r.OK() {
		t.Fatalf("ordered tx beside an unordered one: %s", r.Log)
	}
	res := block(req)
	if !res[0].OK() {
		t.Fatalf("deliver: %s", res[0].Log)
	}
	if res := block(req); res[0].Code != medledger.KindDuplicate {
		t.Fatalf("replay after commit: %d %s", res[0].Code, res[0].Log)
	}
	seen := func() bool {
		v, _ := st.Get(state.Key("lg", "u", string(doc.id), "5"))
		return v != nil
	}
	if !seen() {
		t.Fatal("the request id is not remembered")
	}
	// Height 3 is committed; block 4 is the last that could include the
	// request, so the ledger forgets it at the end of block 4.
	block()
	if seen() {
		t.Fatal("still remembered after its timeout")
	}
	if r := l.CheckTx(req, false); r.Code != medledger.KindExpired {
		t.Fatalf("replay after the timeout: %d %s", r.Code, r.Log)
	}
	// The access was logged once.
	evs, _, err := audit.Events(st, pat.id)
	if err != nil || len(evs) != 1 || !evs[0].Allowed || evs[0].Basis != consent.BasisAuthor {
		t.Fatalf("access log: %+v %v", evs, err)
	}
}

package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"medledger"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/identity"
	"medledger/internal/ledger"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/internal/store"
	"medledger/internal/supply"
)

// pure lists the packages that must stay deterministic: the ledger, the
// state contract and every domain module that exists.
var pure = []string{"ledger", "state", "identity", "consent", "records", "audit", "supply", "organs", "trials", "claims", "tokens"}

// forbidden imports: clocks, randomness, I/O, networking and the engine.
// net/url, a pure parser, is allowed; the rest of net is not.
var forbidden = []string{"os", "net", "math/rand", "math/rand/v2", "crypto/rand", "time", "io/ioutil", "syscall", "unsafe", "sync", "runtime"}

// TestPureImports fails if a pure package imports a clock, randomness, I/O
// or CometBFT, or starts a goroutine.
func TestPureImports(t *testing.T) {
	checked := 0
	for _, pkg := range pure {
		dir := filepath.Join("..", pkg)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checked++
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if slices.Contains(forbidden, path) || (strings.HasPrefix(path, "net/") && path != "net/url") || strings.HasPrefix(path, "os/") ||
					strings.Contains(path, "cometbft") || strings.Contains(path, "cockroachdb/pebble") {
					t.Errorf("%s imports %q: pure packages may not", f, path)
				}
			}
			ast.Inspect(af, func(n ast.Node) bool {
				switch n.(type) {
				case *ast.GoStmt:
					t.Errorf("%s: go statement at %s: pure packages start no goroutines", f, fset.Position(n.Pos()))
				case *ast.SelectStmt:
					t.Errorf("%s: select at %s: pure packages do not wait on channels", f, fset.Position(n.Pos()))
				}
				return true
			})
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d files; the package list is stale", checked)
	}
}

const chainID = "medledger-determinism"

type acct struct {
	priv ed25519.PrivateKey
	pub  identity.PublicKeys
	id   medledger.ID
}

func newAcct(name string) acct {
	seed := sha256.Sum256([]byte("sig/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	encSeed := sha256.Sum256([]byte("enc/" + name))
	ek, err := hpke.MLKEM768X25519().DeriveKeyPair(encSeed[:])
	if err != nil {
		panic(err)
	}
	pub := identity.PublicKeys{SigningKey: priv.Public().(ed25519.PublicKey), EncryptionKey: ek.PublicKey().Bytes()}
	return acct{priv: priv, pub: pub, id: pub.ID()}
}

// workload builds a mixed sequence of identity txs, some of which fail,
// with per-signer nonces that stay right whatever the block split.
func workload(n int) (*ledger.Genesis, [][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	reg := newAcct("regulator")
	g := &ledger.Genesis{Identity: identity.Genesis{Regulators: []identity.PublicKeys{reg.pub}, Threshold: 1}}
	nonces := map[medledger.ID]uint64{}
	var txs [][]byte
	add := func(a acct, m interface{ Type() string }) {
		nonces[a.id]++
		tx := &medledger.Tx{ChainID: chainID, Signer: a.id, Nonce: nonces[a.id], MsgType: m.Type(), Msg: medledger.MustMarshal(m)}
		if err := tx.Sign(a.priv); err != nil {
			panic(err)
		}
		b, _ := tx.Encode()
		txs = append(txs, b)
	}
	addUnordered := func(a acct, m interface{ Type() string }, id uint64) {
		tx := &medledger.Tx{ChainID: chainID, Signer: a.id, Nonce: id, MsgType: m.Type(), Msg: medledger.MustMarshal(m), Unordered: true, TimeoutHeight: 550}
		if err := tx.Sign(a.priv); err != nil {
			panic(err)
		}
		b, _ := tx.Encode()
		txs = append(txs, b)
	}
	var admins, members, patients []acct
	var recs []string
	mfr := newAcct("manufacturer")
	for i := 0; len(txs) < n; i++ {
		// The supply chain: a manufacturer commissions, packs and ships to
		// the first hospital, which receives; a logger reports readings,
		// some out of range.
		if i == 3 {
			add(reg, &identity.AdmitOrg{Org: "mfr", OrgType: medledger.OrgManufacturer, Name: "Mfr", Licence: "M", Admin: mfr.pub})
			add(mfr, &supply.RegisterProduct{GTIN: "09506000134352", CompanyPrefix: "9506000", Name: "P", TempMin: 200, TempMax: 800, ShelfLifeDays: 400})
			add(mfr, &supply.RegisterDevice{Device: "logger", Key: newAcct("logger").pub.SigningKey})
			continue
		}
		if i > 3 && i%13 == 4 {
			unit := func(k int) string { return fmt.Sprintf("urn:epc:id:sgtin:9506000.013435.U%d-%d", i, k) }
			sscc := fmt.Sprintf("urn:epc:id:sscc:9506000.%010d", i)
			add(mfr, &supply.Commission{GTIN: "09506000134352", Lot: fmt.Sprint("L", i%3), Expiry: "2024-06-30", Serials: []string{fmt.Sprintf("U%d-0", i), fmt.Sprintf("U%d-1", i)}})
			add(mfr, &supply.Aggregate{Parent: sscc, Children: []string{unit(0), unit(1)}})
			add(mfr, &supply.Ship{Shipment: fmt.Sprint("S", i), To: "org-0", EPCs: []string{sscc}})
			add(mfr, &supply.AttachDevice{Device: "logger", Shipment: fmt.Sprint("S", i)})
			m := &supply.Readings{Device: "logger", Shipment: fmt.Sprint("S", i), Seq: uint64(i),
				Readings: []supply.Reading{{Time: 1_699_990_000 + int64(i)*10, Temp: int32(rng.IntN(1200))}, {Time: 1_699_990_005 + int64(i)*10, Temp: 500}}}
			m.Signature = ed25519.Sign(newAcct("logger").priv, m.SignedBytes(chainID))
			addUnordered(admins[0], m, uint64(1_000_000+i))
			add(admins[0], &supply.Receive{Shipment: fmt.Sprint("S", i)})
			if rng.IntN(3) == 0 {
				add(mfr, &supply.Recall{GTIN: "09506000134352", Lot: fmt.Sprint("L", i%3), Reason: "test"})
			}
			continue
		}
		// Records, grants and reads, once there are members and patients.
		if i%7 == 6 && len(members) > 0 && len(patients) > 0 {
			m, p := members[rng.IntN(len(members))], patients[rng.IntN(len(patients))]
			blob := medledger.BlobID(sha256.Sum256([]byte(fmt.Sprint("blob", i))))
			rec := records.IDFor(blob)
			add(m, &records.Anchor{Record: rec, Version: 1, Patient: p.id, Blob: blob, Size: 100, ContentType: "Observation", Category: "lab"})
			recs = append(recs, rec)
			add(p, &consent.GrantAccess{ID: fmt.Sprintf("%016x", i), Patient: p.id, Grantee: consent.Grantee{Member: members[rng.IntN(len(members))].id},
				Scope: consent.Scope{Categories: []string{"lab"}}, Purpose: "treatment", Expires: 1_700_000_000 + 100_000, MaxReads: uint32(rng.IntN(3))})
			addUnordered(m, &audit.Access{Patient: p.id, Record: recs[rng.IntN(len(recs))], Purpose: "treatment"}, uint64(i)+1)
			if rng.IntN(4) == 0 {
				add(p, &records.Erase{Record: recs[rng.IntN(len(recs))]})
			}
			continue
		}
		switch {
		case i%10 == 0 || len(admins) == 0:
			a := newAcct(fmt.Sprintf("admin%d", i))
			admins = append(admins, a)
			add(reg, &identity.AdmitOrg{Org: fmt.Sprintf("org-%d", i), OrgType: medledger.OrgHospital, Name: "Org", Licence: fmt.Sprint(i), Admin: a.pub})
		case i%3 == 0:
			m := newAcct(fmt.Sprintf("member%d", i))
			members = append(members, m)
			add(admins[rng.IntN(len(admins))], &identity.EnrolMember{Keys: m.pub, Roles: []medledger.Role{medledger.RoleNurse, medledger.RolePhysician}})
		case i%3 == 1:
			p := newAcct(fmt.Sprintf("patient%d", i))
			patients = append(patients, p)
			// Sorted roles are required, so half of these enrolments above
			// fail; patients always succeed.
			add(p, &identity.RegisterPatient{Keys: p.pub})
		default:
			if len(patients) > 0 && len(members) > 0 {
				p := patients[rng.IntN(len(patients))]
				add(members[rng.IntN(len(members))], &identity.AttestPatient{Patient: p.id, Method: "document"})
				if len(patients) > 1 {
					q := patients[rng.IntN(len(patients))]
					add(p, &identity.SetDelegate{Delegate: q.id, Relation: "family"})
				}
			}
		}
	}
	return g, txs
}

type outcome struct {
	hashes  [][]byte // app hash after each block
	results []string // code and events of every tx, in order
}

// run applies txs split into blocks of the given sizes.
func run(t testing.TB, st state.Committer, g *ledger.Genesis, txs [][]byte, sizes []int) outcome {
	return runCached(t, st, g, txs, sizes, nil)
}

// runCached is run with a signature cache that CheckTx fills before each
// block, as on a node; with a nil cache it is run.
func runCached(t testing.TB, st state.Committer, g *ledger.Genesis, txs [][]byte, sizes []int, cache ledger.SigCache) outcome {
	l := ledger.New(st, chainID)
	if cache != nil {
		l.SetSigCache(cache)
	}
	if _, err := l.InitChain(medledger.Env{ChainID: chainID, Time: 1_700_000_000}, g); err != nil {
		t.Fatal(err)
	}
	var out outcome
	for h, i := int64(1), 0; i < len(txs); h++ {
		size := sizes[int(h-1)%len(sizes)]
		if cache != nil {
			for j := i; j < i+size && j < len(txs); j++ {
				l.CheckTx(txs[j], false)
			}
		}
		if err := l.BeginBlock(medledger.Env{ChainID: chainID, Height: h, Time: 1_700_000_000 + h}); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < size && i < len(txs); j, i = j+1, i+1 {
			r := l.DeliverTx(txs[i])
			out.results = append(out.results, fmt.Sprintf("%d %s %v", r.Code, r.Log, r.Events))
		}
		if err := l.EndBlock(); err != nil {
			t.Fatal(err)
		}
		hash, _, err := l.Commit()
		if err != nil {
			t.Fatal(err)
		}
		out.hashes = append(out.hashes, hash)
	}
	return out
}

func openPebble(t testing.TB) *store.Store {
	s, err := store.Open(t.TempDir(), store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openMem(t testing.TB) *store.Store {
	s, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dump lists the keys of the authenticated state. Values are left out, and
// the height in an access event's key is masked: they carry the heights at
// which things happened, which differ by block split by design.
func dump(t testing.TB, st state.Reader) []string {
	var out []string
	st.Iterate(nil, nil, func(k, v []byte) bool {
		key := string(k)
		if parts := strings.Split(key, "/"); parts[0] == "audit" && len(parts) == 6 {
			parts[3] = "H" // access events are keyed by the height they were logged at
			key = strings.Join(parts, "/")
		}
		out = append(out, key)
		return true
	})
	slices.Sort(out)
	return out
}

// TestDeterminism applies the same txs on the in-memory and the Pebble
// IAVL store, in one block, one tx per block and random splits. For a
// given split the app hash after every block is identical across stores
// and runs. Across splits, every tx has the same result and events and the
// same keys end up in state. (IAVL hashes include each node's version and
// records carry the height they were written at, so the app hash itself
// differs between splits by design.)
func TestDeterminism(t *testing.T) {
	g, txs := workload(400)
	splits := map[string][]int{"one block": {len(txs)}, "one tx per block": {1}, "uneven": {7, 1, 33, 2, 90}}
	var ref outcome
	var refKeys []string
	names := []string{"one block", "one tx per block", "uneven"}
	for _, name := range names {
		sizes := splits[name]
		mem, peb := openMem(t), openPebble(t)
		a := run(t, mem, g, txs, sizes)
		b := run(t, peb, g, txs, sizes)
		if len(a.hashes) != len(b.hashes) {
			t.Fatalf("%s: %d blocks on mem, %d on pebble", name, len(a.hashes), len(b.hashes))
		}
		for i := range a.hashes {
			if !bytes.Equal(a.hashes[i], b.hashes[i]) {
				t.Fatalf("%s: block %d app hash differs: mem %X, pebble %X", name, i+1, a.hashes[i], b.hashes[i])
			}
		}
		again := run(t, openMem(t), g, txs, sizes)
		if !slices.EqualFunc(a.hashes, again.hashes, bytes.Equal) {
			t.Fatalf("%s: a second run gave other app hashes", name)
		}
		keys := dump(t, mem)
		if ref.results == nil {
			ref, refKeys = a, keys
			ok := 0
			for _, r := range a.results {
				if strings.HasPrefix(r, "0 ") {
					ok++
				}
			}
			if ok < len(txs)/2 || ok == len(txs) {
				t.Fatalf("workload should mix successes and failures: %d of %d succeeded", ok, len(txs))
			}
			all := strings.Join(a.results, "\n")
			for _, ev := range []string{"supply.commissioned", "supply.aggregated", "supply.received", "supply.excursion", "supply.recalled"} {
				if !strings.Contains(all, ev) {
					t.Fatalf("the workload never produced %s", ev)
				}
			}
			continue
		}
		for i := range a.results {
			if a.results[i] != ref.results[i] {
				t.Fatalf("%s: tx %d result differs from one block:\n%s\n%s", name, i, a.results[i], ref.results[i])
			}
		}
		if !slices.Equal(keys, refKeys) {
			t.Fatalf("%s: state keys differ from one block", name)
		}
	}
}

func BenchmarkIdentityTxs(b *testing.B) {
	g, txs := workload(b.N + 10)
	st, err := store.Open(b.TempDir(), store.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l := ledger.New(st, chainID)
	if _, err := l.InitChain(medledger.Env{ChainID: chainID, Time: 1}, g); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	const block = 1000
	h := int64(0)
	for i := 0; i < b.N; i += block {
		h++
		l.BeginBlock(medledger.Env{ChainID: chainID, Height: h, Time: h})
		for j := i; j < i+block && j < b.N; j++ {
			l.CheckTx(txs[j], false)
			l.DeliverTx(txs[j])
		}
		if _, _, err := l.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

package ledger_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"

	"medledger"
	"medledger/internal/identity"
	"medledger/internal/ledger"
	"medledger/internal/records"
)

const (
	anchorPhysicians = 100
	anchorPatients   = 1_000
	anchorBlock      = 1_000 // txs per block
)

// anchorFixture is the state the anchor benchmark starts from: one admitted
// hospital with its physicians, and registered patients.
type anchorFixture struct {
	genesis    *ledger.Genesis
	setup      [][]byte // admit, enrol and register txs, for one block
	physicians []acct
	patients   []acct
	anchors    [][]byte // signed anchor txs, grown on demand
}

func signedTx(a acct, nonce uint64, m interface{ Type() string }) []byte {
	tx := &medledger.Tx{ChainID: chainID, Signer: a.id, Nonce: nonce, MsgType: m.Type(), Msg: medledger.MustMarshal(m)}
	if err := tx.Sign(a.priv); err != nil {
		panic(err)
	}
	b, err := tx.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// The accounts and setup txs are built once and shared by every run.
var anchorSetup = sync.OnceValue(func() *anchorFixture {
	reg, admin := newAcct("anchor/regulator"), newAcct("anchor/admin")
	f := &anchorFixture{genesis: &ledger.Genesis{Identity: identity.Genesis{Regulators: []identity.PublicKeys{reg.pub}, Threshold: 1}}}
	f.setup = append(f.setup, signedTx(reg, 1, &identity.AdmitOrg{Org: "hospital", OrgType: medledger.OrgHospital, Name: "Hospital",
		Licence: "H-1", Admin: admin.pub}))
	for i := range anchorPhysicians {
		p := newAcct(fmt.Sprint("anchor/physician", i))
		f.physicians = append(f.physicians, p)
		f.setup = append(f.setup, signedTx(admin, uint64(i+1), &identity.EnrolMember{Keys: p.pub, Roles: []medledger.Role{medledger.RolePhysician}}))
	}
	for i := range anchorPatients {
		p := newAcct(fmt.Sprint("anchor/patient", i))
		f.patients = append(f.patients, p)
		f.setup = append(f.setup, signedTx(p, 1, &identity.RegisterPatient{Keys: p.pub}))
	}
	return f
})

// anchorTxs returns n signed anchor txs: physicians take turns, each
// anchoring a new lab result of some patient, with consecutive nonces.
func (f *anchorFixture) anchorTxs(n int) [][]byte {
	for i := len(f.anchors); i < n; i++ {
		doc := f.physicians[i%anchorPhysicians]
		patient := f.patients[(i*7)%anchorPatients]
		blob := medledger.BlobID(sha256.Sum256(binary.BigEndian.AppendUint64([]byte("anchor/blob"), uint64(i))))
		f.anchors = append(f.anchors, signedTx(doc, uint64(i/anchorPhysicians+1), &records.Anchor{Record: records.IDFor(blob), Version: 1,
			Patient: patient.id, Blob: blob, Size: 10_278, ContentType: "Observation", Category: "lab"}))
	}
	return f.anchors[:n]
}

// BenchmarkApplyAnchor executes signed records/anchor txs (physicians of an
// admitted hospital anchoring records of registered patients) on the Pebble
// IAVL store with its default options (fsync on commit), in blocks of 1,000
// txs, and reports ns and allocations per tx, and tx/s. Every tx must
// succeed. "check+deliver" is CheckTx (when the tx enters the mempool) and
// DeliverTx without a signature cache, so the signature is verified twice;
// then EndBlock and Commit. "check+deliver/sigcache" is what a node does:
// the adapter's SigCache lets DeliverTx skip the second verification (the
// difference is the cache's effect). "deliver" is DeliverTx, EndBlock
// and Commit. "deliver/no-commit" is the same with EndBlock and Commit left
// out of the timing, so its difference to "deliver" is the commit's share.
//
//	go test -run '^$' -bench ApplyAnchor -benchtime 2000x ./internal/ledger/
func BenchmarkApplyAnchor(b *testing.B) {
	for _, c := range []struct {
		name                 string
		check, commit, cache bool
	}{{"check+deliver", true, true, false}, {"check+deliver/sigcache", true, true, true}, {"deliver", false, true, false}, {"deliver/no-commit", false, false, false}} {
		b.Run(c.name, func(b *testing.B) {
			f := anchorSetup()
			txs := f.anchorTxs(b.N)
			st := openPebble(b)
			out := run(b, st, f.genesis, f.setup, []int{len(f.setup)})
			for i, r := range out.results {
				if !strings.HasPrefix(r, "0 ") {
					b.Fatalf("setup tx %d failed: %s", i, r)
				}
			}
			l := ledger.New(st, chainID)
			if c.cache {
				l.SetSigCache(mapCache{})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += anchorBlock {
				end := min(i+anchorBlock, b.N)
				h := l.Height() + 1
				if err := l.BeginBlock(medledger.Env{ChainID: chainID, Height: h, Time: 1_700_000_000 + h}); err != nil {
					b.Fatal(err)
				}
				if c.check {
					for _, tx := range txs[i:end] {
						if r := l.CheckTx(tx, false); !r.OK() {
							b.Fatalf("CheckTx: code %d: %s", r.Code, r.Log)
						}
					}
				}
				for _, tx := range txs[i:end] {
					if r := l.DeliverTx(tx); !r.OK() {
						b.Fatalf("DeliverTx: code %d: %s", r.Code, r.Log)
					}
				}
				if !c.commit {
					b.StopTimer()
				}
				if err := l.EndBlock(); err != nil {
					b.Fatal(err)
				}
				if _, _, err := l.Commit(); err != nil {
					b.Fatal(err)
				}
				if !c.commit {
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// mapCache is a SigCache without bounds, for benchmarks.
type mapCache map[[32]byte]bool

func (c mapCache) Seen(k [32]byte) bool { return c[k] }
func (c mapCache) Add(k [32]byte)       { c[k] = true }

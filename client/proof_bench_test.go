package client_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
	"github.com/cometbft/cometbft/types"

	"medledger"
	"medledger/client"
	"medledger/internal/cometbft/light"
	"medledger/internal/records"
	"medledger/internal/store"
)

// benchRecords is how many records the state proofs are taken from.
const benchRecords = 10_000

// recordState returns an in-memory IAVL store holding benchRecords records
// the way the records module writes them (a head and a first version each),
// committed in blocks of 1,000 records, with the app hash it commits to.
func recordState(b *testing.B) (*store.Store, []byte) {
	b.Helper()
	s, err := store.OpenMem()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	patient := medledger.AccountID(make([]byte, 32))
	author := medledger.AccountID(append(make([]byte, 31), 1))
	var root []byte
	for i := range benchRecords {
		blob := benchBlob(i)
		id := records.IDFor(blob)
		rec := &records.Record{ID: id, Patient: patient, Author: author, AuthorOrg: "hospital", Category: "lab",
			ContentType: "Observation", Latest: 1, Created: int64(i/1000 + 1)}
		v := &records.Version{Record: id, Version: 1, Blob: blob, Size: 10_278, Author: author, AuthorOrg: "hospital",
			Height: rec.Created, Time: 1_700_000_000 + rec.Created}
		if err := s.Set(records.RecordKey(id), medledger.MustMarshal(rec)); err != nil {
			b.Fatal(err)
		}
		if err := s.Set(records.VersionKey(id, 1), medledger.MustMarshal(v)); err != nil {
			b.Fatal(err)
		}
		if (i+1)%1000 == 0 {
			if root, _, err = s.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s, root
}

func benchBlob(i int) medledger.BlobID {
	return medledger.BlobID(sha256.Sum256(binary.BigEndian.AppendUint64([]byte("bench/blob"), uint64(i))))
}

// BenchmarkVerifyStateProof is the client-side check of a proven state
// read: the ICS-23 proof of a record head among 10,000 records (20,000
// keys), verified against the app hash with VerifyState, which is what
// Client.VerifyStateProof runs once it has the header. ("present" proves a
// record, "absent" a record that does not exist.) "wire" adds what the
// client does around it for a proven read: decoding the node's JSON answer
// and the proven CBOR value. proof_bytes is the ICS-23 proof's size.
// internal/store's BenchmarkVerifyState covers a larger tree of synthetic
// keys.
//
//	go test -run '^$' -bench VerifyStateProof -benchtime 2000x ./client/
func BenchmarkVerifyStateProof(b *testing.B) {
	s, root := recordState(b)
	height := s.Version()
	prove := func(b *testing.B, key []byte) *medledger.StateProof {
		v, p, err := s.Prove(key, height)
		if err != nil {
			b.Fatal(err)
		}
		return &medledger.StateProof{Height: height, Key: key, Value: v, Proof: p}
	}
	present := prove(b, records.RecordKey(records.IDFor(benchBlob(benchRecords/2))))
	absent := prove(b, records.RecordKey(records.IDFor(benchBlob(benchRecords+1))))
	if present.Value == nil || absent.Value != nil {
		b.Fatal("the fixture's keys are not as expected")
	}
	for _, c := range []struct {
		name string
		sp   *medledger.StateProof
	}{{"present", present}, {"absent", absent}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := client.VerifyState(root, c.sp.Key, c.sp.Value, c.sp.Proof); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(c.sp.Proof)), "proof_bytes")
		})
	}
	b.Run("wire", func(b *testing.B) {
		answer, err := json.Marshal(struct {
			Proof *medledger.StateProof `json:"proof"`
		}{present})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var resp struct {
				Proof *medledger.StateProof `json:"proof"`
			}
			if err := json.Unmarshal(answer, &resp); err != nil {
				b.Fatal(err)
			}
			sp := resp.Proof
			if err := client.VerifyState(root, sp.Key, sp.Value, sp.Proof); err != nil {
				b.Fatal(err)
			}
			var rec client.Record
			if err := medledger.UnmarshalTrusted(sp.Value, &rec); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(present.Proof)), "proof_bytes")
		b.ReportMetric(float64(len(answer)), "answer_bytes")
	})
}

// BenchmarkVerifyTxProof is the check a verified client (NewVerified) runs
// on a committed tx in Tx, Commit and Send, once it has the light-client
// verified headers of the tx's block and the next: the tx's Merkle
// inclusion proof against the block's data hash, and its result's proof
// against the next block's last results hash (light.VerifyTx). The block
// holds 1,000 txs of a records/anchor tx's size. proof_bytes is the size of
// both Merkle proofs (protobuf, as CometBFT encodes them) and the result
// leaf, without the tx itself.
//
//	go test -run '^$' -bench VerifyTxProof -benchtime 2000x ./client/
func BenchmarkVerifyTxProof(b *testing.B) {
	const n, height = 1000, 42
	txs := make(types.Txs, n)
	results := make([]*abci.ExecTxResult, n)
	for i := range txs {
		tx := make([]byte, 260)
		binary.BigEndian.PutUint64(tx, uint64(i))
		txs[i] = tx
		results[i] = &abci.ExecTxResult{Code: uint32(i % 7 / 6), Log: "not hashed", GasWanted: 1, GasUsed: 1}
	}
	res := types.NewResults(results)
	block := &medledger.Header{Height: height, DataHash: medledger.HexBytes(txs.Hash())}
	next := &medledger.Header{Height: height + 1, LastResultsHash: medledger.HexBytes(res.Hash())}

	const i = n / 2
	txp := txs.Proof(i)
	resp := res.ProveResult(i)
	leaf, err := res[i].Marshal()
	if err != nil {
		b.Fatal(err)
	}
	hash := medledger.TxHash(txs[i])
	st := &medledger.TxStatus{Status: medledger.TxCommitted, Hash: hash, Height: height, Index: i, Code: medledger.Kind(results[i].Code),
		Proof: &medledger.TxProof{Height: height, Index: i, Tx: txs[i], DataHash: medledger.HexBytes(txp.RootHash),
			Proof: wireProof(txp.Proof), Result: &medledger.ResultProof{Leaf: leaf, Proof: wireProof(resp)}}}
	size := txp.Proof.ToProto().Size() + resp.ToProto().Size() + len(leaf)

	b.ReportAllocs()
	for b.Loop() {
		if err := light.VerifyTx(hash, st, block, next); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "proof_bytes")
}

// wireProof is a Merkle proof as the node's API sends it.
func wireProof(p merkle.Proof) medledger.MerkleProof {
	out := medledger.MerkleProof{Total: p.Total, Index: p.Index, LeafHash: medledger.HexBytes(p.LeafHash)}
	for _, a := range p.Aunts {
		out.Aunts = append(out.Aunts, medledger.HexBytes(a))
	}
	return out
}

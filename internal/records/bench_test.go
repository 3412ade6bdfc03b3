package records_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"medledger"
	"medledger/internal/records"
)

// BenchmarkDecodeAnchor decodes and validates a records/anchor message, as
// the ledger does after decoding the tx envelope (BenchmarkDecodeTx in the
// root package), in CheckTx and again in DeliverTx.
//
//	go test -run '^$' -bench DecodeAnchor -benchtime 10000x ./internal/records/
func BenchmarkDecodeAnchor(b *testing.B) {
	seed := sha256.Sum256([]byte("bench/patient"))
	patient := medledger.AccountID(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	blob := medledger.BlobIDOf([]byte("bench/ciphertext"))
	msg := medledger.MustMarshal(&records.Anchor{Record: records.IDFor(blob), Version: 1, Patient: patient, Blob: blob,
		Size: 10_278, ContentType: "Observation", Category: "lab"})
	b.ReportAllocs()
	for b.Loop() {
		m, err := records.Decode(records.TypeAnchor, msg)
		if err != nil {
			b.Fatal(err)
		}
		if m.(*records.Anchor).Patient != patient {
			b.Fatal("decoded the wrong patient")
		}
	}
	b.ReportMetric(float64(len(msg)), "msg_bytes") // after the loop, which resets metrics
}

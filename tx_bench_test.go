package medledger_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"medledger"
	"medledger/internal/records"
)

// anchorTx returns a signed records/anchor tx as a physician's client sends
// it (an anchor of a new 10 KB lab result), encoded, with the signer's key.
func anchorTx(tb testing.TB) ([]byte, ed25519.PublicKey) {
	tb.Helper()
	seed := sha256.Sum256([]byte("bench/physician"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	patientSeed := sha256.Sum256([]byte("bench/patient"))
	patient := medledger.AccountID(ed25519.NewKeyFromSeed(patientSeed[:]).Public().(ed25519.PublicKey))
	blob := medledger.BlobIDOf([]byte("bench/ciphertext"))
	m := &records.Anchor{Record: records.IDFor(blob), Version: 1, Patient: patient, Blob: blob, Size: 10_278,
		ContentType: "Observation", Category: "lab"}
	if err := m.Validate(); err != nil {
		tb.Fatal(err)
	}
	tx := &medledger.Tx{ChainID: "medledger-bench", Signer: medledger.AccountID(pub), Nonce: 1_234,
		MsgType: m.Type(), Msg: medledger.MustMarshal(m)}
	if err := tx.Sign(priv); err != nil {
		tb.Fatal(err)
	}
	raw, err := tx.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return raw, pub
}

// BenchmarkDecodeTx decodes a signed records/anchor tx: strict CBOR decoding,
// the canonical-encoding round trip and the stateless envelope checks. The
// ledger does this for every tx in CheckTx and again in DeliverTx. The
// message inside is decoded by its module (BenchmarkDecodeAnchor in
// internal/records).
//
//	go test -run '^$' -bench DecodeTx -benchtime 10000x .
func BenchmarkDecodeTx(b *testing.B) {
	raw, _ := anchorTx(b)
	b.ReportAllocs()
	for b.Loop() {
		tx, err := medledger.DecodeTx(raw)
		if err != nil {
			b.Fatal(err)
		}
		if tx.MsgType != records.TypeAnchor {
			b.Fatalf("decoded msg type %q", tx.MsgType)
		}
	}
	b.ReportMetric(float64(len(raw)), "tx_bytes") // after the loop, which resets metrics
}

// BenchmarkVerifySignature verifies the signature of a decoded records/anchor
// tx. "tx" is Tx.VerifySignature as the ledger calls it: it rebuilds the
// domain-separated sign bytes (re-encoding the envelope without its
// signature) and verifies them. "ed25519" is ed25519.Verify alone on sign
// bytes computed beforehand; the difference is the cost of domain separation.
//
//	go test -run '^$' -bench VerifySignature -benchtime 10000x .
func BenchmarkVerifySignature(b *testing.B) {
	raw, pub := anchorTx(b)
	tx, err := medledger.DecodeTx(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("tx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tx.VerifySignature(pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ed25519", func(b *testing.B) {
		sb, err := tx.SignBytes()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, sb, tx.Signature) {
				b.Fatal("signature does not verify")
			}
		}
	})
}

package medledger_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"medledger"
)

func sampleTx(t testing.TB) []byte {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	tx := &medledger.Tx{ChainID: "c", Signer: medledger.AccountID(priv.Public().(ed25519.PublicKey)), Nonce: 1,
		MsgType: "identity/remove_delegate", Msg: medledger.MustMarshal(map[int]string{1: "x"})}
	if err := tx.Sign(priv); err != nil {
		t.Fatal(err)
	}
	b, err := tx.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeTx: the decoder never panics, and whatever it accepts is
// canonical: re-encoding gives back exactly the input, so one tx has one
// encoding and one hash.
func FuzzDecodeTx(f *testing.F) {
	f.Add(sampleTx(f))
	f.Add([]byte{0xa0})
	f.Add([]byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := medledger.DecodeTx(b)
		if err != nil {
			if medledger.KindOf(err) == medledger.KindInternal {
				t.Fatalf("decoding gave an internal error: %v", err)
			}
			return
		}
		again, err := tx.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, again)
		}
	})
}

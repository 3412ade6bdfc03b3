package ledger_test

import (
	"testing"

	"medledger"
	"medledger/internal/ledger"
	"medledger/internal/state"
)

// FuzzCheckTx feeds arbitrary bytes to CheckTx and DeliverTx: they must
// never panic, and a tx they reject must leave the state as it was.
func FuzzCheckTx(f *testing.F) {
	g, txs := workload(40)
	for _, tx := range txs {
		f.Add(tx)
	}
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		st := state.NewMemStore()
		l := ledger.New(st, chainID)
		if _, err := l.InitChain(medledger.Env{ChainID: chainID, Time: 1}, g); err != nil {
			t.Fatal(err)
		}
		before := st.WorkingHash()
		r := l.CheckTx(b, false)
		if !r.OK() && r.Log == "" {
			t.Fatal("a rejection without a message")
		}
		if err := l.BeginBlock(medledger.Env{ChainID: chainID, Height: 1, Time: 2}); err != nil {
			t.Fatal(err)
		}
		d := l.DeliverTx(b)
		if !d.OK() && string(st.WorkingHash()) != string(before) {
			t.Fatalf("a failed tx (%s) changed state", d.Log)
		}
	})
}

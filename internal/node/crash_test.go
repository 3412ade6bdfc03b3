package node_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medledger"
	"medledger/client"
	"medledger/internal/node"
)

// A malformed failpoint setting stops the node from starting rather than
// being ignored. (internal/faults arms a real one and checks the crash.)
func TestFailpointSettingChecked(t *testing.T) {
	home := initHome(t, newSigner(t))
	for _, bad := range []string{"commit", "commit:x", "commit:0", "finalize:5"} {
		t.Setenv(node.FailpointEnv, bad)
		n, err := node.New(home, node.Options{Logger: testLogger(t)})
		if err == nil {
			n.Close()
			t.Fatalf("%s=%s: the node was created", node.FailpointEnv, bad)
		}
		if !strings.Contains(err.Error(), node.FailpointEnv) {
			t.Fatalf("%s=%s: %v", node.FailpointEnv, bad, err)
		}
	}
}

// A node killed after committing a block but before indexing its txs
// restarts with the index behind the chain; it indexes the missing blocks
// at start, so tx lookups find every committed tx. Deleting the index while
// the node is down is the extreme case of that crash.
func TestTxIndexRepairedAtStart(t *testing.T) {
	reg, admin := newSigner(t), newSigner(t)
	home := initHome(t, reg)
	n := start(t, home)
	c := client.New(n.APIURL())
	st := send(t, c, reg, &client.AdmitOrg{Org: "lab-x", OrgType: medledger.OrgLab, Name: "Lab X", Licence: "L", Admin: admin.pub})
	waitHeight(t, n, st.Height+1)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(home, "data", "tx_index.db")); err != nil {
		t.Fatal(err)
	}
	n = start(t, home)
	defer n.Close()
	got, err := client.New(n.APIURL()).Tx(context.Background(), st.Hash)
	if err != nil || got.Status != medledger.TxCommitted || got.Height != st.Height {
		t.Fatalf("tx committed at %d, after restart: %+v %v", st.Height, got, err)
	}
	page, err := client.New(n.APIURL()).Events(context.Background(), "identity.org_admitted.org='lab-x'", 1)
	if err != nil || page.Total != 1 {
		t.Fatalf("event search after restart: %+v %v", page, err)
	}
}

package node_test

import (
	"testing"
	"time"

	"medledger/internal/cometbft"
	"medledger/internal/identity"
	"medledger/internal/node"
)

// testnetChainID is the chain of the networks startTestnet runs.
const testnetChainID = "medledger-testnet"

// testnet is a running in-process network of validators.
type testnet struct {
	t     *testing.T
	homes []string
	nodes []*node.Node // nil while stopped
}

func startTestnet(t *testing.T, n int, reg signer) *testnet {
	t.Helper()
	dir := tempDir(t)
	tns, err := node.InitTestnet(dir, node.TestnetOptions{Validators: n, ChainID: testnetChainID, BasePort: freeRange(t, n),
		Regulators: []identity.PublicKeys{reg.pub}, Threshold: 1, BlockTime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tn := &testnet{t: t, nodes: make([]*node.Node, n)}
	for i, x := range tns {
		tn.homes = append(tn.homes, x.Home)
		tn.start(i)
	}
	t.Cleanup(func() {
		for _, n := range tn.nodes {
			if n != nil {
				n.Close()
			}
		}
	})
	for _, n := range tn.nodes {
		waitHeight(t, n, 2)
	}
	return tn
}

func (tn *testnet) start(i int) {
	tn.t.Helper()
	n, err := node.New(tn.homes[i], node.Options{Logger: testLogger(tn.t)})
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		tn.t.Fatal(err)
	}
	tn.nodes[i] = n
}

func (tn *testnet) stop(i int) {
	tn.t.Helper()
	if err := tn.nodes[i].Close(); err != nil {
		tn.t.Fatal(err)
	}
	tn.nodes[i] = nil
}

// freeRange finds a base port with 10*n consecutive free ports.
func freeRange(t testing.TB, n int) int {
	t.Helper()
	base, err := cometbft.FreeBasePort(n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

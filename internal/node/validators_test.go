package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/node"
)

// fullNodeHome writes a home for a non-validating node of the network whose
// first node lives in src: the network's genesis, src as persistent peer,
// fresh keys and ports.
func fullNodeHome(t testing.TB, src string) string {
	t.Helper()
	home := initHome(t, newSigner(t)) // keys, config and app.toml; its genesis is replaced below
	srcCfg, err := cometbft.LoadConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	srcID, _, err := cometbft.GenKeys(srcCfg)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile(srcCfg.GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cometbft.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.GenesisFile(), gen, 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srcCfg.P2P.ListenAddress, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	c.P2P.PersistentPeers = fmt.Sprintf("%s@127.0.0.1:%s", srcID, port)
	c.P2P.AllowDuplicateIP, c.P2P.AddrBookStrict = true, false
	c.Consensus.TimeoutCommit = srcCfg.Consensus.TimeoutCommit
	if err := cometbft.WriteConfig(c); err != nil {
		t.Fatal(err)
	}
	return home
}

func validatorKey(t testing.TB, home string) []byte {
	t.Helper()
	c, err := cometbft.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	_, pub, err := cometbft.GenKeys(c)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// waitPower polls the validator set CometBFT uses until pub has power
// (0: absent).
func waitPower(t testing.TB, c *client.Client, pub []byte, power int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.Status(context.Background())
		if err == nil {
			got := int64(0)
			for _, v := range st.Validators {
				if bytes.Equal(v.PubKey, pub) {
					got = v.Power
				}
			}
			if got == power {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("validator power did not become %d: %+v %v", power, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stalled reports whether n commits nothing for d.
func stalled(n *node.Node, d time.Duration) bool {
	h := n.Height()
	time.Sleep(d)
	return n.Height() == h
}

// TestValidatorGovernance: a new organisation's node joins as a full node,
// the authority makes it a validator, re-weights it and removes it, each
// through txs that reach CometBFT as validator updates.
func TestValidatorGovernance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes")
	}
	ctx := context.Background()
	reg, admin := newSigner(t), newSigner(t)
	homeA := initHome(t, reg)
	a := start(t, homeA)
	defer a.Close()
	homeB := fullNodeHome(t, homeA)
	b := start(t, homeB) // block-syncs from a
	defer func() { b.Close() }()
	ca := client.New(a.APIURL())
	pubA, pubB := validatorKey(t, homeA), validatorKey(t, homeB)

	// Admission names the node's validator key; the node is not a validator yet.
	send(t, ca, reg, &client.AdmitOrg{Org: "hosp-b", OrgType: medledger.OrgHospital, Name: "Hospital B", Licence: "H-B",
		GatewayURL: b.APIURL(), ValidatorKey: pubB, Admin: admin.pub})
	// Another key for the organisation is refused.
	if _, err := ca.Send(ctx, reg.Signer, &client.SetValidator{PubKey: pubA, Power: 10, Org: "hosp-b"}); !medledger.IsKind(err, medledger.KindInvalid) {
		t.Fatalf("a key the organisation did not register: %v", err)
	}
	send(t, ca, reg, &client.SetValidator{PubKey: pubB, Power: 10, Org: "hosp-b"})
	waitPower(t, ca, pubB, 10)
	vs, err := ca.Validators(ctx)
	if err != nil || len(vs) != 2 {
		t.Fatalf("validators: %+v %v", vs, err)
	}
	for _, v := range vs {
		if bytes.Equal(v.PubKey, pubB) != (v.Org == "hosp-b") {
			t.Fatalf("validator %x has org %q", v.PubKey, v.Org)
		}
	}
	// With two validators of equal power, both must vote: the chain halts
	// while b is down and resumes when it is back.
	waitHeight(t, b, a.Height())
	b.Close()
	if !stalled(a, 2*time.Second) {
		t.Fatal("the chain committed without the new validator's vote: it is not a validator")
	}
	b = start(t, homeB)
	waitHeight(t, a, a.Height()+2)

	// Power 30 of 40: b alone now has more than two thirds.
	send(t, ca, reg, &client.SetValidator{PubKey: pubB, Power: 30, Org: "hosp-b"})
	waitPower(t, ca, pubB, 30)

	// Removal: the chain goes on without b.
	send(t, ca, reg, &client.SetValidator{PubKey: pubB, Power: 0})
	waitPower(t, ca, pubB, 0)
	waitHeight(t, b, a.Height())
	b.Close()
	h := a.Height()
	waitHeight(t, a, h+3)

	// The last validator cannot be removed.
	if _, err := ca.Send(ctx, reg.Signer, &client.SetValidator{PubKey: pubA, Power: 0}); !medledger.IsKind(err, medledger.KindInvalid) {
		t.Fatalf("removing the last validator: %v", err)
	}
	waitPower(t, ca, pubA, 10)
}

package node_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/consent"
	"medledger/internal/identity"
	"medledger/internal/node"
)

// TestJoinByStateSync runs two validators that snapshot every 5 blocks,
// writes a new node's home with node.Join (what `medledger join` does), and
// starts it: it restores a snapshot instead of replaying the chain, then
// follows the network with the same app hashes, a rebuilt secondary index
// and the blobs of records anchored before the snapshot. The authority then
// makes it a validator: the path of a new organisation into the consortium.
func TestJoinByStateSync(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	ctx := context.Background()
	dir := tempDir(t)
	base := freeRange(t, 3)
	reg, admin, nurse := newSigner(t), newSigner(t), newSigner(t)
	tn, err := node.InitTestnet(dir, node.TestnetOptions{Validators: 2, ChainID: "medledger-join", BasePort: base,
		Regulators: []identity.PublicKeys{reg.pub}, Threshold: 1, BlockTime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var vals []*node.Node
	defer func() {
		for _, n := range vals {
			n.Close()
		}
	}()
	for _, v := range tn {
		c, err := node.LoadConfig(v.Home)
		if err != nil {
			t.Fatal(err)
		}
		// Snapshots every 5 blocks (1 s), kept for 50: long enough that the
		// one the new node picks is still there when it fetches the chunks.
		c.StateSync.SnapshotInterval, c.StateSync.SnapshotKeepRecent = 5, 10
		if err := node.WriteConfig(v.Home, c); err != nil {
			t.Fatal(err)
		}
		n, err := node.New(v.Home, node.Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		vals = append(vals, n)
	}
	c0 := client.New(vals[0].APIURL())
	waitHeight(t, vals[0], 2)
	send(t, c0, reg, &client.AdmitOrg{Org: "new-clinic", OrgType: medledger.OrgClinic, Name: "New Clinic", Licence: "C-9", Admin: admin.pub})
	send(t, c0, admin, &client.EnrolMember{Keys: nurse.pub, Roles: []medledger.Role{medledger.RoleNurse}})
	// A record whose blob the new node must get although it never sees
	// its anchor commit: it restores a later state.
	doctor, registrar, patient := newSigner(t), newSigner(t), newSigner(t)
	send(t, c0, admin, &client.EnrolMember{Keys: doctor.pub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(t, c0, admin, &client.EnrolMember{Keys: registrar.pub, Roles: []medledger.Role{medledger.RoleRegistrar}})
	send(t, c0, patient, &client.RegisterPatient{Keys: patient.pub})
	send(t, c0, registrar, &client.AttestPatient{Patient: patient.ID, Method: "in_person"})
	ref, err := c0.PutRecord(ctx, doctor.user(), patient.ID, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	want, err := c0.Members(ctx, "new-clinic")
	if err != nil || len(want) != 4 {
		t.Fatalf("members: %v %v", want, err)
	}
	// A snapshot that holds the members and the record.
	snapAt := (vals[0].Height()/5 + 1) * 5
	for _, n := range vals {
		waitHeight(t, n, snapAt+1)
	}
	waitSnapshot(t, tn[0].Home, snapAt)

	joined := filepath.Join(dir, "joiner")
	rpcs := []string{fmt.Sprintf("http://127.0.0.1:%d", tn[0].RPC), fmt.Sprintf("http://127.0.0.1:%d", tn[1].RPC)}
	info, err := node.Join(ctx, joined, node.JoinOptions{RPC: rpcs, Moniker: "joiner", Ports: cometbft.Ports{P2P: base + 20, RPC: base + 21},
		APIListen: fmt.Sprintf("127.0.0.1:%d", base+22), StateSync: true, DiscoveryTime: 5 * time.Second,
		ReplicateFrom: []string{vals[1].APIURL()}})
	if err != nil {
		t.Fatal(err)
	}
	if info.ChainID != "medledger-join" || len(info.Peers) != 2 || info.TrustHeight < snapAt || len(info.TrustHash) != 64 {
		t.Fatalf("join info: %+v", info)
	}
	hdr, err := c0.Header(ctx, info.TrustHeight)
	if err != nil || !strings.EqualFold(hex.EncodeToString(hdr.BlockHash), info.TrustHash) {
		t.Fatalf("trust hash %s, block %d is %v (%v)", info.TrustHash, info.TrustHeight, hdr.BlockHash, err)
	}

	// The authority admits the node's organisation with the node's
	// validator key (which lets the node pull blobs from the others) before
	// the node starts.
	pub := validatorKey(t, joined)
	send(t, c0, reg, &client.AdmitOrg{Org: "joiner-org", OrgType: medledger.OrgLab, Name: "Joiner", Licence: "L-J",
		GatewayURL: fmt.Sprintf("http://127.0.0.1:%d", base+22), ValidatorKey: pub, Admin: newSigner(t).pub})

	began := time.Now()
	// The new node's info log (its state sync steps) is shown if the test
	// fails.
	logs := &lockedWriter{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("new node's log:\n%s", logs.Bytes())
		}
	})
	n, err := node.New(joined, node.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for n.Height() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the new node restored no snapshot within 40 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	restored := n.Height()
	if restored < snapAt || restored%5 != 0 {
		t.Fatalf("restored at height %d; snapshots are every 5 blocks from %d", restored, snapAt)
	}
	t.Logf("restored height %d in %v", restored, time.Since(began).Round(time.Millisecond))

	// It follows the chain: the same app hash at a common height.
	common := vals[0].Height() + 3
	waitHeight(t, n, common+1)
	waitHeight(t, vals[1], common+1)
	cn := client.New(n.APIURL())
	for _, c := range []*client.Client{c0, client.New(vals[1].APIURL())} {
		a, err1 := cn.Header(ctx, common)
		b, err2 := c.Header(ctx, common)
		if err1 != nil || err2 != nil || !bytes.Equal(a.AppHash, b.AppHash) || !bytes.Equal(a.BlockHash, b.BlockHash) {
			t.Fatalf("block %d: new node %+v (%v), validator %+v (%v)", common, a, err1, b, err2)
		}
	}
	// The secondary index was rebuilt from the snapshot.
	got, err := cn.Members(ctx, "new-clinic")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("members on the new node: %v %v, want %v", got, err, want)
	}
	// It did not replay the chain: its block store starts after genesis.
	if _, err := cn.Header(ctx, 1); medledger.KindOf(err) != medledger.KindNotFound {
		t.Fatalf("block 1 on the new node: %v; want not found", err)
	}
	if _, err := c0.Header(ctx, 1); err != nil {
		t.Fatalf("block 1 on a validator: %v", err)
	}
	// A tx sent through the new node commits on the network.
	if st := send(t, cn, admin, &client.EnrolMember{Keys: newSigner(t).pub, Roles: []medledger.Role{medledger.RoleNurse}}); st.Status != medledger.TxCommitted {
		t.Fatalf("tx through the new node: %+v", st)
	}
	// The record anchored before the snapshot: the catch-up scan after the
	// restore pulls its blob in the background, before anyone reads it.
	deadline = time.Now().Add(30 * time.Second)
	for metricValue(t, n.APIURL(), "medledger_replication_blobs_pulled_total") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the restored node did not pull the blob of a record anchored before its snapshot")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p, err := cn.Read(ctx, patient.user(), patient.ID, ref.Record, 0, consent.PurposePersonal); err != nil || string(p.Content) != labResult {
		t.Fatalf("read through the new node: %+v %v", p, err)
	}

	// The authority makes it a validator: with three validators of equal
	// power, the chain now needs its vote.
	send(t, c0, reg, &client.SetValidator{PubKey: pub, Power: 10, Org: "joiner-org"})
	waitPower(t, c0, pub, 10)
	waitHeight(t, n, vals[0].Height())

	// Restarted, it goes on from its own state (state sync is for an empty
	// node only) and keeps its index; while it is down the chain halts.
	h := n.Height()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if !stalled(vals[0], 2*time.Second) {
		t.Fatal("the chain committed without the new validator: it is not one")
	}
	n, err = node.New(joined, node.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if n.Height() < h {
		t.Fatalf("restarted at height %d, was %d", n.Height(), h)
	}
	waitHeight(t, n, h+3)
	if got, err := client.New(n.APIURL()).Members(ctx, "new-clinic"); err != nil || len(got) != 5 {
		t.Fatalf("members after restart: %v %v", got, err)
	}
	// The validators keep the latest ten snapshots.
	entries, err := os.ReadDir(filepath.Join(tn[0].Home, "data", "snapshots"))
	if err != nil || len(entries) > 11 || (vals[0].Height() > 60 && len(entries) < 10) { // and possibly one being written
		t.Fatalf("snapshots kept at height %d: %v %v", vals[0].Height(), entries, err)
	}
}

// waitSnapshot waits until the node in home has written the snapshot of
// height.
func waitSnapshot(t *testing.T, home string, height int64) {
	t.Helper()
	path := filepath.Join(home, "data", "snapshots", strconv.FormatInt(height, 10), "metadata.json")
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var m struct {
				Height int64    `json:"height"`
				Chunks []string `json:"chunks"`
			}
			if err := json.Unmarshal(b, &m); err != nil || m.Height != height || len(m.Chunks) == 0 {
				t.Fatalf("snapshot metadata %s: %v", b, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot of height %d: %v", height, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

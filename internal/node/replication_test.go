package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	"medledger/seal"
)

func (tn *testnet) client(i int) *client.Client { return client.New(tn.nodes[i].APIURL()) }

// files counts the files of a blob (the ciphertext and its wraps, or with
// key set, that one wrap) in node i's store.
func (tn *testnet) files(i int, b medledger.BlobID, key string) int {
	n := 0
	for _, p := range []string{"blobs/" + b.String()[:2] + "/" + b.String()[2:4] + "/" + b.String(), "wraps/" + b.String()} {
		n += countFiles(tn.t, filepath.Join(tn.homes[i], "blobs", p), key)
	}
	return n
}

// has reports whether node i holds the blob's ciphertext.
func (tn *testnet) has(i int, b medledger.BlobID) bool {
	return countFiles(tn.t, filepath.Join(tn.homes[i], "blobs", "blobs"), b.String()) == 1
}

func (tn *testnet) waitFor(what string, cond func() bool) {
	tn.t.Helper()
	// Retries back off 1, 2, 4, 8, 16 s: on a loaded machine (the race
	// detector, other packages' tests alongside) a pull that missed its
	// first tries needs more than 20 s to land.
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tn.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaGet performs GET path on node i signed by a node key (nil: unsigned).
func replicaGet(t *testing.T, base, path string, key ed25519.PrivateKey) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if key != nil {
		now := time.Now().Unix()
		req.Header.Set(medledger.HeaderNode, hex.EncodeToString(key.Public().(ed25519.PublicKey)))
		req.Header.Set(medledger.HeaderTime, strconv.FormatInt(now, 10))
		req.Header.Set(medledger.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(key, medledger.ReplicaSignBytes(http.MethodGet, path, now))))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// metricValue reads one sample from node i's /metrics.
func metricValue(t *testing.T, base, sample string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestReplication runs four validators. Records are written through node 0
// and read through the others; a later share is pulled on demand; a node
// that was down catches up; erasure reaches every node, including one that
// was down; the replica endpoints serve nodes only; /metrics counts.
func TestReplication(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	ctx := context.Background()
	reg, admin, registrar, doctor, doctor2, patient := newSigner(t), newSigner(t), newSigner(t), newSigner(t), newSigner(t), newSigner(t)
	tn := startTestnet(t, 4, reg)
	c0 := tn.client(0)
	// Hospital A's gateway is node 0.
	send(t, c0, reg, &client.AdmitOrg{Org: "hospital-a", OrgType: medledger.OrgHospital, Name: "A", Licence: "L", Admin: admin.pub, GatewayURL: tn.nodes[0].APIURL()})
	send(t, c0, admin, &client.EnrolMember{Keys: registrar.pub, Roles: []medledger.Role{medledger.RoleRegistrar}})
	send(t, c0, admin, &client.EnrolMember{Keys: doctor.pub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(t, c0, admin, &client.EnrolMember{Keys: doctor2.pub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(t, c0, patient, &client.RegisterPatient{Keys: patient.pub})
	send(t, c0, registrar, &client.AttestPatient{Patient: patient.ID, Method: "in_person"})

	// (a) Written through node 0, replicated in the background to every
	// node before anyone reads, then read and decrypted through node 3.
	ref, err := c0.PutRecord(ctx, doctor.user(), patient.ID, []byte(labResult), "Observation", "lab")
	if err != nil {
		t.Fatal(err)
	}
	tn.waitFor("the blob and its wraps on every node", func() bool {
		for i := range tn.nodes {
			if !tn.has(i, ref.Blob) || tn.files(i, ref.Blob, seal.KeyID(patient.pub.EncryptionKey)) != 1 {
				return false
			}
		}
		return true
	})
	p, err := tn.client(3).Read(ctx, patient.user(), patient.ID, ref.Record, 0, consent.PurposePersonal)
	if err != nil || string(p.Content) != labResult {
		t.Fatalf("read through node 3: %+v %v", p, err)
	}
	if v := metricValue(t, tn.nodes[3].APIURL(), "medledger_replication_blobs_pulled_total"); v < 1 {
		t.Errorf("node 3 blobs pulled = %v", v)
	}
	if v := metricValue(t, tn.nodes[3].APIURL(), "medledger_replication_wraps_pulled_total"); v < 2 {
		t.Errorf("node 3 wraps pulled = %v, want the patient's and the author's", v)
	}
	if v := metricValue(t, tn.nodes[3].APIURL(), "medledger_replication_bytes_pulled_total"); v < float64(len(labResult)) {
		t.Errorf("node 3 bytes pulled = %v", v)
	}
	if v := metricValue(t, tn.nodes[3].APIURL(), "medledger_replication_last_success_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("node 3 last success = %v", v)
	}

	// (b) The patient shares with a new grantee through node 0; the
	// grantee reads through node 2, which pulls the new wrap on demand.
	hdr, _ := c0.Header(ctx, 0)
	g := &client.GrantAccess{Patient: patient.ID, Grantee: client.Grantee{Member: doctor2.ID},
		Scope: client.Scope{Categories: []string{"lab"}}, Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(time.Hour).Unix()}
	if _, err := c0.Grant(ctx, patient.user(), g); err != nil {
		t.Fatal(err)
	}
	key2 := seal.KeyID(doctor2.pub.EncryptionKey)
	if tn.files(0, ref.Blob, key2) != 1 || tn.files(2, ref.Blob, key2) != 0 {
		t.Fatalf("the grantee's wrap should be on node 0 only: node 0 %d, node 2 %d", tn.files(0, ref.Blob, key2), tn.files(2, ref.Blob, key2))
	}
	// Node 2's grant state must have caught up before the read.
	tn.waitFor("the grant on node 2", func() bool { return tn.nodes[2].Height() >= tn.nodes[0].Height() })
	before := metricValue(t, tn.nodes[2].APIURL(), `medledger_replication_on_demand_total{result="ok"}`)
	p, err = tn.client(2).Read(ctx, doctor2.user(), patient.ID, ref.Record, 0, consent.PurposeTreatment)
	if err != nil || string(p.Content) != labResult {
		t.Fatalf("grantee read through node 2: %+v %v", p, err)
	}
	if after := metricValue(t, tn.nodes[2].APIURL(), `medledger_replication_on_demand_total{result="ok"}`); after != before+1 {
		t.Errorf("node 2 on-demand pulls %v → %v, want one more", before, after)
	}

	// (d) Node 1 is down while records are anchored; after its restart it
	// holds them all, without any read through it.
	tn.stop(1)
	var later []*client.RecordRef
	for i := range 3 {
		r, err := c0.PutRecord(ctx, doctor.user(), patient.ID, []byte(fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final"}`, i)), "Observation", "lab")
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, r)
	}
	tn.start(1)
	tn.waitFor("node 1 to catch up on the blobs anchored while it was down", func() bool {
		for _, r := range later {
			if !tn.has(1, r.Blob) {
				return false
			}
		}
		return true
	})

	// A blob lost while the node was down (its queue is not persisted) is
	// found by the catch-up scan at start and pulled again.
	tn.stop(1)
	lost := later[1].Blob
	for _, d := range []string{"blobs/" + lost.String()[:2] + "/" + lost.String()[2:4] + "/" + lost.String(), "wraps/" + lost.String()} {
		if err := os.RemoveAll(filepath.Join(tn.homes[1], "blobs", d)); err != nil {
			t.Fatal(err)
		}
	}
	tn.start(1)
	tn.waitFor("node 1 to pull a lost blob again at start", func() bool {
		return tn.has(1, lost) && tn.files(1, lost, seal.KeyID(patient.pub.EncryptionKey)) == 1
	})

	// (f) The replica endpoints serve nodes only.
	live := later[0].Blob
	path := "/v1/replica/blobs/" + live.String()
	base := tn.nodes[0].APIURL()
	cc, err := cometbft.LoadConfig(tn.homes[3])
	if err != nil {
		t.Fatal(err)
	}
	node3Key, err := cometbft.ValidatorKey(cc)
	if err != nil {
		t.Fatal(err)
	}
	code, ct := replicaGet(t, base, path, node3Key)
	if code != http.StatusOK || medledger.BlobIDOf(ct) != live {
		t.Fatalf("a validator's pull: %d, %d bytes", code, len(ct))
	}
	if code, body := replicaGet(t, base, path+"/wraps", node3Key); code != http.StatusOK || !strings.Contains(string(body), seal.KeyID(patient.pub.EncryptionKey)) {
		t.Fatalf("a validator's wraps pull: %d %s", code, body)
	}
	if code, body := replicaGet(t, base, path, nil); code != http.StatusUnauthorized || bytes.Contains(body, ct[:32]) {
		t.Fatalf("unsigned pull: %d %s", code, body)
	}
	if code, body := replicaGet(t, base, path+"/wraps", nil); code != http.StatusUnauthorized || strings.Contains(string(body), seal.KeyID(patient.pub.EncryptionKey)) {
		t.Fatalf("unsigned wraps pull: %d %s", code, body)
	}
	stranger := nodeKeyOf(t)
	if code, body := replicaGet(t, base, path+"/wraps", stranger); code != http.StatusNotFound || strings.Contains(string(body), seal.KeyID(patient.pub.EncryptionKey)) {
		t.Fatalf("a non-node's wraps pull: %d %s", code, body)
	}
	codeStranger, bodyStranger := replicaGet(t, base, path, stranger)
	codeMissing, bodyMissing := replicaGet(t, base, "/v1/replica/blobs/"+strings.Repeat("ab", 32), node3Key)
	if codeStranger != http.StatusNotFound || codeMissing != http.StatusNotFound || !bytes.Equal(bodyStranger, bytes.ReplaceAll(bodyMissing, []byte(strings.Repeat("ab", 32)), []byte(live.String()))) {
		t.Fatalf("a non-node's pull: %d %s; a missing blob: %d %s", codeStranger, bodyStranger, codeMissing, bodyMissing)
	}
	// An account's signature (the client scheme) is not a node's.
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	now := time.Now().Unix()
	req.Header.Set(medledger.HeaderAccount, string(patient.ID))
	req.Header.Set(medledger.HeaderTime, strconv.FormatInt(now, 10))
	req.Header.Set(medledger.HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(patient.Key, medledger.RequestSignBytes(http.MethodGet, path, now, hex.EncodeToString(sha256.New().Sum(nil))))))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an account-signed pull: %v %v", resp, err)
	}
	// A new organisation's full node, not a validator, may pull with the
	// validator key the organisation registered.
	if code, _ := replicaGet(t, base, path, stranger); code != http.StatusNotFound {
		t.Fatalf("before admission: %d", code)
	}
	send(t, c0, reg, &client.AdmitOrg{Org: "lab-new", OrgType: medledger.OrgLab, Name: "New", Licence: "L2", Admin: newSigner(t).pub,
		ValidatorKey: stranger.Public().(ed25519.PublicKey)})
	if code, body := replicaGet(t, base, path, stranger); code != http.StatusOK || medledger.BlobIDOf(body) != live {
		t.Fatalf("an admitted organisation's node: %d", code)
	}

	// (c) Erasure reaches every node; node 2 is down during it and
	// deletes at its restart.
	tn.stop(2)
	if _, err := c0.Send(ctx, patient.Signer, &client.Erase{Record: ref.Record}); err != nil {
		t.Fatal(err)
	}
	tn.waitFor("the erased blob and wraps gone from the running nodes", func() bool {
		return tn.files(0, ref.Blob, "") == 0 && tn.files(1, ref.Blob, "") == 0 && tn.files(3, ref.Blob, "") == 0
	})
	if tn.files(2, ref.Blob, "") == 0 {
		t.Fatal("node 2 lost the blob while it was down")
	}
	tn.start(2)
	tn.waitFor("the erased blob gone from node 2 after its restart", func() bool { return tn.files(2, ref.Blob, "") == 0 })
	if code, _ := replicaGet(t, base, "/v1/replica/blobs/"+ref.Blob.String(), node3Key); code != http.StatusNotFound {
		t.Fatalf("an erased blob was served to a peer: %d", code)
	}
	if _, err := tn.client(3).Read(ctx, patient.user(), patient.ID, ref.Record, 0, consent.PurposePersonal); medledger.KindOf(err) != medledger.KindGone {
		t.Fatalf("read after erasure through node 3: %v", err)
	}
	// No node brings it back: replication (a restart's catch-up scan
	// included) never stores an erased record's blob.
	time.Sleep(time.Second)
	for i := range tn.nodes {
		if n := tn.files(i, ref.Blob, ""); n != 0 {
			t.Fatalf("node %d holds %d files of the erased blob", i, n)
		}
	}
}

func nodeKeyOf(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// app.toml round-trips the replication settings, rejects a peer that is
// not an http(s) URL, and a testnet's nodes name each other as peers.
func TestReplicationConfig(t *testing.T) {
	home := t.TempDir()
	c := node.DefaultConfig()
	c.Replication.Peers = []string{"http://127.0.0.1:1", "https://node.example.org:8443/"}
	c.Replication.Workers = 3
	if err := node.WriteConfig(home, c); err != nil {
		t.Fatal(err)
	}
	got, err := node.LoadConfig(home)
	if err != nil || !slices.Equal(got.Replication.Peers, c.Replication.Peers) || got.Replication.Workers != 3 {
		t.Fatalf("loaded %+v, %v", got.Replication, err)
	}
	c.Replication.Peers = []string{"127.0.0.1:1"}
	if err := node.WriteConfig(home, c); err != nil {
		t.Fatal(err)
	}
	if _, err := node.LoadConfig(home); err == nil || !strings.Contains(err.Error(), "replication.peers") {
		t.Fatalf("a peer without a scheme: %v", err)
	}

	dir := t.TempDir()
	tns, err := node.InitTestnet(dir, node.TestnetOptions{Validators: 3, ChainID: testnetChainID, BasePort: 40000, Regulators: []identity.PublicKeys{newSigner(t).pub}, Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, tn := range tns {
		c, err := node.LoadConfig(tn.Home)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for j, o := range tns {
			if j != i {
				want = append(want, fmt.Sprintf("http://127.0.0.1:%d", o.API))
			}
		}
		if !slices.Equal(c.Replication.Peers, want) {
			t.Errorf("node %d peers %v, want %v", i, c.Replication.Peers, want)
		}
	}
}

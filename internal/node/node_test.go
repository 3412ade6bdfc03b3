package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"medledger"
	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/identity"
	"medledger/internal/node"
	"medledger/internal/store"
	"medledger/seal"
)

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// signer is a test account with fresh keys.
type signer struct {
	client.Signer
	pub identity.PublicKeys
	enc hpke.PrivateKey
}

func (s signer) user() client.User {
	return client.User{Signer: s.Signer, EncryptionKey: s.enc, EncryptionPublic: s.pub.EncryptionKey}
}

func newSigner(t testing.TB) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := seal.GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	return signer{Signer: client.Signer{ID: medledger.AccountID(pub), Key: priv},
		pub: identity.PublicKeys{SigningKey: pub, EncryptionKey: enc.PublicKey().Bytes()}, enc: enc}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// tempDir is t.TempDir for node homes. CometBFT's address book saves itself
// from a goroutine that outlives the node's Stop, so removal retries briefly
// instead of failing on a file written during cleanup.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "medledger-node-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for i := 0; i < 50; i++ {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("removing %s: %v", dir, err)
	})
	return dir
}

func initHome(t testing.TB, regs ...signer) string {
	return initHomeBlockTime(t, 150*time.Millisecond, regs...)
}

func initHomeBlockTime(t testing.TB, blockTime time.Duration, regs ...signer) string {
	t.Helper()
	home := tempDir(t)
	var pubs []identity.PublicKeys
	for _, r := range regs {
		pubs = append(pubs, r.pub)
	}
	err := node.Init(home, node.InitOptions{ChainID: "medledger-e2e", Moniker: "e2e", Regulators: pubs, Threshold: 1,
		Ports: cometbft.Ports{P2P: freePort(t), RPC: freePort(t)}, APIListen: "127.0.0.1:0", BlockTime: blockTime})
	if err != nil {
		t.Fatal(err)
	}
	return home
}

func start(t testing.TB, home string) *node.Node {
	t.Helper()
	n, err := node.New(home, node.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for n.Height() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no block within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

func waitHeight(t testing.TB, n *node.Node, h int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n.Height() < h {
		if time.Now().After(deadline) {
			t.Fatalf("height %d not reached (at %d)", h, n.Height())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func send(t *testing.T, c *client.Client, s signer, m client.Msg) *medledger.TxStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.Send(ctx, s.Signer, m)
	if err != nil {
		t.Fatalf("%s: %v", m.Type(), err)
	}
	return st
}

func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	reg := newSigner(t)
	home := initHome(t, reg)
	n := start(t, home)
	defer func() { n.Close() }()
	c := client.New(n.APIURL())

	admin, doctor, patient, stranger := newSigner(t), newSigner(t), newSigner(t), newSigner(t)
	st := send(t, c, reg, &client.AdmitOrg{Org: "st-marys", OrgType: medledger.OrgHospital, Name: "St Mary's", Licence: "H-1",
		GatewayURL: "https://gw.example", Admin: admin.pub})
	if st.Status != medledger.TxCommitted || st.Height < 1 {
		t.Fatalf("admit: %+v", st)
	}
	send(t, c, admin, &client.EnrolMember{Keys: doctor.pub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(t, c, patient, &client.RegisterPatient{Keys: patient.pub})
	send(t, c, doctor, &client.AttestPatient{Patient: patient.ID, Method: "in_person"})

	// A proven read: the SDK checks the proof against header H+1.
	acct, sp, err := c.ProvenAccount(ctx, patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Kind != medledger.KindPatient || len(acct.Attestations) != 1 || acct.Attestations[0].Org != "st-marys" {
		t.Fatalf("patient account: %+v", acct)
	}
	hdr, err := c.Header(ctx, sp.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.VerifyState(hdr.AppHash, sp.Key, sp.Value, sp.Proof); err != nil {
		t.Fatalf("proof does not verify: %v", err)
	}
	// The same proof must not verify a different value or another block's hash.
	if client.VerifyState(hdr.AppHash, sp.Key, append(bytes.Clone(sp.Value), 0), sp.Proof) == nil {
		t.Fatal("proof verified a tampered value")
	}
	// Absence is proven too.
	_, sp, err = c.ProvenAccount(ctx, stranger.ID)
	if medledger.KindOf(err) != medledger.KindNotFound || sp == nil || sp.Value != nil {
		t.Fatalf("missing account: err=%v proof=%v", err, sp)
	}
	if _, _, err := c.ProvenOrg(ctx, "st-marys"); err != nil {
		t.Fatal(err)
	}
	members, err := c.Members(ctx, "st-marys")
	if err != nil || len(members) != 2 {
		t.Fatalf("members: %v %v", members, err)
	}
	doc, err := c.DID(ctx, doctor.ID.DID())
	if err != nil || doc.ID != doctor.ID.DID() || len(doc.Service) != 1 || doc.Service[0].ServiceEndpoint != "https://gw.example" {
		t.Fatalf("DID document: %+v %v", doc, err)
	}
	ev, err := c.Events(ctx, "identity.member_enrolled.org='st-marys'", 1)
	if err != nil || ev.Total != 1 {
		t.Fatalf("events: %+v %v", ev, err)
	}

	t.Run("bad input", func(t *testing.T) { badInput(t, n, c, reg, admin, doctor, patient, stranger) })

	// Restart: the state and the app hash survive.
	height, hash := n.Height(), n.AppHash()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = start(t, home)
	if n.Height() < height {
		t.Fatalf("height went back from %d to %d", height, n.Height())
	}
	waitHeight(t, n, height+1)
	c = client.New(n.APIURL())
	hdr, err = c.Header(ctx, height+1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr.AppHash, hash) {
		t.Fatalf("app hash of height %d after restart: header %X, before %X", height, hdr.AppHash, hash)
	}
	if _, _, err := c.ProvenAccount(ctx, patient.ID); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	send(t, c, admin, &client.EnrolMember{Keys: newSigner(t).pub, Roles: []medledger.Role{medledger.RoleNurse}})
}

// badInput submits each kind of bad tx and checks the clear error and that
// the state did not change.
func badInput(t *testing.T, n *node.Node, c *client.Client, reg, admin, doctor, patient, stranger signer) {
	ctx := context.Background()
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nonce := func(s signer) uint64 {
		v, err := c.Nonce(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	build := func(s signer, nonce uint64, chain string, m client.Msg) []byte {
		raw, err := client.BuildTx(chain, s.Signer, nonce, m)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	enrol := &client.EnrolMember{Keys: stranger.pub, Roles: []medledger.Role{medledger.RoleNurse}}
	suspendedMember := newSigner(t)
	send(t, c, admin, &client.EnrolMember{Keys: suspendedMember.pub, Roles: []medledger.Role{medledger.RoleNurse}})
	send(t, c, admin, &client.SetMemberStatus{Member: suspendedMember.ID, Status: medledger.StatusSuspended})
	good := build(admin, nonce(admin)+1, chainID, enrol)

	var tx medledger.Tx
	if err := cbor.Unmarshal(good, &tx); err != nil {
		t.Fatal(err)
	}
	badSig := tx
	badSig.Signature = bytes.Clone(tx.Signature)
	badSig.Signature[0] ^= 1
	unknownType := tx
	unknownType.MsgType = "identity/teleport"
	unknownType.Sign(admin.Key)
	// Non-canonical: the same tx with its map header in a longer form than needed.
	nonCanonical := append([]byte{0xb8, good[0] & 0x1f}, good[1:]...)
	oversized := build(admin, nonce(admin)+1, chainID, &client.RemoveOrg{Org: "st-marys", Reason: strings.Repeat("x", medledger.MaxTxBytes)})

	enc := func(tx medledger.Tx) []byte {
		b, err := tx.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		raw    []byte
		status int
		kind   medledger.Kind
	}{
		{"wrong signature", enc(badSig), http.StatusUnauthorized, medledger.KindBadSignature},
		{"replayed nonce", build(admin, nonce(admin), chainID, enrol), http.StatusConflict, medledger.KindBadNonce},
		{"out-of-order nonce", build(admin, nonce(admin)+5, chainID, enrol), http.StatusConflict, medledger.KindBadNonce},
		{"wrong chain id", build(admin, nonce(admin)+1, "another-chain", enrol), http.StatusBadRequest, medledger.KindWrongChain},
		{"unknown message type", enc(unknownType), http.StatusBadRequest, medledger.KindUnknownMsg},
		{"oversized", oversized, http.StatusRequestEntityTooLarge, medledger.KindTooLarge},
		{"non-canonical", nonCanonical, http.StatusBadRequest, medledger.KindNonCanonical},
		{"malformed", []byte{0xff, 0x00, 0x13}, http.StatusBadRequest, medledger.KindMalformed},
		{"signer without the role", build(doctor, nonce(doctor)+1, chainID, enrol), http.StatusForbidden, medledger.KindUnauthorized},
		{"unknown account", build(stranger, 1, chainID, enrol), http.StatusNotFound, medledger.KindUnknownAccount},
		{"suspended account", build(suspendedMember, nonce(suspendedMember)+1, chainID, &client.AttestPatient{Patient: patient.ID, Method: "document"}), http.StatusForbidden, medledger.KindSuspended},
		{"regulator-only action", build(admin, nonce(admin)+1, chainID, &client.RemoveOrg{Org: "st-marys", Reason: "x"}), http.StatusForbidden, medledger.KindUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			waitHeight(t, n, n.Height()+1)
			before, h := n.AppHash(), n.Height()
			resp, err := http.Post(n.APIURL()+"/v1/txs?wait=commit&timeout=20s", "application/cbor", bytes.NewReader(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var p client.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("not problem+json: %s", body)
			}
			if resp.StatusCode != tc.status || p.Code != tc.kind || resp.Header.Get("Content-Type") != "application/problem+json" || p.Detail == "" {
				t.Fatalf("got %d %s (%s) %q, want %d %s", resp.StatusCode, p.Kind, resp.Header.Get("Content-Type"), p.Detail, tc.status, tc.kind)
			}
			// Nothing changed: the app hash stays the same over the next blocks.
			waitHeight(t, n, n.Height()+2)
			if n.Height() <= h || !bytes.Equal(n.AppHash(), before) {
				t.Fatalf("state changed: app hash %X → %X", before, n.AppHash())
			}
		})
	}
	// The good tx still goes through afterwards: nothing consumed its nonce.
	if _, err := c.Commit(ctx, good); err != nil {
		t.Fatalf("the good tx after the bad ones: %v", err)
	}
}

// TestOpenAPI checks that the served OpenAPI document matches the golden
// copy in testdata (go test -run OpenAPI -update rewrites it), that every
// $ref resolves, and that every documented GET path is served by a route
// rather than the router's 404.
func TestOpenAPI(t *testing.T) {
	reg := newSigner(t)
	n := start(t, initHome(t, reg))
	defer n.Close()
	resp, err := http.Get(n.APIURL() + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	golden := filepath.Join("testdata", "openapi.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/node -run OpenAPI -update)", err)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("the served OpenAPI document differs from %s; review the change and rerun with -update", golden)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	refs := regexp.MustCompile(`"\$ref": "#/components/schemas/([A-Za-z]+)"`).FindAllSubmatch(body, -1)
	if len(refs) < 10 {
		t.Fatalf("only %d $refs", len(refs))
	}
	for _, r := range refs {
		if _, ok := schemas[string(r[1])]; !ok {
			t.Errorf("$ref to missing schema %s", r[1])
		}
	}
	samples := map[string]string{"{id}": string(reg.ID), "{hash}": strings.Repeat("ab", 32), "{height}": "1"}
	for path, item := range doc["paths"].(map[string]any) {
		if _, ok := item.(map[string]any)["get"]; !ok {
			continue
		}
		p := path
		for k, v := range samples {
			p = strings.ReplaceAll(p, k, v)
		}
		if strings.HasPrefix(path, "/v1/orgs/{id}") {
			p = strings.ReplaceAll(path, "{id}", "no-such-org")
		}
		resp, err := http.Get(n.APIURL() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound && !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("GET %s: not routed (%d %s)", p, resp.StatusCode, b)
		}
		if resp.StatusCode >= 500 && path != "/readyz" {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, b)
		}
	}
	// And an undocumented path is the router's plain 404.
	resp, err = http.Get(n.APIURL() + "/v1/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("undocumented path answered %d", resp.StatusCode)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestTestnetStarts writes a 4-validator testnet with `medledger testnet`'s
// code, starts all four nodes, and checks they commit the same blocks.
func TestTestnetStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	dir := tempDir(t)
	base := freeRange(t, 4)
	reg := newSigner(t)
	nodes, err := node.InitTestnet(dir, node.TestnetOptions{Validators: 4, ChainID: "medledger-testnet", BasePort: base, Regulators: []identity.PublicKeys{reg.pub}, Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	var running []*node.Node
	defer func() {
		for _, n := range running {
			n.Close()
		}
	}()
	for _, tn := range nodes {
		n, err := node.New(tn.Home, node.Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("http://127.0.0.1:%d", tn.API); n.APIURL() != want {
			t.Fatalf("API at %s, configured %s", n.APIURL(), want)
		}
		running = append(running, n)
	}
	for _, n := range running {
		waitHeight(t, n, 3)
	}
	// A tx through node 3 is committed and visible through node 0.
	c3, c0 := client.New(running[3].APIURL()), client.New(running[0].APIURL())
	admin := newSigner(t)
	st := send(t, c3, reg, &client.AdmitOrg{Org: "lab-net", OrgType: medledger.OrgLab, Name: "Lab", Licence: "L", Admin: admin.pub})
	for _, n := range running {
		waitHeight(t, n, st.Height+1)
	}
	if _, _, err := c0.ProvenOrg(context.Background(), "lab-net"); err != nil {
		t.Fatal(err)
	}
	var ref []byte
	for i := range running {
		h, err := client.New(running[i].APIURL()).Header(context.Background(), st.Height+1)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ref = h.AppHash
		} else if !bytes.Equal(h.AppHash, ref) {
			t.Fatalf("node %d app hash %X at height %d, node 0 %X", i, h.AppHash, st.Height+1, ref)
		}
	}
	stat, err := c0.Status(context.Background())
	if err != nil || len(stat.Validators) != 4 {
		t.Fatalf("status: %+v %v", stat, err)
	}
}

// TestIndexRebuiltAtStart loses the secondary index while the node is down
// (as a crash between the state commit and the index flush would) and
// checks that the node rebuilds it from authenticated state at start.
func TestIndexRebuiltAtStart(t *testing.T) {
	reg, admin, nurse := newSigner(t), newSigner(t), newSigner(t)
	home := initHome(t, reg)
	n := start(t, home)
	c := client.New(n.APIURL())
	send(t, c, reg, &client.AdmitOrg{Org: "clinic-x", OrgType: medledger.OrgClinic, Name: "X", Licence: "C", Admin: admin.pub})
	send(t, c, admin, &client.EnrolMember{Keys: nurse.pub, Roles: []medledger.Role{medledger.RoleNurse}})
	want, err := c.Members(context.Background(), "clinic-x")
	if err != nil || len(want) != 2 {
		t.Fatalf("members before: %v %v", want, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(filepath.Join(home, "data", "app"), store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ResetIndex(); err != nil {
		t.Fatal(err)
	}
	if got, _ := identity.ListMembers(st.IndexReader(), "clinic-x"); len(got) != 0 || st.IndexVersion() == st.Version() {
		t.Fatalf("the index was not lost: %v, index version %d, state %d", got, st.IndexVersion(), st.Version())
	}
	st.Close()

	n = start(t, home)
	defer n.Close()
	got, err := client.New(n.APIURL()).Members(context.Background(), "clinic-x")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("members after restart: %v %v, want %v", got, err, want)
	}
}

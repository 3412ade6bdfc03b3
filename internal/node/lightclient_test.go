package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ics23 "github.com/cosmos/ics23/go"

	"medledger"
	"medledger/client"
	"medledger/internal/cli"
	"medledger/internal/cometbft/light"
	"medledger/internal/consent"
)

// liar is a reverse proxy in front of a real node that tampers with its
// answers about one grant and one tx, the way a compromised node would.
type liar struct {
	t       *testing.T
	node    string // the honest node's API URL
	chainID string
	srv     *httptest.Server
	key     string // hex state key of the grant it lies about
	active  []byte // the grant's value while it was in force
	oldH    int64  // a height at which the grant was in force
	tx      string // lower-case hex hash of the tx it lies about
	other   []byte // the bytes of another committed tx

	mu     sync.Mutex
	mode   string
	forged map[int64]forgery // by state height
}

type forgery struct {
	sp   medledger.StateProof // the grant shown active, with a proof to root
	root []byte
}

func newLiar(t *testing.T, nodeURL string) *liar {
	l := &liar{t: t, node: nodeURL, chainID: "medledger-e2e", forged: map[int64]forgery{}}
	target, _ := url.Parse(nodeURL)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if l.is("replay", "replay-relabel") && l.isGrantRead(pr.Out.URL) {
				q := pr.Out.URL.Query()
				pr.Out.Header.Set("X-Asked-Height", q.Get("height"))
				q.Set("height", strconv.FormatInt(l.oldH, 10))
				pr.Out.URL.RawQuery = q.Encode()
			}
		},
		ModifyResponse: l.modify,
	}
	l.srv = httptest.NewServer(rp)
	t.Cleanup(l.srv.Close)
	return l
}

func (l *liar) set(mode string) {
	l.mu.Lock()
	l.mode = mode
	l.mu.Unlock()
}

func (l *liar) is(modes ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range modes {
		if l.mode == m {
			return true
		}
	}
	return false
}

func (l *liar) isGrantRead(u *url.URL) bool {
	return u.Path == "/v1/state" && u.Query().Get("key") == l.key
}

// modify rewrites the node's answer according to the mode.
func (l *liar) modify(resp *http.Response) error {
	req := resp.Request
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		body = l.tamper(req, body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func (l *liar) tamper(req *http.Request, body []byte) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	path := req.URL.Path
	switch {
	case l.isGrantRead(req.URL) && l.is("value"):
		// The revoked grant shown in force; the proof is left as it was.
		m["value"] = base64.StdEncoding.EncodeToString(l.active)
	case l.isGrantRead(req.URL) && l.is("replay-relabel"):
		// An old proof passed off as one at the height asked for.
		if h := req.Header.Get("X-Asked-Height"); h != "" {
			m["height"], _ = strconv.ParseInt(h, 10, 64)
		}
	case l.isGrantRead(req.URL) && l.is("forge"):
		f := l.forge(int64(m["height"].(float64)))
		b, _ := json.Marshal(f.sp)
		return b
	case strings.HasPrefix(path, "/v1/headers/") && l.is("forge"):
		// A header whose app hash is the forged root.
		h := int64(m["height"].(float64))
		m["app_hash"] = strings.ToUpper(hex.EncodeToString(l.forge(h - 1).root))
	case strings.HasPrefix(path, "/v1/light") && l.is("forge", "forge-header"):
		// The same forgery in the light block: its header's app hash
		// replaced and the commit's block ID made to name the forged
		// header, so only the validators' signatures can expose it.
		raw, _ := base64.StdEncoding.DecodeString(m["light_block"].(string))
		lb, err := light.DecodeLightBlock(l.chainID, raw)
		if err != nil {
			l.t.Errorf("decoding a light block: %v", err)
			return body
		}
		lb.Header.AppHash = l.forge(lb.Height - 1).root
		lb.Commit.BlockID.Hash = lb.Header.Hash()
		pb, err := lb.ToProto()
		if err != nil {
			l.t.Errorf("encoding a light block: %v", err)
			return body
		}
		raw, _ = pb.Marshal()
		m["light_block"] = base64.StdEncoding.EncodeToString(raw)
		m["hash"] = strings.ToUpper(hex.EncodeToString(lb.Header.Hash()))
	case strings.TrimPrefix(path, "/v1/txs/") == l.tx && l.is("tx-code"):
		// The tx shown as failed.
		m["code"] = float64(medledger.KindUnauthorized)
		m["kind"] = medledger.KindUnauthorized.String()
	case strings.TrimPrefix(path, "/v1/txs/") == l.tx && l.is("tx-bytes"):
		// The inclusion proof of the tx swapped for another tx's bytes.
		if p, ok := m["proof"].(map[string]any); ok {
			p["tx"] = base64.StdEncoding.EncodeToString(l.other)
		}
	case strings.TrimPrefix(path, "/v1/txs/") == l.tx && l.is("tx-height"):
		// The tx placed one block later than it is.
		m["height"] = m["height"].(float64) + 1
		if p, ok := m["proof"].(map[string]any); ok {
			p["height"] = m["height"]
		}
	default:
		return body
	}
	b, err := json.Marshal(m)
	if err != nil {
		l.t.Errorf("re-encoding a tampered answer: %v", err)
	}
	return b
}

// forge returns the grant, in force, with a proof rebuilt around that value,
// and the root the proof then hashes to: what a node that lies consistently
// serves at state height h.
func (l *liar) forge(h int64) forgery {
	if h < 1 { // before the first block: no state to forge, only a root
		return forgery{root: bytes.Repeat([]byte{0xf0}, 32)}
	}
	l.mu.Lock()
	f, ok := l.forged[h]
	l.mu.Unlock()
	if ok {
		return f
	}
	resp, err := http.Get(l.node + "/v1/state?key=" + l.key + "&height=" + strconv.FormatInt(h, 10))
	if err != nil {
		l.t.Errorf("forging at %d: %v", h, err)
		return f
	}
	defer resp.Body.Close()
	var sp medledger.StateProof
	if err := json.NewDecoder(resp.Body).Decode(&sp); err != nil {
		l.t.Errorf("forging at %d: %v", h, err)
		return f
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(sp.Proof); err != nil || p.GetExist() == nil {
		l.t.Errorf("forging at %d: no existence proof (%v)", h, err)
		return f
	}
	p.GetExist().Value = l.active
	root, err := p.GetExist().Calculate()
	if err != nil {
		l.t.Errorf("forging at %d: %v", h, err)
		return f
	}
	sp.Value = l.active
	sp.Proof, _ = p.Marshal()
	f = forgery{sp: sp, root: root}
	l.mu.Lock()
	l.forged[h] = f
	l.mu.Unlock()
	return f
}

// TestLyingNode puts a tampering proxy in front of a real node and checks
// that a verified client refuses every lie about a revoked grant and a tx,
// while a plain client, which trusts the node's headers, is fooled by the
// consistent ones.
func TestLyingNode(t *testing.T) {
	ctx := context.Background()
	reg, admin, doctor, patient := newSigner(t), newSigner(t), newSigner(t), newSigner(t)
	n := start(t, initHome(t, reg))
	defer n.Close()
	c := client.New(n.APIURL())
	send(t, c, reg, &client.AdmitOrg{Org: "st-marys", OrgType: medledger.OrgHospital, Name: "St Mary's", Licence: "H-1", Admin: admin.pub})
	send(t, c, admin, &client.EnrolMember{Keys: doctor.pub, Roles: []medledger.Role{medledger.RolePhysician}})
	send(t, c, patient, &client.RegisterPatient{Keys: patient.pub})
	hdr, err := c.Header(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := &client.GrantAccess{ID: client.NewGrantID(), Patient: patient.ID, Grantee: client.Grantee{Member: doctor.ID},
		Scope: client.Scope{All: true}, Purpose: consent.PurposeTreatment, Expires: hdr.Time.Add(24 * time.Hour).Unix()}
	granted := send(t, c, patient, g)
	revoked := send(t, c, patient, &client.Revoke{Patient: patient.ID, Grant: g.ID})
	waitHeight(t, n, revoked.Height+2)

	// What the liar needs: the grant's bytes while in force, from the node.
	active, err := c.ProvenState(ctx, consent.GrantKey(patient.ID, g.ID))
	if err != nil || active.Value == nil {
		t.Fatalf("grant: %v", err)
	}
	var now client.Grant
	if err := medledger.UnmarshalTrusted(active.Value, &now); err != nil || now.Revoked == 0 {
		t.Fatalf("the grant is not revoked: %+v %v", now, err)
	}
	oldResp, err := http.Get(fmt.Sprintf("%s/v1/state?key=%x&height=%d", n.APIURL(), consent.GrantKey(patient.ID, g.ID), granted.Height))
	if err != nil {
		t.Fatal(err)
	}
	var old medledger.StateProof
	json.NewDecoder(oldResp.Body).Decode(&old)
	oldResp.Body.Close()

	l := newLiar(t, n.APIURL())
	l.key, l.active, l.oldH = hex.EncodeToString(consent.GrantKey(patient.ID, g.ID)), old.Value, granted.Height
	l.tx, l.other = hex.EncodeToString(revoked.Hash), txBytes(t, n.APIURL(), granted.Hash)

	// The root of trust: block 1's header hash, from the honest node.
	h1, err := c.Header(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	trust := client.TrustOptions{ChainID: "medledger-e2e", Height: 1, Hash: h1.BlockHash, Period: time.Hour}
	vc, err := client.NewVerified(l.srv.URL, trust)
	if err != nil {
		t.Fatal(err)
	}
	plain := client.New(l.srv.URL)

	revokedGrant := func(t *testing.T, c *client.Client) {
		t.Helper()
		got, sp, err := c.ProvenGrant(ctx, patient.ID, g.ID)
		if err != nil {
			t.Fatalf("honest read: %v", err)
		}
		if got.Revoked != revoked.Height || sp.Height < revoked.Height {
			t.Fatalf("grant %+v at height %d, revoked at %d", got, sp.Height, revoked.Height)
		}
	}
	t.Run("honest", func(t *testing.T) {
		l.set("")
		revokedGrant(t, vc)
		revokedGrant(t, plain)
		if _, _, err := vc.ProvenAccount(ctx, patient.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := vc.ProvenOrg(ctx, "st-marys"); err != nil {
			t.Fatal(err)
		}
		if _, sp, err := vc.ProvenAccount(ctx, newSigner(t).ID); medledger.KindOf(err) != medledger.KindNotFound || sp == nil {
			t.Fatalf("absent account: %v", err)
		}
		st, err := vc.Tx(ctx, revoked.Hash)
		if err != nil || st.Height != revoked.Height || st.Code != 0 || st.Proof == nil {
			t.Fatalf("verified tx: %+v %v", st, err)
		}
		// Writes through the verified client: Commit checks the inclusion.
		st = send(t, vc, admin, &client.EnrolMember{Keys: newSigner(t).pub, Roles: []medledger.Role{medledger.RoleNurse}})
		if st.Proof == nil {
			t.Fatal("a verified commit without its proof")
		}
		hdr, err := vc.VerifiedHeader(ctx, st.Height)
		if err != nil || !bytes.Equal(hdr.DataHash, st.Proof.DataHash) {
			t.Fatalf("verified header %d: %+v %v", st.Height, hdr, err)
		}
	})

	// fooled checks that the plain client believes the grant is in force.
	fooled := func(t *testing.T) {
		t.Helper()
		got, _, err := plain.ProvenGrant(ctx, patient.ID, g.ID)
		if err != nil {
			t.Fatalf("the plain client saw through the lie: %v", err)
		}
		if got.Revoked != 0 {
			t.Fatalf("the lie did not take: grant %+v", got)
		}
	}
	refused := func(t *testing.T, c *client.Client) {
		t.Helper()
		got, _, err := c.ProvenGrant(ctx, patient.ID, g.ID)
		if !errors.Is(err, client.ErrVerification) || got != nil {
			t.Fatalf("want ErrVerification and no grant, got %+v, %v", got, err)
		}
		t.Logf("refused: %v", err)
	}
	cases := []struct {
		mode       string
		plainFools bool
	}{
		{"value", false},          // (a) the value rewritten, the proof kept
		{"forge", true},           // (a)+(c) value, proof, header and light block forged consistently
		{"replay", true},          // (b) an old proof with the old value
		{"replay-relabel", false}, // (b) the same, claiming the height asked for
		{"forge-header", false},   // (c) only the light block's app hash forged
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			// New blocks past the verified ones, so that the client must
			// verify a header the liar serves.
			l.set("")
			seen, err := vc.VerifiedHeader(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			waitHeight(t, n, seen.Height+2)
			l.set(tc.mode)
			refused(t, vc)
			if tc.plainFools {
				fooled(t)
			}
			// Once the node answers honestly again, the verified client
			// recovers.
			l.set("")
			revokedGrant(t, vc)
		})
	}
	// A fresh client's first header is forged: refused from the start.
	t.Run("forged-first-header", func(t *testing.T) {
		fresh, err := client.NewVerified(l.srv.URL, trust)
		if err != nil {
			t.Fatal(err)
		}
		l.set("forge-header")
		refused(t, fresh)
		l.set("")
		revokedGrant(t, fresh)
	})
	// (d) tx results and inclusion proofs.
	for _, mode := range []string{"tx-code", "tx-bytes", "tx-height"} {
		t.Run(mode, func(t *testing.T) {
			l.set(mode)
			defer l.set("")
			st, err := vc.Tx(ctx, revoked.Hash)
			if !errors.Is(err, client.ErrVerification) || st != nil {
				t.Fatalf("want ErrVerification and no status, got %+v, %v", st, err)
			}
			t.Logf("refused: %v", err)
			if mode == "tx-code" {
				st, err := plain.Tx(ctx, revoked.Hash)
				if err != nil || st.Code != medledger.KindUnauthorized {
					t.Fatalf("the plain client saw through the lie: %+v %v", st, err)
				}
			}
		})
	}
	// The CLI reads verified with --trust-height and --trust-hash.
	t.Run("cli", func(t *testing.T) {
		run := func() (int, string) {
			var out, errb bytes.Buffer
			code := cli.Main(ctx, []string{"query", "account", string(patient.ID), "--prove", "--home", tempDir(t), "--node", l.srv.URL,
				"--trust-height", "1", "--trust-hash", hex.EncodeToString(h1.BlockHash)}, strings.NewReader(""), &out, &errb)
			return code, out.String() + errb.String()
		}
		l.set("")
		if code, out := run(); code != 0 || !strings.Contains(out, string(patient.ID)) {
			t.Fatalf("honest: exit %d: %s", code, out)
		}
		l.set("forge-header")
		defer l.set("")
		if code, out := run(); code == 0 || !strings.Contains(out, "verification failed") {
			t.Fatalf("forged: exit %d: %s", code, out)
		}
	})
	// A wrong root of trust fails at once.
	t.Run("wrong-trust", func(t *testing.T) {
		l.set("")
		bad := trust
		bad.Hash = bytes.Repeat([]byte{7}, 32)
		wc, err := client.NewVerified(l.srv.URL, bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := wc.ProvenAccount(ctx, patient.ID); !errors.Is(err, client.ErrVerification) {
			t.Fatalf("a wrong trusted hash: %v", err)
		}
	})
}

// txBytes returns a committed tx's bytes as its proof carries them.
func txBytes(t *testing.T, api string, hash []byte) []byte {
	resp, err := http.Get(api + "/v1/txs/" + hex.EncodeToString(hash) + "?prove=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st medledger.TxStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Proof == nil {
		t.Fatalf("tx proof: %v", err)
	}
	return st.Proof.Tx
}

// TestVerifiedTestnet reads through a verified client on a 4-validator
// network: headers from one node, cross-checked against another as witness.
func TestVerifiedTestnet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	reg := newSigner(t)
	tn := startTestnet(t, 4, reg)
	running := tn.nodes
	ctx := context.Background()
	h1, err := client.New(running[0].APIURL()).Header(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := client.NewVerified(running[2].APIURL(), client.TrustOptions{ChainID: testnetChainID, Height: 1, Hash: h1.BlockHash}, running[3].APIURL())
	if err != nil {
		t.Fatal(err)
	}
	admin := newSigner(t)
	st := send(t, vc, reg, &client.AdmitOrg{Org: "lab-net", OrgType: medledger.OrgLab, Name: "Lab", Licence: "L", Admin: admin.pub})
	if st.Proof == nil {
		t.Fatal("no verified proof of the commit")
	}
	o, sp, err := vc.ProvenOrg(ctx, "lab-net")
	if err != nil || o.ID != "lab-net" || sp.Height < st.Height {
		t.Fatalf("verified org: %+v %v", o, err)
	}
	hdr, err := vc.VerifiedHeader(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Height < st.Height+1 {
		t.Fatalf("latest verified header %d, tx at %d", hdr.Height, st.Height)
	}
}

// BenchmarkVerifiedRead compares, on one node, an account read without a
// proof, a proven read checked against the node's own header, and a proven
// read checked against a light-client-verified header (the latest header
// verified on every read; its one witness is the same node).
//
//	go test -run '^$' -bench VerifiedRead -benchtime 50x ./internal/node/
func BenchmarkVerifiedRead(b *testing.B) {
	reg, patient := newSigner(b), newSigner(b)
	n := start(b, initHome(b, reg))
	defer n.Close()
	ctx := context.Background()
	c := client.New(n.APIURL())
	if _, err := c.Send(ctx, patient.Signer, &client.RegisterPatient{Keys: patient.pub}); err != nil {
		b.Fatal(err)
	}
	h1, err := c.Header(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	vc, err := client.NewVerified(n.APIURL(), client.TrustOptions{ChainID: "medledger-e2e", Height: 1, Hash: h1.BlockHash})
	if err != nil {
		b.Fatal(err)
	}
	reads := map[string]func() error{
		"unproven": func() error { _, err := c.Account(ctx, patient.ID); return err },
		"proven":   func() error { _, _, err := c.ProvenAccount(ctx, patient.ID); return err },
		"verified": func() error { _, _, err := vc.ProvenAccount(ctx, patient.ID); return err },
	}
	for _, name := range []string{"unproven", "proven", "verified"} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := reads[name](); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"medledger"
	"medledger/client"
	"medledger/internal/identity"
)

func getBlocks(t *testing.T, base, query string) (int, medledger.BlockList, string) {
	t.Helper()
	resp, err := http.Get(base + "/v1/blocks" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var list medledger.BlockList
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, list, string(body)
}

// TestBlocks lists recent blocks through GET /v1/blocks: newest first,
// each tx with its hash, message type and result, paging with before,
// skipping empty blocks with txs_only, and nothing of a tx's content.
func TestBlocks(t *testing.T) {
	reg := newSigner(t)
	n := start(t, initHome(t, reg))
	defer n.Close()
	c := client.New(n.APIURL())
	admin, patient := newSigner(t), newSigner(t)
	admit := send(t, c, reg, &client.AdmitOrg{Org: "st-marys", OrgType: medledger.OrgHospital, Name: "St Mary's", Licence: "H-1",
		GatewayURL: "https://gw.example", Admin: admin.pub})
	register := send(t, c, patient, &client.RegisterPatient{Keys: patient.pub})
	waitHeight(t, n, register.Height+3) // empty blocks after the txs

	code, list, body := getBlocks(t, n.APIURL(), "?limit=3")
	if code != http.StatusOK || len(list.Blocks) != 3 || list.Latest < register.Height+3 {
		t.Fatalf("limit=3: %d %s", code, body)
	}
	for i, b := range list.Blocks {
		if b.Height != list.Latest-int64(i) || len(b.Hash) != 32 || len(b.ProposerAddress) != 20 || b.Time.IsZero() || b.NumTxs != len(b.Txs) {
			t.Fatalf("block %d: %+v (latest %d)", i, b, list.Latest)
		}
	}
	if list.Next != list.Latest-2 {
		t.Fatalf("next %d, latest %d", list.Next, list.Latest)
	}
	hdr, err := c.Header(t.Context(), list.Blocks[0].Height)
	if err != nil || !strings.EqualFold(hdr.BlockHash.String(), list.Blocks[0].Hash.String()) {
		t.Fatalf("block hash %s, header %+v, %v", list.Blocks[0].Hash, hdr, err)
	}

	// Paging down to the first block ends with no next page.
	seen := map[int64]bool{}
	for before, pages := int64(0), 0; ; pages++ {
		q := "?limit=50"
		if before > 0 {
			q += "&before=" + strconv.FormatInt(before, 10)
		}
		_, page, _ := getBlocks(t, n.APIURL(), q)
		for _, b := range page.Blocks {
			if seen[b.Height] || (before > 0 && b.Height >= before) {
				t.Fatalf("block %d twice or above %d", b.Height, before)
			}
			seen[b.Height] = true
		}
		if page.Next == 0 {
			break
		}
		before = page.Next
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if !seen[1] || !seen[register.Height] {
		t.Fatalf("paging missed blocks: %d seen", len(seen))
	}

	// Only the blocks with txs: the two txs, with their types and codes.
	code, list, body = getBlocks(t, n.APIURL(), "?txs_only=true&limit=50")
	if code != http.StatusOK {
		t.Fatalf("txs_only: %d %s", code, body)
	}
	found := map[string]medledger.TxSummary{}
	for _, b := range list.Blocks {
		if b.NumTxs == 0 || len(b.Txs) != b.NumTxs {
			t.Fatalf("txs_only listed block %+v", b)
		}
		for _, tx := range b.Txs {
			found[tx.Hash.String()] = tx
		}
	}
	for st, typ := range map[*medledger.TxStatus]string{admit: identity.TypeAdmitOrg, register: identity.TypeRegisterPatient} {
		tx, ok := found[st.Hash.String()]
		if !ok || tx.Type != typ || tx.Code != 0 {
			t.Fatalf("tx %s (%s): listed as %+v", st.Hash, typ, tx)
		}
	}
	// Public metadata only: the admitted org's name is in the tx, not here.
	if strings.Contains(body, "St Mary") || strings.Contains(body, "gw.example") {
		t.Fatalf("the block list carries tx content: %s", body)
	}

	for _, q := range []string{"?limit=0", "?limit=51", "?limit=x", "?before=0", "?before=-3", "?txs_only=maybe"} {
		if code, _, body := getBlocks(t, n.APIURL(), q); code != http.StatusBadRequest || !strings.Contains(body, "problem") && !strings.Contains(body, "must") {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
}

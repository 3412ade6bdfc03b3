package bench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"medledger"
	"medledger/client"
	"medledger/gs1"
	"medledger/internal/consent"
	"medledger/internal/records"
)

// anchorStream anchors new records: a physician authoring lab results for
// patients of the bench world, one record per tx. The blob is not
// uploaded: anchoring only needs its hash, and that is what is measured.
type anchorStream struct {
	chainID  string
	s        client.Signer
	base     uint64 // the account's nonce before the run
	patients []medledger.ID
	size     int64
}

func (a *anchorStream) kind() string                    { return "anchor" }
func (a *anchorStream) account() (medledger.ID, uint64) { return a.s.ID, a.base }

func (a *anchorStream) build(seq uint64) ([]byte, error) {
	var seed [40]byte
	copy(seed[:], a.s.ID)
	binary.BigEndian.PutUint64(seed[32:], a.base+seq)
	blob := medledger.BlobID(sha256.Sum256(seed[:]))
	m := &client.Anchor{Record: records.IDFor(blob), Version: 1, Patient: a.patients[int(seq)%len(a.patients)], Blob: blob,
		Size: a.size, ContentType: "Observation", Category: "lab"}
	return client.BuildTx(a.chainID, a.s, a.base+seq, m)
}

// grantStream is a patient granting a physician access to their lab
// results for treatment, then revoking it, in turn.
type grantStream struct {
	chainID string
	s       client.Signer
	base    uint64
	grantee medledger.ID
	expires int64
}

func (g *grantStream) kind() string                    { return "grant" }
func (g *grantStream) account() (medledger.ID, uint64) { return g.s.ID, g.base }

func (g *grantStream) grantID(seq uint64) string {
	h := sha256.Sum256(append([]byte(g.s.ID), strconv.FormatUint(seq, 10)...))
	return hex.EncodeToString(h[:16])
}

func (g *grantStream) build(seq uint64) ([]byte, error) {
	var m client.Msg
	if seq%2 == 1 {
		m = &client.GrantAccess{ID: g.grantID(seq), Patient: g.s.ID, Grantee: client.Grantee{Member: g.grantee},
			Scope: client.Scope{Categories: []string{"lab"}}, Purpose: consent.PurposeTreatment, Expires: g.expires}
	} else {
		m = &client.Revoke{Patient: g.s.ID, Grant: g.grantID(seq - 1)}
	}
	return client.BuildTx(g.chainID, g.s, g.base+seq, m)
}

// commissionStream commissions batches of serials of the bench product,
// each member its own serial prefix.
type commissionStream struct {
	chainID string
	s       client.Signer
	base    uint64
	gtin    string
	prefix  string
	batch   int
	expiry  string // ISO date within the product's shelf life
}

func (c *commissionStream) kind() string                    { return "commission" }
func (c *commissionStream) account() (medledger.ID, uint64) { return c.s.ID, c.base }

func (c *commissionStream) build(seq uint64) ([]byte, error) {
	m := &client.Commission{GTIN: c.gtin, Lot: "BENCH", Expiry: c.expiry,
		Range: &client.SerialRange{Prefix: c.prefix, Start: (seq - 1) * uint64(c.batch), Count: uint32(c.batch), Width: 8}}
	return client.BuildTx(c.chainID, c.s, c.base+seq, m)
}

// serial returns the i-th serial commissionStream commissioned.
func (c *commissionStream) serial(i uint64) string { return fmt.Sprintf("%s%08d", c.prefix, i) }

// kvStream is the baseline's: "key=value" txs of a fixed size, unique per
// stream and sequence number.
type kvStream struct {
	id   int
	size int
}

func (k *kvStream) kind() string { return "kv" }

func (k *kvStream) build(seq uint64) ([]byte, error) {
	key := fmt.Sprintf("bench%d-%d=", k.id, seq)
	tx := make([]byte, max(k.size, len(key)+1))
	copy(tx, key)
	for i := len(key); i < len(tx); i++ {
		tx[i] = 'a' + byte(i%26)
	}
	return tx, nil
}

// opLoop runs op at rate per second (as fast as possible if rate is 0) on
// width workers until stop closes or n ops were started (n > 0). Latency
// runs from when an op was due, so a slow server cannot hide its queue.
func opLoop(ctx context.Context, stop <-chan struct{}, rate float64, width, n int, st *stats, op func(ctx context.Context, i int) error) {
	due := make(chan time.Time, width)
	done := make(chan struct{})
	for range width {
		go func() {
			defer func() { done <- struct{}{} }()
			i := 0
			for t := range due {
				err := op(ctx, i)
				st.op(time.Since(t), err)
				i++
			}
		}()
	}
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
	}
	for started := 0; n <= 0 || started < n; started++ {
		t := time.Now()
		if tick != nil {
			select {
			case t = <-tick.C:
			case <-stop:
				goto out
			case <-ctx.Done():
				goto out
			}
		}
		select {
		case due <- t:
		case <-stop:
			goto out
		case <-ctx.Done():
			goto out
		}
	}
out:
	close(due)
	for range width {
		<-done
	}
}

// sgtinURN is the EPC URN of a bench pack.
func sgtinURN(gtin, serial string) string {
	u, _ := gs1.SGTIN{GTIN: gtin, Serial: serial}.URN(benchPrefixLen)
	return u
}

const (
	benchGTIN      = "09506000134352"
	benchPrefix    = "9506000"
	benchPrefixLen = 7
)

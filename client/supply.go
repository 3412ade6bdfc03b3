package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"medledger"
	"medledger/internal/state"
	"medledger/internal/supply"
)

// Messages and records of the supply module.
type (
	RegisterProduct = supply.RegisterProduct
	TransferProduct = supply.TransferProduct
	Commission      = supply.Commission
	SerialRange     = supply.SerialRange
	Aggregate       = supply.Aggregate
	Disaggregate    = supply.Disaggregate
	Ship            = supply.Ship
	Receive         = supply.Receive
	Dispense        = supply.Dispense
	Decommission    = supply.Decommission
	Recall          = supply.Recall
	Observe         = supply.Observe
	RegisterDevice  = supply.RegisterDevice
	AttachDevice    = supply.AttachDevice
	Readings        = supply.Readings
	Reading         = supply.Reading
	EventContext    = supply.Context
	BizTransaction  = supply.BizTransaction
	Product         = supply.Product
	Lot             = supply.Lot
	Shipment        = supply.Shipment
	Device          = supply.Device
	SupplyEvent     = supply.Event
	Verification    = supply.Verification
)

// VerifyResult is a pack's verification as a node answered it.
type VerifyResult struct {
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
	*supply.Verification
	Proofs []*medledger.StateProof `json:"proofs,omitempty"`
}

// VerifyPack asks a node about a pack, named by an EPC URN
// (urn:epc:id:sgtin:...) or a GS1 Digital Link (https://id.gs1.org/01/.../21/...).
// No account is needed. A verified client (NewVerified) also checks the
// answer: every state key it was built from is proven against a verified
// app hash, and the answer is recomputed here from the proven values.
func (c *Client) VerifyPack(ctx context.Context, id string) (*VerifyResult, error) {
	q := url.Values{}
	if len(id) > 8 && (id[:7] == "http://" || id[:8] == "https://") {
		q.Set("link", id)
	} else {
		q.Set("epc", id)
	}
	if c.lc == nil {
		var out VerifyResult
		return &out, c.get(ctx, "/v1/supply/verify?"+q.Encode(), &out)
	}
	pin, err := c.pin(ctx)
	if err != nil {
		return nil, err
	}
	q.Set("prove", "true")
	var out VerifyResult
	if err := c.get(ctx, withHeight("/v1/supply/verify?"+q.Encode(), pin), &out); err != nil {
		return nil, err
	}
	if err := c.checkVerification(ctx, &out, pin); err != nil {
		return nil, err
	}
	return &out, nil
}

// provenReader serves only proven keys; reading any other is an error, so
// an answer that needed an unproven key cannot be recomputed.
type provenReader map[string][]byte

func (p provenReader) Get(k []byte) ([]byte, error) {
	v, ok := p[string(k)]
	if !ok {
		return nil, proofError(fmt.Sprintf("the answer depends on key %q, which the node did not prove", k))
	}
	return v, nil
}

func (p provenReader) Iterate(_, _ []byte, _ func(k, v []byte) bool) error {
	return proofError("a verification does not iterate")
}

var _ state.Reader = provenReader(nil)

func (c *Client) checkVerification(ctx context.Context, v *VerifyResult, pin int64) error {
	if v.Verification == nil {
		return ErrProofMissing
	}
	kv := provenReader{}
	for _, sp := range v.Proofs {
		if err := checkPinned(sp, pin); err != nil {
			return err
		}
		if err := c.VerifyStateProof(ctx, sp); err != nil {
			return err
		}
		kv[string(sp.Key)] = sp.Value
	}
	// The node's clock for expiry must be that of the verified block.
	h, err := c.lc.At(ctx, v.Height+1)
	if err != nil {
		return err
	}
	if d := h.Time.Sub(v.Time); d < -time.Hour || d > time.Hour {
		return proofError(fmt.Sprintf("the answer is dated %s, the verified block %s", v.Time, h.Time))
	}
	again, err := supply.Verify(kv, v.EPC, v.Time.Unix())
	if err != nil {
		return err
	}
	got, _ := json.Marshal(v.Verification)
	want, _ := json.Marshal(again)
	if string(got) != string(want) {
		return proofError("the node's answer differs from what its proven state says")
	}
	return nil
}

// Product returns a product and its lots.
func (c *Client) Product(ctx context.Context, gtin string) (*Product, []Lot, error) {
	var out struct {
		Product *Product `json:"product"`
		Lots    []Lot    `json:"lots"`
	}
	if err := c.get(ctx, "/v1/supply/products/"+url.PathEscape(gtin), &out); err != nil {
		return nil, nil, err
	}
	return out.Product, out.Lots, nil
}

// Products lists registered products; owner "" means every one.
func (c *Client) Products(ctx context.Context, owner string) ([]Product, error) {
	path := "/v1/supply/products"
	if owner != "" {
		path += "?owner=" + url.QueryEscape(owner)
	}
	var out struct {
		Products []Product `json:"products"`
	}
	return out.Products, c.get(ctx, path, &out)
}

// Shipment returns a shipment, its items given as EPC URNs.
func (c *Client) Shipment(ctx context.Context, id string) (*Shipment, error) {
	var out struct {
		Shipment *Shipment `json:"shipment"`
	}
	return out.Shipment, c.get(ctx, "/v1/supply/shipments/"+url.PathEscape(id), &out)
}

// Device returns a registered device.
func (c *Client) Device(ctx context.Context, id string) (*Device, error) {
	var out struct {
		Device *Device `json:"device"`
	}
	return out.Device, c.get(ctx, "/v1/supply/devices/"+url.PathEscape(id), &out)
}

// SignReadings signs a batch of readings with the device's key, for the
// chain the client talks to.
func (c *Client) SignReadings(ctx context.Context, device ed25519.PrivateKey, m *Readings) error {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return err
	}
	m.Signature = ed25519.Sign(device, m.SignedBytes(chainID))
	return nil
}

// SendUnordered submits a message that travels unordered (readings), with
// a random request ID valid for requestTimeout blocks, and waits for it to
// commit.
func (c *Client) SendUnordered(ctx context.Context, s Signer, msg Msg) (*medledger.TxStatus, error) {
	raw, err := c.buildUnordered(ctx, s, msg)
	if err != nil {
		return nil, err
	}
	return c.Commit(ctx, raw)
}

// RxCommitment is what a dispense records of its prescription: a hash of
// the prescription record's ID with a random salt the pharmacy keeps (in
// the patient's record, say). Whoever holds both can show the link;
// nobody can find it by trying every record ID on the chain.
func RxCommitment(record string, salt []byte) string {
	h := sha256.New()
	h.Write([]byte("medledger/rx/v1\x00"))
	h.Write(salt)
	h.Write([]byte(record))
	return hex.EncodeToString(h.Sum(nil))
}

// NewRxSalt returns a fresh 16-byte salt for RxCommitment.
func NewRxSalt() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// EPCIS returns an EPCIS 2.0 JSON-LD document: the custody trail of a pack
// (q holds epc, sgtin or link) or a shipment's events (q holds shipment).
func (c *Client) EPCIS(ctx context.Context, q url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/supply/epcis?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var doc []byte
	err = c.sendRaw(req, func(resp *http.Response) error {
		doc, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		return err
	})
	return doc, err
}

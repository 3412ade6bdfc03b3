package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/gs1"
	"medledger/internal/state"
	"medledger/internal/supply"
)

// The supply chain's reads are public: anyone may verify a pack, with no
// account. They hold no PHI (a dispense says where and when, never for
// whom).

var pGTIN = param{Name: "gtin", In: "path", Type: "string", Required: true, Desc: "GTIN, 14 digits."}

func (s *Server) supplyRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/supply/verify", ID: "verifyPack", Tag: "supply", Summary: "Verify a pack: authenticity, status, custody, expiry, recall, excursions and its custody trail",
			Params: []param{{Name: "code", In: "query", Type: "string", Desc: "What a scanner read or a person typed: an SGTIN or SSCC EPC URN, a GS1 Digital Link, " +
				"or a GS1 element string as a DataMatrix or QR scanner types it (symbology identifier such as ]d2, ASCII 29 GS after each variable-length value) " +
				"or as printed under the symbol: (01)09506000134352(21)ABC123(17)271231(10)L1."},
				{Name: "sgtin", In: "query", Type: "string", Desc: "SGTIN EPC URN, e.g. urn:epc:id:sgtin:0614141.812345.6789."},
				{Name: "link", In: "query", Type: "string", Desc: "GS1 Digital Link, e.g. https://id.gs1.org/01/09506000134352/21/ABC123."},
				{Name: "epc", In: "query", Type: "string", Desc: "Any EPC URN (SGTIN or SSCC)."}, pProve, pHeight},
			Responses: map[int]string{200: "The verification. An identifier never commissioned answers status unknown, suspect.", 400: "No identifier given.", 422: "The identifier is malformed; the detail says why."},
			Schema:    "VerifyResponse", handle: (*Server).verifyPack},
		{Method: "GET", Path: "/v1/supply/products", ID: "listProducts", Tag: "supply", Summary: "Registered products, or those one organisation owns",
			Params:    []param{{Name: "owner", In: "query", Type: "string", Desc: "Only this organisation's products."}},
			Responses: map[int]string{200: "Products in GTIN order."}, Schema: "ProductList", handle: (*Server).listProducts},
		{Method: "GET", Path: "/v1/supply/products/{gtin}", ID: "getProduct", Tag: "supply", Summary: "A product and its lots",
			Params: []param{pGTIN, pProve, pHeight}, Responses: map[int]string{200: "The product.", 404: "No product under this GTIN."}, Schema: "ProductResponse", handle: (*Server).getProduct},
		{Method: "GET", Path: "/v1/supply/shipments/{id}", ID: "getShipment", Tag: "supply", Summary: "A shipment: parties, items, receipt, discrepancies, cold chain and excursions",
			Params:    []param{{Name: "id", In: "path", Type: "string", Required: true, Desc: "Shipment ID."}, pProve, pHeight},
			Responses: map[int]string{200: "The shipment.", 404: "No such shipment."}, Schema: "ShipmentResponse", handle: (*Server).getShipment},
		{Method: "GET", Path: "/v1/supply/devices/{id}", ID: "getDevice", Tag: "supply", Summary: "A registered cold-chain device",
			Params:    []param{{Name: "id", In: "path", Type: "string", Required: true, Desc: "Device ID."}, pProve, pHeight},
			Responses: map[int]string{200: "The device.", 404: "No such device."}, Schema: "DeviceResponse", handle: (*Server).getDevice},
	}
}

// VerifyResponse is the body of GET /v1/supply/verify.
type VerifyResponse struct {
	Height int64 `json:"height"`
	// Time is the block time the answer was judged at (expiry).
	Time time.Time `json:"time"`
	*supply.Verification
	// Label compares what a code (the code parameter) printed besides the
	// pack's identity, its lot and expiry, with the ledger's; absent when
	// the code carried neither.
	Label  *LabelCheck             `json:"label,omitempty"`
	Proofs []*medledger.StateProof `json:"proofs,omitempty"`
}

// LabelCheck is what a pack's symbol says of its lot and expiry, against
// the ledger. A genuine serial on a label whose lot or expiry differs from
// the ledger's is a relabelled or counterfeit pack.
type LabelCheck struct {
	Lot    string `json:"lot,omitempty"`    // AI 10 as scanned
	Expiry string `json:"expiry,omitempty"` // AI 17 as scanned, as a date YYYY-MM-DD
	// Matches is false when the ledger knows the pack's lot and the
	// label's lot or expiry differs from it.
	Matches bool   `json:"matches"`
	Detail  string `json:"detail,omitempty"` // what differs
}

// scannedCode is what the code parameter names: the pack, and the lot
// and expiry (YYMMDD) its symbol printed, if any.
type scannedCode struct {
	EPC, Lot, Expiry string
}

// checkLabel compares a scanned lot and expiry with the ledger's answer.
// An expiry of day 00 means the month's end, so only its year and month
// are compared; the century is that nearest to the year of now.
func checkLabel(sc scannedCode, v *supply.Verification, now time.Time) *LabelCheck {
	if sc.Lot == "" && sc.Expiry == "" {
		return nil
	}
	lc := &LabelCheck{Lot: sc.Lot, Matches: true}
	var exp gs1.Date
	if sc.Expiry != "" {
		d, err := gs1.ParseYYMMDD(sc.Expiry, now.UTC().Year())
		if err != nil {
			return nil // checked by the parser already
		}
		exp, lc.Expiry = d, d.String()
	}
	if v.Lot == nil {
		return lc // nothing known to compare with
	}
	var diffs []string
	if sc.Lot != "" && sc.Lot != v.Lot.Lot {
		diffs = append(diffs, "the label says lot "+sc.Lot+", the ledger lot "+v.Lot.Lot)
	}
	if sc.Expiry != "" {
		want := v.Lot.Expiry
		got := lc.Expiry
		if strings.HasSuffix(sc.Expiry, "00") && len(want) >= 7 {
			want, got = want[:7], got[:7]
		}
		if got != want {
			diffs = append(diffs, "the label says expiry "+exp.String()+", the ledger "+v.Lot.Expiry)
		}
	}
	if len(diffs) > 0 {
		lc.Matches, lc.Detail = false, strings.Join(diffs, "; ")
	}
	return lc
}

// readAt returns a reader at the requested (or latest) committed height.
func (s *Server) readAt(r *http.Request) (state.Reader, int64, error) {
	height := s.state.Version()
	if h := r.URL.Query().Get("height"); h != "" {
		v, err := strconv.ParseInt(h, 10, 64)
		if err != nil || v < 1 || v > height {
			return nil, 0, medledger.Errorf(medledger.KindInvalid, "height must be between 1 and %d", height)
		}
		height = v
	}
	rd, err := s.state.ReaderAt(height)
	if err != nil {
		return nil, 0, medledger.Errorf(medledger.KindNotFound, "height %d is not available", height)
	}
	return rd, height, nil
}

// epcFromQuery reads the identifier a verification names.
func epcFromQuery(r *http.Request, rd state.Reader) (string, error) {
	q := r.URL.Query()
	switch {
	case q.Get("sgtin") != "":
		e, err := gs1.ParseEPC(q.Get("sgtin"))
		if err != nil || e.Kind != "sgtin" {
			if err == nil {
				err = medledger.Errorf(medledger.KindInvalid, "sgtin must be an SGTIN URN")
			}
			return "", medledger.Errorf(medledger.KindInvalid, "sgtin: %v", err)
		}
		return e.String(), nil
	case q.Get("epc") != "":
		return q.Get("epc"), nil
	case q.Get("link") != "":
		dl, err := gs1.ParseDigitalLink(q.Get("link"))
		if err != nil {
			return "", medledger.Errorf(medledger.KindInvalid, "link: %v", err)
		}
		if dl.SSCC != "" {
			return sscc(rd, dl.SSCC)
		}
		if dl.Serial == "" {
			return "", medledger.Errorf(medledger.KindInvalid, "link: a pack is verified by its serial (AI 21); this link names only a product")
		}
		return sgtinURN(rd, dl.GTIN, dl.Serial)
	}
	return "", medledger.Errorf(medledger.KindMalformed, "give code, sgtin, link or epc")
}

// sgtinURN returns the SGTIN URN of a pack. The URN splits the GTIN at the
// company prefix, which the product records; an unregistered GTIN gets the
// common 7.
func sgtinURN(rd state.Reader, gtin, serial string) (string, error) {
	prefix := 7
	if p, err := supply.GetProduct(rd, gtin); err != nil {
		return "", err
	} else if p != nil {
		prefix = len(p.CompanyPrefix)
	}
	return gs1.SGTIN{GTIN: gtin, Serial: serial}.URN(prefix)
}

// epcFromCode reads the code parameter: whatever a scanner or a person
// gave, in any of the forms a pack is named by. It tells them apart by
// their start: an EPC URN, a Digital Link (which a QR scanner may prefix
// with a symbology identifier), or else a GS1 element string.
func epcFromCode(rd state.Reader, code string) (scannedCode, error) {
	s := strings.TrimSpace(code)
	if len(s) > 3 && s[0] == ']' && isLink(s[3:]) {
		s = s[3:]
	}
	var sc scannedCode
	switch {
	case hasPrefixFold(s, "urn:"):
		e, err := gs1.ParseEPC(s)
		if err != nil {
			return sc, medledger.Errorf(medledger.KindInvalid, "%v", err)
		}
		sc.EPC = e.String()
		return sc, nil
	case isLink(s):
		dl, err := gs1.ParseDigitalLink(s)
		if err != nil {
			return sc, medledger.Errorf(medledger.KindInvalid, "%v", err)
		}
		if dl.SSCC != "" {
			sc.EPC, err = sscc(rd, dl.SSCC)
			return sc, err
		}
		if dl.Serial == "" {
			return sc, medledger.Errorf(medledger.KindInvalid, "this Digital Link names a product (GTIN %s) but no serial (21), so it does not identify one pack", dl.GTIN)
		}
		sc.Lot, sc.Expiry = dl.Lot, dl.Expiry
		sc.EPC, err = sgtinURN(rd, dl.GTIN, dl.Serial)
		return sc, err
	}
	es, err := gs1.ParseElementString(s)
	if err != nil {
		return sc, medledger.Errorf(medledger.KindInvalid, "%v", err)
	}
	if es.SSCC != "" {
		sc.EPC, err = sscc(rd, es.SSCC)
		return sc, err
	}
	sc.Lot, sc.Expiry = es.Lot, es.Expiry
	sc.EPC, err = sgtinURN(rd, es.GTIN, es.Serial)
	return sc, err
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isLink(s string) bool { return hasPrefixFold(s, "http://") || hasPrefixFold(s, "https://") }

func sscc(rd state.Reader, code string) (string, error) {
	prefix := 7
	if it, err := supply.GetItem(rd, supply.ContainerKey(code)); err != nil {
		return "", err
	} else if it != nil && it.PrefixLen != 0 {
		prefix = int(it.PrefixLen)
	}
	return gs1.SSCCURN(code, prefix)
}

func (s *Server) verifyPack(w http.ResponseWriter, r *http.Request) error {
	rd, h, err := s.readAt(r)
	if err != nil {
		return err
	}
	var sc scannedCode
	if code := r.URL.Query().Get("code"); code != "" {
		sc, err = epcFromCode(rd, code)
	} else {
		sc.EPC, err = epcFromQuery(r, rd)
	}
	if err != nil {
		return err
	}
	now := s.blockTime(r.Context(), h)
	v, err := supply.Verify(rd, sc.EPC, now.Unix())
	if err != nil {
		return err
	}
	resp := VerifyResponse{Height: h, Time: now.UTC(), Verification: v, Label: checkLabel(sc, v, now)}
	if prove, _ := strconv.ParseBool(r.URL.Query().Get("prove")); prove {
		for _, k := range v.Keys {
			val, proof, err := s.state.Prove(k, h)
			if err != nil {
				return medledger.Errorf(medledger.KindNotFound, "height %d is not available: %v", h, err)
			}
			resp.Proofs = append(resp.Proofs, &medledger.StateProof{Height: h, Key: k, Value: val, Proof: proof})
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// blockTime is the time of the block at height h, what "today" is for
// expiry; the local clock if the header cannot be read.
func (s *Server) blockTime(ctx context.Context, h int64) time.Time {
	if hdr, err := s.chain.Header(ctx, h); err == nil && !hdr.Time.IsZero() {
		return hdr.Time
	}
	return time.Now()
}

// ProductList is the body of GET /v1/supply/products.
type ProductList struct {
	Height   int64            `json:"height"`
	Products []supply.Product `json:"products"`
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) error {
	rd, h, err := s.readAt(r)
	if err != nil {
		return err
	}
	var ps []supply.Product
	if owner := r.URL.Query().Get("owner"); owner != "" {
		if err := medledger.ValidateOrgID(owner); err != nil {
			return err
		}
		gtins, err := supply.OwnedProducts(s.state.IndexReader(), owner)
		if err != nil {
			return err
		}
		for _, g := range gtins {
			if p, err := supply.GetProduct(rd, g); err != nil {
				return err
			} else if p != nil && p.Owner == owner {
				ps = append(ps, *p)
			}
		}
	} else if ps, err = supply.ListProducts(rd); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ProductList{Height: h, Products: nonNil(ps)})
}

// ProductResponse is the body of GET /v1/supply/products/{gtin}.
type ProductResponse struct {
	Height  int64                 `json:"height"`
	Product *supply.Product       `json:"product"`
	Lots    []supply.Lot          `json:"lots"`
	Proof   *medledger.StateProof `json:"proof,omitempty"`
}

func gtinParam(r *http.Request) (string, error) {
	g, err := gs1.NormalizeGTIN(r.PathValue("gtin"))
	if err != nil {
		return "", medledger.Errorf(medledger.KindInvalid, "%v", err)
	}
	return g, nil
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) error {
	gtin, err := gtinParam(r)
	if err != nil {
		return err
	}
	v, sp, h, err := s.read(r, supply.ProductKey(gtin), "product "+gtin)
	if err != nil {
		return err
	}
	var p supply.Product
	if err := medledger.UnmarshalTrusted(v, &p); err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return err
	}
	lots, err := supply.ListLots(rd, gtin)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ProductResponse{Height: h, Product: &p, Lots: nonNil(lots), Proof: sp})
}

// ShipmentResponse is the body of GET /v1/supply/shipments/{id}. Items,
// Missing and Unexpected are given as EPC URNs.
type ShipmentResponse struct {
	Height   int64                 `json:"height"`
	Shipment *supply.Shipment      `json:"shipment"`
	Proof    *medledger.StateProof `json:"proof,omitempty"`
}

func (s *Server) getShipment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := supply.ValidateRef("shipment", id); err != nil {
		return err
	}
	v, sp, h, err := s.read(r, supply.ShipmentKey(id), "shipment "+id)
	if err != nil {
		return err
	}
	var sh supply.Shipment
	if err := medledger.UnmarshalTrusted(v, &sh); err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return err
	}
	for _, list := range []*[]string{&sh.Items, &sh.Missing, &sh.Unexpected} {
		for i, k := range *list {
			if urn, err := supply.ItemURN(rd, k); err == nil && urn != "" {
				(*list)[i] = urn
			}
		}
	}
	return writeJSON(w, http.StatusOK, ShipmentResponse{Height: h, Shipment: &sh, Proof: sp})
}

// DeviceResponse is the body of GET /v1/supply/devices/{id}.
type DeviceResponse struct {
	Height int64                 `json:"height"`
	Device *supply.Device        `json:"device"`
	Proof  *medledger.StateProof `json:"proof,omitempty"`
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := supply.ValidateRef("device", id); err != nil {
		return err
	}
	v, sp, h, err := s.read(r, supply.DeviceKey(id), "device "+id)
	if err != nil {
		return err
	}
	var d supply.Device
	if err := medledger.UnmarshalTrusted(v, &d); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, DeviceResponse{Height: h, Device: &d, Proof: sp})
}

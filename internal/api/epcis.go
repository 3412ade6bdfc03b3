package api

import (
	"net/http"
	"strconv"

	"medledger"
	"medledger/internal/epcis"
	"medledger/internal/state"
	"medledger/internal/supply"
)

func (s *Server) epcisRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/supply/epcis", ID: "exportEPCIS", Tag: "supply", Summary: "EPCIS 2.0 JSON-LD document of a pack's custody trail or of a shipment",
			Params: []param{{Name: "epc", In: "query", Type: "string", Desc: "An EPC URN (SGTIN or SSCC): its trail."},
				{Name: "link", In: "query", Type: "string", Desc: "A GS1 Digital Link naming a pack."},
				{Name: "sgtin", In: "query", Type: "string", Desc: "An SGTIN URN."},
				{Name: "shipment", In: "query", Type: "string", Desc: "A shipment ID: its shipping and receiving events."}, pHeight},
			Responses: map[int]string{200: "An EPCISDocument (application/ld+json).", 400: "Nothing named.", 404: "No such shipment."},
			handle:    (*Server).exportEPCIS},
	}
}

func (s *Server) exportEPCIS(w http.ResponseWriter, r *http.Request) error {
	rd, h, err := s.readAt(r)
	if err != nil {
		return err
	}
	now := s.blockTime(r.Context(), h)
	var events []supply.Event
	opts := epcis.ExportOptions{CreationTime: now.Unix(), PrefixLen: prefixLen(rd)}
	if id := r.URL.Query().Get("shipment"); id != "" {
		if err := supply.ValidateRef("shipment", id); err != nil {
			return err
		}
		sh, err := supply.GetShipment(rd, id)
		if err != nil {
			return err
		}
		if sh == nil {
			return medledger.Errorf(medledger.KindNotFound, "no shipment %s at height %d", id, h)
		}
		for _, eid := range sh.Events {
			e, err := supply.GetEvent(rd, eid)
			if err != nil {
				return err
			}
			if e != nil {
				events = append(events, *e)
			}
		}
	} else {
		epc, err := epcFromQuery(r, rd)
		if err != nil {
			return err
		}
		v, err := supply.Verify(rd, epc, now.Unix())
		if err != nil {
			return err
		}
		events, opts.Focus = v.Trail, v.EPC
	}
	doc, err := epcis.Export(events, opts)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/ld+json")
	w.Header().Set("X-Medledger-Height", strconv.FormatInt(h, 10))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(doc)
	return err
}

// prefixLen returns each GTIN's company-prefix length from its product.
func prefixLen(rd state.Reader) func(string) int {
	return func(gtin string) int {
		if p, err := supply.GetProduct(rd, gtin); err == nil && p != nil {
			return len(p.CompanyPrefix)
		}
		return 0
	}
}

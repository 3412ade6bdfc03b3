package api

import (
	"net/http"
	"strconv"

	"medledger"
)

var pTxProve = param{Name: "prove", In: "query", Type: "boolean", Desc: "For a committed tx, include its proof: inclusion under the data hash of block height, and its deterministic result (code, data, gas) under the last results hash of block height+1. Log and events are not covered."}

// lightRoutes serve light clients: what they need to verify headers
// themselves instead of trusting this node (DESIGN principle 4).
func (s *Server) lightRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/light/{height}", ID: "getLightBlock", Tag: "chain",
			Summary: "A light block: signed header and validator set, for light-client verification",
			Params: []param{{Name: "height", In: "path", Type: "string", Required: true,
				Desc: "Height, or 0 or latest for the latest block. light_block is the base64 protobuf encoding of CometBFT's tendermint.types.LightBlock (signed header: header and commit; validator set)."}},
			Responses: map[int]string{200: "The light block.", 400: "Bad height.", 404: "Not committed yet.", 410: "Pruned."},
			Schema:    "LightBlock", handle: (*Server).getLightBlock},
		{Method: "GET", Path: "/v1/light", ID: "getLatestLightBlock", Tag: "chain",
			Summary:   "The latest light block (as /v1/light/latest)",
			Responses: map[int]string{200: "The light block."}, Schema: "LightBlock", handle: (*Server).getLightBlock},
	}
}

func (s *Server) getLightBlock(w http.ResponseWriter, r *http.Request) error {
	var h int64
	if v := r.PathValue("height"); v != "latest" && v != "" {
		var err error
		if h, err = strconv.ParseInt(v, 10, 64); err != nil || h < 0 {
			return badRequest("height must be a non-negative integer or latest")
		}
	}
	lb, err := s.chain.LightBlock(r.Context(), h)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, lb)
}

// proveTx adds the tx proof to a committed tx's status when the request
// asks for it with prove=true.
func (s *Server) proveTx(r *http.Request, st *medledger.TxStatus) error {
	if prove, _ := strconv.ParseBool(r.URL.Query().Get("prove")); !prove || st.Status != medledger.TxCommitted {
		return nil
	}
	p, err := s.chain.TxProof(r.Context(), st.Hash)
	if err != nil {
		return err
	}
	st.Proof = p
	return nil
}

package api

import (
	"net/http"
	"strconv"
)

// maxBlocks is the most blocks one GET /v1/blocks returns.
const maxBlocks = 50

// blockRoutes list recent blocks for explorers and the portal's network
// page: public metadata only (heights, times, hashes, message types and
// result codes), never a tx's content.
func (s *Server) blockRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/blocks", ID: "listBlocks", Tag: "chain", Summary: "Recent committed blocks, newest first, with their txs' hashes, message types and results",
			Params: []param{{Name: "limit", In: "query", Type: "integer", Desc: "How many blocks (1-50, default 10)."},
				{Name: "before", In: "query", Type: "integer", Desc: "Only blocks below this height (the next value of the previous page); latest by default."},
				{Name: "txs_only", In: "query", Type: "boolean", Desc: "Skip blocks without txs (looking back at most 5000 blocks)."}},
			Responses: map[int]string{200: "The blocks.", 400: "Bad limit, before or txs_only."}, Schema: "BlockList", handle: (*Server).listBlocks},
	}
}

func (s *Server) listBlocks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, before, txsOnly := 10, int64(0), false
	var err error
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxBlocks {
			return badRequest("limit must be an integer from 1 to %d", maxBlocks)
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return badRequest("before must be a positive height")
		}
	}
	if v := q.Get("txs_only"); v != "" {
		if txsOnly, err = strconv.ParseBool(v); err != nil {
			return badRequest("txs_only must be true or false")
		}
	}
	list, err := s.chain.Blocks(r.Context(), before, limit, txsOnly)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list)
}

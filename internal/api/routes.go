package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/internal/identity"
	"medledger/internal/ledger"
)

// param is a documented request parameter.
type param struct {
	Name, In, Desc, Type string
	Required             bool
}

// route is one endpoint: the mux and the OpenAPI document are both built
// from this table, so they cannot drift apart.
type route struct {
	Method, Path, ID, Summary, Tag string
	Params                         []param
	Body                           string         // request body description, if any
	Responses                      map[int]string // status → description
	Schema                         string         // component schema of the 200/202 body
	Raw                            bool           // the body is bytes, not a tx envelope
	handle                         func(*Server, http.ResponseWriter, *http.Request) error
}

var (
	pProve  = param{Name: "prove", In: "query", Type: "boolean", Desc: "Include an ICS-23 proof; it verifies against the app hash in the header of block height+1."}
	pHeight = param{Name: "height", In: "query", Type: "integer", Desc: "Committed height to read at; latest by default."}
	pID     = param{Name: "id", In: "path", Type: "string", Required: true, Desc: "Account ID (26 base32 characters)."}
	pOrg    = param{Name: "id", In: "path", Type: "string", Required: true, Desc: "Organisation ID."}
)

func (s *Server) routes() []route {
	var rs []route
	for _, group := range [][]route{s.coreRoutes(), s.recordRoutes(), s.lightRoutes(), s.blockRoutes(), s.governanceRoutes(), s.replicaRoutes(), s.supplyRoutes(), s.epcisRoutes()} {
		rs = append(rs, group...)
	}
	return rs
}

func (s *Server) coreRoutes() []route {
	return []route{
		{Method: "POST", Path: "/v1/txs", ID: "submitTx", Tag: "txs", Summary: "Submit a signed tx",
			Params: []param{{Name: "wait", In: "query", Type: "string", Desc: "check (default): return once CheckTx accepts it; commit: wait until it is committed."},
				{Name: "timeout", In: "query", Type: "string", Desc: "How long to wait for commit (Go duration, default 30s, at most 2m)."}},
			Body:      "The tx: application/cbor with the raw deterministic-CBOR envelope, or application/json {\"tx\": base64}.",
			Responses: map[int]string{200: "Committed successfully.", 202: "Accepted into the mempool (or still pending at the timeout).", 400: "Malformed, non-canonical, wrong chain or unknown message.", 401: "Bad signature.", 403: "Signer lacks the role or is suspended.", 409: "Bad nonce or already exists.", 413: "Too large.", 422: "Invalid fields."},
			Schema:    "TxStatus", handle: (*Server).submitTx},
		{Method: "GET", Path: "/v1/txs/{hash}", ID: "getTx", Tag: "txs", Summary: "Status of a tx: pending, committed (with result and events) or unknown",
			Params: []param{{Name: "hash", In: "path", Type: "string", Required: true, Desc: "Tx hash, hex."}, pTxProve}, Responses: map[int]string{200: "Pending or committed.", 404: "Unknown to this node."}, Schema: "TxStatus", handle: (*Server).getTx},
		{Method: "GET", Path: "/v1/accounts/{id}", ID: "getAccount", Tag: "identity", Summary: "An account: patient, member or regulator",
			Params: []param{pID, pProve, pHeight}, Responses: map[int]string{200: "The account.", 404: "No such account; with prove=true the problem carries a proof of absence."}, Schema: "AccountResponse", handle: (*Server).getAccount},
		{Method: "GET", Path: "/v1/accounts/{id}/nonce", ID: "getNonce", Tag: "identity", Summary: "The account's last committed nonce (0 if none)",
			Params: []param{pID}, Responses: map[int]string{200: "The nonce."}, Schema: "Nonce", handle: (*Server).getNonce},
		{Method: "GET", Path: "/v1/accounts/{id}/delegators", ID: "getDelegators", Tag: "identity", Summary: "Patients the account acts for as a delegate",
			Params: []param{pID}, Responses: map[int]string{200: "Patient IDs."}, Schema: "IDList", handle: (*Server).getDelegators},
		{Method: "GET", Path: "/v1/orgs", ID: "listOrgs", Tag: "identity", Summary: "Every admitted organisation",
			Responses: map[int]string{200: "Organisations."}, Schema: "OrgList", handle: (*Server).listOrgs},
		{Method: "GET", Path: "/v1/orgs/{id}", ID: "getOrg", Tag: "identity", Summary: "An organisation",
			Params: []param{pOrg, pProve, pHeight}, Responses: map[int]string{200: "The organisation.", 404: "No such organisation."}, Schema: "OrgResponse", handle: (*Server).getOrg},
		{Method: "GET", Path: "/v1/orgs/{id}/members", ID: "listMembers", Tag: "identity", Summary: "An organisation's members",
			Params: []param{pOrg}, Responses: map[int]string{200: "Member IDs.", 404: "No such organisation."}, Schema: "IDList", handle: (*Server).listMembers},
		{Method: "GET", Path: "/v1/proposals", ID: "listProposals", Tag: "identity", Summary: "Authority actions awaiting more regulator approvals",
			Responses: map[int]string{200: "Pending proposals."}, Schema: "ProposalList", handle: (*Server).listProposals},
		{Method: "GET", Path: "/v1/did/{id}", ID: "resolveDID", Tag: "identity", Summary: "W3C DID document of an account or organisation",
			Params:    []param{{Name: "id", In: "path", Type: "string", Required: true, Desc: "did:medledger:<account>, did:medledger:org:<org>, or the bare ID."}},
			Responses: map[int]string{200: "The DID document (application/did+ld+json).", 404: "Not found."}, Schema: "DIDDocument", handle: (*Server).resolveDID},
		{Method: "GET", Path: "/v1/events", ID: "searchEvents", Tag: "events", Summary: "Committed txs whose events match a query",
			Params: []param{{Name: "query", In: "query", Type: "string", Desc: "CometBFT event query, e.g. identity.org_admitted.org='st-marys'."},
				{Name: "signer", In: "query", Type: "string", Desc: "Shortcut for message.signer='<id>'."},
				{Name: "page", In: "query", Type: "integer", Desc: "Page, from 1."}, {Name: "per_page", In: "query", Type: "integer", Desc: "Results per page (1-100, default 30)."}},
			Responses: map[int]string{200: "Matching txs with their events.", 422: "Bad query."}, Schema: "EventPage", handle: (*Server).searchEvents},
		{Method: "GET", Path: "/v1/state", ID: "getState", Tag: "state", Summary: "A raw authenticated key with its proof",
			Params:    []param{{Name: "key", In: "query", Type: "string", Required: true, Desc: "The key, hex."}, pHeight},
			Responses: map[int]string{200: "Value (absent if the key is unset) and proof."}, Schema: "StateProof", handle: (*Server).getState},
		{Method: "GET", Path: "/v1/headers/{height}", ID: "getHeader", Tag: "chain", Summary: "A block header (height or 'latest')",
			Params: []param{{Name: "height", In: "path", Type: "string", Required: true, Desc: "Height, or latest."}}, Responses: map[int]string{200: "The header.", 404: "Not committed yet."}, Schema: "Header", handle: (*Server).getHeader},
		{Method: "GET", Path: "/v1/status", ID: "getStatus", Tag: "chain", Summary: "Node and chain status",
			Responses: map[int]string{200: "Status."}, Schema: "NodeStatus", handle: (*Server).getStatus},
		{Method: "GET", Path: "/v1/openapi.json", ID: "openapi", Tag: "meta", Summary: "This OpenAPI 3.1 document",
			Responses: map[int]string{200: "The document."}, handle: (*Server).openapi},
		{Method: "GET", Path: "/healthz", ID: "healthz", Tag: "meta", Summary: "Liveness: the process serves HTTP",
			Responses: map[int]string{200: "Alive."}, handle: (*Server).healthz},
		{Method: "GET", Path: "/readyz", ID: "readyz", Tag: "meta", Summary: "Readiness: the node has committed a block and is not catching up",
			Responses: map[int]string{200: "Ready.", 503: "Not ready."}, handle: (*Server).readyz},
		{Method: "GET", Path: "/metrics", ID: "metrics", Tag: "meta", Summary: "Prometheus metrics",
			Responses: map[int]string{200: "Metrics in the Prometheus text format."}, handle: (*Server).metrics},
	}
}

func badRequest(format string, args ...any) error {
	return medledger.Errorf(medledger.KindMalformed, format, args...)
}

func (s *Server) submitTx(w http.ResponseWriter, r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 2*medledger.MaxTxBytes+1024))
	if err != nil {
		return medledger.Errorf(medledger.KindTooLarge, "request body over %d bytes", 2*medledger.MaxTxBytes)
	}
	var raw []byte
	switch ct {
	case "application/cbor":
		raw = body
	case "application/json", "":
		var req struct {
			Tx string `json:"tx"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return badRequest("body must be JSON {\"tx\": \"<base64>\"}: %v", err)
		}
		if raw, err = base64.StdEncoding.DecodeString(req.Tx); err != nil {
			return badRequest("tx is not base64")
		}
	default:
		return badRequest("content type must be application/cbor or application/json")
	}
	// Decode first for a precise error without touching the mempool.
	if _, err := medledger.DecodeTx(raw); err != nil {
		return err
	}
	st, err := s.chain.Broadcast(r.Context(), raw)
	if err != nil {
		return err
	}
	if st.Status == medledger.TxRejected || (st.Status == medledger.TxCommitted && st.Code != 0) {
		return &problemError{err: &medledger.Error{Kind: st.Code, Msg: st.Log}, tx: st}
	}
	wait := r.URL.Query().Get("wait")
	switch wait {
	case "", "check":
		if st.Status == medledger.TxCommitted {
			return writeJSON(w, http.StatusOK, st)
		}
		return writeJSON(w, http.StatusAccepted, st)
	case "commit":
	default:
		return badRequest("wait must be check or commit")
	}
	timeout := 30 * time.Second
	if t := r.URL.Query().Get("timeout"); t != "" {
		if timeout, err = time.ParseDuration(t); err != nil || timeout <= 0 || timeout > 2*time.Minute {
			return badRequest("timeout must be a duration up to 2m")
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	st, err = s.chain.WaitCommitted(ctx, st.Hash)
	if st != nil && st.Status != medledger.TxCommitted {
		return writeJSON(w, http.StatusAccepted, st)
	}
	if err != nil {
		return err
	}
	if st.Code != 0 {
		return &problemError{err: &medledger.Error{Kind: st.Code, Msg: st.Log}, tx: st}
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) getTx(w http.ResponseWriter, r *http.Request) error {
	hash, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(hash) != 32 {
		return badRequest("hash must be 64 hex characters")
	}
	st, err := s.chain.TxStatus(r.Context(), hash)
	if err != nil {
		return err
	}
	if st.Status == medledger.TxUnknown {
		return &problemError{err: medledger.Errorf(medledger.KindNotFound, "this node knows no tx %X", hash), tx: st}
	}
	if err := s.proveTx(r, st); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

// read fetches one authenticated key at the requested height, with a proof
// if asked. A missing key is a KindNotFound error carrying the proof of
// absence.
func (s *Server) read(r *http.Request, key []byte, what string) ([]byte, *medledger.StateProof, int64, error) {
	height := s.state.Version()
	if h := r.URL.Query().Get("height"); h != "" {
		v, err := strconv.ParseInt(h, 10, 64)
		if err != nil || v < 1 || v > height {
			return nil, nil, 0, medledger.Errorf(medledger.KindInvalid, "height must be between 1 and %d", height)
		}
		height = v
	}
	prove, _ := strconv.ParseBool(r.URL.Query().Get("prove"))
	var value []byte
	var sp *medledger.StateProof
	if prove {
		v, proof, err := s.state.Prove(key, height)
		if err != nil {
			return nil, nil, 0, medledger.Errorf(medledger.KindNotFound, "height %d is not available: %v", height, err)
		}
		value = v
		sp = &medledger.StateProof{Height: height, Key: key, Value: v, Proof: proof}
	} else {
		rd, err := s.state.ReaderAt(height)
		if err != nil {
			return nil, nil, 0, medledger.Errorf(medledger.KindNotFound, "height %d is not available", height)
		}
		if value, err = rd.Get(key); err != nil {
			return nil, nil, 0, err
		}
	}
	if value == nil {
		return nil, nil, height, &problemError{err: medledger.Errorf(medledger.KindNotFound, "%s not found at height %d", what, height), proof: sp}
	}
	return value, sp, height, nil
}

// AccountResponse is the body of GET /v1/accounts/{id}.
type AccountResponse struct {
	Height  int64                 `json:"height"`
	DID     string                `json:"did"`
	Account *identity.Account     `json:"account"`
	Proof   *medledger.StateProof `json:"proof,omitempty"`
}

func accountID(r *http.Request) (medledger.ID, error) {
	id := medledger.ID(strings.TrimPrefix(r.PathValue("id"), "did:medledger:"))
	if err := id.Validate(); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	v, sp, h, err := s.read(r, identity.AccountKey(id), "account "+string(id))
	if err != nil {
		return err
	}
	var a identity.Account
	if err := medledger.UnmarshalTrusted(v, &a); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, AccountResponse{Height: h, DID: id.DID(), Account: &a, Proof: sp})
}

func (s *Server) getNonce(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return err
	}
	n, err := ledger.Nonce(rd, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"account": id, "nonce": n, "height": s.state.Version()})
}

func (s *Server) getDelegators(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	ids, err := identity.ListDelegators(s.state.IndexReader(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ids": nonNil(ids)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// OrgResponse is the body of GET /v1/orgs/{id}.
type OrgResponse struct {
	Height int64                 `json:"height"`
	DID    string                `json:"did"`
	Org    *identity.Org         `json:"org"`
	Proof  *medledger.StateProof `json:"proof,omitempty"`
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := medledger.ValidateOrgID(id); err != nil {
		return err
	}
	v, sp, h, err := s.read(r, identity.OrgKey(id), "organisation "+id)
	if err != nil {
		return err
	}
	var o identity.Org
	if err := medledger.UnmarshalTrusted(v, &o); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, OrgResponse{Height: h, DID: medledger.OrgDID(id), Org: &o, Proof: sp})
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) error {
	h := s.state.Version()
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return err
	}
	orgs, err := identity.ListOrgs(rd)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"height": h, "orgs": nonNil(orgs)})
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := medledger.ValidateOrgID(id); err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return err
	}
	if o, err := identity.GetOrg(rd, id); err != nil || o == nil {
		if err == nil {
			err = medledger.Errorf(medledger.KindNotFound, "organisation %s not found", id)
		}
		return err
	}
	ids, err := identity.ListMembers(s.state.IndexReader(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ids": nonNil(ids)})
}

func (s *Server) listProposals(w http.ResponseWriter, r *http.Request) error {
	h := s.state.Version()
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return err
	}
	ps, err := identity.ListProposals(rd)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"height": h, "proposals": nonNil(ps)})
}

func (s *Server) resolveDID(w http.ResponseWriter, r *http.Request) error {
	id := strings.TrimPrefix(r.PathValue("id"), "did:medledger:")
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return err
	}
	var doc *identity.DIDDocument
	if org, ok := strings.CutPrefix(id, "org:"); ok {
		if err := medledger.ValidateOrgID(org); err != nil {
			return err
		}
		o, err := identity.GetOrg(rd, org)
		if err != nil {
			return err
		}
		if o == nil {
			return medledger.Errorf(medledger.KindNotFound, "no DID %s", medledger.OrgDID(org))
		}
		doc = identity.OrgDID(o)
	} else {
		aid := medledger.ID(id)
		if err := aid.Validate(); err != nil {
			return err
		}
		a, err := identity.GetAccount(rd, aid)
		if err != nil {
			return err
		}
		if a == nil {
			return medledger.Errorf(medledger.KindNotFound, "no DID %s", aid.DID())
		}
		var o *identity.Org
		if a.Org != "" {
			if o, err = identity.GetOrg(rd, a.Org); err != nil {
				return err
			}
		}
		doc = identity.AccountDID(a, o)
	}
	w.Header().Set("Content-Type", "application/did+ld+json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// EventPage is the body of GET /v1/events.
type EventPage struct {
	Total int                   `json:"total"`
	Page  int                   `json:"page"`
	Txs   []*medledger.TxStatus `json:"txs"`
}

func (s *Server) searchEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	query := q.Get("query")
	if signer := q.Get("signer"); signer != "" {
		if err := medledger.ID(signer).Validate(); err != nil {
			return err
		}
		if query != "" {
			query += " AND "
		}
		query += "message.signer='" + signer + "'"
	}
	if query == "" {
		return medledger.Errorf(medledger.KindInvalid, "give a query or a signer")
	}
	page, perPage := 1, 30
	if p := q.Get("page"); p != "" {
		if v, err := strconv.Atoi(p); err == nil && v >= 1 {
			page = v
		} else {
			return medledger.Errorf(medledger.KindInvalid, "page must be a positive integer")
		}
	}
	if p := q.Get("per_page"); p != "" {
		if v, err := strconv.Atoi(p); err == nil && v >= 1 && v <= 100 {
			perPage = v
		} else {
			return medledger.Errorf(medledger.KindInvalid, "per_page must be between 1 and 100")
		}
	}
	txs, total, err := s.chain.SearchTxs(r.Context(), query, page, perPage)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, EventPage{Total: total, Page: page, Txs: nonNil(txs)})
}

func (s *Server) getState(w http.ResponseWriter, r *http.Request) error {
	key, err := hex.DecodeString(r.URL.Query().Get("key"))
	if err != nil || len(key) == 0 {
		return badRequest("key must be non-empty hex")
	}
	q := r.URL.Query()
	q.Set("prove", "true")
	r.URL.RawQuery = q.Encode()
	_, sp, _, err := s.read(r, key, "key")
	var pe *problemError
	if asProblem(err, &pe) && pe.proof != nil {
		return writeJSON(w, http.StatusOK, pe.proof) // absent, with its proof
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sp)
}

func asProblem(err error, pe **problemError) bool {
	p, ok := err.(*problemError)
	*pe = p
	return ok
}

func (s *Server) getHeader(w http.ResponseWriter, r *http.Request) error {
	var h int64
	if v := r.PathValue("height"); v != "latest" {
		var err error
		if h, err = strconv.ParseInt(v, 10, 64); err != nil || h < 1 {
			return badRequest("height must be a positive integer or latest")
		}
	}
	hdr, err := s.chain.Header(r.Context(), h)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hdr)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.chain.Status(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) error {
	h := s.chain.Height()
	if h < 1 || s.chain.CatchingUp() {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "height": h})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "height": h})
}

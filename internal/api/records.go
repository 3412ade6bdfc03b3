package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"

	"medledger"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/gateway"
	"medledger/internal/identity"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/seal"
)

// MaxWrapBytes bounds a key wrap upload (an HPKE ML-KEM-768+X25519
// encapsulation and a sealed 32-byte key are about 1.2 KB).
const MaxWrapBytes = 4096

func (s *Server) recordRoutes() []route {
	pBlob := param{Name: "id", In: "path", Type: "string", Required: true, Desc: "Blob ID: hex sha256 of the ciphertext."}
	pPatient := param{Name: "id", In: "path", Type: "string", Required: true, Desc: "Patient account ID."}
	signed := "Signed request: " + medledger.HeaderAccount + ", " + medledger.HeaderTime + ", " + medledger.HeaderSignature + " headers. "
	return []route{
		{Method: "PUT", Path: "/v1/blobs/{id}", ID: "putBlob", Tag: "records", Summary: signed + "Upload a record's ciphertext, streamed; it must hash to the ID.",
			Params: []param{pBlob}, Body: "The ciphertext (application/octet-stream).", Raw: true,
			Responses: map[int]string{201: "Stored.", 401: "Unsigned or bad signature.", 413: "Over the size limit.", 422: "Does not hash to the ID."}, handle: (*Server).putBlob},
		{Method: "PUT", Path: "/v1/blobs/{id}/wraps/{key}", ID: "putWrap", Tag: "records", Summary: signed + "Upload a reader's wrapped content key. Wraps are never overwritten.",
			Params: []param{pBlob, {Name: "key", In: "path", Type: "string", Required: true, Desc: "Reader key ID."}}, Body: "The wrap bytes.", Raw: true,
			Responses: map[int]string{201: "Stored.", 409: "A wrap for this key exists."}, handle: (*Server).putWrap},
		{Method: "GET", Path: "/v1/blobs/{id}/wraps/{key}", ID: "getWrap", Tag: "records", Summary: signed + "Fetch your own wrapped content key of a blob (the key ID must be the signer's current encryption key).",
			Params:    []param{pBlob, {Name: "key", In: "path", Type: "string", Required: true, Desc: "Reader key ID."}},
			Responses: map[int]string{200: "The wrap.", 403: "Not the signer's key.", 404: "No such wrap."}, Schema: "Wrap", handle: (*Server).getWrap},
		{Method: "POST", Path: "/v1/read", ID: "readRecord", Tag: "records", Summary: "Read a record: the body is the reader's signed unordered audit/access tx. The access is logged on-chain before any byte is served.",
			Body: "The access tx (application/cbor).", Raw: true,
			Responses: map[int]string{200: "The ciphertext; the reader's wrap and the version's metadata are in X-Medledger-* headers.", 404: "No such record, or no consent (the same answer).", 409: "Replayed request.", 410: "Erased at the patient's request."}, handle: (*Server).readRecord},
		{Method: "GET", Path: "/v1/records/{id}", ID: "getRecord", Tag: "records", Summary: signed + "A record's metadata and version history, for readers who may read it.",
			Params:    []param{{Name: "id", In: "path", Type: "string", Required: true, Desc: "Record ID."}, {Name: "purpose", In: "query", Type: "string", Desc: "Purpose to check consent for (default treatment)."}},
			Responses: map[int]string{200: "The record.", 404: "No such record, or no consent."}, Schema: "RecordResponse", handle: (*Server).getRecord},
		{Method: "GET", Path: "/v1/patients/{id}/records", ID: "listRecords", Tag: "records", Summary: signed + "A patient's records that the signer may read.",
			Params:    []param{pPatient, {Name: "purpose", In: "query", Type: "string", Desc: "Purpose (default treatment)."}},
			Responses: map[int]string{200: "Records."}, Schema: "RecordList", handle: (*Server).listRecords},
		{Method: "GET", Path: "/v1/patients/{id}/access-log", ID: "accessLog", Tag: "records", Summary: signed + "Every access to the patient's records, for the patient and their delegates, with proofs if asked.",
			Params: []param{pPatient, pProve}, Responses: map[int]string{200: "Access events, oldest first.", 403: "Not the patient or a delegate."}, Schema: "AccessLog", handle: (*Server).accessLog},
		{Method: "GET", Path: "/v1/patients/{id}/grants", ID: "listGrants", Tag: "records", Summary: signed + "The patient's grants and break-glass declarations, for the patient and their delegates.",
			Params: []param{pPatient}, Responses: map[int]string{200: "Grants.", 403: "Not the patient or a delegate."}, Schema: "GrantList", handle: (*Server).listGrants},
		{Method: "GET", Path: "/v1/grants/received", ID: "receivedGrants", Tag: "records", Summary: signed + "Grants naming the signer or the signer's organisation.",
			Responses: map[int]string{200: "Grants."}, Schema: "GrantList", handle: (*Server).receivedGrants},
	}
}

func (s *Server) needRecords() error {
	if s.gw == nil || s.blobs == nil {
		return medledger.Errorf(medledger.KindUnavailable, "this node does not serve records")
	}
	return nil
}

func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) error {
	if err := s.needRecords(); err != nil {
		return err
	}
	id, err := medledger.ParseBlobID(r.PathValue("id"))
	if err != nil {
		return err
	}
	who, err := gateway.Authenticate(r, s.state, id.String())
	if err != nil {
		return err
	}
	if r.ContentLength < 0 {
		return medledger.Errorf(medledger.KindInvalid, "a blob upload needs a Content-Length")
	}
	if err := s.quota.reserve(who.ID, r.ContentLength); err != nil {
		return err
	}
	n, err := s.blobs.Put(r.Context(), id, r.Body)
	if err != nil {
		s.quota.release(who.ID, r.ContentLength)
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"id": id, "size": n})
}

func (s *Server) putWrap(w http.ResponseWriter, r *http.Request) error {
	if err := s.needRecords(); err != nil {
		return err
	}
	id, err := medledger.ParseBlobID(r.PathValue("id"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWrapBytes))
	if err != nil {
		return medledger.Errorf(medledger.KindTooLarge, "a wrap is at most %d bytes", MaxWrapBytes)
	}
	sum := sha256.Sum256(body)
	if _, err := gateway.Authenticate(r, s.state, hex.EncodeToString(sum[:])); err != nil {
		return err
	}
	key := r.PathValue("key")
	if _, err := s.blobs.GetWrap(r.Context(), id, key); err == nil {
		return medledger.Errorf(medledger.KindExists, "a wrap for key %s exists; wraps are never overwritten", key)
	}
	if err := s.blobs.PutWrap(r.Context(), id, key, body); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"blob": id, "key": key})
}

func (s *Server) getWrap(w http.ResponseWriter, r *http.Request) error {
	if err := s.needRecords(); err != nil {
		return err
	}
	signer, err := gateway.Authenticate(r, s.state, emptyBodyHash)
	if err != nil {
		return err
	}
	id, err := medledger.ParseBlobID(r.PathValue("id"))
	if err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return err
	}
	pub, err := identity.Directory{R: rd}.EncryptionKey(signer.ID)
	if err != nil {
		return err
	}
	if key := r.PathValue("key"); key != seal.KeyID(pub) {
		return medledger.Errorf(medledger.KindUnauthorized, "you may fetch only the wraps for your own current key")
	}
	wrap, err := s.blobs.GetWrap(r.Context(), id, r.PathValue("key"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"blob": id, "key": r.PathValue("key"), "wrap": wrap})
}

// Headers of a read response.
const (
	HeaderWrap     = "X-Medledger-Wrap" // base64 of the reader's wrap
	HeaderKeyID    = "X-Medledger-Key-Id"
	HeaderRecord   = "X-Medledger-Record"
	HeaderVersion  = "X-Medledger-Version"
	HeaderBlob     = "X-Medledger-Blob"
	HeaderType     = "X-Medledger-Content-Type"
	HeaderCategory = "X-Medledger-Category"
	HeaderBasis    = "X-Medledger-Basis"
	HeaderAccessTx = "X-Medledger-Access-Tx"
)

func (s *Server) readRecord(w http.ResponseWriter, r *http.Request) error {
	if err := s.needRecords(); err != nil {
		return err
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, medledger.MaxTxBytes))
	if err != nil {
		return medledger.Errorf(medledger.KindTooLarge, "read request over %d bytes", medledger.MaxTxBytes)
	}
	sv, err := s.gw.Read(r.Context(), raw)
	if err != nil {
		return err
	}
	defer sv.Blob.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(sv.Size, 10))
	h.Set(HeaderWrap, base64.StdEncoding.EncodeToString(sv.Wrap))
	h.Set(HeaderKeyID, sv.KeyID)
	h.Set(HeaderRecord, sv.Record.ID)
	h.Set(HeaderVersion, strconv.FormatUint(uint64(sv.Version.Version), 10))
	h.Set(HeaderBlob, sv.Version.Blob.String())
	h.Set(HeaderType, sv.Record.ContentType)
	h.Set(HeaderCategory, sv.Record.Category)
	h.Set(HeaderBasis, sv.Basis)
	h.Set(HeaderAccessTx, medledger.HexBytes(sv.AccessTx).String())
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, sv.Blob); err != nil {
		s.log.Warn("read: serving the ciphertext failed part way", "record", sv.Record.ID, "err", err)
	}
	return nil
}

// RecordResponse is a record's metadata and history.
type RecordResponse = records.View

// authorised checks the signed request and evaluates consent for a record.
func (s *Server) authorised(r *http.Request, rd state.Reader, reader medledger.Principal, rec *records.Record, purpose string) (consent.Decision, error) {
	t := consent.Target{Record: rec.ID, Patient: rec.Patient, Author: rec.Author, Category: rec.Category, ContentType: rec.ContentType}
	hdr, err := s.chain.Header(r.Context(), 0)
	if err != nil {
		return consent.Decision{}, err
	}
	return consent.Decide(rd, identity.Directory{R: rd}, reader, t, purpose, hdr.Time.Unix())
}

func purposeOf(r *http.Request) string {
	if p := r.URL.Query().Get("purpose"); p != "" {
		return p
	}
	return consent.PurposeTreatment
}

var emptyBodyHash = hex.EncodeToString(sha256.New().Sum(nil))

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) error {
	reader, err := gateway.Authenticate(r, s.state, emptyBodyHash)
	if err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return err
	}
	rec, err := records.GetRecord(rd, r.PathValue("id"))
	if err != nil {
		return err
	}
	if rec == nil {
		return gateway.ErrNotFound
	}
	d, err := s.authorised(r, rd, reader, rec, purposeOf(r))
	if err != nil {
		return err
	}
	if !d.Allowed {
		return gateway.ErrNotFound
	}
	vs, err := records.Versions(rd, rec.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, RecordResponse{Record: rec, Versions: vs, Basis: d.Basis})
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) error {
	reader, err := gateway.Authenticate(r, s.state, emptyBodyHash)
	if err != nil {
		return err
	}
	patient, err := accountID(r)
	if err != nil {
		return err
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return err
	}
	ids, err := records.PatientRecords(s.state.IndexReader(), patient)
	if err != nil {
		return err
	}
	out := []RecordResponse{}
	for _, id := range ids {
		rec, err := records.GetRecord(rd, id)
		if err != nil || rec == nil {
			continue // indexed after this committed version
		}
		d, err := s.authorised(r, rd, reader, rec, purposeOf(r))
		if err != nil {
			return err
		}
		if !d.Allowed {
			continue
		}
		vs, err := records.Versions(rd, id)
		if err != nil {
			return err
		}
		out = append(out, RecordResponse{Record: rec, Versions: vs, Basis: d.Basis})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"height": s.state.Version(), "records": out})
}

// selfOrDelegate authenticates the signer as the patient or a delegate.
func (s *Server) selfOrDelegate(r *http.Request) (medledger.ID, state.Reader, int64, error) {
	signer, err := gateway.Authenticate(r, s.state, emptyBodyHash)
	if err != nil {
		return "", nil, 0, err
	}
	patient, err := accountID(r)
	if err != nil {
		return "", nil, 0, err
	}
	h := s.state.Version()
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return "", nil, 0, err
	}
	if signer.ID != patient {
		hdr, err := s.chain.Header(r.Context(), 0)
		if err != nil {
			return "", nil, 0, err
		}
		ok, err := identity.Directory{R: rd}.IsDelegate(patient, signer.ID, hdr.Time.Unix())
		if err != nil {
			return "", nil, 0, err
		}
		if !ok {
			return "", nil, 0, medledger.Errorf(medledger.KindUnauthorized, "only the patient or their delegate may see this")
		}
	}
	return patient, rd, h, nil
}

// AccessLogEntry is one access event, with its proof when asked.
type AccessLogEntry struct {
	audit.Event
	Proof *medledger.StateProof `json:"proof,omitempty"`
}

func (s *Server) accessLog(w http.ResponseWriter, r *http.Request) error {
	patient, rd, h, err := s.selfOrDelegate(r)
	if err != nil {
		return err
	}
	evs, keys, err := audit.Events(rd, patient)
	if err != nil {
		return err
	}
	prove, _ := strconv.ParseBool(r.URL.Query().Get("prove"))
	out := make([]AccessLogEntry, len(evs))
	for i, e := range evs {
		out[i].Event = e
		if prove {
			v, p, err := s.state.Prove(keys[i], h)
			if err != nil {
				return err
			}
			out[i].Proof = &medledger.StateProof{Height: h, Key: keys[i], Value: v, Proof: p}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"height": h, "events": out})
}

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	patient, rd, h, err := s.selfOrDelegate(r)
	if err != nil {
		return err
	}
	gs, err := consent.Grants(rd, patient)
	if err != nil {
		return err
	}
	es, err := consent.Emergencies(rd, patient)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"height": h, "grants": nonNil(gs), "emergencies": nonNil(es)})
}

func (s *Server) receivedGrants(w http.ResponseWriter, r *http.Request) error {
	signer, err := gateway.Authenticate(r, s.state, emptyBodyHash)
	if err != nil {
		return err
	}
	h := s.state.Version()
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return err
	}
	grantees := []consent.Grantee{{Member: signer.ID}}
	if signer.Org != "" {
		grantees = append(grantees, consent.Grantee{Org: signer.Org})
	}
	out := []consent.Grant{}
	for _, ge := range grantees {
		prefix := consent.GranteePrefix(ge)
		var keys []string
		s.state.IndexReader().Iterate(prefix, state.PrefixEnd(prefix), func(k, _ []byte) bool {
			keys = append(keys, string(k[len(prefix):]))
			return true
		})
		for _, k := range keys {
			patient, id, ok := cut(k)
			if !ok {
				continue
			}
			g, err := consent.GetGrant(rd, medledger.ID(patient), id)
			if err != nil {
				return err
			}
			if g != nil {
				out = append(out, *g)
			}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"height": h, "grants": out})
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"medledger"
	"medledger/internal/identity"
	"medledger/internal/records"
)

// Replica endpoints: peer nodes pull the ciphertext and key wraps they lack
// (DESIGN §2, blob replication). Only nodes may call them: the request is
// signed by the calling node's validator key, which must be in the current
// validator set or be an active organisation's registered validator key (a
// new organisation's full node pulls before it validates). Anyone else
// learns nothing: an unsigned or badly signed request gets 401, a signer
// that is not a node gets the 404 a missing blob gets.

func (s *Server) replicaRoutes() []route {
	pBlob := param{Name: "id", In: "path", Type: "string", Required: true, Desc: "Blob ID: hex sha256 of the ciphertext."}
	signed := "For peer nodes only: signed by the calling node's validator key (" + medledger.HeaderNode + ", " + medledger.HeaderTime + ", " + medledger.HeaderSignature + " headers). "
	return []route{
		{Method: "GET", Path: "/v1/replica/blobs/{id}", ID: "replicaBlob", Tag: "replication", Summary: signed + "The ciphertext of an anchored, non-erased record version, streamed.",
			Params:    []param{pBlob},
			Responses: map[int]string{200: "The ciphertext (application/octet-stream).", 401: "Unsigned or bad signature.", 404: "Not held, not anchored, erased, or the caller is not a node."}, handle: (*Server).replicaBlob},
		{Method: "GET", Path: "/v1/replica/blobs/{id}/wraps", ID: "replicaWraps", Tag: "replication", Summary: signed + "Every key wrap of an anchored, non-erased blob: {blob, wraps: {reader key ID: base64}}.",
			Params:    []param{pBlob},
			Responses: map[int]string{200: "The wraps.", 401: "Unsigned or bad signature.", 404: "Not held, not anchored, erased, or the caller is not a node."}, handle: (*Server).replicaWraps},
	}
}

// errReplicaNotFound is the one answer for a blob this node will not serve
// and for a caller that is not a node.
var errReplicaNotFound = medledger.Errorf(medledger.KindNotFound, "blob not found")

// authenticateNode checks a node-signed request and that the signing key
// belongs to a node of the network.
func (s *Server) authenticateNode(r *http.Request) error {
	unauth := medledger.Errorf(medledger.KindBadSignature, "this endpoint is for peer nodes: sign with the node key (%s, %s, %s headers)", medledger.HeaderNode, medledger.HeaderTime, medledger.HeaderSignature)
	pub, err := hex.DecodeString(r.Header.Get(medledger.HeaderNode))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return unauth
	}
	unix, err := strconv.ParseInt(r.Header.Get(medledger.HeaderTime), 10, 64)
	if err != nil {
		return unauth
	}
	if d := time.Since(time.Unix(unix, 0)); d > medledger.RequestSkew || d < -medledger.RequestSkew {
		return medledger.Errorf(medledger.KindExpired, "the request's time is more than %v from the node's", medledger.RequestSkew)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(medledger.HeaderSignature))
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, medledger.ReplicaSignBytes(r.Method, r.URL.RequestURI(), unix), sig) {
		return unauth
	}
	ok, err := s.isNode(r, pub)
	if err != nil {
		return err
	}
	if !ok {
		return errReplicaNotFound
	}
	return nil
}

// isNode reports whether pub is in the current validator set or is the
// validator key of an active organisation.
func (s *Server) isNode(r *http.Request, pub []byte) (bool, error) {
	st, err := s.chain.Status(r.Context())
	if err != nil {
		return false, err
	}
	for _, v := range st.Validators {
		if bytes.Equal(v.PubKey, pub) {
			return true, nil
		}
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return false, medledger.Errorf(medledger.KindUnavailable, "no committed state yet")
	}
	orgs, err := identity.ListOrgs(rd)
	if err != nil {
		return false, err
	}
	for _, o := range orgs {
		if o.Status == medledger.StatusActive && bytes.Equal(o.ValidatorKey, pub) {
			return true, nil
		}
	}
	return false, nil
}

// replicable authenticates the calling node and returns the blob if this
// node may serve it: held, named by a committed anchor, and its record not
// erased.
func (s *Server) replicable(r *http.Request) (medledger.BlobID, error) {
	if err := s.needRecords(); err != nil {
		return medledger.BlobID{}, err
	}
	if err := s.authenticateNode(r); err != nil {
		return medledger.BlobID{}, err
	}
	id, err := medledger.ParseBlobID(r.PathValue("id"))
	if err != nil {
		return id, errReplicaNotFound
	}
	rec, err := records.BlobRecord(s.state.IndexReader(), id)
	if err != nil {
		return id, err
	}
	if rec == "" {
		return id, errReplicaNotFound
	}
	rd, err := s.state.ReaderAt(s.state.Version())
	if err != nil {
		return id, medledger.Errorf(medledger.KindUnavailable, "no committed state yet")
	}
	rc, err := records.GetRecord(rd, rec)
	if err != nil {
		return id, err
	}
	if rc == nil || rc.Erased != 0 {
		return id, errReplicaNotFound
	}
	return id, nil
}

func (s *Server) replicaBlob(w http.ResponseWriter, r *http.Request) error {
	id, err := s.replicable(r)
	if err != nil {
		return err
	}
	f, size, err := s.blobs.Open(r.Context(), id)
	if medledger.IsKind(err, medledger.KindNotFound) {
		return errReplicaNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		// The stored copy went bad or the peer left. The response is
		// short of its Content-Length, so the peer cannot take it for a
		// whole blob (and its store checks the hash anyway).
		s.log.Warn("replica: serving a blob failed part way", "blob", id, "err", err)
	}
	return nil
}

func (s *Server) replicaWraps(w http.ResponseWriter, r *http.Request) error {
	id, err := s.replicable(r)
	if err != nil {
		return err
	}
	if ok, err := s.blobs.Has(r.Context(), id); err != nil {
		return err
	} else if !ok {
		return errReplicaNotFound
	}
	keys, err := s.blobs.Wraps(r.Context(), id)
	if err != nil {
		return err
	}
	out := medledger.ReplicaWraps{Blob: id, Wraps: make(map[string][]byte, len(keys))}
	for _, k := range keys {
		wrap, err := s.blobs.GetWrap(r.Context(), id, k)
		if medledger.IsKind(err, medledger.KindNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		out.Wraps[k] = wrap
	}
	return writeJSON(w, http.StatusOK, out)
}

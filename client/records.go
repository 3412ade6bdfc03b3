package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"medledger"
	"medledger/client/account"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/records"
	"medledger/seal"
)

// Messages and records of the consent, records and audit modules.
type (
	GrantAccess = consent.GrantAccess
	Revoke      = consent.Revoke
	BreakGlass  = consent.BreakGlass
	Grant       = consent.Grant
	Grantee     = consent.Grantee
	Scope       = consent.Scope
	Emergency   = consent.Emergency
	Anchor      = records.Anchor
	Erase       = records.Erase
	Record      = records.Record
	Version     = records.Version
	RecordView  = records.View
	Access      = audit.Access
	AccessEvent = audit.Event
)

// User is an account acting through this client: it signs, and it opens
// the key wraps addressed to it. Old encryption keys open wraps made before
// a rotation.
type User struct {
	Signer
	EncryptionKey    hpke.PrivateKey
	EncryptionPublic []byte
	OldKeys          []hpke.PrivateKey
}

// GenerateUser creates a fresh account's keys in memory, outside any
// keyring: a signing key and an encryption key, and the public keys a
// registration or enrolment carries. Load generators and tests use it.
func GenerateUser() (User, PublicKeys, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return User{}, PublicKeys{}, err
	}
	enc, err := seal.GenerateEncryptionKey()
	if err != nil {
		return User{}, PublicKeys{}, err
	}
	encPub := enc.PublicKey().Bytes()
	return User{Signer: Signer{ID: medledger.AccountID(pub), Key: priv}, EncryptionKey: enc, EncryptionPublic: encPub},
		PublicKeys{SigningKey: pub, EncryptionKey: encPub}, nil
}

// UserOf returns the user of a keyring key.
func UserOf(k *Key) User {
	return User{Signer: SignerOf(k), EncryptionKey: k.EncryptionKey, EncryptionPublic: k.EncryptionPublicKey, OldKeys: k.OldEncryptionKeys}
}

// signed performs a request signed by s (DESIGN §7: uploads and private
// queries are signed by a registered account).
func (c *Client) signed(ctx context.Context, s Signer, method, path string, body io.Reader, bodyHash string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	sig := ed25519.Sign(s.Key, medledger.RequestSignBytes(method, req.URL.RequestURI(), now, bodyHash))
	req.Header.Set(medledger.HeaderAccount, string(s.ID))
	req.Header.Set(medledger.HeaderTime, strconv.FormatInt(now, 10))
	req.Header.Set(medledger.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set("Content-Type", "application/octet-stream")
	return c.send(req, out)
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// PutBlob uploads a ciphertext.
func (c *Client) PutBlob(ctx context.Context, s Signer, ciphertext []byte) (medledger.BlobID, error) {
	id := medledger.BlobIDOf(ciphertext)
	return id, c.signed(ctx, s, http.MethodPut, "/v1/blobs/"+id.String(), bytes.NewReader(ciphertext), id.String(), nil)
}

// PutWrap uploads a reader's wrap of a blob's content key. A wrap that is
// already there is left as it is.
func (c *Client) PutWrap(ctx context.Context, s Signer, blob medledger.BlobID, keyID string, wrap []byte) error {
	err := c.signed(ctx, s, http.MethodPut, "/v1/blobs/"+blob.String()+"/wraps/"+keyID, bytes.NewReader(wrap), hashHex(wrap), nil)
	if medledger.IsKind(err, medledger.KindExists) {
		return nil
	}
	return err
}

// RecordRef names an anchored version.
type RecordRef struct {
	Record  string
	Version uint32
	Blob    medledger.BlobID
	Tx      *medledger.TxStatus
}

// sealAndStore encrypts content under a fresh key, uploads it with a wrap
// for each reader key, and anchors the version.
func (c *Client) sealAndStore(ctx context.Context, author User, anchor *Anchor, content []byte, readers [][]byte) (*RecordRef, error) {
	ct, blob, key, err := account.SealVersion(content)
	if err != nil {
		return nil, err
	}
	defer key.Zero()
	if anchor.Version == 1 {
		anchor.Record = records.IDFor(blob)
	}
	anchor.Blob, anchor.Size = blob, int64(len(ct))
	if err := c.uploadSealed(ctx, author, anchor, ct, key, readers); err != nil {
		return nil, err
	}
	st, err := c.Send(ctx, author.Signer, anchor)
	if err != nil {
		return nil, err
	}
	return &RecordRef{Record: anchor.Record, Version: anchor.Version, Blob: blob, Tx: st}, nil
}

// readersFor returns the keys a new version is wrapped for: the patient,
// the author, and the author organisation's escrow key if it has one.
func (c *Client) readersFor(ctx context.Context, author User, patient medledger.ID) ([][]byte, error) {
	p, err := c.Account(ctx, patient)
	if err != nil {
		return nil, fmt.Errorf("looking up the patient: %w", err)
	}
	readers := [][]byte{p.EncryptionKey, author.EncryptionPublic}
	a, err := c.Account(ctx, author.ID)
	if err != nil {
		return nil, fmt.Errorf("looking up the author: %w", err)
	}
	if a.Org != "" {
		o, err := c.Org(ctx, a.Org)
		if err != nil {
			return nil, err
		}
		if o.EncryptionKey != nil {
			readers = append(readers, o.EncryptionKey)
		}
	}
	return readers, nil
}

// PutRecord seals content on this machine and anchors it as a new record
// of the patient, authored by author. It is wrapped for the patient, the
// author and any extra reader keys; the patient's client shares it with
// grantees (ShareRecords).
func (c *Client) PutRecord(ctx context.Context, author User, patient medledger.ID, content []byte, contentType, category string, extra ...[]byte) (*RecordRef, error) {
	readers, err := c.readersFor(ctx, author, patient)
	if err != nil {
		return nil, err
	}
	readers = append(readers, extra...)
	return c.sealAndStore(ctx, author, &Anchor{Version: 1, Patient: patient, ContentType: contentType, Category: category}, content, readers)
}

// AmendRecord anchors a new version of a record with new content.
func (c *Client) AmendRecord(ctx context.Context, author User, record string, content []byte, extra ...[]byte) (*RecordRef, error) {
	v, err := c.RecordInfo(ctx, author.Signer, record)
	if err != nil {
		return nil, err
	}
	readers, err := c.readersFor(ctx, author, v.Record.Patient)
	if err != nil {
		return nil, err
	}
	readers = append(readers, extra...)
	a := &Anchor{Record: record, Version: v.Record.Latest + 1, Patient: v.Record.Patient, ContentType: v.Record.ContentType, Category: v.Record.Category}
	return c.sealAndStore(ctx, author, a, content, readers)
}

// RecordInfo returns a record's metadata and history, if s may read it.
func (c *Client) RecordInfo(ctx context.Context, s Signer, record string) (*RecordView, error) {
	var v RecordView
	return &v, c.signed(ctx, s, http.MethodGet, "/v1/records/"+url.PathEscape(record), nil, hashHex(nil), &v)
}

// Records lists the records of a patient that s may read for purpose.
func (c *Client) Records(ctx context.Context, s Signer, patient medledger.ID, purpose string) ([]RecordView, error) {
	var out struct {
		Records []RecordView `json:"records"`
	}
	q := ""
	if purpose != "" {
		q = "?purpose=" + url.QueryEscape(purpose)
	}
	return out.Records, c.signed(ctx, s, http.MethodGet, "/v1/patients/"+string(patient)+"/records"+q, nil, hashHex(nil), &out)
}

// Plaintext is a record version read and opened on this machine.
type Plaintext struct {
	Record      string
	Version     uint32
	ContentType string
	Category    string
	Basis       string
	AccessTx    string
	Content     []byte
}

// requestTimeout is how many blocks a read request stays valid.
const requestTimeout = 300

// Read reads a record version (0: the latest) for a purpose. The node logs
// the access on-chain before it serves the ciphertext; the content key is
// unwrapped and the content decrypted here.
func (c *Client) Read(ctx context.Context, u User, patient medledger.ID, record string, version uint32, purpose string) (*Plaintext, error) {
	raw, err := c.buildUnordered(ctx, u.Signer, &Access{Patient: patient, Record: record, Version: version, Purpose: purpose})
	if err != nil {
		return nil, err
	}
	return c.ReadRaw(ctx, u, raw)
}

// buildUnordered signs msg as an unordered tx: a random request ID,
// valid for requestTimeout blocks from the node's latest height.
func (c *Client) buildUnordered(ctx context.Context, s Signer, msg Msg) ([]byte, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	h, err := c.Header(ctx, 0)
	if err != nil {
		return nil, err
	}
	var nb [8]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, err
	}
	return account.BuildUnordered(chainID, s, binary.BigEndian.Uint64(nb[:]), uint64(h.Height)+requestTimeout, msg)
}

// ReadRaw sends a signed read request and opens the answer.
func (c *Client) ReadRaw(ctx context.Context, u User, raw []byte) (*Plaintext, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/read", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/cbor")
	var ct []byte
	var hdr http.Header
	if err := c.sendRaw(req, func(resp *http.Response) error {
		hdr = resp.Header
		var err error
		ct, err = io.ReadAll(io.LimitReader(resp.Body, 4<<30))
		return err
	}); err != nil {
		return nil, err
	}
	v, _ := strconv.ParseUint(hdr.Get("X-Medledger-Version"), 10, 32)
	p := &Plaintext{Record: hdr.Get("X-Medledger-Record"), Version: uint32(v), ContentType: hdr.Get("X-Medledger-Content-Type"),
		Category: hdr.Get("X-Medledger-Category"), Basis: hdr.Get("X-Medledger-Basis"), AccessTx: hdr.Get("X-Medledger-Access-Tx")}
	blob, err := medledger.ParseBlobID(hdr.Get("X-Medledger-Blob"))
	if err != nil || medledger.BlobIDOf(ct) != blob {
		return nil, fmt.Errorf("the node served bytes that do not match the anchored blob")
	}
	wrap, err := base64.StdEncoding.DecodeString(hdr.Get("X-Medledger-Wrap"))
	if err != nil {
		return nil, fmt.Errorf("malformed key wrap header")
	}
	key, err := u.unwrap(wrap, seal.WrapInfo{RecordID: p.Record, Version: p.Version, ReaderKeyID: hdr.Get("X-Medledger-Key-Id")})
	if err != nil {
		return nil, err
	}
	defer key.Zero()
	if p.Content, err = seal.Decrypt(ct, key); err != nil {
		return nil, err
	}
	return p, nil
}

func (u User) unwrap(wrap []byte, info seal.WrapInfo) (*seal.ContentKey, error) {
	key, err := seal.Unwrap(wrap, u.EncryptionKey, info)
	for i := 0; err != nil && i < len(u.OldKeys); i++ {
		key, err = seal.Unwrap(wrap, u.OldKeys[i], info)
	}
	return key, err
}

// Grant grants access and then shares the patient's existing records with
// the grantee by re-wrapping their keys here. signer is the patient (or a
// delegate, whose wraps are used instead).
func (c *Client) Grant(ctx context.Context, u User, g *GrantAccess) (*medledger.TxStatus, error) {
	if g.ID == "" {
		g.ID = NewGrantID()
	}
	st, err := c.Send(ctx, u.Signer, g)
	if err != nil {
		return nil, err
	}
	_, err = c.ShareRecords(ctx, u, g.Patient)
	return st, err
}

// ShareRecords makes sure every grantee of a grant in force has a key wrap
// for every record version the grant covers, re-wrapping with u's own wrap.
// It returns how many wraps it added.
func (c *Client) ShareRecords(ctx context.Context, u User, patient medledger.ID) (int, error) {
	grants, _, err := c.Grants(ctx, u.Signer, patient)
	if err != nil {
		return 0, err
	}
	views, err := c.Records(ctx, u.Signer, patient, consent.PurposePersonal)
	if err != nil {
		return 0, err
	}
	hdr, err := c.Header(ctx, 0)
	if err != nil {
		return 0, err
	}
	now := hdr.Time.Unix()
	keys := map[medledger.ID][]byte{}
	readerKeys := func(g Grant) ([][]byte, error) {
		ids := []medledger.ID{g.Grantee.Member}
		if g.Grantee.Org != "" {
			if ids, err = c.Members(ctx, g.Grantee.Org); err != nil {
				return nil, err
			}
		}
		var out [][]byte
		for _, id := range ids {
			if keys[id] == nil {
				a, err := c.Account(ctx, id)
				if err != nil {
					return nil, err
				}
				if a.Status != medledger.StatusActive {
					continue
				}
				keys[id] = a.EncryptionKey
			}
			out = append(out, keys[id])
		}
		return out, nil
	}
	added := 0
	myKey := seal.KeyID(u.EncryptionPublic)
	for _, g := range grants {
		if g.Revoked != 0 || now >= g.Expires {
			continue
		}
		pubs, err := readerKeys(g)
		if err != nil {
			return added, err
		}
		for _, v := range views {
			t := consent.Target{Record: v.Record.ID, Patient: v.Record.Patient, Category: v.Record.Category, ContentType: v.Record.ContentType}
			if v.Record.Erased != 0 || !g.Scope.Covers(t) {
				continue
			}
			for _, ver := range v.Versions {
				for _, pub := range pubs {
					n, err := c.rewrap(ctx, u, ver, myKey, pub)
					if err != nil {
						return added, err
					}
					added += n
				}
			}
		}
	}
	return added, nil
}

// rewrap gives pub a wrap of a version's key, using u's own wrap.
func (c *Client) rewrap(ctx context.Context, u User, v Version, myKey string, pub []byte) (int, error) {
	kid := seal.KeyID(pub)
	mine, err := c.wrapOf(ctx, u.Signer, v.Blob, myKey)
	if err != nil {
		return 0, fmt.Errorf("record %s v%d: %w", v.Record, v.Version, err)
	}
	info := seal.WrapInfo{RecordID: v.Record, Version: v.Version, ReaderKeyID: myKey}
	key, err := u.unwrap(mine, info)
	if err != nil {
		return 0, err
	}
	defer key.Zero()
	w, err := seal.Wrap(key, pub, seal.WrapInfo{RecordID: v.Record, Version: v.Version, ReaderKeyID: kid})
	if err != nil {
		return 0, err
	}
	err = c.signed(ctx, u.Signer, http.MethodPut, "/v1/blobs/"+v.Blob.String()+"/wraps/"+kid, bytes.NewReader(w), hashHex(w), nil)
	if medledger.IsKind(err, medledger.KindExists) {
		return 0, nil
	}
	return 1, err
}

// wrapOf fetches the wrap of a blob for a key the signer holds.
func (c *Client) wrapOf(ctx context.Context, s Signer, blob medledger.BlobID, keyID string) ([]byte, error) {
	var out struct {
		Wrap []byte `json:"wrap"`
	}
	err := c.signed(ctx, s, http.MethodGet, "/v1/blobs/"+blob.String()+"/wraps/"+keyID, nil, hashHex(nil), &out)
	return out.Wrap, err
}

// Grants lists a patient's grants and break-glass declarations; s is the
// patient or a delegate.
func (c *Client) Grants(ctx context.Context, s Signer, patient medledger.ID) ([]Grant, []Emergency, error) {
	var out struct {
		Grants      []Grant     `json:"grants"`
		Emergencies []Emergency `json:"emergencies"`
	}
	err := c.signed(ctx, s, http.MethodGet, "/v1/patients/"+string(patient)+"/grants", nil, hashHex(nil), &out)
	return out.Grants, out.Emergencies, err
}

// ReceivedGrants lists the grants naming s or s's organisation.
func (c *Client) ReceivedGrants(ctx context.Context, s Signer) ([]Grant, error) {
	var out struct {
		Grants []Grant `json:"grants"`
	}
	return out.Grants, c.signed(ctx, s, http.MethodGet, "/v1/grants/received", nil, hashHex(nil), &out)
}

// AccessEntry is one logged access with its proof, if asked.
type AccessEntry struct {
	AccessEvent
	Proof *medledger.StateProof `json:"proof,omitempty"`
}

// AccessLog lists every access to a patient's records; s is the patient
// or a delegate. With prove, each event is checked against the app hash.
func (c *Client) AccessLog(ctx context.Context, s Signer, patient medledger.ID, prove bool) ([]AccessEntry, error) {
	var out struct {
		Events []AccessEntry `json:"events"`
	}
	path := "/v1/patients/" + string(patient) + "/access-log"
	if prove {
		path += "?prove=true"
	}
	if err := c.signed(ctx, s, http.MethodGet, path, nil, hashHex(nil), &out); err != nil {
		return nil, err
	}
	if prove {
		for i, e := range out.Events {
			if e.Proof == nil {
				return nil, ErrProofMissing
			}
			var proven AccessEvent
			if err := c.VerifyStateProof(ctx, e.Proof); err != nil {
				return nil, err
			}
			if err := medledger.UnmarshalTrusted(e.Proof.Value, &proven); err != nil {
				return nil, err
			}
			if !slices.Equal(e.Proof.Key, audit.EventKey(proven.Patient, proven.Height, proven.Reader, proven.Request)) || proven.Patient != patient {
				return nil, fmt.Errorf("%w: access event %d", ErrProofKey, i)
			}
			out.Events[i].AccessEvent = proven
		}
	}
	return out.Events, nil
}

// ShareWith gives one more reader key a wrap of every version of a record,
// re-wrapping with u's own wrap: how a patient's client shares a record
// with a new grantee or a clinician who broke the glass.
func (c *Client) ShareWith(ctx context.Context, u User, record string, readerPub []byte) (int, error) {
	v, err := c.RecordInfo(ctx, u.Signer, record)
	if err != nil {
		return 0, err
	}
	added := 0
	for _, ver := range v.Versions {
		n, err := c.rewrap(ctx, u, ver, seal.KeyID(u.EncryptionPublic), readerPub)
		if err != nil {
			return added, err
		}
		added += n
	}
	return added, nil
}

// PutBlobAs uploads body under an ID the caller gives: for tools and
// tests that check the node refuses bytes that do not match.
func (c *Client) PutBlobAs(ctx context.Context, s Signer, id medledger.BlobID, body []byte) error {
	return c.signed(ctx, s, http.MethodPut, "/v1/blobs/"+id.String(), bytes.NewReader(body), id.String(), nil)
}

// Item is one record to put in a batch.
type Item struct {
	Content     []byte
	ContentType string
	Category    string
}

// PutRecords seals and uploads many records for one patient, then submits
// their anchors back to back with consecutive nonces and waits until all
// are committed: an import of thousands of resources takes a few blocks,
// not thousands. progress, if not nil, is called after each upload.
func (c *Client) PutRecords(ctx context.Context, author User, patient medledger.ID, items []Item, progress func(done int)) ([]RecordRef, error) {
	readers, err := c.readersFor(ctx, author, patient)
	if err != nil {
		return nil, err
	}
	chainID, nonce, err := c.lastNonce(ctx, author.ID)
	if err != nil {
		return nil, err
	}
	refs := make([]RecordRef, len(items))
	raws := make([][]byte, len(items))
	for i, it := range items {
		key, err := seal.NewContentKey()
		if err != nil {
			return nil, err
		}
		ct, err := seal.Encrypt(it.Content, key)
		if err != nil {
			key.Zero()
			return nil, err
		}
		blob := medledger.BlobIDOf(ct)
		a := &Anchor{Record: records.IDFor(blob), Version: 1, Patient: patient, Blob: blob, Size: int64(len(ct)), ContentType: it.ContentType, Category: it.Category}
		err = c.uploadSealed(ctx, author, a, ct, key, readers)
		key.Zero()
		if err != nil {
			return nil, err
		}
		nonce++
		if raws[i], err = BuildTx(chainID, author.Signer, nonce, a); err != nil {
			return nil, err
		}
		refs[i] = RecordRef{Record: a.Record, Version: 1, Blob: blob}
		if progress != nil {
			progress(i + 1)
		}
	}
	for i, raw := range raws {
		if _, err := c.Broadcast(ctx, raw); err != nil {
			return nil, fmt.Errorf("anchor %d of %d: %w", i+1, len(raws), err)
		}
	}
	for i, raw := range raws {
		st, err := c.Commit(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("anchor %d of %d: %w", i+1, len(raws), err)
		}
		refs[i].Tx = st
	}
	return refs, nil
}

// uploadSealed uploads a ciphertext and a wrap of its key for each reader.
func (c *Client) uploadSealed(ctx context.Context, author User, a *Anchor, ct []byte, key *seal.ContentKey, readers [][]byte) error {
	if _, err := c.PutBlob(ctx, author.Signer, ct); err != nil {
		return fmt.Errorf("uploading the ciphertext: %w", err)
	}
	done := map[string]bool{}
	for _, pub := range readers {
		kid := seal.KeyID(pub)
		if done[kid] {
			continue
		}
		done[kid] = true
		w, err := seal.Wrap(key, pub, seal.WrapInfo{RecordID: a.Record, Version: a.Version, ReaderKeyID: kid})
		if err != nil {
			return err
		}
		if err := c.PutWrap(ctx, author.Signer, a.Blob, kid, w); err != nil {
			return fmt.Errorf("uploading a key wrap: %w", err)
		}
	}
	return nil
}

// NewGrantID returns a fresh random grant ID.
func NewGrantID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Package identity is the identity module: the consortium authority, the
// organisations it admits, their members and roles, patients who register
// themselves and are attested by providers, patients' delegates, and key
// rotation.
//
// Authority: genesis names a set of regulator accounts and a threshold M. An
// authority action (admit or remove an organisation) takes effect once M
// distinct regulators have submitted the same action; each submission is an
// approval, and the action's ID is the hash of its message type and bytes.
//
// Every authorisation rule lives here, in Apply: the API never decides who
// may do what.
package identity

import (
	"crypto/sha256"
	"encoding/hex"

	"medledger"
	"medledger/internal/state"
)

// KeyRecord is one signing or encryption key an account has held.
type KeyRecord struct {
	SigningKey    []byte `cbor:"1,keyasint,omitempty" json:"signing_key,omitempty"`
	EncryptionKey []byte `cbor:"2,keyasint,omitempty" json:"encryption_key,omitempty"`
	Since         int64  `cbor:"3,keyasint" json:"since"` // height from which it is current
}

// Attestation is a provider organisation's KYC statement about a patient.
type Attestation struct {
	Org    string       `cbor:"1,keyasint" json:"org"`
	By     medledger.ID `cbor:"2,keyasint" json:"by"`
	Method string       `cbor:"3,keyasint" json:"method"`
	Height int64        `cbor:"4,keyasint" json:"height"`
	Time   int64        `cbor:"5,keyasint" json:"time"`
}

// Delegate is someone a patient appointed to act for them.
type Delegate struct {
	ID       medledger.ID `cbor:"1,keyasint" json:"id"`
	Relation string       `cbor:"2,keyasint" json:"relation"`
	Expires  int64        `cbor:"3,keyasint,omitempty" json:"expires,omitempty"` // Unix seconds; 0 means no expiry
	Since    int64        `cbor:"4,keyasint" json:"since"`                       // height
}

// Active reports whether the delegation is in force at block time now.
func (d Delegate) Active(now int64) bool { return d.Expires == 0 || now < d.Expires }

// Account is a registered patient, member or regulator.
type Account struct {
	ID            medledger.ID          `cbor:"1,keyasint" json:"id"`
	Kind          medledger.AccountKind `cbor:"2,keyasint" json:"kind"`
	Status        medledger.Status      `cbor:"3,keyasint" json:"status"`
	SigningKey    []byte                `cbor:"4,keyasint" json:"signing_key"`
	EncryptionKey []byte                `cbor:"5,keyasint" json:"encryption_key"`
	// Keys is every key the account has held, oldest first, so signatures
	// and wraps made under old keys stay checkable.
	Keys         []KeyRecord      `cbor:"6,keyasint" json:"keys"`
	Org          string           `cbor:"7,keyasint,omitempty" json:"org,omitempty"`
	Roles        []medledger.Role `cbor:"8,keyasint,omitempty" json:"roles,omitempty"`
	Attestations []Attestation    `cbor:"9,keyasint,omitempty" json:"attestations,omitempty"`
	Delegates    []Delegate       `cbor:"10,keyasint,omitempty" json:"delegates,omitempty"`
	Created      int64            `cbor:"11,keyasint" json:"created"`
	Updated      int64            `cbor:"12,keyasint" json:"updated"`
}

// Org is an admitted organisation.
type Org struct {
	ID           string            `cbor:"1,keyasint" json:"id"`
	Type         medledger.OrgType `cbor:"2,keyasint" json:"type"`
	Name         string            `cbor:"3,keyasint" json:"name"`
	Licence      string            `cbor:"4,keyasint" json:"licence"`
	GatewayURL   string            `cbor:"5,keyasint,omitempty" json:"gateway_u_r_l,omitempty"`
	ValidatorKey []byte            `cbor:"6,keyasint,omitempty" json:"validator_key,omitempty"`
	Status       medledger.Status  `cbor:"7,keyasint" json:"status"`
	Admin        medledger.ID      `cbor:"8,keyasint" json:"admin"` // the first admin, enrolled at admission
	Admitted     int64             `cbor:"9,keyasint" json:"admitted"`
	Updated      int64             `cbor:"10,keyasint" json:"updated"`
	// EncryptionKey is the organisation's HPKE key, held by its node as
	// escrow: records its members author are also wrapped for it, so that
	// on a break-glass declaration the node can re-wrap them for the
	// clinician without the patient (DESIGN §7, §8).
	EncryptionKey []byte `cbor:"11,keyasint,omitempty" json:"encryption_key,omitempty"`
}

// Authority is the consortium authority: regulators and their threshold.
type Authority struct {
	Regulators []medledger.ID `cbor:"1,keyasint" json:"regulators"`
	Threshold  int            `cbor:"2,keyasint" json:"threshold"`
}

// Proposal is an authority action still short of its threshold.
type Proposal struct {
	ID        string         `cbor:"1,keyasint" json:"id"`
	MsgType   string         `cbor:"2,keyasint" json:"msg_type"`
	Msg       []byte         `cbor:"3,keyasint" json:"msg"`
	Approvals []medledger.ID `cbor:"4,keyasint" json:"approvals"`
	Created   int64          `cbor:"5,keyasint" json:"created"`
}

// ProposalID names an authority action by its content.
func ProposalID(msgType string, msg []byte) string {
	h := sha256.New()
	h.Write([]byte(msgType))
	h.Write([]byte{0})
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func put(w state.ReadWriter, key []byte, v any) error {
	return w.Set(key, medledger.MustMarshal(v))
}

// GetAccount returns the account with the given ID, or nil.
func GetAccount(r state.Reader, id medledger.ID) (*Account, error) {
	return state.Load[Account](r, AccountKey(id))
}

// GetOrg returns the organisation with the given ID, or nil.
func GetOrg(r state.Reader, id string) (*Org, error) { return state.Load[Org](r, OrgKey(id)) }

// GetAuthority returns the consortium authority.
func GetAuthority(r state.Reader) (*Authority, error) {
	a, err := state.Load[Authority](r, AuthorityKey())
	if err == nil && a == nil {
		err = medledger.Errorf(medledger.KindInternal, "no consortium authority in state")
	}
	return a, err
}

// GetProposal returns the pending proposal with the given ID, or nil.
func GetProposal(r state.Reader, id string) (*Proposal, error) {
	return state.Load[Proposal](r, ProposalKey(id))
}

// LoadPrincipal resolves an account to the principal the state machine
// authorises. It returns a KindUnknownAccount error for an unknown ID.
func LoadPrincipal(r state.Reader, id medledger.ID) (medledger.Principal, *Account, error) {
	a, err := GetAccount(r, id)
	if err != nil {
		return medledger.Principal{}, nil, err
	}
	if a == nil {
		return medledger.Principal{}, nil, medledger.Errorf(medledger.KindUnknownAccount, "account %s is not registered", id)
	}
	p := medledger.Principal{ID: a.ID, Kind: a.Kind, Status: a.Status, Org: a.Org, Roles: a.Roles}
	if a.Org != "" {
		o, err := GetOrg(r, a.Org)
		if err != nil {
			return p, nil, err
		}
		if o == nil {
			return p, nil, medledger.Errorf(medledger.KindInternal, "member %s of missing organisation %s", a.ID, a.Org)
		}
		p.OrgType = o.Type
		if o.Status != medledger.StatusActive && p.Status == medledger.StatusActive {
			p.Status = o.Status
		}
	}
	return p, a, nil
}

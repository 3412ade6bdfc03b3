package identity

import (
	"encoding/base64"
	"math/big"

	"medledger"
	"medledger/internal/state"
)

// ListOrgs returns every organisation in ID order.
func ListOrgs(r state.Reader) ([]Org, error) { return state.LoadAll[Org](r, OrgPrefix()) }

// ListProposals returns the pending authority proposals in ID order.
func ListProposals(r state.Reader) ([]Proposal, error) {
	return state.LoadAll[Proposal](r, ProposalPrefix())
}

// indexIDs lists the last path element of every index key under prefix.
func indexIDs(index state.Reader, prefix []byte) ([]medledger.ID, error) {
	var out []medledger.ID
	err := index.Iterate(prefix, state.PrefixEnd(prefix), func(k, _ []byte) bool {
		out = append(out, medledger.ID(k[len(prefix):]))
		return true
	})
	return out, err
}

// ListMembers returns the IDs of an organisation's members, from the index.
func ListMembers(index state.Reader, org string) ([]medledger.ID, error) {
	return indexIDs(index, OrgMembersPrefix(org))
}

// ListDelegators returns the patients a delegate acts for, from the index.
func ListDelegators(index state.Reader, delegate medledger.ID) ([]medledger.ID, error) {
	return indexIDs(index, DelegatorsPrefix(delegate))
}

// DIDDocument is a W3C DID document (DID Core 1.0).
type DIDDocument struct {
	Context            []string             `json:"@context"`
	ID                 string               `json:"id"`
	Controller         string               `json:"controller,omitempty"`
	VerificationMethod []VerificationMethod `json:"verificationMethod"`
	Authentication     []string             `json:"authentication,omitempty"`
	AssertionMethod    []string             `json:"assertionMethod,omitempty"`
	KeyAgreement       []string             `json:"keyAgreement,omitempty"`
	Service            []Service            `json:"service,omitempty"`
	// Medledger holds medledger's own properties: kind, status, organisation.
	Medledger map[string]string `json:"medledger,omitempty"`
}

// VerificationMethod is one key in a DID document.
type VerificationMethod struct {
	ID                 string `json:"id"`
	Type               string `json:"type"`
	Controller         string `json:"controller"`
	PublicKeyMultibase string `json:"publicKeyMultibase"`
}

// Service is a service endpoint in a DID document.
type Service struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	ServiceEndpoint string `json:"serviceEndpoint"`
}

var didContext = []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"}

// HPKEKeyType is the verification-method type of an account's HPKE
// (ML-KEM-768+X25519) key agreement key. No multicodec exists for the hybrid
// KEM yet, so the key is given as multibase base64url ('u') of its RFC 9180
// serialization.
const HPKEKeyType = "MedledgerHPKEMLKEM768X25519"

// AccountDID builds the DID document of an account. org may be nil.
// Signing keys are Ed25519 Multikeys (multicodec 0xed01, base58btc).
func AccountDID(a *Account, org *Org) *DIDDocument {
	did := a.ID.DID()
	sig := did + "#sig-1"
	enc := did + "#enc-1"
	doc := &DIDDocument{
		Context:    didContext,
		ID:         did,
		Controller: did,
		VerificationMethod: []VerificationMethod{
			{ID: sig, Type: "Multikey", Controller: did, PublicKeyMultibase: Ed25519Multibase(a.SigningKey)},
			{ID: enc, Type: HPKEKeyType, Controller: did, PublicKeyMultibase: "u" + base64.RawURLEncoding.EncodeToString(a.EncryptionKey)},
		},
		Authentication:  []string{sig},
		AssertionMethod: []string{sig},
		KeyAgreement:    []string{enc},
		Medledger:       map[string]string{"kind": string(a.Kind), "status": string(a.Status)},
	}
	if a.Org != "" {
		doc.Medledger["org"] = a.Org
		doc.Medledger["roles"] = roleNames(a.Roles)
		if org != nil {
			if org.Status != medledger.StatusActive {
				doc.Medledger["status"] = string(org.Status)
			}
			if org.GatewayURL != "" {
				doc.Service = []Service{{ID: did + "#gateway", Type: "MedledgerGateway", ServiceEndpoint: org.GatewayURL}}
			}
		}
	}
	return doc
}

// OrgDID builds the DID document of an organisation: its validator key if
// it runs a validator, and its gateway.
func OrgDID(o *Org) *DIDDocument {
	did := medledger.OrgDID(o.ID)
	doc := &DIDDocument{
		Context:    didContext,
		ID:         did,
		Controller: o.Admin.DID(),
		Medledger:  map[string]string{"kind": "organisation", "type": string(o.Type), "status": string(o.Status), "name": o.Name, "licence": o.Licence},
	}
	doc.VerificationMethod = []VerificationMethod{}
	if o.ValidatorKey != nil {
		vm := did + "#validator"
		doc.VerificationMethod = append(doc.VerificationMethod, VerificationMethod{ID: vm, Type: "Multikey", Controller: did, PublicKeyMultibase: Ed25519Multibase(o.ValidatorKey)})
		doc.AssertionMethod = []string{vm}
	}
	if o.EncryptionKey != nil {
		vm := did + "#escrow"
		doc.VerificationMethod = append(doc.VerificationMethod, VerificationMethod{ID: vm, Type: HPKEKeyType, Controller: did, PublicKeyMultibase: "u" + base64.RawURLEncoding.EncodeToString(o.EncryptionKey)})
		doc.KeyAgreement = []string{vm}
	}
	if o.GatewayURL != "" {
		doc.Service = []Service{{ID: did + "#gateway", Type: "MedledgerGateway", ServiceEndpoint: o.GatewayURL}}
	}
	return doc
}

// Ed25519Multibase encodes an Ed25519 public key as a Multikey:
// base58btc ('z') of the multicodec prefix 0xed 0x01 and the key.
func Ed25519Multibase(pub []byte) string {
	return "z" + base58(append([]byte{0xed, 0x01}, pub...))
}

const b58alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58(b []byte) string {
	n := new(big.Int).SetBytes(b)
	base, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, b58alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// Directory implements medledger.Directory over a state reader.
type Directory struct{ R state.Reader }

// Principal implements medledger.Directory.
func (d Directory) Principal(id medledger.ID) (medledger.Principal, error) {
	p, _, err := LoadPrincipal(d.R, id)
	return p, err
}

// IsDelegate implements medledger.Directory.
func (d Directory) IsDelegate(patient, delegate medledger.ID, now int64) (bool, error) {
	a, err := GetAccount(d.R, patient)
	if err != nil || a == nil || a.Kind != medledger.KindPatient {
		return false, err
	}
	for _, dl := range a.Delegates {
		if dl.ID == delegate && dl.Active(now) {
			p, _, err := LoadPrincipal(d.R, delegate)
			if err != nil {
				return false, nil
			}
			return p.Active(), nil
		}
	}
	return false, nil
}

// OrgActive implements medledger.Directory.
func (d Directory) OrgActive(org string) (bool, error) {
	o, err := GetOrg(d.R, org)
	return err == nil && o != nil && o.Status == medledger.StatusActive, err
}

// OrgType implements medledger.Directory.
func (d Directory) OrgType(org string) (medledger.OrgType, error) {
	o, err := GetOrg(d.R, org)
	if err != nil {
		return "", err
	}
	if o == nil {
		return "", medledger.Errorf(medledger.KindNotFound, "organisation %s is not admitted", org)
	}
	return o.Type, nil
}

// EncryptionKey implements medledger.Directory.
func (d Directory) EncryptionKey(id medledger.ID) ([]byte, error) {
	a, err := GetAccount(d.R, id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "account %s is not registered", id)
	}
	return a.EncryptionKey, nil
}

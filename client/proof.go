package client

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// Proof verification errors. VerifyState wraps them with detail; match them
// with errors.Is.
// Each wraps ErrVerification.
var (
	ErrProofMalformed   = proofError("malformed proof")
	ErrProofRoot        = proofError("proof does not match app hash")
	ErrProofKey         = proofError("proof is for a different key")
	ErrProofValue       = proofError("proof is for a different value")
	ErrProofPresence    = proofError("proof shows the key present, not absent")
	ErrProofAbsence     = proofError("proof shows the key absent, not present")
	ErrProofNonExistent = proofError("invalid non-existence proof")
)

// proofError is a proof verification error that wraps ErrVerification.
type proofError string

func (e proofError) Error() string { return string(e) }
func (e proofError) Unwrap() error { return ErrVerification }

// emptyRoot is the root hash of a tree with no keys: sha256 of nothing.
var emptyRoot = sha256.New().Sum(nil)

// VerifyState checks that proof proves key has value (value != nil) or key is
// absent (value == nil) under root, the store hash of the queried version
// (which the header of the next height carries as its app hash). proof is a
// marshalled ics23.CommitmentProof in IAVL's format, as the store returns it. The one exception is an empty tree, which
// has no neighbours to prove absence with: an empty proof proves absence iff
// root is the empty-tree hash.
func VerifyState(root, key, value, proof []byte) error {
	if len(root) == 0 {
		return fmt.Errorf("%w: empty app hash", ErrProofRoot)
	}
	if value != nil && len(value) == 0 {
		return fmt.Errorf("%w: state values are never empty", ErrProofValue)
	}
	if len(proof) == 0 {
		switch {
		case !bytes.Equal(root, emptyRoot):
			return fmt.Errorf("%w: empty proof", ErrProofMalformed)
		case value != nil:
			return fmt.Errorf("%w: the tree is empty", ErrProofAbsence)
		}
		return nil
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proof); err != nil {
		return fmt.Errorf("%w: %v", ErrProofMalformed, err)
	}
	// The ics23 check decides; the rest only explains a failure.
	spec := ics23.IavlSpec
	switch {
	case p.GetExist() != nil:
		ex := p.GetExist()
		switch {
		case value == nil:
			return ErrProofPresence
		case !bytes.Equal(ex.Key, key):
			return ErrProofKey
		case !bytes.Equal(ex.Value, value):
			return ErrProofValue
		case ics23.VerifyMembership(spec, root, &p, key, value):
			return nil
		}
		if err := checkRoot(spec, root, ex); err != nil {
			return err
		}
		return fmt.Errorf("%w: membership check failed", ErrProofMalformed)
	case p.GetNonexist() != nil:
		nx := p.GetNonexist()
		switch {
		case value != nil:
			return ErrProofAbsence
		case !bytes.Equal(nx.Key, key):
			return ErrProofKey
		case ics23.VerifyNonMembership(spec, root, &p, key):
			return nil
		case nx.Left == nil && nx.Right == nil:
			return fmt.Errorf("%w: no neighbours", ErrProofMalformed)
		}
		for _, ex := range []*ics23.ExistenceProof{nx.Left, nx.Right} {
			if ex == nil {
				continue
			}
			if err := checkRoot(spec, root, ex); err != nil {
				return err
			}
		}
		if err := nx.Verify(spec, root, key); err != nil {
			return fmt.Errorf("%w: %v", ErrProofNonExistent, err)
		}
		return fmt.Errorf("%w: non-membership check failed", ErrProofNonExistent)
	}
	return fmt.Errorf("%w: neither an existence nor a non-existence proof", ErrProofMalformed)
}

// checkRoot checks that ex is well formed for spec and hashes up to root.
func checkRoot(spec *ics23.ProofSpec, root []byte, ex *ics23.ExistenceProof) error {
	if err := ex.CheckAgainstSpec(spec); err != nil {
		return fmt.Errorf("%w: %v", ErrProofMalformed, err)
	}
	calc, err := ex.Calculate()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProofMalformed, err)
	}
	if !bytes.Equal(calc, root) {
		return ErrProofRoot
	}
	return nil
}

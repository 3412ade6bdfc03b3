package client

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// Proof verification errors. VerifyState wraps them with detail; match them
// with errors.Is.
var (
	ErrProofMalformed   = errors.New("malformed proof")
	ErrProofRoot        = errors.New("proof does not match app hash")
	ErrProofKey         = errors.New("proof is for a different key")
	ErrProofValue       = errors.New("proof is for a different value")
	ErrProofPresence    = errors.New("proof shows the key present, not absent")
	ErrProofAbsence     = errors.New("proof shows the key absent, not present")
	ErrProofNonExistent = errors.New("invalid non-existence proof")
)

// emptyRoot is the root hash of a tree with no keys: sha256 of nothing.
var emptyRoot = sha256.New().Sum(nil)

// VerifyState checks that proof proves key has value (value != nil) or key is
// absent (value == nil) under root, the app hash of the height after the
// queried one. proof is a marshalled ics23.CommitmentProof in IAVL's format,
// as the node's store returns it. The one exception is an empty tree, which
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
	spec := ics23.IavlSpec
	switch {
	case p.GetExist() != nil:
		ex := p.GetExist()
		if value == nil {
			return ErrProofPresence
		}
		if !bytes.Equal(ex.Key, key) {
			return ErrProofKey
		}
		if !bytes.Equal(ex.Value, value) {
			return ErrProofValue
		}
		if err := checkRoot(spec, root, ex); err != nil {
			return err
		}
		if !ics23.VerifyMembership(spec, root, &p, key, value) {
			return fmt.Errorf("%w: membership check failed", ErrProofMalformed)
		}
	case p.GetNonexist() != nil:
		nx := p.GetNonexist()
		if value != nil {
			return ErrProofAbsence
		}
		if !bytes.Equal(nx.Key, key) {
			return ErrProofKey
		}
		if nx.Left == nil && nx.Right == nil {
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
		if !ics23.VerifyNonMembership(spec, root, &p, key) {
			return fmt.Errorf("%w: non-membership check failed", ErrProofNonExistent)
		}
	default:
		return fmt.Errorf("%w: neither an existence nor a non-existence proof", ErrProofMalformed)
	}
	return nil
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

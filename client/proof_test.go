package client_test

import (
	"crypto/sha256"
	"errors"
	"testing"

	ics23 "github.com/cosmos/ics23/go"

	"medledger/client"
	"medledger/internal/store"
)

// The store's own tests cover proofs at length; these cover the inputs a
// hostile or confused server could send.
func TestVerifyStateInputs(t *testing.T) {
	s, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "c", "e"} {
		if err := s.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	root, v, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	_, present, _ := s.Prove([]byte("c"), v)
	_, absent, _ := s.Prove([]byte("b"), v)
	empty := sha256.New().Sum(nil)
	batch, _ := (&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Batch{Batch: &ics23.BatchProof{}}}).Marshal()
	noNeighbours, _ := (&ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Nonexist{Nonexist: &ics23.NonExistenceProof{Key: []byte("b")}}}).Marshal()

	for _, c := range []struct {
		name                    string
		root, key, value, proof []byte
		want                    error // nil: must verify
	}{
		{"present", root, []byte("c"), []byte("vc"), present, nil},
		{"absent", root, []byte("b"), nil, absent, nil},
		{"no root", nil, []byte("c"), []byte("vc"), present, client.ErrProofRoot},
		{"garbage", root, []byte("c"), []byte("vc"), []byte("\xff\xff\xff"), client.ErrProofMalformed},
		{"no proof, non-empty root", root, []byte("c"), nil, nil, client.ErrProofMalformed},
		{"no proof, empty tree", empty, []byte("c"), nil, nil, nil},
		{"no proof, empty tree, claimed present", empty, []byte("c"), []byte("v"), nil, client.ErrProofAbsence},
		{"empty value", root, []byte("c"), []byte{}, present, client.ErrProofValue},
		{"batch proof", root, []byte("c"), []byte("vc"), batch, client.ErrProofMalformed},
		{"non-existence without neighbours", root, []byte("b"), nil, noNeighbours, client.ErrProofMalformed},
		{"absence proof for a neighbour", root, []byte("a"), nil, absent, client.ErrProofKey},
		{"wrong root", empty, []byte("c"), []byte("vc"), present, client.ErrProofRoot},
	} {
		err := client.VerifyState(c.root, c.key, c.value, c.proof)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

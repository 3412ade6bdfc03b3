package light

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"

	"medledger"
)

func random32() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// signedLightBlock builds a light block as CometBFT does, signed by every
// validator of a fresh set of n, at round; change edits it before encoding.
func signedLightBlock(t *testing.T, n int, round int32, change func(*types.LightBlock)) ([]byte, *types.LightBlock) {
	t.Helper()
	vals, privs := types.RandValidatorSet(n, 10)
	h := types.Header{Version: cmtversion.Consensus{Block: 11, App: 1}, ChainID: "medledger-test", Height: 42,
		Time:           time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.UTC),
		LastBlockID:    types.BlockID{Hash: random32(), PartSetHeader: types.PartSetHeader{Total: 1, Hash: random32()}},
		LastCommitHash: random32(), DataHash: random32(), ValidatorsHash: vals.Hash(), NextValidatorsHash: vals.Hash(),
		ConsensusHash: random32(), AppHash: random32(), LastResultsHash: random32(), EvidenceHash: random32(),
		ProposerAddress: vals.Validators[0].Address}
	blockID := types.BlockID{Hash: h.Hash(), PartSetHeader: types.PartSetHeader{Total: 1, Hash: random32()}}
	voteSet := types.NewVoteSet(h.ChainID, h.Height, round, cmtproto.PrecommitType, vals)
	ext, err := types.MakeExtCommit(blockID, h.Height, round, voteSet, privs, time.Date(2026, 11, 21, 9, 30, 1, 5, time.UTC), false)
	if err != nil {
		t.Fatal(err)
	}
	lb := &types.LightBlock{SignedHeader: &types.SignedHeader{Header: &h, Commit: ext.ToCommit()}, ValidatorSet: vals}
	if change != nil {
		change(lb)
	}
	pb, err := lb.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	bz, err := pb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return bz, lb
}

// TestCheckLightBlockAgreesWithCometBFT checks medledger's stdlib light
// block check, which the portal runs in the browser, on light blocks
// CometBFT builds and signs: the header hash and fields it finds are
// CometBFT's, and every forgery CometBFT's own verification refuses, it
// refuses too.
func TestCheckLightBlockAgreesWithCometBFT(t *testing.T) {
	for _, c := range []struct {
		n     int
		round int32
	}{{1, 0}, {4, 0}, {4, 3}, {7, 1}} {
		bz, lb := signedLightBlock(t, c.n, c.round, nil)
		if err := lb.ValidateBasic("medledger-test"); err != nil {
			t.Fatal(err)
		}
		if err := lb.ValidatorSet.VerifyCommitLight("medledger-test", lb.Commit.BlockID, lb.Height, lb.Commit); err != nil {
			t.Fatal(err)
		}
		sb, err := medledger.CheckLightBlock("medledger-test", bz)
		if err != nil {
			t.Fatalf("%d validators, round %d: %v", c.n, c.round, err)
		}
		h := lb.Header
		if !bytes.Equal(sb.Header.BlockHash, h.Hash()) || sb.Header.Height != 42 || !sb.Header.Time.Equal(h.Time) ||
			!bytes.Equal(sb.Header.DataHash, h.DataHash) || !bytes.Equal(sb.Header.LastResultsHash, h.LastResultsHash) ||
			!bytes.Equal(sb.Header.AppHash, h.AppHash) || !bytes.Equal(sb.Header.ProposerAddress, h.ProposerAddress) {
			t.Fatalf("%d validators: found %+v", c.n, sb.Header)
		}
		if sb.SignedPower != int64(10*c.n) || sb.TotalPower != int64(10*c.n) || sb.Validators != c.n {
			t.Fatalf("%d validators: power %d of %d", c.n, sb.SignedPower, sb.TotalPower)
		}
	}

	forgeries := map[string]struct {
		want   string
		change func(*types.LightBlock)
	}{
		"another app hash":  {"the commit signs block", func(lb *types.LightBlock) { lb.Header.AppHash = random32() }},
		"another data hash": {"the commit signs block", func(lb *types.LightBlock) { lb.Header.DataHash = random32() }},
		"another time":      {"the commit signs block", func(lb *types.LightBlock) { lb.Header.Time = lb.Header.Time.Add(time.Second) }},
		"one signature short": {"not more than two thirds", func(lb *types.LightBlock) {
			for i := 0; i < 2; i++ {
				lb.Commit.Signatures[i] = types.NewCommitSigAbsent()
			}
		}},
		"flipped signature": {"does not verify", func(lb *types.LightBlock) { lb.Commit.Signatures[1].Signature[3] ^= 1 }},
		"other signing time": {"does not verify", func(lb *types.LightBlock) {
			lb.Commit.Signatures[0].Timestamp = lb.Commit.Signatures[0].Timestamp.Add(time.Millisecond)
		}},
		"more power": {"validator set hashes to", func(lb *types.LightBlock) { lb.ValidatorSet.Validators[0].VotingPower = 100 }},
		"a stranger's set": {"validator set hashes to", func(lb *types.LightBlock) {
			other, _ := types.RandValidatorSet(4, 10)
			lb.ValidatorSet = other
		}},
		"another height": {"the commit is for height", func(lb *types.LightBlock) { lb.Commit.Height = 41 }},
	}
	for name, f := range forgeries {
		bz, lb := signedLightBlock(t, 4, 0, f.change)
		_, err := medledger.CheckLightBlock("medledger-test", bz)
		if err == nil || !strings.Contains(err.Error(), f.want) {
			t.Errorf("%s: %v, want %q", name, err, f.want)
		}
		// CometBFT refuses it too.
		theirs := lb.ValidateBasic("medledger-test")
		if theirs == nil {
			theirs = lb.ValidatorSet.VerifyCommitLight("medledger-test", lb.Commit.BlockID, lb.Height, lb.Commit)
		}
		if theirs == nil {
			t.Errorf("%s: CometBFT accepts it", name)
		}
	}
	bz, _ := signedLightBlock(t, 4, 0, nil)
	if _, err := medledger.CheckLightBlock("another-chain", bz); err == nil {
		t.Error("a block of another chain was accepted")
	}
	for _, cut := range []int{1, len(bz) / 2, len(bz) - 1} {
		if _, err := medledger.CheckLightBlock("medledger-test", bz[:cut]); err == nil {
			t.Errorf("a light block cut at %d bytes was accepted", cut)
		}
	}
}

package cometbft

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"medledger/internal/identity"
	"medledger/internal/ledger"
	"medledger/internal/store"
	"medledger/seal"
)

// testStore serves a store's snapshots in small chunks, so that even a
// genesis state spans several.
type testStore struct{ *store.Store }

func (s testStore) Export(version int64, emit func([]byte) error) ([]byte, error) {
	return s.Store.Export(version, 256, emit)
}

func (s testStore) Restore(version int64, format uint32) (Restorer, error) {
	return s.Store.Import(version, format)
}

const testChain = "medledger-abci"

func newTestApp(t *testing.T) (*App, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	o := store.DefaultOptions()
	o.Sync = false
	st, err := store.Open(filepath.Join(dir, "app"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := NewApp(ledger.New(st, testChain), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A snapshot a crash left unfinished is removed.
	snaps := filepath.Join(dir, "snapshots")
	if err := os.MkdirAll(filepath.Join(snaps, "4.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.EnableSnapshots(testStore{st}, SnapshotOptions{Dir: snaps, Interval: 2, KeepRecent: 2, Format: store.SnapshotFormat, MaxChunk: 256}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(snaps, "4.tmp")); !os.IsNotExist(err) {
		t.Fatalf("unfinished snapshot still there: %v", err)
	}
	t.Cleanup(a.StopSnapshots)
	return a, st
}

// block runs an empty block through the app and returns its app hash.
func block(t *testing.T, a *App, height int64) []byte {
	t.Helper()
	ctx := context.Background()
	res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: height, Time: time.Unix(1_700_000_000+height, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	return res.AppHash
}

func genesisState(t *testing.T) []byte {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	enc, err := seal.GenerateEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	var regs []identity.PublicKeys
	for range 3 {
		regs = append(regs, identity.PublicKeys{SigningKey: pub, EncryptionKey: enc.PublicKey().Bytes()})
		pub, _, _ = ed25519.GenerateKey(rand.Reader)
	}
	b, err := json.Marshal(ledger.Genesis{Identity: identity.Genesis{Regulators: regs, Threshold: 2}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotABCI takes snapshots on one app and restores one into
// another through the ABCI snapshot methods: bad metadata and a chunk
// that does not match its hash are refused, a restore that does not give
// the offered app hash is rejected and leaves the app empty, and a good
// restore continues the chain with the same hashes.
func TestSnapshotABCI(t *testing.T) {
	ctx := context.Background()
	src, srcStore := newTestApp(t)
	if _, err := src.InitChain(ctx, &abci.RequestInitChain{ChainId: testChain, InitialHeight: 1, Time: time.Unix(1_700_000_000, 0), AppStateBytes: genesisState(t)}); err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= 6; h++ {
		block(t, src, h)
		src.WaitSnapshots()
	}
	list, err := src.ListSnapshots(ctx, &abci.RequestListSnapshots{})
	if err != nil {
		t.Fatal(err)
	}
	var heights []uint64
	for _, s := range list.Snapshots {
		heights = append(heights, s.Height)
	}
	if !slices.Equal(heights, []uint64{6, 4}) { // every 2 blocks, the 2 latest kept
		t.Fatalf("snapshots at %v, want [6 4]", heights)
	}
	snap := list.Snapshots[0]
	if snap.Chunks < 3 {
		t.Fatalf("snapshot of %d chunks; the test wants several", snap.Chunks)
	}
	var chunks [][]byte
	for i := range snap.Chunks {
		res, err := src.LoadSnapshotChunk(ctx, &abci.RequestLoadSnapshotChunk{Height: snap.Height, Format: snap.Format, Chunk: i})
		if err != nil || len(res.Chunk) == 0 {
			t.Fatalf("chunk %d: %v", i, err)
		}
		chunks = append(chunks, res.Chunk)
	}
	if res, _ := src.LoadSnapshotChunk(ctx, &abci.RequestLoadSnapshotChunk{Height: snap.Height, Format: snap.Format, Chunk: snap.Chunks}); len(res.Chunk) != 0 {
		t.Fatal("a chunk past the end was served")
	}
	appHash := srcStore.Hash() // the app hash of height 6, in header 7

	offer := func(a *App, s *abci.Snapshot, hash []byte) abci.ResponseOfferSnapshot_Result {
		t.Helper()
		res, err := a.OfferSnapshot(ctx, &abci.RequestOfferSnapshot{Snapshot: s, AppHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		return res.Result
	}
	apply := func(a *App, i uint32, chunk []byte, sender string) *abci.ResponseApplySnapshotChunk {
		t.Helper()
		res, err := a.ApplySnapshotChunk(ctx, &abci.RequestApplySnapshotChunk{Index: i, Chunk: chunk, Sender: sender})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	dst, dstStore := newTestApp(t)
	// Metadata that does not match the snapshot hash.
	bad := *snap
	bad.Metadata = bytes.Clone(snap.Metadata)
	bad.Metadata[0] ^= 1
	if r := offer(dst, &bad, appHash); r != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer with tampered metadata: %v", r)
	}
	other := *snap
	other.Format++
	if r := offer(dst, &other, appHash); r != abci.ResponseOfferSnapshot_REJECT_FORMAT {
		t.Fatalf("offer of another format: %v", r)
	}

	// The restored state must give the offered (light-client verified)
	// app hash; if not, the snapshot is rejected and the store emptied.
	if r := offer(dst, snap, bytes.Repeat([]byte{7}, 32)); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer: %v", r)
	}
	for i, c := range chunks {
		res := apply(dst, uint32(i), c, "peer-a")
		want := abci.ResponseApplySnapshotChunk_ACCEPT
		if i == len(chunks)-1 {
			want = abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT
		}
		if res.Result != want {
			t.Fatalf("chunk %d under a wrong app hash: %v, want %v", i, res.Result, want)
		}
	}
	if dstStore.Version() != 0 {
		t.Fatalf("a rejected restore left the store at version %d", dstStore.Version())
	}

	// A chunk out of order starts the snapshot over.
	if r := offer(dst, snap, appHash); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer: %v", r)
	}
	if res := apply(dst, 1, chunks[1], "peer-a"); res.Result != abci.ResponseApplySnapshotChunk_RETRY_SNAPSHOT {
		t.Fatalf("chunk 1 before chunk 0: %v", res.Result)
	}

	// A chunk that does not match its hash is refused, and its sender.
	if r := offer(dst, snap, appHash); r != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer: %v", r)
	}
	corrupt := bytes.Clone(chunks[1])
	corrupt[len(corrupt)/2] ^= 0x80
	if res := apply(dst, 0, chunks[0], "peer-a"); res.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
		t.Fatalf("chunk 0: %v", res.Result)
	}
	res := apply(dst, 1, corrupt, "peer-bad")
	if res.Result != abci.ResponseApplySnapshotChunk_RETRY || !slices.Equal(res.RefetchChunks, []uint32{1}) || !slices.Equal(res.RejectSenders, []string{"peer-bad"}) {
		t.Fatalf("corrupt chunk: %+v", res)
	}
	if res := apply(dst, 1, chunks[1][:len(chunks[1])-1], "peer-short"); res.Result != abci.ResponseApplySnapshotChunk_RETRY {
		t.Fatalf("truncated chunk: %+v", res)
	}
	for i := 1; i < len(chunks); i++ {
		if res := apply(dst, uint32(i), chunks[i], "peer-a"); res.Result != abci.ResponseApplySnapshotChunk_ACCEPT {
			t.Fatalf("chunk %d: %v", i, res.Result)
		}
	}
	info, err := dst.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 6 || !bytes.Equal(info.LastBlockAppHash, appHash) {
		t.Fatalf("info after restore: %+v %v", info, err)
	}
	// Both go on alike.
	if a, b := block(t, src, 7), block(t, dst, 7); !bytes.Equal(a, b) {
		t.Fatalf("block 7: source %X, restored %X", a, b)
	}
	// An app with state takes no snapshot.
	if r := offer(dst, snap, appHash); r != abci.ResponseOfferSnapshot_ABORT {
		t.Fatalf("offer to an app with state: %v", r)
	}
}

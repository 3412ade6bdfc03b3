package cometbft

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	abci "github.com/cometbft/cometbft/abci/types"

	"medledger/internal/ledger"
)

// State-sync snapshots. Every Interval blocks, after Commit, the app exports
// the committed state in the background into
//
//	<dir>/<height>/metadata.json   height, format, app hash, chunk hashes
//	<dir>/<height>/<index>         the chunks
//
// writing into <dir>/<height>.tmp first and renaming it when complete, so a
// snapshot being written is never listed, and one a crash interrupted is
// removed at the next start. Peers fetch snapshots through ListSnapshots and
// LoadSnapshotChunk. The ABCI snapshot's metadata is the chunk hashes
// (32 bytes each, in order) and its hash is their sha256, so a restoring
// node checks every chunk as it arrives; the restored state must then hash
// to the app hash CometBFT's light client verified.

// SnapshotStore is what snapshots need of the store.
type SnapshotStore interface {
	// Export writes a committed version as a stream of bounded chunks,
	// calling emit for each in order, and returns the version's hash.
	Export(version int64, emit func(chunk []byte) error) ([]byte, error)
	// Restore starts importing a snapshot into the empty store.
	Restore(version int64, format uint32) (Restorer, error)
}

// Restorer imports one snapshot.
type Restorer interface {
	// Write adds the next chunk.
	Write(chunk []byte) error
	// Commit finishes the import, which must give appHash, and rebuilds
	// what derives from the state (the secondary index). On error the
	// store is empty again.
	Commit(appHash []byte) error
	// Abort drops the import, leaving the store empty.
	Abort() error
}

// SnapshotOptions configure state-sync snapshots.
type SnapshotOptions struct {
	// Dir holds the snapshots (<home>/data/snapshots).
	Dir string
	// Interval is the number of blocks between snapshots; 0 takes none,
	// though the app can still restore one.
	Interval int64
	// KeepRecent is how many snapshots to keep; 0 keeps all.
	KeepRecent int
	// Format is the store's snapshot format number.
	Format uint32
	// MaxChunk bounds a chunk a peer may send, in bytes.
	MaxChunk int
}

// snapshots is the app's snapshot state.
type snapshots struct {
	store SnapshotStore
	opts  SnapshotOptions
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	busy   atomic.Bool
	wg     sync.WaitGroup

	restore *restoring // the snapshot being applied, if any
}

type restoring struct {
	height  int64
	appHash []byte
	hashes  [][]byte
	next    uint32
	r       Restorer
}

// snapshotMeta is metadata.json.
type snapshotMeta struct {
	Height  int64    `json:"height"`
	Format  uint32   `json:"format"`
	AppHash string   `json:"app_hash"`
	Chunks  []string `json:"chunks"`
}

// EnableSnapshots makes the app take, serve and restore state-sync
// snapshots. It removes snapshots that a stop left unfinished. Call it
// before the node starts.
func (a *App) EnableSnapshots(store SnapshotStore, o SnapshotOptions) error {
	if o.Interval < 0 || o.KeepRecent < 0 || o.MaxChunk <= 0 {
		return fmt.Errorf("snapshots: bad options %+v", o)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			a.log.Info("removing an unfinished snapshot", "dir", e.Name())
			if err := os.RemoveAll(filepath.Join(o.Dir, e.Name())); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.snap = &snapshots{store: store, opts: o, log: a.log, ctx: ctx, cancel: cancel}
	return nil
}

// StopSnapshots stops a snapshot being written and waits for it.
func (a *App) StopSnapshots() {
	if a.snap != nil {
		a.snap.cancel()
		a.snap.wg.Wait()
	}
}

// WaitSnapshots waits for the snapshot being written, if any.
func (a *App) WaitSnapshots() {
	if a.snap != nil {
		a.snap.wg.Wait()
	}
}

// afterCommit starts a snapshot of height in the background if one is due.
func (s *snapshots) afterCommit(height int64) {
	if s == nil || s.opts.Interval == 0 || height%s.opts.Interval != 0 || s.ctx.Err() != nil {
		return
	}
	if !s.busy.CompareAndSwap(false, true) {
		s.log.Warn("skipping a snapshot: the previous one is still being written", "height", height)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.busy.Store(false)
		if err := s.take(height); err != nil {
			if s.ctx.Err() == nil {
				s.log.Error("snapshot failed", "height", height, "err", err)
			}
			return
		}
		if err := s.prune(); err != nil {
			s.log.Warn("pruning old snapshots", "err", err)
		}
	}()
}

// take writes the snapshot of height.
func (s *snapshots) take(height int64) (err error) {
	final := filepath.Join(s.opts.Dir, strconv.FormatInt(height, 10))
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	meta := snapshotMeta{Height: height, Format: s.opts.Format}
	hash, err := s.store.Export(height, func(chunk []byte) error {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		sum := sha256.Sum256(chunk)
		meta.Chunks = append(meta.Chunks, hex.EncodeToString(sum[:]))
		return writeSynced(filepath.Join(tmp, strconv.Itoa(len(meta.Chunks)-1)), chunk)
	})
	if err != nil {
		return err
	}
	meta.AppHash = hex.EncodeToString(hash)
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, "metadata.json"), b); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	s.log.Info("snapshot taken", "height", height, "chunks", len(meta.Chunks), "app_hash", meta.AppHash)
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Sync(), f.Close())
}

// prune removes all but the KeepRecent newest snapshots.
func (s *snapshots) prune() error {
	if s.opts.KeepRecent == 0 {
		return nil
	}
	heights, err := s.heights()
	if err != nil {
		return err
	}
	for i := s.opts.KeepRecent; i < len(heights); i++ {
		if err := os.RemoveAll(filepath.Join(s.opts.Dir, strconv.FormatInt(heights[i], 10))); err != nil {
			return err
		}
	}
	return nil
}

// heights lists the finished snapshots, newest first.
func (s *snapshots) heights() ([]int64, error) {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		if h, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && e.IsDir() && h > 0 {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b int64) int { return cmp.Compare(b, a) })
	return out, nil
}

func (s *snapshots) meta(height int64) (*snapshotMeta, error) {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, strconv.FormatInt(height, 10), "metadata.json"))
	if err != nil {
		return nil, err
	}
	var m snapshotMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// abciSnapshot describes a snapshot to CometBFT: the metadata is the chunk
// hashes, the hash is theirs.
func (m *snapshotMeta) abciSnapshot() (*abci.Snapshot, error) {
	var md []byte
	for _, c := range m.Chunks {
		h, err := hex.DecodeString(c)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("snapshot %d: bad chunk hash", m.Height)
		}
		md = append(md, h...)
	}
	sum := sha256.Sum256(md)
	return &abci.Snapshot{Height: uint64(m.Height), Format: m.Format, Chunks: uint32(len(m.Chunks)), Hash: sum[:], Metadata: md}, nil
}

// ListSnapshots implements abci.Application.
func (a *App) ListSnapshots(context.Context, *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	res := &abci.ResponseListSnapshots{}
	if a.snap == nil {
		return res, nil
	}
	heights, err := a.snap.heights()
	if err != nil {
		return nil, err
	}
	for _, h := range heights {
		m, err := a.snap.meta(h)
		if err != nil {
			continue // pruned meanwhile
		}
		s, err := m.abciSnapshot()
		if err != nil {
			a.log.Warn("skipping a damaged snapshot", "height", h, "err", err)
			continue
		}
		res.Snapshots = append(res.Snapshots, s)
	}
	return res, nil
}

// LoadSnapshotChunk implements abci.Application. A chunk it does not have
// comes back empty, which CometBFT takes as missing.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snap == nil || req.Height == 0 || req.Format != a.snap.opts.Format {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	dir := filepath.Join(a.snap.opts.Dir, strconv.FormatUint(req.Height, 10))
	b, err := os.ReadFile(filepath.Join(dir, strconv.FormatUint(uint64(req.Chunk), 10)))
	if err != nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: b}, nil
}

// OfferSnapshot implements abci.Application: it accepts a snapshot of the
// store's format whose metadata matches its hash, if the app has no state
// yet.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	reject := func(r abci.ResponseOfferSnapshot_Result, why string) (*abci.ResponseOfferSnapshot, error) {
		a.log.Warn("refused a snapshot", "height", req.GetSnapshot().GetHeight(), "reason", why)
		return &abci.ResponseOfferSnapshot{Result: r}, nil
	}
	s := a.snap
	if s == nil {
		return reject(abci.ResponseOfferSnapshot_ABORT, "snapshots are not enabled")
	}
	if s.restore != nil {
		// CometBFT moved on to another snapshot.
		if err := s.restore.r.Abort(); err != nil {
			return nil, err
		}
		s.restore = nil
	}
	snap := req.Snapshot
	switch {
	case snap == nil:
		return reject(abci.ResponseOfferSnapshot_REJECT, "no snapshot")
	case a.store.Version() != 0:
		return reject(abci.ResponseOfferSnapshot_ABORT, fmt.Sprintf("the app already has state at height %d", a.store.Version()))
	case snap.Format != s.opts.Format:
		return reject(abci.ResponseOfferSnapshot_REJECT_FORMAT, fmt.Sprintf("format %d, this node restores format %d", snap.Format, s.opts.Format))
	case snap.Height == 0 || snap.Height > 1<<62:
		return reject(abci.ResponseOfferSnapshot_REJECT, "bad height")
	case snap.Chunks == 0 || len(snap.Metadata) != sha256.Size*int(snap.Chunks):
		return reject(abci.ResponseOfferSnapshot_REJECT, "metadata does not list one hash per chunk")
	}
	if sum := sha256.Sum256(snap.Metadata); !bytes.Equal(sum[:], snap.Hash) {
		return reject(abci.ResponseOfferSnapshot_REJECT, "metadata does not match the snapshot hash")
	}
	r, err := s.store.Restore(int64(snap.Height), snap.Format)
	if err != nil {
		return reject(abci.ResponseOfferSnapshot_ABORT, err.Error())
	}
	rs := &restoring{height: int64(snap.Height), appHash: bytes.Clone(req.AppHash), r: r}
	for i := range int(snap.Chunks) {
		rs.hashes = append(rs.hashes, snap.Metadata[i*sha256.Size:(i+1)*sha256.Size])
	}
	s.restore = rs
	a.log.Info("restoring a snapshot", "height", snap.Height, "chunks", snap.Chunks, "app_hash", hex.EncodeToString(req.AppHash))
	return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ACCEPT}, nil
}

// ApplySnapshotChunk implements abci.Application. A chunk that does not
// match its hash in the metadata is refused: CometBFT fetches it again from
// another peer and stops asking the sender. After the last chunk the
// restored state must hash to the app hash of the offer.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	s := a.snap
	if s == nil || s.restore == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
	}
	rs := s.restore
	if req.Index != rs.next {
		// CometBFT applies chunks in order: start this snapshot over.
		a.log.Warn("snapshot chunk out of order; restarting the restore", "chunk", req.Index, "expected", rs.next)
		s.restore = nil
		if err := rs.r.Abort(); err != nil {
			return nil, err
		}
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY_SNAPSHOT}, nil
	}
	sum := sha256.Sum256(req.Chunk)
	if len(req.Chunk) > s.opts.MaxChunk || !bytes.Equal(sum[:], rs.hashes[req.Index]) {
		a.log.Warn("refused a snapshot chunk that does not match its hash", "height", rs.height, "chunk", req.Index, "sender", req.Sender)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY,
			RefetchChunks: []uint32{req.Index}, RejectSenders: []string{req.Sender}}, nil
	}
	fail := func(err error) (*abci.ResponseApplySnapshotChunk, error) {
		a.log.Error("restoring the snapshot failed; the state is empty again", "height", rs.height, "chunk", req.Index, "err", err)
		s.restore = nil
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT, RejectSenders: []string{req.Sender}}, nil
	}
	if err := rs.r.Write(req.Chunk); err != nil {
		return fail(err)
	}
	rs.next++
	if int(rs.next) < len(rs.hashes) {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
	}
	if err := rs.r.Commit(rs.appHash); err != nil {
		return fail(err)
	}
	s.restore = nil
	// What the app keeps in memory starts over from the restored state:
	// the mempool's nonce views and the pending txs.
	a.ledger = ledger.New(a.store, a.ledger.ChainID())
	a.pending.reset()
	a.log.Info("restored the state from a snapshot", "height", a.store.Version(), "app_hash", hex.EncodeToString(a.store.Hash()))
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, nil
}

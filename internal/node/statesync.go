package node

import (
	"fmt"
	"path/filepath"

	"medledger/internal/cometbft"
	"medledger/internal/ledger"
	"medledger/internal/store"
)

// enableSnapshots lets the app take state-sync snapshots of the store into
// <home>/data/snapshots, serve them, and restore one into an empty store.
// restored is called after a snapshot is restored.
func enableSnapshots(app *cometbft.App, st *store.Store, home string, c StateSyncConfig, restored func()) error {
	err := app.EnableSnapshots(snapshotStore{st: st, restored: restored}, cometbft.SnapshotOptions{
		Dir:        filepath.Join(home, "data", "snapshots"),
		Interval:   c.SnapshotInterval,
		KeepRecent: c.SnapshotKeepRecent,
		Format:     store.SnapshotFormat,
		MaxChunk:   store.MaxChunkSize,
	})
	if err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	return nil
}

// snapshotStore adapts the store to cometbft.SnapshotStore.
type snapshotStore struct {
	st       *store.Store
	restored func()
}

func (s snapshotStore) Export(version int64, emit func([]byte) error) ([]byte, error) {
	return s.st.Export(version, store.DefaultChunkSize, emit)
}

func (s snapshotStore) Restore(version int64, format uint32) (cometbft.Restorer, error) {
	im, err := s.st.Import(version, format)
	if err != nil {
		return nil, err
	}
	return restorer{Importer: im, s: s}, nil
}

// restorer rebuilds the secondary index once the import is committed: the
// snapshot holds the authenticated state only.
type restorer struct {
	*store.Importer
	s snapshotStore
}

func (r restorer) Commit(appHash []byte) error {
	if err := r.Importer.Commit(appHash); err != nil {
		return err
	}
	if err := ledger.RebuildIndex(r.s.st, r.s.st.Index()); err != nil {
		return err
	}
	if err := r.s.st.FlushIndex(); err != nil {
		return err
	}
	r.s.restored()
	return nil
}

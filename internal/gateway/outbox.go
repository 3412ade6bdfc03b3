package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"medledger"
)

// Outbox is the durable queue of access txs. A tx is written (fsynced)
// before it is submitted and before any byte of the record is served, and
// removed only once the chain has committed it. After a crash, the outbox
// resubmits whatever it still holds, so every read that was served ends up
// with a committed access event (DESIGN §8).
type Outbox struct {
	dir   string
	chain Chain
	log   *slog.Logger

	mu      sync.Mutex
	expired int // txs that timed out before committing (should stay 0)
}

// Chain is what the gateway needs of the consensus engine.
type Chain interface {
	Broadcast(ctx context.Context, tx []byte) (*medledger.TxStatus, error)
	TxStatus(ctx context.Context, hash []byte) (*medledger.TxStatus, error)
	Height() int64
}

// OpenOutbox opens the outbox in dir, creating it.
func OpenOutbox(dir string, chain Chain, log *slog.Logger) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Half-written entries from a crash were never served: drop them.
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return &Outbox{dir: dir, chain: chain, log: log}, nil
}

func (o *Outbox) path(hash []byte) string {
	return filepath.Join(o.dir, hex.EncodeToString(hash)+".tx")
}

// Add stores tx durably.
func (o *Outbox) Add(tx []byte) error {
	f, err := os.CreateTemp(o.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(tx)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), o.path(medledger.TxHash(tx)))
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	d, err := os.Open(o.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Remove drops a tx that will never be served (CheckTx refused it).
func (o *Outbox) Remove(tx []byte) { os.Remove(o.path(medledger.TxHash(tx))) }

// Pending lists the hashes of the txs still in the outbox.
func (o *Outbox) Pending() ([]string, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".tx"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Expired returns how many access txs timed out before they committed.
func (o *Outbox) Expired() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.expired
}

// Flush checks every pending tx once: committed ones are removed, ones the
// node does not know are resubmitted.
func (o *Outbox) Flush(ctx context.Context) error {
	names, err := o.Pending()
	if err != nil {
		return err
	}
	for _, name := range names {
		hash, err := hex.DecodeString(name)
		if err != nil {
			continue
		}
		st, err := o.chain.TxStatus(ctx, hash)
		if err != nil {
			return err
		}
		switch st.Status {
		case medledger.TxCommitted:
			os.Remove(filepath.Join(o.dir, name+".tx"))
			continue
		case medledger.TxPending:
			continue
		}
		tx, err := os.ReadFile(filepath.Join(o.dir, name+".tx"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		st, err = o.chain.Broadcast(ctx, tx)
		if err != nil {
			o.log.Warn("outbox: resubmitting an access tx failed; will retry", "tx", name, "err", err)
			continue
		}
		if st.Status == medledger.TxRejected {
			switch st.Code {
			case medledger.KindDuplicate:
				// Already committed; the next pass sees it in the index.
			case medledger.KindExpired:
				o.mu.Lock()
				o.expired++
				o.mu.Unlock()
				o.log.Error("outbox: an access tx timed out before it committed; the read it logs was served", "tx", name)
				os.Rename(filepath.Join(o.dir, name+".tx"), filepath.Join(o.dir, name+".expired"))
			default:
				o.log.Error("outbox: the chain refused an access tx", "tx", name, "code", st.Code, "log", st.Log)
				os.Rename(filepath.Join(o.dir, name+".tx"), filepath.Join(o.dir, name+".refused"))
			}
			continue
		}
		o.log.Info("outbox: resubmitted an access tx", "tx", name)
	}
	return nil
}

// Run flushes the outbox every interval until ctx ends, first at once.
func (o *Outbox) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := o.Flush(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("outbox flush", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

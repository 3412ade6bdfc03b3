package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"medledger"
	"medledger/internal/blob"
	"medledger/internal/cometbft"
	"medledger/internal/identity"
	"medledger/internal/records"
	"medledger/internal/state"
	"medledger/internal/store"
)

// replication wires the blob replicator to the chain: it feeds it the
// anchors as they commit and a catch-up scan at start, tells it where to
// pull from and what was erased, and serves the gateway's on-demand pulls.
type replication struct {
	st    *store.Store
	blobs medledger.BlobStore
	log   *slog.Logger
	peers []string
	key   ed25519.PublicKey
	self  atomic.Pointer[string] // this node's API URL, once it listens
	r     *blob.Replicator
	wg    sync.WaitGroup
	// rescan asks for another catch-up scan: after a state-sync restore,
	// whose anchors were never seen as events here.
	rescan chan struct{}
	// off is set when replication.workers is 0: no background pulls,
	// only the gateway's pulls for a reader waiting now.
	off bool
}

func newReplication(cc interface{ PrivValidatorKeyFile() string }, c ReplicationConfig, st *store.Store, blobs medledger.BlobStore, log *slog.Logger, reg prometheus.Registerer) (*replication, error) {
	key, err := cometbft.ValidatorKey(cc)
	if err != nil {
		return nil, err
	}
	p := &replication{st: st, blobs: blobs, log: log, key: key.Public().(ed25519.PublicKey), rescan: make(chan struct{}, 1), off: c.Workers == 0}
	for _, u := range c.Peers {
		p.peers = append(p.peers, strings.TrimRight(u, "/"))
	}
	p.r = blob.NewReplicator(blob.ReplicatorOptions{Store: blobs, Peers: p, Key: key, Workers: c.Workers, Log: log})
	if err := p.r.Register(reg); err != nil {
		return nil, err
	}
	return p, nil
}

// testnetPeers are the API URLs of a testnet's other nodes.
func testnetPeers(base, n, self int) []string {
	var out []string
	for j := range n {
		if j != self {
			out = append(out, fmt.Sprintf("http://127.0.0.1:%d", base+10*j+2))
		}
	}
	return out
}

// notify queues the blobs of a block's anchors and drops queued work for
// its erasures. It runs on the commit path and never blocks.
func (p *replication) notify(events []medledger.Event) {
	if p.off {
		return
	}
	for _, e := range events {
		switch e.Type {
		case "records.anchored":
			id, err := medledger.ParseBlobID(e.Get("blob"))
			if err != nil {
				continue
			}
			p.r.Enqueue(blob.Job{Blob: id, Record: e.Get("record"), Org: e.Get("org")})
		case "records.erased":
			p.r.Forget(e.Get("record"))
		}
	}
}

// start runs the replicator in the background until ctx ends; wait waits
// for it to stop, so that the store can be closed under it.
func (p *replication) start(ctx context.Context, apiURL string) {
	if p.off {
		p.self.Store(&apiURL)
		p.log.Info("replication: background pulls are off (replication.workers = 0); reads still pull what they miss")
		return
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.run(ctx, apiURL)
	}()
	go func() {
		defer p.wg.Done()
		p.rescans(ctx)
	}()
}

func (p *replication) wait() { p.wg.Wait() }

// restored asks for a catch-up scan of the state a snapshot restored. It
// never blocks.
func (p *replication) restored() {
	select {
	case p.rescan <- struct{}{}:
	default:
	}
}

// rescans runs the catch-up scans restored asks for until ctx ends.
func (p *replication) rescans(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.rescan:
			if n, err := p.catchUp(ctx); err != nil {
				p.log.Error("replication: catch-up scan after state sync failed", "err", err)
			} else {
				p.log.Info("replication: pulling the blobs of the restored state", "count", n)
			}
		}
	}
}

// run queues every anchored, non-erased version whose blob is missing here
// (the queue is not persisted: this scan rebuilds it at each start), then
// runs the workers until ctx ends.
func (p *replication) run(ctx context.Context, apiURL string) {
	p.self.Store(&apiURL)
	if n, err := p.catchUp(ctx); err != nil {
		p.log.Error("replication: catch-up scan failed", "err", err)
	} else if n > 0 {
		p.log.Info("replication: catching up on blobs missing here", "count", n)
	}
	p.r.Run(ctx)
}

func (p *replication) catchUp(ctx context.Context) (int, error) {
	if p.st.Version() == 0 {
		return 0, nil
	}
	rd, err := p.st.ReaderAt(p.st.Version())
	if err != nil {
		return 0, err
	}
	var live []string
	prefix := []byte("rec/r/")
	err = rd.Iterate(prefix, state.PrefixEnd(prefix), func(_, v []byte) bool {
		var r records.Record
		if medledger.UnmarshalTrusted(v, &r) == nil && r.Erased == 0 {
			live = append(live, r.ID)
		}
		return ctx.Err() == nil
	})
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, id := range live {
		vs, err := records.Versions(rd, id)
		if err != nil {
			return queued, err
		}
		for _, v := range vs {
			if ok, err := p.blobs.Has(ctx, v.Blob); err != nil {
				return queued, err
			} else if !ok {
				p.r.Enqueue(blob.Job{Blob: v.Blob, Record: id, Org: v.AuthorOrg})
				queued++
			}
		}
	}
	return queued, nil
}

// Sources implements blob.Peers: the authoring organisation's gateway
// first, then the other active organisations' gateways and the static
// peers in random order, so that pulls spread over the network. This node
// is left out.
func (p *replication) Sources(_ context.Context, j blob.Job) ([]string, error) {
	rd, err := p.st.ReaderAt(p.st.Version())
	if err != nil {
		return nil, err
	}
	org := j.Org
	if org == "" && j.Record != "" {
		if rec, err := records.GetRecord(rd, j.Record); err == nil && rec != nil {
			org = rec.AuthorOrg
		}
	}
	orgs, err := identity.ListOrgs(rd)
	if err != nil {
		return nil, err
	}
	self := ""
	if s := p.self.Load(); s != nil {
		self = *s
	}
	seen := map[string]bool{self: true, "": true}
	var first, rest []string
	for _, o := range orgs {
		u := strings.TrimRight(o.GatewayURL, "/")
		if o.Status != medledger.StatusActive || seen[u] || bytes.Equal(o.ValidatorKey, p.key) {
			continue
		}
		seen[u] = true
		if o.ID == org {
			first = append(first, u)
		} else {
			rest = append(rest, u)
		}
	}
	for _, u := range p.peers {
		if !seen[u] {
			seen[u] = true
			rest = append(rest, u)
		}
	}
	rand.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
	return append(first, rest...), nil
}

// Erased implements blob.Peers from committed state.
func (p *replication) Erased(record string) (bool, error) {
	if record == "" || p.st.Version() == 0 {
		return false, nil
	}
	rd, err := p.st.ReaderAt(p.st.Version())
	if err != nil {
		return false, err
	}
	rec, err := records.GetRecord(rd, record)
	if err != nil {
		return false, err
	}
	return rec != nil && rec.Erased != 0, nil
}

// Pull implements gateway.Puller.
func (p *replication) Pull(ctx context.Context, id medledger.BlobID, record, readerKeyID string) error {
	return p.r.Pull(ctx, blob.Job{Blob: id, Record: record}, readerKeyID)
}

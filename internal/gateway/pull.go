package gateway

import (
	"context"
	"time"

	"medledger"
)

// Puller fetches from peer nodes what this node lacks of a record version:
// its ciphertext and the wrap for a reader key. A record is written through
// one node and shared later through any node, so a read may arrive before
// replication has brought either here.
type Puller interface {
	Pull(ctx context.Context, blob medledger.BlobID, record, readerKeyID string) error
}

// PullTimeout bounds how long a read waits for an on-demand pull.
const PullTimeout = 3 * time.Second

// SetPuller makes the gateway pull a missing blob or wrap from peers
// before it answers that it has none.
func (g *Gateway) SetPuller(p Puller) { g.pull = p }

// pullMissing pulls the blob and reader key's wrap if either is missing,
// within PullTimeout. Failure is not an error: the read then answers
// what it would have without peers.
func (g *Gateway) pullMissing(ctx context.Context, record string, blob medledger.BlobID, keyID string) {
	if g.pull == nil {
		return
	}
	if ok, err := g.blobs.Has(ctx, blob); err == nil && ok {
		if _, err := g.blobs.GetWrap(ctx, blob, keyID); err == nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, PullTimeout)
	defer cancel()
	if err := g.pull.Pull(ctx, blob, record, keyID); err != nil {
		g.log.Debug("read: pulling from peers found nothing", "record", record, "err", err)
	}
}

package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"medledger"
	"medledger/client"
	"medledger/gs1"
)

// packs is the supply scenario: members of a manufacturer commission
// batches of serials while the public verifies packs already commissioned.
type packs struct {
	c       *client.Client
	gtin    string
	streams []*commissionStream
	done    []atomic.Uint64 // per stream: the last seq seen committed
}

// commissionStream reports its committed txs so that verifications ask
// only about packs that exist.
type trackedCommission struct {
	*commissionStream
	done *atomic.Uint64
}

func (t trackedCommission) committed(seq uint64) {
	for {
		cur := t.done.Load()
		if seq <= cur || t.done.CompareAndSwap(cur, seq) {
			return
		}
	}
}

func supplySetup(ctx context.Context, t *target, reg user, o Options, p *phase, newR func() *runner) (*packs, error) {
	c := t.api(0)
	w, err := newWorld(ctx, c, reg, medledger.OrgManufacturer, []medledger.Role{medledger.RoleQuality}, o.Concurrency, 0)
	if err != nil {
		return nil, err
	}
	// A random item reference, so that a bench can run again on the same
	// chain.
	n, err := rand.Int(rand.Reader, big.NewInt(100000))
	if err != nil {
		return nil, err
	}
	body := fmt.Sprintf("0%s%05d", benchPrefix, n.Int64())
	d, err := gs1.CheckDigit(body)
	if err != nil {
		return nil, err
	}
	s := &packs{c: c, gtin: body + string(d), done: make([]atomic.Uint64, o.Concurrency)}
	if _, err := c.Send(ctx, w.members[0].Signer, &client.RegisterProduct{GTIN: s.gtin, CompanyPrefix: benchPrefix, Name: "Bench vaccine",
		TempMin: 200, TempMax: 800, ShelfLifeDays: 365}); err != nil {
		return nil, fmt.Errorf("registering the bench product: %w", err)
	}
	expiry := time.Now().AddDate(0, 10, 0).Format(time.DateOnly)
	p.r = newR()
	for i, m := range w.members {
		cs := &commissionStream{chainID: w.chainID, s: m.Signer, gtin: s.gtin, prefix: fmt.Sprintf("B%d-", i), batch: o.Batch, expiry: expiry}
		if i == 0 {
			cs.base = 1 // the product registration
		}
		s.streams = append(s.streams, cs)
		p.r.add(trackedCommission{cs, &s.done[i]}, t.subs[i%len(t.subs)], true)
	}
	return s, nil
}

// op verifies a pack commissioned earlier in the run, over plain HTTP as
// anyone may; before the first commission it verifies an unknown serial.
func (s *packs) op(ctx context.Context, i int) error {
	k := i % len(s.streams)
	cs := s.streams[k]
	done := s.done[k].Load()
	serial, want := cs.serial(uint64(i)), "unknown"
	if done > 0 {
		serial, want = cs.serial(uint64(i)%(done*uint64(cs.batch))), "active"
	} else {
		serial = "NEVER" + serial
	}
	v, err := s.c.VerifyPack(ctx, sgtinURN(s.gtin, serial))
	if err != nil {
		return err
	}
	if (want == "active") != v.Authentic {
		return fmt.Errorf("pack %s: status %s, authentic %v", serial, v.Status, v.Authentic)
	}
	return nil
}

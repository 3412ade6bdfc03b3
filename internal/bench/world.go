package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"medledger"
	"medledger/client"
)

// world is the cast a scenario acts with, created through the API before
// the clock starts: an organisation admitted by the regulator, its admin
// and members, and patients who registered themselves.
type world struct {
	c        *client.Client
	chainID  string
	org      string
	admin    user
	members  []user
	patients []user
}

// newWorld admits an organisation of type orgType and enrols members with
// roles, and registers patients. Names carry a random suffix so that a
// bench can run again against the same chain.
func newWorld(ctx context.Context, c *client.Client, reg user, orgType medledger.OrgType, roles []medledger.Role, members, patients int) (*world, error) {
	var suffix [4]byte
	rand.Read(suffix[:])
	w := &world{c: c, org: "bench-" + hex.EncodeToString(suffix[:])}
	var err error
	if w.chainID, err = c.ChainID(ctx); err != nil {
		return nil, err
	}
	if w.admin, err = newUser(); err != nil {
		return nil, err
	}
	if _, err := c.Send(ctx, reg.Signer, &client.AdmitOrg{Org: w.org, OrgType: orgType, Name: "Bench " + string(orgType), Licence: "BENCH-" + w.org, Admin: w.admin.Pub}); err != nil {
		return nil, fmt.Errorf("admitting the bench organisation: %w", err)
	}
	w.members = make([]user, members)
	enrol := make([]client.Msg, members)
	for i := range w.members {
		if w.members[i], err = newUser(); err != nil {
			return nil, err
		}
		enrol[i] = &client.EnrolMember{Keys: w.members[i].Pub, Roles: roles}
	}
	if err := w.pipeline(ctx, w.admin.Signer, enrol); err != nil {
		return nil, fmt.Errorf("enrolling members: %w", err)
	}
	w.patients = make([]user, patients)
	for i := range w.patients {
		if w.patients[i], err = newUser(); err != nil {
			return nil, err
		}
	}
	if err := parallel(ctx, len(w.patients), 64, func(i int) error {
		_, err := c.Send(ctx, w.patients[i].Signer, &client.RegisterPatient{Keys: w.patients[i].Pub})
		return err
	}); err != nil {
		return nil, fmt.Errorf("registering patients: %w", err)
	}
	return w, nil
}

// pipeline sends msgs from one signer back to back, with consecutive
// nonces, and waits for all of them to commit.
func (w *world) pipeline(ctx context.Context, s client.Signer, msgs []client.Msg) error {
	nonce, err := w.c.Nonce(ctx, s.ID)
	if err != nil {
		return err
	}
	raws := make([][]byte, len(msgs))
	for i, m := range msgs {
		if raws[i], err = client.BuildTx(w.chainID, s, nonce+uint64(i)+1, m); err != nil {
			return err
		}
		if _, err := w.c.Broadcast(ctx, raws[i]); err != nil {
			return err
		}
	}
	for _, raw := range raws {
		if _, err := w.c.Commit(ctx, raw); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f(0..n-1) on up to width goroutines and returns the first
// error.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range min(n, width) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

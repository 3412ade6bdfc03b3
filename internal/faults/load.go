package faults

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"medledger"
	"medledger/client"
)

// Purposes and the category the load uses (internal/consent's names).
const (
	purposePersonal  = "personal"
	purposeTreatment = "treatment"
	category         = "lab"
)

// World is the cast the load acts with: one organisation admitted by the
// regulator, its admin, a registrar who attests patients, a consultant
// grants name, and per worker a physician who authors records for that
// worker's patient. Each worker has its own signers, so no two goroutines
// share a nonce sequence.
type World struct {
	Org        string
	Regulator  User
	Admin      User
	Registrar  User
	Consultant User
	Workers    []Actor
}

// Actor is one load worker's physician and patient.
type Actor struct {
	Physician User
	Patient   User
}

// SetupWorld creates the world through c with regulator reg.
func SetupWorld(ctx context.Context, c *client.Client, reg User, workers int) (*World, error) {
	w := &World{Org: "hospital-faults", Regulator: reg}
	var err error
	users := []*User{&w.Admin, &w.Registrar, &w.Consultant}
	w.Workers = make([]Actor, workers)
	for i := range w.Workers {
		users = append(users, &w.Workers[i].Physician, &w.Workers[i].Patient)
	}
	for _, u := range users {
		if *u, err = NewUser(); err != nil {
			return nil, err
		}
	}
	send := func(s User, m client.Msg) error {
		if _, err := c.Send(ctx, s.Signer, m); err != nil {
			return fmt.Errorf("%s: %w", m.Type(), err)
		}
		return nil
	}
	if err := send(reg, &client.AdmitOrg{Org: w.Org, OrgType: medledger.OrgHospital, Name: "Fault Test Hospital", Licence: "L-FAULTS", Admin: w.Admin.Pub}); err != nil {
		return nil, err
	}
	// The admin's enrolments share a nonce sequence: build them back to
	// back and wait for all.
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	nonce, err := c.Nonce(ctx, w.Admin.ID)
	if err != nil {
		return nil, err
	}
	enrol := []*client.EnrolMember{{Keys: w.Registrar.Pub, Roles: []medledger.Role{medledger.RoleRegistrar}},
		{Keys: w.Consultant.Pub, Roles: []medledger.Role{medledger.RolePhysician}}}
	for _, a := range w.Workers {
		enrol = append(enrol, &client.EnrolMember{Keys: a.Physician.Pub, Roles: []medledger.Role{medledger.RolePhysician}})
	}
	var raws [][]byte
	for _, m := range enrol {
		nonce++
		raw, err := client.BuildTx(chainID, w.Admin.Signer, nonce, m)
		if err != nil {
			return nil, err
		}
		if _, err := c.Broadcast(ctx, raw); err != nil {
			return nil, fmt.Errorf("enrolling: %w", err)
		}
		raws = append(raws, raw)
	}
	for _, raw := range raws {
		if _, err := c.Commit(ctx, raw); err != nil {
			return nil, fmt.Errorf("enrolling: %w", err)
		}
	}
	// Patients register in parallel; the registrar attests them in turn.
	errs := make(chan error, len(w.Workers))
	for _, a := range w.Workers {
		go func() { errs <- send(a.Patient, &client.RegisterPatient{Keys: a.Patient.Pub}) }()
	}
	for range w.Workers {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	for _, a := range w.Workers {
		if err := send(w.Registrar, &client.AttestPatient{Patient: a.Patient.ID, Method: "in_person"}); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Ack is a tx the SDK reported committed.
type Ack struct {
	Hash []byte
	Kind string // anchor, grant, access
	Node int
	At   time.Time
}

// Written is a record the load anchored, and the node holding its blob.
type Written struct {
	Node    int
	Worker  int
	Record  string
	Content []byte
}

// Stats counts what the load did.
type Stats struct {
	Anchors, Grants, Reads int // acknowledged
	Failed                 int // operations that returned an error (not acknowledged)
	FailedReads            int // reads not served
}

// Load drives a steady mixed load (record anchors with their blob upload,
// grants, and gateway reads) over the nodes marked healthy, round robin.
// A record is written and read through the same node: blobs are not
// replicated between nodes.
type Load struct {
	cl *Cluster
	w  *World
	// OpTimeout bounds one operation, so a worker stuck on a node that
	// died or froze moves on.
	OpTimeout time.Duration

	next atomic.Uint64

	mu      sync.Mutex
	healthy []bool
	acks    []Ack
	written []Written
	stats   Stats
	lastErr error
}

// NewLoad returns a load over every node of cl.
func NewLoad(cl *Cluster, w *World) *Load {
	h := make([]bool, len(cl.Nodes))
	for i := range h {
		h[i] = true
	}
	return &Load{cl: cl, w: w, OpTimeout: 15 * time.Second, healthy: h}
}

// SetHealthy marks node i as one the load may (or may not) use.
func (l *Load) SetHealthy(i int, ok bool) {
	l.mu.Lock()
	l.healthy[i] = ok
	l.mu.Unlock()
}

// pick returns the next healthy node, round robin.
func (l *Load) pick() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.healthy)
	start := int(l.next.Add(1))
	for k := range n {
		if i := (start + k) % n; l.healthy[i] {
			return i, true
		}
	}
	return 0, false
}

func (l *Load) ack(kind string, hash []byte, node int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks = append(l.acks, Ack{Hash: hash, Kind: kind, Node: node, At: time.Now()})
	switch kind {
	case "anchor":
		l.stats.Anchors++
	case "grant":
		l.stats.Grants++
	case "access":
		l.stats.Reads++
	}
}

func (l *Load) fail(read bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Failed++
	if read {
		l.stats.FailedReads++
	}
	l.lastErr = err
}

// Acks returns every acknowledged tx so far.
func (l *Load) Acks() []Ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Ack(nil), l.acks...)
}

// Written returns the records anchored through node i, at most one per
// worker (the latest).
func (l *Load) Written(i int) []Written {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[int]bool{}
	var out []Written
	for k := len(l.written) - 1; k >= 0; k-- {
		if w := l.written[k]; w.Node == i && !seen[w.Worker] {
			seen[w.Worker] = true
			out = append(out, w)
		}
	}
	return out
}

// World returns the cast the load acts with.
func (l *Load) World() *World { return l.w }

// Ack records a tx acknowledged outside the load's own workers.
func (l *Load) Ack(kind string, hash []byte, node int) { l.ack(kind, hash, node) }

// Stats returns the counts so far and the last error an operation met.
func (l *Load) Stats() (Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats, l.lastErr
}

// Run runs one goroutine per worker of the world until ctx ends, then
// waits for them.
func (l *Load) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for k := range l.w.Workers {
		wg.Go(func() {
			for iter := 0; ctx.Err() == nil; iter++ {
				if !l.op(ctx, k, iter) {
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
}

// content is a record's plaintext: a small FHIR Observation, no real PHI.
func content(worker, iter int) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Observation","id":"faults-%d-%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"valueQuantity":{"value":%d.%d,"unit":"%%"}}`,
		worker, iter, 5+iter%4, iter%10)
}

// op anchors a record through one healthy node, reads it back through the
// same node, and every other time grants the consultant access. It
// reports whether everything succeeded.
func (l *Load) op(ctx context.Context, worker, iter int) bool {
	i, ok := l.pick()
	if !ok {
		return false
	}
	a := l.w.Workers[worker]
	c := l.cl.Client(i)
	ctx, cancel := context.WithTimeout(ctx, l.OpTimeout)
	defer cancel()
	body := content(worker, iter)
	ref, err := c.PutRecord(ctx, a.Physician.User, a.Patient.ID, body, "Observation", category)
	if err != nil {
		l.fail(false, fmt.Errorf("node %d anchor: %w", i, err))
		return false
	}
	l.ack("anchor", ref.Tx.Hash, i)
	l.mu.Lock()
	l.written = append(l.written, Written{Node: i, Worker: worker, Record: ref.Record, Content: body})
	l.mu.Unlock()
	hash, err := ReadOnce(ctx, c, a.Patient, ref.Record, body)
	if err != nil {
		l.fail(true, fmt.Errorf("node %d read: %w", i, err))
		return false
	}
	l.ack("access", hash, i)
	if iter%2 == 1 {
		g := &client.GrantAccess{ID: client.NewGrantID(), Patient: a.Patient.ID, Grantee: client.Grantee{Member: l.w.Consultant.ID},
			Scope: client.Scope{Categories: []string{category}}, Purpose: purposeTreatment, Expires: time.Now().Add(24 * time.Hour).Unix()}
		st, err := c.Send(ctx, a.Patient.Signer, g)
		if err != nil {
			l.fail(false, fmt.Errorf("node %d grant: %w", i, err))
			return false
		}
		l.ack("grant", st.Hash, i)
	}
	return true
}

// ReadOnce reads a patient's record through c as the patient and checks
// the plaintext is want. It returns the hash of the access tx the node
// logged before serving.
func ReadOnce(ctx context.Context, c *client.Client, patient User, record string, want []byte) ([]byte, error) {
	p, err := c.Read(ctx, patient.User, patient.ID, record, 0, purposePersonal)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.Content, want) {
		return nil, errors.New("served content does not match what was written")
	}
	hash, err := hex.DecodeString(p.AccessTx)
	if err != nil || len(hash) == 0 {
		return nil, fmt.Errorf("served without an access tx hash (%q)", p.AccessTx)
	}
	return hash, nil
}

package bench

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
	"medledger/internal/records"
)

// drainTimeout bounds the wait for txs in flight once submission stops.
const drainTimeout = 90 * time.Second

// phase is the measured part of a run: txs from a runner's senders and
// operations from an op loop, side by side.
type phase struct {
	name   string
	r      *runner                    // nil when the scenario sends no txs itself
	ops    func(stop <-chan struct{}) // nil when it makes no operations
	st     *stats
	target *target
}

func (p *phase) measure(ctx context.Context, o Options) (*Result, error) {
	if p.r != nil {
		if err := p.r.prebuild(prebuildCount(o)); err != nil {
			return nil, err
		}
	}
	disk0 := p.target.diskBytes()
	u0 := sampleUsage()
	start := time.Now()
	p.st.start = start
	stop := make(chan struct{})
	var stopOnce sync.Once
	closeStop := func() { stopOnce.Do(func() { close(stop) }) }
	if o.Duration > 0 {
		timer := time.AfterFunc(o.Duration, closeStop)
		defer timer.Stop()
	}
	done := make(chan struct{})
	var inflight func() int
	if p.r != nil {
		if o.Duration == 0 {
			p.r.budget.Store(int64(o.Txs))
		}
		inflight = func() int { p.r.mu.Lock(); defer p.r.mu.Unlock(); return len(p.r.inflight) }
	} else {
		inflight = func() int { return 0 }
	}
	if o.Progress != nil {
		go progress(o.Progress, o.TTY, p.name, p.st, inflight, done)
	}
	var opsDone chan struct{}
	if p.ops != nil {
		opsDone = make(chan struct{})
		go func() { defer close(opsDone); p.ops(stop) }()
	}
	res := &Result{Scenario: p.name, Nodes: len(p.target.rpcs)}
	if p.r != nil {
		unc, err := p.r.run(ctx, stop, drainTimeout)
		closeStop()
		if err != nil {
			close(done)
			return nil, err
		}
		res.Uncommitted = unc
	}
	if opsDone != nil {
		<-opsDone
	}
	closeStop()
	close(done)
	end := time.Now()
	if p.r != nil && !p.r.lastCommit.IsZero() && p.ops == nil {
		end = p.r.lastCommit
	}
	u1 := sampleUsage()
	elapsed := end.Sub(start)
	st := p.st
	st.mu.Lock()
	defer st.mu.Unlock()
	lat := append([]time.Duration(nil), st.lat...)
	sortDurations(lat)
	ops := append([]time.Duration(nil), st.ops...)
	sortDurations(ops)
	res.Txs = len(lat)
	res.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		res.TxPerS = float64(len(lat)) / elapsed.Seconds()
		res.OpsPerS = float64(len(ops)) / elapsed.Seconds()
	}
	res.P50, res.P95, res.P99 = msf(percentile(lat, 0.5)), msf(percentile(lat, 0.95)), msf(percentile(lat, 0.99))
	res.Ops, res.OpsFailed = st.opCount, st.opFail
	if st.opErr != nil {
		res.OpError = st.opErr.Error()
	}
	res.OpP50, res.OpP99 = msf(percentile(ops, 0.5)), msf(percentile(ops, 0.99))
	if len(st.byKind) > 1 {
		res.ByKind = st.byKind
	}
	if n := st.built.Load(); n > 0 {
		res.TxBytes = int(st.builtBytes.Load() / n)
	}
	res.Resubmitted, res.OutOfOrder, res.Full, res.Vanished, res.Blocks = int(st.failed.Load()), int(st.rejected.Load()), int(st.full.Load()), int(st.vanished.Load()), int(st.blocks.Load())
	if wall := time.Since(start); wall > 0 {
		res.CPUPercent = 100 * float64(u1.cpu-u0.cpu) / float64(wall)
	}
	res.RSSMB = float64(u1.rss) / (1 << 20)
	if len(p.target.homes) > 0 && res.Txs > 0 {
		res.DiskPerTx = float64(p.target.diskBytes()-disk0) / float64(res.Txs)
	}
	return res, nil
}

// prebuildCount is how many txs to sign before the clock starts: all of
// them for a count, enough for about 8,000 tx/s for a duration (at most
// 100,000; beyond that, senders sign as they go).
func prebuildCount(o Options) int {
	if o.Duration == 0 {
		return min(o.Txs, 100_000)
	}
	return min(100_000, int(o.Duration.Seconds()*8000))
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runBaseline runs the key-value store load: the same senders, window and
// tx size as the scenario, unordered txs.
func runBaseline(ctx context.Context, o Options, t *target, size int) (*Result, error) {
	st := newStats()
	r := newRunner(t.chain, o.Window, st)
	for i := range o.Concurrency {
		r.add(&kvStream{id: i, size: size}, t.subs[i%len(t.subs)], false)
	}
	p := &phase{name: "baseline", r: r, st: st, target: t}
	return p.measure(ctx, o)
}

// sampleTxSize is the mean size of the scenario's txs, for the baseline.
func sampleTxSize(o Options) (int, error) {
	s, err := newUser()
	if err != nil {
		return 0, err
	}
	p, err := newUser()
	if err != nil {
		return 0, err
	}
	var streams []stream
	anchor := &anchorStream{chainID: "medledger-bench", s: s.Signer, patients: []medledger.ID{p.ID}, size: int64(o.RecordSize)}
	grant := &grantStream{chainID: "medledger-bench", s: p.Signer, grantee: s.ID, expires: 4102444800}
	switch o.Scenario {
	case "anchor":
		streams = []stream{anchor}
	case "grant":
		streams = []stream{grant}
	case "supply":
		streams = []stream{&commissionStream{chainID: "medledger-bench", s: s.Signer, gtin: benchGTIN, prefix: "B1-", batch: o.Batch, expiry: "2030-01-31"}}
	default:
		streams = []stream{anchor, grant}
	}
	total, n := 0, 0
	for _, st := range streams {
		for seq := uint64(1); seq <= 10; seq++ {
			tx, err := st.build(seq)
			if err != nil {
				return 0, err
			}
			total += len(tx)
			n++
		}
	}
	return total / n, nil
}

// runScenario sets up the scenario's world and measures it.
func runScenario(ctx context.Context, o Options, t *target, reg user) (*Result, error) {
	c := t.api(0)
	setup := time.Now()
	st := newStats()
	p := &phase{name: o.Scenario, st: st, target: t}
	newR := func() *runner { return newRunner(t.chain, o.Window, st) }
	expires := time.Now().Add(365 * 24 * time.Hour).Unix()
	switch o.Scenario {
	case "anchor", "grant", "mixed":
		anchors, grants := o.Concurrency, 0
		switch o.Scenario {
		case "grant":
			anchors, grants = 0, o.Concurrency
		case "mixed":
			grants = max(1, o.Concurrency*3/10)
			anchors = max(1, o.Concurrency-grants)
		}
		patients := max(grants, min(100, anchors))
		w, err := newWorld(ctx, c, reg, medledger.OrgHospital, []medledger.Role{medledger.RolePhysician}, max(anchors, 1), patients)
		if err != nil {
			return nil, err
		}
		ids := make([]medledger.ID, len(w.patients))
		for i, pt := range w.patients {
			ids[i] = pt.ID
		}
		p.r = newR()
		for i := range anchors {
			m := w.members[i]
			p.r.add(&anchorStream{chainID: w.chainID, s: m.Signer, patients: rotate(ids, i), size: int64(o.RecordSize)}, t.subs[i%len(t.subs)], true)
		}
		for i := range grants {
			pt := w.patients[i]
			base, err := c.Nonce(ctx, pt.ID)
			if err != nil {
				return nil, err
			}
			p.r.add(&grantStream{chainID: w.chainID, s: pt.Signer, base: base, grantee: w.members[0].ID, expires: expires}, t.subs[(anchors+i)%len(t.subs)], true)
		}
		if o.Scenario == "mixed" {
			read, err := readSetup(ctx, t, reg, o, max(1, o.Concurrency/10))
			if err != nil {
				return nil, err
			}
			p.ops = func(stop <-chan struct{}) { opLoop(ctx, stop, o.Rate, max(2, o.Concurrency/10), 0, st, read.op) }
		}
	case "read":
		read, err := readSetup(ctx, t, reg, o, min(o.Concurrency, 50))
		if err != nil {
			return nil, err
		}
		p.ops = func(stop <-chan struct{}) { opLoop(ctx, stop, o.Rate, o.Concurrency, o.Ops, st, read.op) }
		res, err := p.measureWith(ctx, o, setup, func(res *Result) error { return read.confirm(ctx, res) })
		return res, err
	case "verify":
		v, err := verifySetup(ctx, t, reg)
		if err != nil {
			return nil, err
		}
		p.ops = func(stop <-chan struct{}) { opLoop(ctx, stop, o.Rate, o.Concurrency, o.Ops, st, v.op) }
		return p.measureWith(ctx, o, setup, func(res *Result) error { return v.report(res) })
	case "supply":
		s, err := supplySetup(ctx, t, reg, o, p, newR)
		if err != nil {
			return nil, err
		}
		p.ops = func(stop <-chan struct{}) { opLoop(ctx, stop, o.Rate, 4, 0, st, s.op) }
		return p.measureWith(ctx, o, setup, func(res *Result) error {
			res.SerialsPerS = res.TxPerS * float64(o.Batch)
			if res.OpsFailed > 0 {
				return fmt.Errorf("%d pack verifications failed; the last: %s", res.OpsFailed, res.OpError)
			}
			return nil
		})
	}
	return p.measureWith(ctx, o, setup, nil)
}

// measureWith measures the phase and then lets the scenario check and
// complete the result.
func (p *phase) measureWith(ctx context.Context, o Options, setup time.Time, after func(*Result) error) (*Result, error) {
	setupDone := time.Since(setup)
	res, err := p.measure(ctx, o)
	if err != nil {
		return nil, err
	}
	res.SetupSeconds = setupDone.Seconds()
	if p.r != nil {
		if err := p.r.checkNonces(ctx, p.target.api(0).Nonce); err != nil {
			return res, err
		}
	}
	if after != nil {
		if err := after(res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// rotate returns ids starting at i, so that each sender starts with a
// different patient.
func rotate(ids []medledger.ID, i int) []medledger.ID {
	i %= len(ids)
	return append(append([]medledger.ID(nil), ids[i:]...), ids[:i]...)
}

// reads is the read scenario's cast: patients with records of the chosen
// size who granted a reader, who reads them through the gateway.
type reads struct {
	t      *target
	w      *world
	reader user
	recs   []readable
	served atomic.Int64
	size   int
}

type readable struct {
	patient medledger.ID
	record  string
}

func readSetup(ctx context.Context, t *target, reg user, o Options, patients int) (*reads, error) {
	c := t.api(0)
	w, err := newWorld(ctx, c, reg, medledger.OrgHospital, []medledger.Role{medledger.RolePhysician}, patients+1, patients)
	if err != nil {
		return nil, err
	}
	rd := &reads{t: t, w: w, reader: w.members[patients], size: o.RecordSize}
	content := make([]byte, o.RecordSize)
	for i := range content {
		content[i] = byte('a' + i%26)
	}
	var mu sync.Mutex
	err = parallel(ctx, patients, 16, func(i int) error {
		author, pt := w.members[i], w.patients[i]
		var mine []readable
		for range 2 {
			ref, err := c.PutRecord(ctx, author.User, pt.ID, content, "Observation", "lab")
			if err != nil {
				return fmt.Errorf("writing a record: %w", err)
			}
			mine = append(mine, readable{patient: pt.ID, record: ref.Record})
		}
		if _, err := c.Grant(ctx, pt.User, &client.GrantAccess{Patient: pt.ID, Grantee: client.Grantee{Member: rd.reader.ID},
			Scope: client.Scope{Categories: []string{"lab"}}, Purpose: consent.PurposeTreatment, Expires: time.Now().Add(24 * time.Hour).Unix()}); err != nil {
			return fmt.Errorf("granting the reader: %w", err)
		}
		mu.Lock()
		rd.recs = append(rd.recs, mine...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rd, nil
}

// op reads one record as the reader: signed request, consent check, the
// access tx logged, ciphertext served, unwrapped and decrypted.
func (rd *reads) op(ctx context.Context, i int) error {
	n := int(rd.served.Load()) + i
	rec := rd.recs[n%len(rd.recs)]
	pt, err := rd.t.api(n).Read(ctx, rd.reader.User, rec.patient, rec.record, 0, consent.PurposeTreatment)
	if err != nil {
		return err
	}
	if len(pt.Content) != rd.size {
		return fmt.Errorf("read %d bytes, wrote %d", len(pt.Content), rd.size)
	}
	rd.served.Add(1)
	return nil
}

// confirm waits until every read served has its access event committed in
// the patients' access logs, and reports the reads as txs.
func (rd *reads) confirm(ctx context.Context, res *Result) error {
	want := int(rd.served.Load())
	c := rd.t.api(0)
	deadline := time.Now().Add(drainTimeout)
	logged := 0
	for {
		logged = 0
		for _, pt := range rd.w.patients {
			entries, err := c.AccessLog(ctx, pt.Signer, pt.ID, false)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.Reader == rd.reader.ID && e.Allowed {
					logged++
				}
			}
		}
		if logged >= want || time.Now().After(deadline) {
			break
		}
		sleep(ctx, 250*time.Millisecond)
	}
	res.Txs = logged
	if res.Seconds > 0 {
		res.TxPerS = float64(logged) / res.Seconds
	}
	res.P50, res.P95, res.P99 = res.OpP50, 0, res.OpP99
	if logged < want {
		res.Uncommitted = want - logged
		return fmt.Errorf("%d reads were served but only %d access events committed", want, logged)
	}
	return nil
}

// verifier fetches records' state proofs and checks them as a client does.
type verifier struct {
	c      *client.Client
	keys   [][]byte
	mu     sync.Mutex
	api    string
	verify []time.Duration
	bytes  int64
	n      int64
}

func verifySetup(ctx context.Context, t *target, reg user) (*verifier, error) {
	c := t.api(0)
	w, err := newWorld(ctx, c, reg, medledger.OrgHospital, []medledger.Role{medledger.RolePhysician}, 1, 20)
	if err != nil {
		return nil, err
	}
	ids := make([]medledger.ID, len(w.patients))
	for i, pt := range w.patients {
		ids[i] = pt.ID
	}
	a := &anchorStream{chainID: w.chainID, s: w.members[0].Signer, patients: ids, size: 10 << 10}
	msgs := make([]client.Msg, 200)
	v := &verifier{c: c, api: t.apis[0]}
	for i := range msgs {
		raw, err := a.build(uint64(i + 1))
		if err != nil {
			return nil, err
		}
		tx, err := medledger.DecodeTx(raw)
		if err != nil {
			return nil, err
		}
		m, err := records.Decode(tx.MsgType, tx.Msg)
		if err != nil {
			return nil, err
		}
		msgs[i] = m.(*records.Anchor)
		v.keys = append(v.keys, records.RecordKey(m.(*records.Anchor).Record))
	}
	if err := w.pipeline(ctx, w.members[0].Signer, msgs); err != nil {
		return nil, err
	}
	// Proofs are taken one block behind the latest: wait until that block
	// holds the records.
	first, err := c.Header(ctx, 0)
	if err != nil {
		return nil, err
	}
	for {
		h, err := c.Header(ctx, 0)
		if err != nil {
			return nil, err
		}
		if h.Height >= first.Height+1 {
			return v, nil
		}
		sleep(ctx, 50*time.Millisecond)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// op fetches one proof at the height before the latest, whose app hash
// the latest header carries (so no op waits for a block), then verifies
// it; the verification alone is timed separately.
func (v *verifier) op(ctx context.Context, i int) error {
	key := v.keys[i%len(v.keys)]
	latest, err := v.c.Header(ctx, 0)
	if err != nil {
		return err
	}
	h := latest.Height - 1
	var sp medledger.StateProof
	u := fmt.Sprintf("%s/v1/state?key=%s&height=%d", v.api, hex.EncodeToString(key), h)
	if err := getJSON(ctx, u, &sp); err != nil {
		return err
	}
	if sp.Value == nil || sp.Height != h {
		return fmt.Errorf("record key %q: no value at height %d", key, h)
	}
	start := time.Now()
	err = client.VerifyState(latest.AppHash, sp.Key, sp.Value, sp.Proof)
	d := time.Since(start)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.verify = append(v.verify, d)
	v.bytes += int64(len(sp.Proof))
	v.n++
	v.mu.Unlock()
	return nil
}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// report makes the verification time the scenario's latency.
func (v *verifier) report(res *Result) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := append([]time.Duration(nil), v.verify...)
	sortDurations(d)
	res.P50, res.P95, res.P99 = msf(percentile(d, 0.5)), msf(percentile(d, 0.95)), msf(percentile(d, 0.99))
	if v.n > 0 {
		res.ProofBytes = int(v.bytes / v.n)
	}
	if res.OpsFailed > 0 {
		return fmt.Errorf("%d proofs failed to verify; the last: %s", res.OpsFailed, res.OpError)
	}
	return nil
}

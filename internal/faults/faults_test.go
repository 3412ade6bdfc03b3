package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"medledger"
	"medledger/internal/cometbft"
	"medledger/internal/faults"
	"medledger/internal/identity"
)

const (
	validators = 4
	workers    = 6
	blockTime  = 200 * time.Millisecond
	// catchUp bounds how long a restarted node may take to reach the
	// others; generous, for a loaded 2-core machine.
	catchUp = 90 * time.Second
)

// suite is one 4-validator network of real processes under a steady load,
// shared by the ordered scenarios.
type suite struct {
	cl   *faults.Cluster
	load *faults.Load
	all  []int

	checkedTo   int64                       // heights verified on every node
	headers     map[int64]*medledger.Header // node 0's, verified
	checkedAcks int
	rows        []row
	dumped      bool
}

// row is one scenario's line in the summary.
type row struct {
	name           string
	before, after  int64
	acked, failed  int // txs acknowledged during the fault; ops that failed
	recovery, took time.Duration
	note           string
}

// TestFaults kills, pauses, halts and crashes validators of a 4-node
// network under load, and checks that no acknowledged tx is lost, no node
// forks, and every served read has a committed access event.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-process network for about two minutes")
	}
	began := time.Now()
	ctx := context.Background()
	dir := tempDir(t)
	root, err := faults.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := faults.BuildBinary(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built medledger in %s", time.Since(began).Round(time.Millisecond))
	reg, err := faults.NewUser()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := faults.New(filepath.Join(dir, "net"), bin, faults.Options{Validators: validators, BlockTime: blockTime,
		BasePort: freeBase(t, validators), Regulators: []identity.PublicKeys{reg.Pub}, TimeoutPropose: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{cl: cl, headers: map[int64]*medledger.Header{}}
	for i := range validators {
		s.all = append(s.all, i)
	}
	t.Cleanup(cl.Close)
	t.Cleanup(func() {
		if t.Failed() && !s.dumped {
			s.dumpLogs(t)
		}
	})
	for i := range validators {
		if err := cl.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range validators {
		if _, err := cl.WaitHeight(i, 2, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("4 validators up at %s", time.Since(began).Round(time.Millisecond))
	sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	w, err := faults.SetupWorld(sctx, cl.Client(0), reg, workers)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	s.load = faults.NewLoad(cl, w)
	lctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	loadStart := cl.MaxHeight(ctx, s.all)
	loadBegan := time.Now()
	go func() { s.load.Run(lctx); close(stopped) }()
	var stopOnce sync.Once
	stopLoad := func() { stopOnce.Do(func() { stop(); <-stopped }) }
	t.Cleanup(stopLoad)
	t.Logf("world set up, load started at height %d (%s)", loadStart, time.Since(began).Round(time.Millisecond))

	t.Run("KillRestart", s.killRestart)
	t.Run("Pause", s.pause)
	t.Run("HaltTwo", s.haltTwo)
	t.Run("CrashInCommit", s.crashInCommit)
	t.Run("GatewayCrash", s.gatewayCrash)

	stopLoad()
	loadEnd := cl.MaxHeight(ctx, s.all)
	loadTook := time.Since(loadBegan)
	t.Run("Final", func(t *testing.T) {
		s.settle(t)
		s.verify(t)
		// Every tx acknowledged since the start, once more, on every node.
		acks := s.load.Acks()
		if missing, err := cl.CheckCommitted(ctx, acks, s.all, 60*time.Second); err != nil {
			t.Fatalf("%v:\n%s", err, strings.Join(missing, "\n"))
		}
		t.Logf("all %d acknowledged txs committed on all %d nodes; block and app hashes agree at heights 1..%d", len(acks), validators, s.checkedTo)
	})
	st, lastErr := s.load.Stats()
	var window []*medledger.Header
	for h := loadStart; h <= loadEnd; h++ {
		if hd := s.headers[h]; hd != nil {
			window = append(window, hd)
		}
	}
	txs, rate := faults.Throughput(window)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-15s %8s %7s %6s %6s %6s %9s %6s %9s %8s  %s\n", "scenario", "h before", "h after", "blocks", "acked", "failed", "committed", "tx/s", "recovery", "took", "notes")
	for _, r := range s.rows {
		c, rate := s.committed(r.before, r.after)
		fmt.Fprintf(&b, "%-15s %8d %7d %6d %6d %6d %9d %6.1f %9s %8s  %s\n", r.name, r.before, r.after, r.after-r.before, r.acked, r.failed, c, rate,
			r.recovery.Round(time.Millisecond), r.took.Round(100*time.Millisecond), r.note)
	}
	fmt.Fprint(&b, "acked: txs acknowledged from the fault to recovery (committed per the SDK, or access txs of served reads); failed: operations that errored (not acknowledged);\n"+
		"committed, tx/s: txs in blocks (h before, h after] and their rate by block time; recovery: from restart (or SIGCONT) to caught up with the others.\n")
	fmt.Fprintf(&b, "load: %d workers over %s, heights %d..%d: %d txs committed, %.1f tx/s by block time; acknowledged %d anchors, %d grants, %d reads; %d ops failed (%d reads not served)\n",
		workers, loadTook.Round(time.Second), loadStart, loadEnd, txs, rate, st.Anchors, st.Grants, st.Reads, st.Failed, st.FailedReads)
	if lastErr != nil {
		fmt.Fprintf(&b, "last failed op: %v\n", lastErr)
	}
	var repairs []string
	for _, i := range s.all {
		if n := logCount(cl.LogPath(i), "indexed the txs of blocks a crash had left unindexed"); n > 0 {
			repairs = append(repairs, fmt.Sprintf("node %d: %d", i, n))
		}
	}
	if len(repairs) > 0 {
		fmt.Fprintf(&b, "tx index repaired at start after a kill: %s\n", strings.Join(repairs, ", "))
	}
	fmt.Fprintf(&b, "package wall time so far: %s", time.Since(began).Round(time.Second))
	t.Log(b.String())
}

// committed counts the txs in blocks (before, after] and their rate by
// block time.
func (s *suite) committed(before, after int64) (int, float64) {
	var hs []*medledger.Header
	for h := before; h <= after; h++ {
		if hd := s.headers[h]; hd != nil {
			hs = append(hs, hd)
		}
	}
	return faults.Throughput(hs)
}

func (s *suite) others(skip ...int) []int {
	var out []int
	for _, i := range s.all {
		if !contains(skip, i) {
			out = append(out, i)
		}
	}
	return out
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// fatalf fails the scenario with the tails of the nodes' logs.
func (s *suite) fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	s.dumpLogs(t)
	t.Fatalf(format, args...)
}

func (s *suite) dumpLogs(t *testing.T) {
	s.dumped = true
	for _, i := range s.all {
		t.Logf("--- tail of node %d's log (%s):\n%s", i, s.cl.LogPath(i), s.cl.LogTail(i, 25))
	}
}

// settle makes sure every node runs, takes load, and has caught up.
func (s *suite) settle(t *testing.T) {
	t.Helper()
	for _, i := range s.all {
		if !s.cl.Running(i) {
			if err := s.cl.Start(i); err != nil {
				s.fatalf(t, "restarting node %d: %v", i, err)
			}
		}
	}
	target := s.cl.MaxHeight(context.Background(), s.all)
	for _, i := range s.all {
		if _, err := s.cl.WaitHeight(i, target, catchUp); err != nil {
			s.fatalf(t, "settling: %v", err)
		}
		s.load.SetHealthy(i, true)
	}
}

// rejoin waits until node k, restarted or resumed at since, reaches the
// others' height (at least floor), and says how long recovery took.
func (s *suite) rejoin(k int, since time.Time, floor int64) (target int64, recovery time.Duration, err error) {
	target = max(s.cl.MaxHeight(context.Background(), s.others(k)), floor)
	_, err = s.cl.WaitHeight(k, target, catchUp)
	return target, time.Since(since), err
}

// verify checks the heights not yet verified (block and app hash equal on
// every node), that every tx acknowledged since the last check is
// committed on every node, and that each node's app state proves against
// its headers.
func (s *suite) verify(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	top, err := s.cl.MinHeight(ctx, s.all)
	if err != nil {
		s.fatalf(t, "%v", err)
	}
	hs, err := s.cl.CheckHeaders(ctx, s.checkedTo+1, top, s.all)
	for _, h := range hs {
		s.headers[h.Height] = h
	}
	if err != nil {
		s.fatalf(t, "nodes disagree: %v", err)
	}
	s.checkedTo = top
	acks := s.load.Acks()
	if missing, err := s.cl.CheckCommitted(ctx, acks[s.checkedAcks:], s.all, 60*time.Second); err != nil {
		s.fatalf(t, "%v:\n%s", err, strings.Join(missing, "\n"))
	}
	s.checkedAcks = len(acks)
	for _, i := range s.all {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, _, err := s.cl.Client(i).ProvenOrg(pctx, s.load.World().Org)
		cancel()
		if err != nil {
			s.fatalf(t, "node %d: the org does not prove against its app hash: %v", i, err)
		}
	}
}

// ackedBetween counts the txs acknowledged in [from, to], and how many of
// them are access txs of served reads (served once CheckTx accepted them,
// committed later).
func (s *suite) ackedBetween(from, to time.Time) (n, reads int) {
	for _, a := range s.load.Acks() {
		if !a.At.Before(from) && !a.At.After(to) {
			n++
			if a.Kind == "access" {
				reads++
			}
		}
	}
	return n, reads
}

func (s *suite) failedSince(before faults.Stats) int {
	st, _ := s.load.Stats()
	return st.Failed - before.Failed
}

func (s *suite) mustHeight(t *testing.T, i int) int64 {
	t.Helper()
	h, err := s.cl.Height(context.Background(), i)
	if err != nil {
		s.fatalf(t, "node %d height: %v", i, err)
	}
	return h
}

// killRestart: kill -9 one validator under load, restart it; it catches up
// and nothing acknowledged is lost.
func (s *suite) killRestart(t *testing.T) {
	const k = 1
	ctx := context.Background()
	s.settle(t)
	began := time.Now()
	st0, _ := s.load.Stats()
	before := s.cl.MaxHeight(ctx, s.all)
	s.load.SetHealthy(k, false)
	if err := s.cl.Kill(k); err != nil {
		s.fatalf(t, "kill: %v", err)
	}
	killed := time.Now()
	// The other three go on without it.
	for _, i := range s.others(k) {
		if _, err := s.cl.WaitHeight(i, before+5, 30*time.Second); err != nil {
			s.fatalf(t, "with node %d dead: %v", k, err)
		}
	}
	if err := s.cl.Start(k); err != nil {
		s.fatalf(t, "restart: %v", err)
	}
	restarted := time.Now()
	target, recovery, err := s.rejoin(k, restarted, 0)
	if err != nil {
		s.fatalf(t, "catching up: %v", err)
	}
	s.load.SetHealthy(k, true)
	acked, _ := s.ackedBetween(killed, time.Now())
	after := s.cl.MaxHeight(ctx, s.all)
	s.verify(t)
	t.Logf("kill -9 node %d at height %d, down %s, restarted and caught up to %d in %s; %d txs acknowledged meanwhile",
		k, before, restarted.Sub(killed).Round(time.Millisecond), target, recovery.Round(time.Millisecond), acked)
	s.rows = append(s.rows, row{name: "kill -9", before: before, after: after, acked: acked, failed: s.failedSince(st0), recovery: recovery, took: time.Since(began),
		note: fmt.Sprintf("node %d down %s", k, restarted.Sub(killed).Round(100*time.Millisecond))})
}

// pause: SIGSTOP one validator for 10 s; the other three keep committing;
// after SIGCONT it catches up.
func (s *suite) pause(t *testing.T) {
	const k = 2
	ctx := context.Background()
	s.settle(t)
	began := time.Now()
	st0, _ := s.load.Stats()
	others := s.others(k)
	s.load.SetHealthy(k, false)
	before := s.cl.MaxHeight(ctx, s.all)
	if err := s.cl.Pause(k); err != nil {
		s.fatalf(t, "pause: %v", err)
	}
	paused := time.Now()
	time.Sleep(10 * time.Second)
	during := s.cl.MaxHeight(ctx, others)
	if err := s.cl.Resume(k); err != nil {
		s.fatalf(t, "resume: %v", err)
	}
	resumed := time.Now()
	if during < before+2 {
		s.fatalf(t, "with node %d paused the others went from height %d to %d in 10 s", k, before, during)
	}
	target, recovery, err := s.rejoin(k, resumed, 0)
	if err != nil {
		s.fatalf(t, "catching up after SIGCONT: %v", err)
	}
	s.load.SetHealthy(k, true)
	acked, _ := s.ackedBetween(paused, time.Now())
	after := s.cl.MaxHeight(ctx, s.all)
	s.verify(t)
	t.Logf("SIGSTOP node %d for 10 s: the others went %d → %d meanwhile; after SIGCONT it reached %d in %s; %d txs acknowledged",
		k, before, during, target, recovery.Round(time.Millisecond), acked)
	s.rows = append(s.rows, row{name: "SIGSTOP 10s", before: before, after: after, acked: acked, failed: s.failedSince(st0), recovery: recovery, took: time.Since(began),
		note: fmt.Sprintf("node %d; others +%d blocks while paused", k, during-before)})
}

// haltTwo: with 2 of 4 validators dead there is no quorum: the other two
// make no progress and commit nothing conflicting; once the two restart,
// the chain resumes and every height agrees.
func (s *suite) haltTwo(t *testing.T) {
	down := []int{2, 3}
	ctx := context.Background()
	s.settle(t)
	began := time.Now()
	st0, _ := s.load.Stats()
	live := s.others(down...)
	before := s.cl.MaxHeight(ctx, s.all)
	for _, k := range down {
		s.load.SetHealthy(k, false)
		if err := s.cl.Kill(k); err != nil {
			s.fatalf(t, "kill %d: %v", k, err)
		}
	}
	halted := time.Now()
	// Let a block already decided land everywhere, then watch.
	time.Sleep(2 * time.Second)
	var h1, h2 []int64
	for _, i := range live {
		h1 = append(h1, s.mustHeight(t, i))
	}
	time.Sleep(5 * time.Second)
	for _, i := range live {
		h2 = append(h2, s.mustHeight(t, i))
	}
	// A live node may still fetch a block decided before the kill from the
	// other, but no height beyond what was decided may appear.
	stalled := max(h1[0], h1[1])
	if max(h2[0], h2[1]) != stalled {
		s.fatalf(t, "nodes %v committed without a quorum: heights %v → %v with 2 of 4 validators down", live, h1, h2)
	}
	for _, k := range down {
		if err := s.cl.Start(k); err != nil {
			s.fatalf(t, "restart %d: %v", k, err)
		}
	}
	restarted := time.Now()
	// The chain resumes: new blocks on every node.
	for _, i := range s.all {
		if _, err := s.cl.WaitHeight(i, stalled+3, catchUp); err != nil {
			s.fatalf(t, "resuming: %v", err)
		}
	}
	recovery := time.Since(restarted)
	for _, k := range down {
		s.load.SetHealthy(k, true)
	}
	acked, reads := s.ackedBetween(halted, restarted)
	after := s.cl.MaxHeight(ctx, s.all)
	s.verify(t)
	t.Logf("killed nodes %v at height %d: nodes %v stayed at %v for 5 s; restarted, all 4 past %d in %s; %d txs acknowledged while halted, %d of them access txs of reads served before they could commit",
		down, before, live, h2, stalled+3, recovery.Round(time.Millisecond), acked, reads)
	s.rows = append(s.rows, row{name: "halt 2 of 4", before: before, after: after, acked: acked, failed: s.failedSince(st0), recovery: recovery, took: time.Since(began),
		note: fmt.Sprintf("stalled at %d for 5 s; acked while halted (%d reads served, committed after)", stalled, reads)})
}

// crashInCommit: a node kills itself inside ABCI Commit, after the app
// state committed height H and before CometBFT recorded it; restarted, the
// handshake replays and the node agrees with the others at every height.
func (s *suite) crashInCommit(t *testing.T) {
	const k = 3
	ctx := context.Background()
	s.settle(t)
	began := time.Now()
	st0, _ := s.load.Stats()
	s.load.SetHealthy(k, false)
	if err := s.cl.Stop(k, 30*time.Second); err != nil {
		s.fatalf(t, "stop: %v", err)
	}
	before := s.cl.MaxHeight(ctx, s.others(k))
	at := before + 8
	if err := s.cl.Start(k, faults.CommitFailpoint(at)); err != nil {
		s.fatalf(t, "start with the failpoint: %v", err)
	}
	select {
	case <-s.cl.Exited(k):
	case <-time.After(catchUp):
		s.fatalf(t, "node %d did not crash at height %d", k, at)
	}
	crashed := time.Now()
	if st := s.cl.ExitStatus(k); !strings.Contains(st, "killed") {
		s.fatalf(t, "node %d exited with %q, not by SIGKILL", k, st)
	}
	if !logHas(s.cl.LogPath(k), "failpoint: killing the node inside Commit") {
		s.fatalf(t, "node %d exited without reaching the failpoint", k)
	}
	// Log CometBFT's handshake at info level, to see which replay it does.
	if err := s.cl.SetConfig(k, "app.toml", "cometbft_info", `"info"`); err != nil {
		s.fatalf(t, "%v", err)
	}
	if err := s.cl.Start(k); err != nil {
		s.fatalf(t, "restart: %v", err)
	}
	target, recovery, err := s.rejoin(k, time.Now(), at)
	if err != nil {
		s.fatalf(t, "replaying after the crash: %v", err)
	}
	s.load.SetHealthy(k, true)
	// The app had committed the block and CometBFT had not: the handshake
	// found the app one block ahead of CometBFT's state and replayed the
	// block's saved results (a "mock app"), not the block itself.
	replay := fmt.Sprintf("appHeight=%d storeHeight=%d stateHeight=%d", at, at, at-1)
	if !logHas(s.cl.LogPath(k), replay) || !logHas(s.cl.LogPath(k), "Replay last block using mock app") {
		s.fatalf(t, "node %d's log does not show the handshake replaying height %d (%s)", k, at, replay)
	}
	// Every node past the crash height, so that it is compared.
	for _, i := range s.all {
		if _, err := s.cl.WaitHeight(i, at+2, catchUp); err != nil {
			s.fatalf(t, "%v", err)
		}
	}
	acked, _ := s.ackedBetween(began, time.Now())
	after := s.cl.MaxHeight(ctx, s.all)
	s.verify(t)
	if !s.verifiedAt(at) {
		s.fatalf(t, "height %d was not compared", at)
	}
	// The crashed node indexed the txs of the blocks around the crash like
	// the others: its tx lookups (what clients confirm commits with) work.
	for h := at - 1; h <= at+1; h++ {
		want := s.headers[h].NumTxs
		for _, i := range s.all {
			ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
			page, err := s.cl.Client(i).Events(ectx, fmt.Sprintf("tx.height=%d", h), 1)
			cancel()
			if err != nil || page.Total != want {
				s.fatalf(t, "node %d: tx search at height %d: %v txs (%v), the block holds %d", i, h, page, err, want)
			}
		}
	}
	t.Logf("node %d died inside Commit at height %d (%s after start); restarted, the handshake replayed it (%s), reached %d in %s; app hash at %d agrees: %s; its %d txs are indexed",
		k, at, crashed.Sub(began).Round(time.Millisecond), replay, target, recovery.Round(time.Millisecond), at+1, s.headers[at+1].AppHash, s.headers[at].NumTxs)
	s.rows = append(s.rows, row{name: "crash in Commit", before: before, after: after, acked: acked, failed: s.failedSince(st0), recovery: recovery, took: time.Since(began),
		note: fmt.Sprintf("node %d SIGKILLed itself in Commit at %d", k, at)})
}

func (s *suite) verifiedAt(h int64) bool { return s.checkedTo > h && s.headers[h+1] != nil }

func logHas(path, needle string) bool { return logCount(path, needle) > 0 }

// logCount counts the lines of a log that contain needle.
func logCount(path, needle string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), needle) {
			n++
		}
	}
	return n
}

// gatewayCrash: concurrent readers against one node, which is killed -9
// mid-stream and restarted. Every read that was served (answered and
// decrypted) has a committed access event once the node's outbox drains;
// reads that failed need none.
func (s *suite) gatewayCrash(t *testing.T) {
	const g = 0
	const readers = 4
	ctx := context.Background()
	s.settle(t)
	began := time.Now()
	st0, _ := s.load.Stats()
	recs := s.load.Written(g)
	if len(recs) == 0 {
		s.fatalf(t, "the load wrote no record through node %d", g)
	}
	s.load.SetHealthy(g, false)
	before := s.cl.MaxHeight(ctx, s.all)
	world := s.load.World()
	var (
		mu       sync.Mutex
		served   []faults.Ack
		failed   int
		inFlight atomic.Int32
		atKill   int32
	)
	rctx, stopReaders := context.WithCancel(ctx)
	var wg sync.WaitGroup
	c := s.cl.Client(g)
	for r := range readers {
		rec := recs[r%len(recs)]
		patient := world.Workers[rec.Worker].Patient
		wg.Go(func() {
			for rctx.Err() == nil {
				octx, cancel := context.WithTimeout(rctx, 10*time.Second)
				inFlight.Add(1)
				hash, err := faults.ReadOnce(octx, c, patient, rec.Record, rec.Content)
				inFlight.Add(-1)
				cancel()
				mu.Lock()
				if err == nil {
					served = append(served, faults.Ack{Hash: hash, Kind: "access", Node: g, At: time.Now()})
				} else if rctx.Err() == nil {
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(served) }
	for deadline := time.Now().Add(30 * time.Second); count() < 20; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stopReaders()
			wg.Wait()
			s.fatalf(t, "only %d reads served in 30 s before the crash", count())
		}
	}
	atKill = inFlight.Load()
	servedBefore := count()
	if err := s.cl.Kill(g); err != nil {
		s.fatalf(t, "kill: %v", err)
	}
	killed := time.Now()
	time.Sleep(2 * time.Second)
	if err := s.cl.Start(g); err != nil {
		s.fatalf(t, "restart: %v", err)
	}
	restarted := time.Now()
	_, recovery, err := s.rejoin(g, restarted, 0)
	if err != nil {
		stopReaders()
		wg.Wait()
		s.fatalf(t, "catching up: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); count() < servedBefore+20 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	stopReaders()
	wg.Wait()
	s.load.SetHealthy(g, true)
	// The outbox drains: every access tx it holds commits.
	drainStart := time.Now()
	var pending float64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		p, err := outboxPending(s.cl.APIURL(g))
		if err == nil && p == 0 {
			break
		}
		pending = p
		if time.Now().After(deadline) {
			s.fatalf(t, "node %d's outbox still holds %v access txs after 60 s (%v)", g, pending, err)
		}
	}
	drained := time.Since(drainStart)
	mu.Lock()
	got := append([]faults.Ack(nil), served...)
	mu.Unlock()
	for _, a := range got {
		s.load.Ack(a.Kind, a.Hash, a.Node)
	}
	if missing, err := s.cl.CheckCommitted(ctx, got, s.all, 60*time.Second); err != nil {
		s.fatalf(t, "served reads without a committed access event: %v\n%s", err, strings.Join(missing, "\n"))
	}
	// The patients see them in their access logs too: every read served so
	// far (the load's as well), once node g has them all committed.
	var reads []faults.Ack
	for _, a := range s.load.Acks() {
		if a.Kind == "access" {
			reads = append(reads, a)
		}
	}
	if missing, err := s.cl.CheckCommitted(ctx, reads, []int{g}, 60*time.Second); err != nil {
		s.fatalf(t, "%v:\n%s", err, strings.Join(missing, "\n"))
	}
	logged := 0
	for _, a := range world.Workers {
		lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		evs, err := s.cl.Client(g).AccessLog(lctx, a.Patient.Signer, a.Patient.ID, false)
		cancel()
		if err != nil {
			s.fatalf(t, "access log: %v", err)
		}
		logged += len(evs)
	}
	if logged < len(reads) {
		s.fatalf(t, "the access logs hold %d events, fewer than the %d served reads", logged, len(reads))
	}
	after := s.cl.MaxHeight(ctx, s.all)
	s.verify(t)
	t.Logf("%d readers on node %d: %d reads served before kill -9 (%d in flight at the kill), %d in all; %d failed; restarted and caught up in %s; outbox drained in %s; every served read's access tx is committed on all 4 nodes",
		readers, g, servedBefore, atKill, len(got), failed, recovery.Round(time.Millisecond), drained.Round(time.Millisecond))
	s.rows = append(s.rows, row{name: "gateway crash", before: before, after: after, acked: len(got), failed: failed + s.failedSince(st0), recovery: recovery, took: time.Since(began),
		note: fmt.Sprintf("node %d: %d reads served, %d in flight at kill, %d failed; down %s", g, len(got), atKill, failed, restarted.Sub(killed).Round(100*time.Millisecond))})
}

// outboxPending reads the gateway's outbox gauge from the node's metrics.
func outboxPending(api string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "medledger_gateway_outbox_pending "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return -1, fmt.Errorf("no outbox gauge in /metrics")
}

// tempDir is a temporary directory removed at the end, retrying while a
// node's last writes land.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "medledger-faults-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for range 50 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("removing %s: %v", dir, err)
	})
	return dir
}

func freeBase(t *testing.T, n int) int {
	t.Helper()
	base, err := cometbft.FreeBasePort(n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

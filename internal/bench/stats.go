package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stats collects what a run measured. Latencies are from a tx's first
// submission to the moment its block was seen committed.
type stats struct {
	rejected, full, failed, blocks, vanished atomic.Int64
	built, builtBytes                        atomic.Int64

	mu      sync.Mutex
	start   time.Time
	lat     []time.Duration // every committed tx's latency
	byKind  map[string]int
	ops     []time.Duration // latencies of operations that are not txs (reads, verifications)
	opCount int
	opFail  int
	opErr   error // the last operation error
	extra   map[string]float64
}

func newStats() *stats {
	return &stats{byKind: map[string]int{}, extra: map[string]float64{}}
}

func (s *stats) commit(kind string, d time.Duration, _ time.Time) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.byKind[kind]++
	s.mu.Unlock()
}

// op records an operation that is not a tx: a read or a verification.
func (s *stats) op(d time.Duration, err error) {
	s.mu.Lock()
	if err != nil {
		s.opFail++
		s.opErr = err
	} else {
		s.opCount++
		s.ops = append(s.ops, d)
	}
	s.mu.Unlock()
}

// usage samples the process's CPU time and resident memory.
type usage struct {
	cpu  time.Duration
	rss  int64 // bytes
	peak int64
}

func sampleUsage() usage {
	var ru syscall.Rusage
	var u usage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.peak = ru.Maxrss * 1024 // kilobytes on Linux
	}
	u.rss = rss()
	return u
}

// rss reads the resident set size from /proc (Linux); 0 elsewhere.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// progress prints a status line every interval until done is closed: to a
// terminal it rewrites one line, elsewhere it prints one every 5 s.
func progress(w io.Writer, tty bool, name string, s *stats, inflight func() int, done <-chan struct{}) {
	every := time.Second
	if !tty {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	u0 := sampleUsage()
	t0 := time.Now()
	prevN, prevT, prevU := 0, t0, u0
	for {
		select {
		case <-done:
			if tty {
				fmt.Fprintln(w)
			}
			return
		case now := <-t.C:
			s.mu.Lock()
			n := len(s.lat) + s.opCount
			var recent []time.Duration
			if len(s.lat) > 0 {
				recent = append(recent, s.lat[max(0, len(s.lat)-5000):]...)
			} else if len(s.ops) > 0 {
				recent = append(recent, s.ops[max(0, len(s.ops)-5000):]...)
			}
			s.mu.Unlock()
			sortDurations(recent)
			u := sampleUsage()
			cpu := 100 * float64(u.cpu-prevU.cpu) / float64(now.Sub(prevT))
			line := fmt.Sprintf("%-8s %5.0fs  done %7d  %6.0f/s (now %6.0f/s)  p50 %s p99 %s  in flight %5d  cpu %3.0f%% of %d  rss %d MB",
				name, now.Sub(t0).Seconds(), n, float64(n)/now.Sub(t0).Seconds(), float64(n-prevN)/now.Sub(prevT).Seconds(),
				ms(percentile(recent, 0.5)), ms(percentile(recent, 0.99)), inflight(), cpu, runtime.NumCPU(), u.rss>>20)
			if tty {
				fmt.Fprintf(w, "\r%s\033[K", line)
			} else {
				fmt.Fprintln(w, line)
			}
			prevN, prevT, prevU = n, now, u
		}
	}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
}

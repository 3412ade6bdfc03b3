// Package faults runs a medledger network as real OS processes on loopback
// and injects faults into it: kill -9, SIGSTOP, halting validators, and a
// crash inside ABCI Commit (the MEDLEDGER_FAILPOINT hook of internal/node).
// Its tests check that nothing acknowledged is lost and that the nodes never
// disagree; `medledger bench` can reuse the harness and the load generator.
package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"medledger/client"
	"medledger/internal/identity"
	"medledger/internal/node"
)

// FailpointEnv names the environment variable internal/node reads at start
// to crash on purpose; see node.FailpointEnv.
const FailpointEnv = node.FailpointEnv

// CommitFailpoint is the FailpointEnv setting that makes a node kill itself
// inside ABCI Commit at height h, after the app state committed.
func CommitFailpoint(h int64) string { return fmt.Sprintf("%s=commit:%d", FailpointEnv, h) }

// BuildBinary compiles ./cmd/medledger of the module rooted at moduleRoot
// into dir, with the go command on PATH (go test puts its own toolchain
// first there), and returns the binary's path.
func BuildBinary(ctx context.Context, moduleRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "medledger")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/medledger")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot returns the directory of the go.mod that `go env GOMOD` names
// from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// User is an account with fresh keys and the public keys messages carry.
type User struct {
	client.User
	Pub identity.PublicKeys
}

// NewUser generates an account's signing and encryption keys.
func NewUser() (User, error) {
	u, pub, err := client.GenerateUser()
	return User{User: u, Pub: pub}, err
}

// Options configures a Cluster.
type Options struct {
	Validators int
	BlockTime  time.Duration
	BasePort   int
	Regulators []identity.PublicKeys
	ChainID    string
	// TimeoutPropose, if set, replaces CometBFT's timeout_propose (3 s): how
	// long validators wait for a proposer that is down before moving on.
	TimeoutPropose time.Duration
}

// Cluster is a testnet whose nodes run as `medledger start` processes.
// Node i's output goes to Dir/nodeI.log, appended across restarts.
type Cluster struct {
	Dir   string
	Bin   string
	Nodes []node.TestnetNode

	mu    sync.Mutex
	procs []*proc
	runs  []int
}

type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done
	paused bool
}

// New writes a testnet into dir; no node runs yet.
func New(dir, bin string, o Options) (*Cluster, error) {
	if o.ChainID == "" {
		o.ChainID = "medledger-faults"
	}
	nodes, err := node.InitTestnet(dir, node.TestnetOptions{Validators: o.Validators, ChainID: o.ChainID, BasePort: o.BasePort,
		Regulators: o.Regulators, Threshold: 1, BlockTime: o.BlockTime})
	if err != nil {
		return nil, err
	}
	if o.TimeoutPropose > 0 {
		for _, n := range nodes {
			if err := setTOML(filepath.Join(n.Home, "config", "config.toml"), "timeout_propose", fmt.Sprintf("%q", o.TimeoutPropose.String())); err != nil {
				return nil, err
			}
		}
	}
	return &Cluster{Dir: dir, Bin: bin, Nodes: nodes, procs: make([]*proc, len(nodes)), runs: make([]int, len(nodes))}, nil
}

// setTOML replaces the value of a top-level-looking `key = value` line.
func setTOML(path, key, value string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	found := false
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			lines[i] = key + " = " + value
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: no %s setting", path, key)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600)
}

// SetConfig sets key to value (a TOML literal, e.g. `"info"`) in node i's
// config/<file>, app.toml or config.toml; it applies at the next start.
func (c *Cluster) SetConfig(i int, file, key, value string) error {
	return setTOML(filepath.Join(c.Nodes[i].Home, "config", file), key, value)
}

// LogPath is node i's log file.
func (c *Cluster) LogPath(i int) string { return filepath.Join(c.Dir, fmt.Sprintf("node%d.log", i)) }

// Start starts node i with extra environment settings (KEY=value).
func (c *Cluster) Start(i int, env ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.procs[i]; p != nil && !p.exited() {
		return fmt.Errorf("node %d is already running", i)
	}
	f, err := os.OpenFile(c.LogPath(i), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	c.runs[i]++
	fmt.Fprintf(f, "=== run %d of node %d at %s %s\n", c.runs[i], i, time.Now().Format(time.RFC3339Nano), strings.Join(env, " "))
	cmd := exec.Command(c.Bin, "start", "--home", c.Nodes[i].Home)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so a terminal's signals go to the test only;
	// and killed if the test process dies, so no node outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs[i] = p
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (c *Cluster) proc(i int) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[i]
	if p == nil {
		return nil, fmt.Errorf("node %d was never started", i)
	}
	return p, nil
}

// signal sends sig to node i's process group.
func (c *Cluster) signal(i int, sig syscall.Signal) (*proc, error) {
	p, err := c.proc(i)
	if err != nil {
		return nil, err
	}
	if p.exited() {
		return p, fmt.Errorf("node %d is not running", i)
	}
	return p, syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Kill sends SIGKILL to node i and waits until it is gone.
func (c *Cluster) Kill(i int) error {
	p, err := c.signal(i, syscall.SIGKILL)
	if err != nil {
		return err
	}
	<-p.done
	p.paused = false
	return nil
}

// Stop sends SIGTERM to node i and waits up to timeout for a clean exit,
// then kills it.
func (c *Cluster) Stop(i int, timeout time.Duration) error {
	p, err := c.signal(i, syscall.SIGTERM)
	if err != nil {
		return err
	}
	if p.paused {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
		p.paused = false
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("node %d did not stop within %s; killed", i, timeout)
	}
}

// Pause freezes node i (SIGSTOP).
func (c *Cluster) Pause(i int) error {
	p, err := c.signal(i, syscall.SIGSTOP)
	if err == nil {
		p.paused = true
	}
	return err
}

// Resume lets a paused node i run again (SIGCONT).
func (c *Cluster) Resume(i int) error {
	p, err := c.signal(i, syscall.SIGCONT)
	if err == nil {
		p.paused = false
	}
	return err
}

// Exited returns a channel closed when node i's current process exits.
func (c *Cluster) Exited(i int) <-chan struct{} {
	p, err := c.proc(i)
	if err != nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return p.done
}

// Running reports whether node i's process is alive.
func (c *Cluster) Running(i int) bool {
	p, err := c.proc(i)
	return err == nil && !p.exited()
}

// ExitStatus describes how node i's last process ended ("" if it runs).
func (c *Cluster) ExitStatus(i int) string {
	p, err := c.proc(i)
	if err != nil || !p.exited() {
		return ""
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// Close kills every node that still runs and waits for them. It is safe to
// call more than once.
func (c *Cluster) Close() {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		if p == nil || p.exited() {
			continue
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, p := range procs {
		if p != nil {
			<-p.done
		}
	}
}

// APIURL is node i's API base URL.
func (c *Cluster) APIURL(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", c.Nodes[i].API) }

// Client returns a client of node i's API. A frozen node answers nothing:
// give calls a context with a deadline.
func (c *Cluster) Client(i int) *client.Client { return client.New(c.APIURL(i)) }

// Height returns node i's latest committed height as its API reports it.
func (c *Cluster) Height(ctx context.Context, i int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.Client(i).Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.LatestHeight, nil
}

// WaitHeight polls node i until it reports height h or more, and returns
// the height it saw. It fails early if the process exits.
func (c *Cluster) WaitHeight(i int, h int64, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	var last int64
	var lastErr error
	for {
		got, err := c.Height(context.Background(), i)
		if err == nil {
			last = got
			if got >= h {
				return got, nil
			}
		}
		lastErr = err
		if !c.Running(i) {
			return last, fmt.Errorf("node %d exited (%s) at height %d, waiting for %d", i, c.ExitStatus(i), last, h)
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("node %d at height %d after %s, waiting for %d (last error: %v)", i, last, timeout, h, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LogTail returns the last n lines of node i's log.
func (c *Cluster) LogTail(i, n int) string {
	f, err := os.Open(c.LogPath(i))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"medledger/client"
	"medledger/internal/cometbft"
)

// The test binary stands in for the medledger binary in the processes
// `testnet up` starts: with this variable set it runs the CLI.
const asMedledger = "MEDLEDGER_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asMedledger) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTestnetUp starts a two-validator network as separate processes,
// checks that it commits blocks with both validators, and that
// interrupting `testnet up` stops every node.
func TestTestnetUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two node processes")
	}
	t.Setenv(asMedledger, "1")
	t.Setenv("MEDLEDGER_PASSPHRASE", "testnet")
	dir := t.TempDir()
	base, err := cometbft.FreeBasePort(2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	finished := make(chan struct{})
	// On failure too, stop the nodes before the directory is removed.
	t.Cleanup(func() { cancel(); <-finished })
	go func() {
		defer close(finished)
		code <- Main(ctx, []string{"testnet", "up", "--validators", "2", "--out", dir, "--base-port", fmt.Sprint(base), "--block-time", "200ms"},
			strings.NewReader(""), &out, &errb)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "The network is up") {
		select {
		case c := <-code:
			t.Fatalf("testnet up exited with %d:\n%s\n%s", c, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the network did not come up:\n%s\n%s\n%s", out.String(), errb.String(), tail(dir+"/node0/node.log", 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 2 {
		api := fmt.Sprintf("http://127.0.0.1:%d", base+10*i+2)
		if !strings.Contains(out.String(), api) {
			t.Errorf("the output does not show node%d's API %s:\n%s", i, api, out.String())
		}
	}
	// Blocks need both validators' votes: the height moving proves both run.
	c := client.New(fmt.Sprintf("http://127.0.0.1:%d", base+12))
	for {
		st, err := c.Status(ctx)
		if err == nil && st.LatestHeight >= 3 && len(st.Validators) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the network does not commit with two validators: %+v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("testnet up exited with %d: %s", c, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("testnet up did not stop")
	}
	for i := range 2 {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", base+10*i+2)); err == nil {
			conn.Close()
			t.Errorf("node%d still serves after testnet up stopped", i)
		}
	}
	// A second `testnet up` reuses the configuration.
	nodes, err := existingTestnet(dir)
	if err != nil || len(nodes) != 2 || nodes[1].API != base+12 || nodes[1].RPC != base+11 {
		t.Fatalf("existing testnet: %+v %v", nodes, err)
	}
}

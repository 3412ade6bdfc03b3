package node_test

import (
	"strings"
	"testing"

	"medledger/internal/node"
)

// A malformed failpoint setting stops the node from starting rather than
// being ignored. (internal/faults arms a real one and checks the crash.)
func TestFailpointSettingChecked(t *testing.T) {
	home := initHome(t, newSigner(t))
	for _, bad := range []string{"commit", "commit:x", "commit:0", "finalize:5"} {
		t.Setenv(node.FailpointEnv, bad)
		n, err := node.New(home, node.Options{Logger: testLogger(t)})
		if err == nil {
			n.Close()
			t.Fatalf("%s=%s: the node was created", node.FailpointEnv, bad)
		}
		if !strings.Contains(err.Error(), node.FailpointEnv) {
			t.Fatalf("%s=%s: %v", node.FailpointEnv, bad, err)
		}
	}
}

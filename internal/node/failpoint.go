package node

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"medledger/internal/cometbft"
)

// FailpointEnv names the environment variable that arms a failpoint when
// the node starts. It is a test-only hook for the fault tests
// (internal/faults); production deployments never set it.
//
//	MEDLEDGER_FAILPOINT=commit:<height>
//
// makes the process SIGKILL itself inside ABCI Commit at that height, after
// the app state has committed the block and before Commit returns, so that
// CometBFT's state is one block behind the app when the node restarts.
const FailpointEnv = "MEDLEDGER_FAILPOINT"

// armFailpoint installs the failpoint FailpointEnv describes, if any.
func armFailpoint(app *cometbft.App, log *slog.Logger) error {
	spec := os.Getenv(FailpointEnv)
	if spec == "" {
		return nil
	}
	at, ok := strings.CutPrefix(spec, "commit:")
	h, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || h < 1 {
		return fmt.Errorf("%s=%q: want commit:<height>", FailpointEnv, spec)
	}
	log.Warn("failpoint armed: the node kills itself inside Commit", "height", h)
	app.AfterStoreCommit = func(height int64) {
		if height != h {
			return
		}
		log.Warn("failpoint: killing the node inside Commit, after the app state committed", "height", height)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Kill()
		}
		select {} // SIGKILL is on its way
	}
	return nil
}

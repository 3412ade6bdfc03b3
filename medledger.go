// Package medledger is the vocabulary shared by every part of medledger: account
// IDs, the transaction envelope and its canonical CBOR encoding, the execution
// environment handed to the state machine, typed events, and error kinds with
// stable codes.
//
// It imports only the standard library and the CBOR codec, so that every other
// package, including the pure state machine, can depend on it.
package medledger

// Version is the software version, reported by `medledger version` and ABCI Info.
// Release builds override it with -ldflags "-X medledger.Version=...".
var Version = "0.1.0-dev"

// AppVersion is the state-machine protocol version reported through ABCI Info.
// It changes whenever the same txs would produce a different app hash.
const AppVersion uint64 = 1

// SchemaVersion is the layout version of the authenticated state.
const SchemaVersion uint64 = 1

// Env is what the state machine knows about the block a tx runs in. It comes
// from the block header, never from a local clock.
type Env struct {
	ChainID string
	Height  int64
	Time    int64 // block time, Unix seconds
}

//go:build js && wasm

package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"syscall/js"

	"medledger"
)

// checkTxProof(hash, status, block, next) → [{id, check, ok, detail}]
//
// checkTxProof checks a committed tx's proof in the browser with the same
// code as the CLI's light client (medledger.CheckTxProof): hash is the tx
// hash in hex, status the JSON of GET /v1/txs/{hash}?prove=true, block and
// next the JSON of GET /v1/headers/{H} and /v1/headers/{H+1}. It returns
// every check with its outcome, in order. The headers are taken as given:
// their signatures are not verified here.
func checkTxProof(_ js.Value, args []js.Value) any {
	if len(args) != 4 {
		return promise(func() (any, error) { return nil, errors.New("checkTxProof(hash, status, block, next)") })
	}
	hashHex, status, block, next := args[0].String(), args[1].String(), args[2].String(), args[3].String()
	return promise(func() (any, error) {
		hash, err := hex.DecodeString(hashHex)
		if err != nil || len(hash) != 32 {
			return nil, errors.New("a tx hash is 64 hexadecimal characters")
		}
		var st medledger.TxStatus
		if err := json.Unmarshal([]byte(status), &st); err != nil {
			return nil, errors.New("the node's answer for the tx is malformed")
		}
		var h, n medledger.Header
		if json.Unmarshal([]byte(block), &h) != nil || json.Unmarshal([]byte(next), &n) != nil {
			return nil, errors.New("a block header from the node is malformed")
		}
		checks := medledger.CheckTxProof(hash, &st, &h, &n)
		out := make([]any, len(checks))
		for i, c := range checks {
			out[i] = map[string]any{"id": c.ID, "check": c.Check, "ok": c.OK, "detail": c.Detail}
		}
		return out, nil
	})
}

// checkLightBlock(chainID, lightBlock) → {header, signed_power, total_power, validators}
//
// checkLightBlock checks a light block, the base64 light_block of GET
// /v1/light/{height}, with medledger.CheckLightBlock: its header's hash,
// that its validator set is the one the header names, and that validators
// holding more than two thirds of that set's voting power signed it. The
// header is in the JSON form of GET /v1/headers/{height}, for
// checkTxProof. Whether the validator set is the chain's is not checked:
// that needs a trusted header, as the CLI's light client has.
func checkLightBlock(_ js.Value, args []js.Value) any {
	if len(args) != 2 {
		return promise(func() (any, error) { return nil, errors.New("checkLightBlock(chainID, lightBlock)") })
	}
	chainID, b64 := args[0].String(), args[1].String()
	return promise(func() (any, error) {
		bz, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, errors.New("the light block from the node is not base64")
		}
		sb, err := medledger.CheckLightBlock(chainID, bz)
		if err != nil {
			return nil, err
		}
		out, err := json.Marshal(sb)
		if err != nil {
			return nil, err
		}
		return string(out), nil
	})
}

func init() {
	api["checkTxProof"] = checkTxProof
	api["checkLightBlock"] = checkLightBlock
}

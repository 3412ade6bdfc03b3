//go:build js && wasm

package main

// sealRecord seals a new record in the browser, as the SDK's PutRecord
// does (client/records.go, sealAndStore and uploadSealed): the content is
// encrypted under a fresh content key, and the key is wrapped for each
// reader key given (the patient's, the author organisation's escrow key if
// it has one) and for the held key's own encryption key, so that the author
// can read what they wrote.
//
//	sealRecord(content, [readerKeyBase64, ...])
//	    → {ciphertext: Uint8Array, blob: hex blob ID, record: the new record's ID,
//	       size, wraps: {readerKeyID: Uint8Array}}
//
// The page uploads the ciphertext and each wrap with signed PUTs and then
// anchors version 1 with a records/anchor tx. The content key never leaves
// this module.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"syscall/js"

	"medledger/client/account"
	"medledger/internal/records"
	"medledger/seal"
)

func init() {
	api["sealRecord"] = sealRecord
}

func sealRecord(_ js.Value, args []js.Value) any {
	if len(args) != 2 || args[1].Type() != js.TypeObject {
		return promise(func() (any, error) { return nil, errors.New("sealRecord(content, [readerKeyBase64, ...])") })
	}
	content := bytesOf(args[0])
	var readers [][]byte
	for i := 0; i < args[1].Length(); i++ {
		v := args[1].Index(i)
		if v.IsNull() || v.IsUndefined() || v.String() == "" {
			continue
		}
		pub, err := base64.StdEncoding.DecodeString(v.String())
		if err != nil {
			return promise(func() (any, error) { return nil, fmt.Errorf("reader key %d is not base64", i+1) })
		}
		readers = append(readers, pub)
	}
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		if len(content) == 0 {
			return nil, errors.New("the record is empty")
		}
		if len(readers) == 0 {
			return nil, errors.New("a record needs the patient's key to be wrapped for")
		}
		readers = append(readers, k.EncryptionPublicKey)
		ct, blob, key, err := account.SealVersion(content)
		if err != nil {
			return nil, err
		}
		defer key.Zero()
		record := records.IDFor(blob) // a new record's ID, as the ledger checks it
		wraps := js.Global().Get("Object").New()
		done := map[string]bool{}
		for _, pub := range readers {
			kid := seal.KeyID(pub)
			if done[kid] {
				continue
			}
			done[kid] = true
			w, err := seal.Wrap(key, pub, seal.WrapInfo{RecordID: record, Version: 1, ReaderKeyID: kid})
			if err != nil {
				return nil, errors.New("a reader's encryption key is not valid")
			}
			wraps.Set(kid, uint8Array(w))
		}
		return map[string]any{
			"ciphertext": uint8Array(ct),
			"blob":       blob.String(),
			"record":     record,
			"size":       len(ct),
			"wraps":      wraps,
		}, nil
	})
}

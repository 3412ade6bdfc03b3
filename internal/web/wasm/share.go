//go:build js && wasm

package main

import (
	"encoding/base64"
	"errors"
	"syscall/js"

	"medledger/seal"
)

// rewrap(wrap, record, version, readerKey) → {key_id, wrap}
//
// rewrap gives a reader a record version's content key: it unwraps the
// holder's own wrap (made for the held encryption key or an old one) and
// wraps the key again for readerKey, the reader's encryption public key in
// standard base64. This is how a patient's grant shares the records it
// covers, as the SDK's ShareRecords does; the content key never leaves the
// module.
func rewrap(_ js.Value, args []js.Value) any {
	if len(args) != 4 {
		return promise(func() (any, error) { return nil, errors.New("rewrap(wrap, record, version, readerKey)") })
	}
	mine := bytesOf(args[0])
	record, version, reader := args[1].String(), uint32(args[2].Int()), args[3].String()
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		pub, err := base64.StdEncoding.DecodeString(reader)
		if err != nil || len(pub) == 0 {
			return nil, errors.New("the reader's encryption key is malformed")
		}
		// The holder's wrap is fetched under its current key's ID, as the
		// SDK's; old keys are tried for wraps made before a rotation.
		info := seal.WrapInfo{RecordID: record, Version: version, ReaderKeyID: seal.KeyID(k.EncryptionPublicKey)}
		key, err := seal.Unwrap(mine, k.EncryptionKey, info)
		for i := 0; err != nil && i < len(k.OldEncryptionKeys); i++ {
			key, err = seal.Unwrap(mine, k.OldEncryptionKeys[i], info)
		}
		if err != nil {
			return nil, errors.New("this record's key is not wrapped for your keys")
		}
		defer key.Zero()
		kid := seal.KeyID(pub)
		w, err := seal.Wrap(key, pub, seal.WrapInfo{RecordID: record, Version: version, ReaderKeyID: kid})
		if err != nil {
			return nil, err
		}
		return map[string]any{"key_id": kid, "wrap": uint8Array(w)}, nil
	})
}

func init() { api["rewrap"] = rewrap }

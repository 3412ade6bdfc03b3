//go:build js && wasm

// Command wasm is the web portal's crypto module: medledger's own Go code
// for keys, the key file and tx signing (client/account, seal), compiled to
// WebAssembly so that the browser runs the same implementation as the CLI.
//
// It sets a global object, medledger, whose functions return Promises:
//
//	generateKeys()                        → public info of a fresh key, held in this module
//	importKeyFile(bytes, passphrase)      → public info; the key is held in this module
//	exportKeyFile(passphrase)             → the encrypted key file (Uint8Array), the format
//	                                        of `medledger keys export`
//	publicKeys()                          → public info of the held key, or null
//	signTx(chainID, nonce, msgType, json) → the signed tx (Uint8Array) for POST /v1/txs
//	lock()                                → forgets the held key
//	signRequest(method, pathAndQuery[, body])
//	                                      → {account, time, signature}: the headers of a
//	                                        signed request (private queries such as a patient's
//	                                        records, or uploads, whose body is signed by its hash)
//	signRead(chainID, height, patient, record, version, purpose)
//	                                      → a read request (Uint8Array) for POST /v1/read,
//	                                        valid for readWindow blocks after height
//	openRecord(ciphertext, {blob, wrap, key_id, record, version})
//	                                      → the record's plaintext, decrypted here
//
// Other files of this package add functions to api in their init.
//
// Public info is {id, name, created, signing_key, encryption_key,
// encryption_key_id}, the keys in standard base64 as messages carry them in
// JSON; the key ID names the account's key wraps. The private keys never
// leave this module except encrypted under a passphrase, in a key file.
//
// Build it with `make wasm` (GOOS=js GOARCH=wasm).
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"medledger"
	"medledger/client/account"
	"medledger/internal/audit"
	"medledger/internal/consent"
	"medledger/internal/identity"
	"medledger/internal/records"
	"medledger/seal"
)

// keyName is the name a key made in the portal carries in its key file.
// `medledger keys import NAME FILE` names the key anew.
const keyName = "portal"

var (
	mu  sync.Mutex
	key *account.Key
)

// api is the functions the module exports, by name, on the global object
// medledger.
var api = map[string]func(js.Value, []js.Value) any{
	"generateKeys":  generateKeys,
	"importKeyFile": importKeyFile,
	"exportKeyFile": exportKeyFile,
	"publicKeys":    publicKeys,
	"signTx":        signTx,
	"lock":          lock,
	"signRequest":   signRequest,
	"signRead":      signRead,
	"openRecord":    openRecord,
}

func main() {
	obj := js.Global().Get("Object").New()
	for name, f := range api {
		obj.Set(name, js.FuncOf(f))
	}
	js.Global().Set("medledger", obj)
	if ready := js.Global().Get("medledgerReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {} // serve calls until the page goes away
}

// promise runs work in a goroutine and settles a JS Promise with its result.
func promise(work func() (any, error)) js.Value {
	var handler js.Func
	handler = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer handler.Release()
			v, err := work()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(handler)
}

// errNoKey is returned when a call needs a key and none is held.
var errNoKey = errors.New("no key is unlocked: create or unlock one first")

func info(k *account.Key) any {
	return map[string]any{
		"id":                string(k.ID),
		"name":              k.Name,
		"created":           k.Created.Format(time.RFC3339),
		"signing_key":       b64(k.SigningPublicKey),
		"encryption_key":    b64(k.EncryptionPublicKey),
		"encryption_key_id": seal.KeyID(k.EncryptionPublicKey),
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b) // []byte marshals as a standard base64 string
	v, _ := strconv.Unquote(string(s))
	return v
}

func hold(k *account.Key) {
	mu.Lock()
	old := key
	key = k
	mu.Unlock()
	if old != nil && old != k {
		old.Zero()
	}
}

func held() *account.Key {
	mu.Lock()
	defer mu.Unlock()
	return key
}

func generateKeys(js.Value, []js.Value) any {
	return promise(func() (any, error) {
		k, err := account.Generate(keyName)
		if err != nil {
			return nil, err
		}
		hold(k)
		return info(k), nil
	})
}

func importKeyFile(_ js.Value, args []js.Value) any {
	if len(args) != 2 {
		return promise(func() (any, error) { return nil, errors.New("importKeyFile(bytes, passphrase)") })
	}
	data := bytesOf(args[0])
	pass := args[1].String()
	return promise(func() (any, error) {
		f, err := account.ParseFile(data)
		if err != nil {
			return nil, errors.New("this is not a medledger key file, or it is damaged")
		}
		k, err := f.Open(pass)
		if errors.Is(err, account.ErrBadPassphrase) {
			return nil, errors.New("wrong passphrase, or the key file was altered")
		}
		if err != nil {
			return nil, err
		}
		hold(k)
		return info(k), nil
	})
}

func exportKeyFile(_ js.Value, args []js.Value) any {
	if len(args) != 1 {
		return promise(func() (any, error) { return nil, errors.New("exportKeyFile(passphrase)") })
	}
	pass := args[0].String()
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		data, err := account.MarshalFile(k, pass, account.DefaultArgon2Params)
		if err != nil {
			return nil, err
		}
		return uint8Array(data), nil
	})
}

func publicKeys(js.Value, []js.Value) any {
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, nil
		}
		return info(k), nil
	})
}

func lock(js.Value, []js.Value) any {
	return promise(func() (any, error) {
		hold(nil)
		return nil, nil
	})
}

func signTx(_ js.Value, args []js.Value) any {
	if len(args) != 4 {
		return promise(func() (any, error) { return nil, errors.New("signTx(chainID, nonce, msgType, msgJSON)") })
	}
	chainID, msgType, msgJSON := args[0].String(), args[2].String(), args[3].String()
	var nonce uint64
	var err error
	switch n := args[1]; n.Type() {
	case js.TypeNumber:
		if f := n.Float(); f >= 1 && f <= 1<<53 && f == float64(uint64(f)) {
			nonce = uint64(f)
		}
	case js.TypeString:
		nonce, err = strconv.ParseUint(n.String(), 10, 64)
	}
	return promise(func() (any, error) {
		if err != nil || nonce == 0 {
			return nil, errors.New("nonce must be a positive integer")
		}
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		m, err := newMsg(msgType)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(msgJSON), m); err != nil {
			return nil, fmt.Errorf("message %s: %v", msgType, err)
		}
		if err := m.Validate(); err != nil {
			return nil, err
		}
		tx, err := account.BuildTx(chainID, account.SignerOf(k), nonce, m)
		if err != nil {
			return nil, err
		}
		return uint8Array(tx), nil
	})
}

// msg is a message the portal can sign.
type msg interface {
	Type() string
	Validate() error
}

// newMsg returns an empty message of a type the portal signs: identity's,
// consent's (grants, revocations, break-glass) and records' (anchors and
// erasures).
func newMsg(msgType string) (msg, error) {
	switch msgType {
	case consent.TypeGrant:
		return new(consent.GrantAccess), nil
	case consent.TypeRevoke:
		return new(consent.Revoke), nil
	case consent.TypeBreakGlass:
		return new(consent.BreakGlass), nil
	case records.TypeAnchor:
		return new(records.Anchor), nil
	case records.TypeErase:
		return new(records.Erase), nil
	}
	m, err := identity.NewMsg(msgType)
	if err != nil {
		return nil, fmt.Errorf("the portal cannot sign %q messages", msgType)
	}
	return m, nil
}

func bytesOf(v js.Value) []byte {
	if v.Type() == js.TypeString {
		return []byte(v.String())
	}
	u := js.Global().Get("Uint8Array").New(v)
	b := make([]byte, u.Get("length").Int())
	js.CopyBytesToGo(b, u)
	return b
}

func uint8Array(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// readWindow is how many blocks a read request stays valid, as the SDK's.
const readWindow = 300

func signRequest(_ js.Value, args []js.Value) any {
	if len(args) != 2 && len(args) != 3 {
		return promise(func() (any, error) { return nil, errors.New("signRequest(method, pathAndQuery[, body])") })
	}
	method, path := args[0].String(), args[1].String()
	var body []byte
	if len(args) == 3 && !args[2].IsUndefined() && !args[2].IsNull() {
		body = bytesOf(args[2])
	}
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		sum := sha256.Sum256(body)
		now := time.Now().Unix()
		sig := ed25519.Sign(k.SigningKey, medledger.RequestSignBytes(method, path, now, hex.EncodeToString(sum[:])))
		return map[string]any{
			"account":   string(k.ID),
			"time":      strconv.FormatInt(now, 10),
			"signature": base64.StdEncoding.EncodeToString(sig),
		}, nil
	})
}

func signRead(_ js.Value, args []js.Value) any {
	if len(args) != 6 {
		return promise(func() (any, error) {
			return nil, errors.New("signRead(chainID, height, patient, record, version, purpose)")
		})
	}
	chainID, height := args[0].String(), args[1].Int()
	m := &audit.Access{Patient: medledger.ID(args[2].String()), Record: args[3].String(), Version: uint32(args[4].Int()), Purpose: args[5].String()}
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		if err := m.Validate(); err != nil {
			return nil, err
		}
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return nil, err
		}
		tx, err := account.BuildUnordered(chainID, account.SignerOf(k), binary.BigEndian.Uint64(id[:]), uint64(height)+readWindow, m)
		if err != nil {
			return nil, err
		}
		return uint8Array(tx), nil
	})
}

// openRecord checks that the ciphertext is the anchored blob, unwraps its
// content key with the held encryption key (or an old one) and decrypts it.
func openRecord(_ js.Value, args []js.Value) any {
	if len(args) != 2 {
		return promise(func() (any, error) { return nil, errors.New("openRecord(ciphertext, meta)") })
	}
	ct := bytesOf(args[0])
	meta := args[1]
	blobS, wrapS, keyID, record := meta.Get("blob").String(), meta.Get("wrap").String(), meta.Get("key_id").String(), meta.Get("record").String()
	version := uint32(meta.Get("version").Int())
	return promise(func() (any, error) {
		k := held()
		if k == nil {
			return nil, errNoKey
		}
		blob, err := medledger.ParseBlobID(blobS)
		if err != nil || medledger.BlobIDOf(ct) != blob {
			return nil, errors.New("the node served bytes that do not match the anchored record")
		}
		wrap, err := base64.StdEncoding.DecodeString(wrapS)
		if err != nil {
			return nil, errors.New("the node served a malformed key wrap")
		}
		info := seal.WrapInfo{RecordID: record, Version: version, ReaderKeyID: keyID}
		key, err := seal.Unwrap(wrap, k.EncryptionKey, info)
		for i := 0; err != nil && i < len(k.OldEncryptionKeys); i++ {
			key, err = seal.Unwrap(wrap, k.OldEncryptionKeys[i], info)
		}
		if err != nil {
			return nil, errors.New("this record's key is not wrapped for your keys")
		}
		defer key.Zero()
		pt, err := seal.Decrypt(ct, key)
		if err != nil {
			return nil, errors.New("the record does not decrypt: it was damaged or altered")
		}
		return string(pt), nil
	})
}

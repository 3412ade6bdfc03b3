package medledger

import (
	"bytes"

	"github.com/fxamacker/cbor/v2"
)

// RawMessage is an encoded CBOR value kept as bytes, such as a tx's message.
type RawMessage = cbor.RawMessage

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func mustMode[T any](m T, err error) T {
	if err != nil {
		panic(err)
	}
	return m
}

// The codec is RFC 8949 core deterministic encoding. The decoder is strict:
// no duplicate map keys, no indefinite lengths, no tags, no unknown fields,
// valid UTF-8, and bounded nesting and sizes.
var (
	_ = func() int {
		encMode = mustMode(cbor.CoreDetEncOptions().EncMode())
		decMode = mustMode(cbor.DecOptions{
			DupMapKey:         cbor.DupMapKeyEnforcedAPF,
			IndefLength:       cbor.IndefLengthForbidden,
			TagsMd:            cbor.TagsForbidden,
			ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
			MaxNestedLevels:   16,
			MaxArrayElements:  100_000,
			MaxMapPairs:       10_000,
			UTF8:              cbor.UTF8RejectInvalid,
		}.DecMode())
		return 0
	}()
)

// Marshal encodes v in deterministic CBOR.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// MustMarshal is Marshal for values that always encode, such as the state
// machine's own records. It panics on error.
func MustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Unmarshal decodes b into v strictly, and also requires b to be canonical:
// exactly the bytes Marshal would produce for the decoded value. Malformed
// input is a KindMalformed error; well-formed but non-canonical input is
// KindNonCanonical. Either way the error names no content.
func Unmarshal(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return Errorf(KindMalformed, "cbor: %v", err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return Errorf(KindMalformed, "cbor: %v", err)
	}
	if !bytes.Equal(again, b) {
		return Errorf(KindNonCanonical, "cbor: not in deterministic encoding")
	}
	return nil
}

// UnmarshalTrusted decodes bytes the node itself wrote, such as state values,
// without the canonical round trip.
func UnmarshalTrusted(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return Errorf(KindInternal, "cbor: %v", err)
	}
	return nil
}

package medledger

import (
	"errors"
	"fmt"
)

// Kind classifies an error. Its numeric value is the ABCI result code of a
// failed tx, and those codes enter consensus through LastResultsHash, so the
// list is append-only: never renumber, never reuse, never remove.
type Kind uint32

// Error kinds. Append new kinds at the end.
const (
	KindOK             Kind = 0
	KindInternal       Kind = 1  // a bug or a broken store; not the caller's fault
	KindMalformed      Kind = 2  // the bytes do not decode
	KindNonCanonical   Kind = 3  // decodes, but is not in deterministic CBOR form
	KindTooLarge       Kind = 4  // over a size limit
	KindWrongChain     Kind = 5  // signed for another chain ID
	KindUnknownMsg     Kind = 6  // no such message type
	KindBadSignature   Kind = 7  // signature does not verify
	KindBadNonce       Kind = 8  // replayed, skipped or out-of-order nonce
	KindUnknownAccount Kind = 9  // the signer or a named account is not registered
	KindSuspended      Kind = 10 // the account, or its organisation, is suspended or removed
	KindUnauthorized   Kind = 11 // the signer lacks the role or relationship the message needs
	KindInvalid        Kind = 12 // a field fails validation
	KindNotFound       Kind = 13 // the named object does not exist
	KindExists         Kind = 14 // the object already exists
	KindExpired        Kind = 15 // past its timeout height or expiry
	KindDuplicate      Kind = 16 // an unordered tx's request ID was already seen
	KindUnavailable    Kind = 17 // the node cannot serve this now (syncing, mempool full)
	KindGone           Kind = 18 // erased at the patient's request: the content is destroyed
	KindQuota          Kind = 19 // over an account's upload quota
	KindConflict       Kind = 20 // the object's state forbids it: recalled, dispensed, in transit, a temperature excursion
)

var kindNames = [...]string{
	KindOK:             "ok",
	KindInternal:       "internal",
	KindMalformed:      "malformed",
	KindNonCanonical:   "non_canonical",
	KindTooLarge:       "too_large",
	KindWrongChain:     "wrong_chain",
	KindUnknownMsg:     "unknown_msg",
	KindBadSignature:   "bad_signature",
	KindBadNonce:       "bad_nonce",
	KindUnknownAccount: "unknown_account",
	KindSuspended:      "suspended",
	KindUnauthorized:   "unauthorized",
	KindInvalid:        "invalid",
	KindNotFound:       "not_found",
	KindExists:         "exists",
	KindExpired:        "expired",
	KindDuplicate:      "duplicate",
	KindUnavailable:    "unavailable",
	KindGone:           "gone",
	KindQuota:          "quota",
	KindConflict:       "conflict",
}

// Kinds returns every defined kind in code order.
func Kinds() []Kind {
	out := make([]Kind, len(kindNames))
	for i := range kindNames {
		out[i] = Kind(i)
	}
	return out
}

// String returns the kind's stable snake_case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind_%d", uint32(k))
}

// ParseKind returns the kind with the given name.
func ParseKind(name string) (Kind, bool) {
	for i, n := range kindNames {
		if n == name {
			return Kind(i), true
		}
	}
	return 0, false
}

// Codespace is the ABCI codespace of medledger's result codes.
const Codespace = "medledger"

// Error is an error with a Kind. Its message must never contain PHI: only
// IDs, field names and limits.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Msg }

// Errorf returns an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err: KindOK for nil, KindInternal for an error
// that carries no kind.
func KindOf(err error) Kind {
	if err == nil {
		return KindOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err has the given kind.
func IsKind(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

package state

import "medledger"

// Load decodes the value at key, or returns nil if there is none. Values
// are the state machine's own deterministic CBOR.
func Load[T any](r Reader, key []byte) (*T, error) {
	b, err := r.Get(key)
	if err != nil || b == nil {
		return nil, err
	}
	v := new(T)
	if err := medledger.UnmarshalTrusted(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// LoadAll decodes every value under prefix, in key order.
func LoadAll[T any](r Reader, prefix []byte) ([]T, error) {
	var out []T
	var err error
	iterErr := r.Iterate(prefix, PrefixEnd(prefix), func(_, b []byte) bool {
		var v T
		if err = medledger.UnmarshalTrusted(b, &v); err != nil {
			return false
		}
		out = append(out, v)
		return true
	})
	if iterErr != nil {
		return nil, iterErr
	}
	return out, err
}

package records

import (
	"medledger"
	"medledger/internal/state"
)

// BlobRecord returns, from the index, the record whose anchor names blob,
// or "" if none does.
func BlobRecord(index state.Reader, b medledger.BlobID) (string, error) {
	v, err := index.Get(blobIndex(b))
	return string(v), err
}

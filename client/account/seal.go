package account

import (
	"medledger"
	"medledger/seal"
)

// SealVersion encrypts a record version's content under a fresh content
// key, as the SDK and the web portal's crypto module both do. It returns
// the ciphertext, its blob ID (what the ledger anchors) and the key, which
// the caller wraps for each reader and then zeroes.
func SealVersion(content []byte) ([]byte, medledger.BlobID, *seal.ContentKey, error) {
	key, err := seal.NewContentKey()
	if err != nil {
		return nil, medledger.BlobID{}, nil, err
	}
	ct, err := seal.Encrypt(content, key)
	if err != nil {
		key.Zero()
		return nil, medledger.BlobID{}, nil, err
	}
	return ct, medledger.BlobIDOf(ct), key, nil
}

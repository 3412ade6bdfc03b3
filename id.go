package medledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
)

// IDLen is the length in characters of an account ID.
const IDLen = 26

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ID names an account: the first IDLen characters of the lowercase, unpadded
// base32 encoding of sha256 of the account's first Ed25519 signing key. The ID
// stays the same when the account rotates its keys.
type ID string

// AccountID derives the ID of the account whose first signing key is pub.
func AccountID(pub ed25519.PublicKey) ID {
	sum := sha256.Sum256(pub)
	return ID(idEncoding.EncodeToString(sum[:])[:IDLen])
}

// Validate reports whether id is well formed.
func (id ID) Validate() error {
	if len(id) != IDLen {
		return Errorf(KindInvalid, "account id must be %d characters, got %d", IDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return Errorf(KindInvalid, "account id has invalid character at %d", i)
		}
	}
	return nil
}

// DID returns the W3C decentralized identifier of the account.
func (id ID) DID() string { return "did:medledger:" + string(id) }

// OrgDID returns the decentralized identifier of an organisation.
func OrgDID(org string) string { return "did:medledger:org:" + org }

// ValidateOrgID reports whether s is a well-formed organisation ID: 3 to 40
// characters of lowercase letters, digits and '-', starting with a letter.
func ValidateOrgID(s string) error {
	if len(s) < 3 || len(s) > 40 {
		return Errorf(KindInvalid, "organisation id must be 3 to 40 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')
		if !ok {
			return Errorf(KindInvalid, "organisation id %q: use lowercase letters, digits and '-', starting with a letter", s)
		}
	}
	return nil
}

// String implements fmt.Stringer.
func (id ID) String() string { return string(id) }

var _ fmt.Stringer = ID("")

package identity

import (
	"medledger"
	"medledger/internal/state"
)

// Authenticated keys, all under "id/".
//
//	id/auth              Authority
//	id/a/<account id>    Account
//	id/o/<org id>        Org
//	id/p/<proposal id>   Proposal (pending authority actions only)
//
// Index keys (rebuildable from the above):
//
//	id/om/<org>/<member>        org → members
//	id/dp/<delegate>/<patient>  delegate → patients they act for

// AuthorityKey is the key of the consortium authority.
func AuthorityKey() []byte { return []byte("id/auth") }

// AccountKey is the key of an account.
func AccountKey(id medledger.ID) []byte { return state.Key("id", "a", string(id)) }

// OrgKey is the key of an organisation.
func OrgKey(id string) []byte { return state.Key("id", "o", id) }

// ProposalKey is the key of a pending authority proposal.
func ProposalKey(id string) []byte { return state.Key("id", "p", id) }

// OrgPrefix is the prefix of every organisation key.
func OrgPrefix() []byte { return []byte("id/o/") }

// ProposalPrefix is the prefix of every proposal key.
func ProposalPrefix() []byte { return []byte("id/p/") }

// AccountPrefix is the prefix of every account key.
func AccountPrefix() []byte { return []byte("id/a/") }

func orgMemberIndex(org string, member medledger.ID) []byte {
	return state.Key("id", "om", org, string(member))
}

// OrgMembersPrefix is the index prefix under which an org's members are listed.
func OrgMembersPrefix(org string) []byte { return state.Key("id", "om", org, "") }

func delegateIndex(delegate, patient medledger.ID) []byte {
	return state.Key("id", "dp", string(delegate), string(patient))
}

// DelegatorsPrefix is the index prefix under which the patients a delegate
// acts for are listed.
func DelegatorsPrefix(delegate medledger.ID) []byte {
	return state.Key("id", "dp", string(delegate), "")
}

var indexMark = []byte{1}

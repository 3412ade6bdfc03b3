package identity

import (
	"slices"
	"strconv"

	"medledger"
	"medledger/internal/state"
)

// Genesis is the identity module's part of the genesis app state.
type Genesis struct {
	// Regulators are the consortium authority's accounts.
	Regulators []PublicKeys `json:"regulators"`
	// Threshold is how many distinct regulators must approve an authority
	// action (M of N).
	Threshold int `json:"threshold"`
}

// Validate checks the genesis.
func (g *Genesis) Validate() error {
	if len(g.Regulators) == 0 {
		return invalid("genesis needs at least one regulator")
	}
	if g.Threshold < 1 || g.Threshold > len(g.Regulators) {
		return invalid("threshold must be between 1 and the number of regulators (%d)", len(g.Regulators))
	}
	seen := map[medledger.ID]bool{}
	for _, r := range g.Regulators {
		if err := r.Validate(); err != nil {
			return err
		}
		if seen[r.ID()] {
			return invalid("regulator %s is listed twice", r.ID())
		}
		seen[r.ID()] = true
	}
	return nil
}

// InitGenesis writes the authority and the regulator accounts.
func InitGenesis(b state.Batch, env medledger.Env, g *Genesis) error {
	if err := g.Validate(); err != nil {
		return err
	}
	auth := Authority{Threshold: g.Threshold}
	for _, r := range g.Regulators {
		a := newAccount(env, medledger.KindRegulator, r)
		if err := put(b.KV, AccountKey(a.ID), a); err != nil {
			return err
		}
		auth.Regulators = append(auth.Regulators, a.ID)
	}
	slices.Sort(auth.Regulators)
	return put(b.KV, AuthorityKey(), &auth)
}

// RebuildIndex recomputes the identity index from authenticated state.
func RebuildIndex(r state.Reader, index state.ReadWriter) error {
	var err error
	iterErr := r.Iterate(AccountPrefix(), state.PrefixEnd(AccountPrefix()), func(_, v []byte) bool {
		var a Account
		if err = medledger.UnmarshalTrusted(v, &a); err != nil {
			return false
		}
		if a.Kind == medledger.KindMember {
			if err = index.Set(orgMemberIndex(a.Org, a.ID), indexMark); err != nil {
				return false
			}
		}
		for _, d := range a.Delegates {
			if err = index.Set(delegateIndex(d.ID, a.ID), indexMark); err != nil {
				return false
			}
		}
		return true
	})
	if iterErr != nil {
		return iterErr
	}
	return err
}

func itoa(i int) string     { return strconv.Itoa(i) }
func i64toa(i int64) string { return strconv.FormatInt(i, 10) }

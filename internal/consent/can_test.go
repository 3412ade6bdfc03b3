package consent

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"medledger"
)

// naive is the reference evaluator: the rules of the package doc written
// as directly as possible, every condition spelled out, no shared helpers.
func naive(r Reader, t Target, purpose string, now int64, grants []Grant, ems []Emergency) Decision {
	known := false
	for _, p := range Purposes {
		known = known || p == purpose
	}
	if r.Status != medledger.StatusActive || !known {
		return Decision{}
	}
	if r.ID == t.Patient {
		return Decision{true, BasisPatient, ""}
	}
	if r.Delegate {
		return Decision{true, BasisDelegate, ""}
	}
	if r.ID == t.Author {
		return Decision{true, BasisAuthor, ""}
	}
	for _, g := range grants {
		inForce := g.Revoked == 0 && now < g.Expires
		underLimit := g.MaxReads == 0 || g.Reads < g.MaxReads
		mine := (g.Grantee.Member != "" && g.Grantee.Member == r.ID) ||
			(g.Grantee.Member == "" && g.Grantee.Org != "" && r.Kind == medledger.KindMember && r.Org == g.Grantee.Org)
		covers := g.Scope.All
		for _, c := range g.Scope.Categories {
			covers = covers || c == t.Category
		}
		for _, c := range g.Scope.ResourceTypes {
			covers = covers || c == t.ContentType
		}
		for _, c := range g.Scope.Records {
			covers = covers || c == t.Record
		}
		if inForce && underLimit && mine && covers && g.Patient == t.Patient && g.Purpose == purpose {
			return Decision{true, BasisGrant, g.ID}
		}
	}
	if purpose == PurposeEmergency {
		for _, e := range ems {
			if e.Patient == t.Patient && e.Clinician == r.ID && e.Start <= now && now < e.Expires {
				return Decision{true, BasisBreakGlass, ""}
			}
		}
	}
	return Decision{}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func subset(rng *rand.Rand, xs []string) []string {
	var out []string
	for _, x := range xs {
		if rng.IntN(3) == 0 {
			out = append(out, x)
		}
	}
	return out
}

// TestCanAgainstNaive compares Can with the reference on random worlds:
// random readers, targets, purposes, times, grant sets and emergencies.
func TestCanAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	ids := []medledger.ID{"aaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccccc", "dddddddddddddddddddddddddd"}
	orgs := []string{"org-a", "org-b", ""}
	cats := []string{"lab", "condition", "imaging", "claim"}
	types := []string{"Observation", "Condition", "Claim"}
	recs := []string{"r1", "r2", "r3"}
	purposes := append(slices.Clone(Purposes), "gossip")
	allowed, byBasis := 0, map[string]int{}
	for i := 0; i < 200_000; i++ {
		r := Reader{Principal: medledger.Principal{ID: pick(rng, ids), Kind: pick(rng, []medledger.AccountKind{medledger.KindMember, medledger.KindPatient}),
			Status: pick(rng, []medledger.Status{medledger.StatusActive, medledger.StatusActive, medledger.StatusActive, medledger.StatusSuspended}), Org: pick(rng, orgs)},
			Delegate: rng.IntN(10) == 0}
		tg := Target{Record: pick(rng, recs), Patient: pick(rng, ids), Author: pick(rng, ids), Category: pick(rng, cats), ContentType: pick(rng, types)}
		now := int64(rng.IntN(100))
		var grants []Grant
		for j := rng.IntN(5); j > 0; j-- {
			g := Grant{ID: fmt.Sprintf("%016x", rng.IntN(1000)), Patient: pick(rng, ids), Purpose: pick(rng, Purposes),
				Expires: int64(rng.IntN(100)), Reads: uint32(rng.IntN(3)), MaxReads: uint32(rng.IntN(3))}
			if rng.IntN(2) == 0 {
				g.Grantee.Member = pick(rng, ids)
			} else {
				g.Grantee.Org = pick(rng, orgs[:2])
			}
			switch rng.IntN(4) {
			case 0:
				g.Scope.All = true
			default:
				g.Scope = Scope{Categories: subset(rng, cats), ResourceTypes: subset(rng, types), Records: subset(rng, recs)}
			}
			if rng.IntN(5) == 0 {
				g.Revoked = 1
			}
			grants = append(grants, g)
		}
		slices.SortFunc(grants, func(a, b Grant) int { return compare(a.ID, b.ID) })
		var ems []Emergency
		for j := rng.IntN(3); j > 0; j-- {
			s := int64(rng.IntN(100))
			ems = append(ems, Emergency{Patient: pick(rng, ids), Clinician: pick(rng, ids), Start: s, Expires: s + int64(rng.IntN(50))})
		}
		purpose := pick(rng, purposes)
		got, want := Can(r, tg, purpose, now, grants, ems), naive(r, tg, purpose, now, grants, ems)
		if got != want {
			t.Fatalf("case %d: Can = %+v, reference = %+v\nreader %+v\ntarget %+v purpose %s now %d\ngrants %+v\nemergencies %+v", i, got, want, r, tg, purpose, now, grants, ems)
		}
		if got.Allowed {
			allowed++
			byBasis[got.Basis]++
		}
	}
	// The random worlds must exercise every basis and both answers.
	for _, b := range []string{BasisPatient, BasisDelegate, BasisAuthor, BasisGrant, BasisBreakGlass} {
		if byBasis[b] < 100 {
			t.Errorf("basis %s decided only %d times", b, byBasis[b])
		}
	}
	if allowed < 20_000 || allowed > 180_000 {
		t.Errorf("%d of 200000 allowed: the generator is lopsided", allowed)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

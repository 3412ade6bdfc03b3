package medledger_test

import (
	"testing"

	"medledger"
)

// The codes of error kinds enter consensus (LastResultsHash), so they are
// append-only. This list is the contract: add new kinds at the end, never
// change a line.
var wantKinds = []string{
	"0 ok", "1 internal", "2 malformed", "3 non_canonical", "4 too_large", "5 wrong_chain", "6 unknown_msg",
	"7 bad_signature", "8 bad_nonce", "9 unknown_account", "10 suspended", "11 unauthorized", "12 invalid",
	"13 not_found", "14 exists", "15 expired", "16 duplicate", "17 unavailable", "18 gone", "19 quota", "20 conflict",
}

func TestKindCodesAreStable(t *testing.T) {
	kinds := medledger.Kinds()
	if len(kinds) < len(wantKinds) {
		t.Fatalf("%d kinds, the contract lists %d: kinds may be added, never removed", len(kinds), len(wantKinds))
	}
	for i, want := range wantKinds {
		k := kinds[i]
		if got := itoa(int(k)) + " " + k.String(); got != want {
			t.Errorf("kind %d is %q, the contract says %q", i, got, want)
		}
		if back, ok := medledger.ParseKind(k.String()); !ok || back != k {
			t.Errorf("ParseKind(%q) = %d, %v", k.String(), back, ok)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

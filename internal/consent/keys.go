package consent

import (
	"medledger"
	"medledger/internal/state"
)

// Authenticated keys:
//
//	consent/g/<patient>/<grant id>      Grant
//	consent/e/<patient>/<clinician>     Emergency (the latest declaration)
//
// Index keys:
//
//	consent/x/<grantee>/<patient>/<grant id>  grantee → grants ("m:<id>" or "o:<org>")

// GrantKey is the key of a grant.
func GrantKey(patient medledger.ID, id string) []byte {
	return state.Key("consent", "g", string(patient), id)
}

// GrantsPrefix is the prefix of a patient's grants.
func GrantsPrefix(patient medledger.ID) []byte { return state.Key("consent", "g", string(patient), "") }

// EmergencyKey is the key of a clinician's break-glass for a patient.
func EmergencyKey(patient, clinician medledger.ID) []byte {
	return state.Key("consent", "e", string(patient), string(clinician))
}

// EmergenciesPrefix is the prefix of a patient's break-glass declarations.
func EmergenciesPrefix(patient medledger.ID) []byte {
	return state.Key("consent", "e", string(patient), "")
}

func granteeName(g Grantee) string {
	if g.Member != "" {
		return "m:" + string(g.Member)
	}
	return "o:" + g.Org
}

func granteeIndex(g Grantee, patient medledger.ID, id string) []byte {
	return state.Key("consent", "x", granteeName(g), string(patient), id)
}

// GranteePrefix is the index prefix of the grants a grantee holds.
func GranteePrefix(g Grantee) []byte { return state.Key("consent", "x", granteeName(g), "") }

var indexMark = []byte{1}

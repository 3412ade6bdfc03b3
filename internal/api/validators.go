package api

import (
	"net/http"

	"medledger/internal/identity"
)

// ValidatorList is the validator set as the ledger last committed it. The
// set CometBFT uses at a height is in /v1/status (and the light blocks);
// an update the ledger committed at height H is used from H+2.
type ValidatorList struct {
	Height     int64                `json:"height"`
	Validators []identity.Validator `json:"validators"`
}

func (s *Server) governanceRoutes() []route {
	return []route{
		{Method: "GET", Path: "/v1/validators", ID: "listValidators", Tag: "identity", Summary: "The validator set as committed, with each validator's organisation",
			Responses: map[int]string{200: "Validators in key order."}, Schema: "ValidatorList", handle: (*Server).listValidators},
	}
}

func (s *Server) listValidators(w http.ResponseWriter, r *http.Request) error {
	h := s.state.Version()
	rd, err := s.state.ReaderAt(h)
	if err != nil {
		return err
	}
	vs, err := identity.Validators(rd)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ValidatorList{Height: h, Validators: nonNil(vs)})
}

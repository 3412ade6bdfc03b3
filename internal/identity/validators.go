package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"strings"

	"medledger"
	"medledger/internal/state"
)

// Validators: the consortium authority decides who runs consensus. Each
// validator is an institution's node, named by its CometBFT Ed25519 key.
// The authority adds one, changes its voting power or removes it (power 0)
// with SetValidator; the change is queued under id/vu/ and the ledger hands
// the block's queue to CometBFT as ABCI validator updates at the end of the
// block, which take effect two blocks later.
//
//	id/v/<hex key>   Validator (the current set, as the ledger sees it)
//	id/vu/<hex key>  power: an update queued in the current block

// MaxValidatorPower caps one validator's voting power, far below
// CometBFT's total limit.
const MaxValidatorPower = 1_000_000

// TypeSetValidator is the message type of SetValidator.
const TypeSetValidator = "identity/set_validator"

// Validator is a member of the validator set.
type Validator struct {
	PubKey  []byte `cbor:"1,keyasint" json:"pub_key"`
	Power   int64  `cbor:"2,keyasint" json:"power"`
	Org     string `cbor:"3,keyasint,omitempty" json:"org,omitempty"`
	Updated int64  `cbor:"4,keyasint" json:"updated"`
}

// SetValidator adds a validator, changes its voting power, or removes it
// with Power 0. An authority action: it takes effect at the threshold of
// regulator approvals. With Org set, PubKey must be the organisation's
// registered validator key (recorded on the organisation if it has none
// yet); without Org, PubKey must already be a validator (for example one
// from genesis).
type SetValidator struct {
	PubKey []byte `cbor:"1,keyasint" json:"pub_key"`
	Power  int64  `cbor:"2,keyasint" json:"power"`
	Org    string `cbor:"3,keyasint,omitempty" json:"org,omitempty"`
}

// Type implements Msg.
func (*SetValidator) Type() string { return TypeSetValidator }

// Validate implements Msg.
func (m *SetValidator) Validate() error {
	if len(m.PubKey) != ed25519.PublicKeySize {
		return invalid("validator key must be a %d-byte Ed25519 key", ed25519.PublicKeySize)
	}
	if m.Power < 0 || m.Power > MaxValidatorPower {
		return invalid("power must be between 0 (remove) and %d", MaxValidatorPower)
	}
	if m.Org != "" {
		return medledger.ValidateOrgID(m.Org)
	}
	return nil
}

// ValidatorKey is the key of a validator.
func ValidatorKey(pub []byte) []byte { return state.Key("id", "v", hex.EncodeToString(pub)) }

// ValidatorPrefix is the prefix of every validator key.
func ValidatorPrefix() []byte { return []byte("id/v/") }

func validatorUpdateKey(pub []byte) []byte { return state.Key("id", "vu", hex.EncodeToString(pub)) }

// GetValidator returns the validator with the given key, or nil.
func GetValidator(r state.Reader, pub []byte) (*Validator, error) {
	return state.Load[Validator](r, ValidatorKey(pub))
}

// Validators lists the validator set in key order.
func Validators(r state.Reader) ([]Validator, error) {
	return state.LoadAll[Validator](r, ValidatorPrefix())
}

// InitValidators records the genesis validator set. Genesis validators are
// CometBFT's already: nothing is queued.
func InitValidators(b state.Batch, env medledger.Env, vals []medledger.ValidatorUpdate) error {
	for _, v := range vals {
		if len(v.PubKey) != ed25519.PublicKeySize || v.Power <= 0 {
			return invalid("genesis validator must have an Ed25519 key and a positive power")
		}
		if err := put(b.KV, ValidatorKey(v.PubKey), &Validator{PubKey: v.PubKey, Power: v.Power, Updated: env.Height}); err != nil {
			return err
		}
	}
	return nil
}

// checkSetValidator checks that m can run against r, and returns the
// validator as it will be (nil when it is removed) and the organisation
// whose key it records (nil when none changes).
func checkSetValidator(r state.Reader, m *SetValidator) (*Validator, *Org, error) {
	cur, err := GetValidator(r, m.PubKey)
	if err != nil {
		return nil, nil, err
	}
	var org *Org
	switch {
	case m.Org != "":
		if org, err = GetOrg(r, m.Org); err != nil {
			return nil, nil, err
		}
		if org == nil || org.Status != medledger.StatusActive {
			return nil, nil, medledger.Errorf(medledger.KindNotFound, "organisation %s does not exist or is not active", m.Org)
		}
		if len(org.ValidatorKey) > 0 && !bytes.Equal(org.ValidatorKey, m.PubKey) {
			return nil, nil, invalid("organisation %s registered a different validator key", m.Org)
		}
		if cur != nil && cur.Org != "" && cur.Org != m.Org {
			return nil, nil, invalid("that key is organisation %s's validator", cur.Org)
		}
	case cur == nil:
		return nil, nil, medledger.Errorf(medledger.KindNotFound, "no validator has that key; to add one, name its organisation")
	}
	if m.Power == 0 {
		if cur == nil {
			return nil, nil, medledger.Errorf(medledger.KindNotFound, "that key is not a validator")
		}
		if err := checkNotLast(r, m.PubKey); err != nil {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	next := &Validator{PubKey: m.PubKey, Power: m.Power, Org: m.Org}
	if cur != nil && m.Org == "" {
		next.Org = cur.Org
	}
	if org != nil && len(org.ValidatorKey) > 0 {
		org = nil // already recorded
	}
	return next, org, nil
}

// checkNotLast refuses to remove the only validator left.
func checkNotLast(r state.Reader, pub []byte) error {
	others := 0
	err := r.Iterate(ValidatorPrefix(), state.PrefixEnd(ValidatorPrefix()), func(k, _ []byte) bool {
		if !bytes.Equal(k, ValidatorKey(pub)) {
			others++
		}
		return others == 0
	})
	if err == nil && others == 0 {
		err = medledger.Errorf(medledger.KindInvalid, "cannot remove the last validator: the chain would halt")
	}
	return err
}

func setValidator(b state.Batch, env medledger.Env, m *SetValidator) (medledger.Event, error) {
	next, org, err := checkSetValidator(b.KV, m)
	if err != nil {
		return medledger.Event{}, err
	}
	if org != nil {
		org.ValidatorKey, org.Updated = m.PubKey, env.Height
		if err := put(b.KV, OrgKey(org.ID), org); err != nil {
			return medledger.Event{}, err
		}
	}
	if err := queueValidatorUpdate(b.KV, env, m.PubKey, next); err != nil {
		return medledger.Event{}, err
	}
	action, owner := "removed", m.Org
	if next != nil {
		action, owner = "set", next.Org
	}
	return medledger.NewEvent("identity.validator_"+action, "pub_key", hex.EncodeToString(m.PubKey),
		"power", i64toa(m.Power), "org", owner), nil
}

// queueValidatorUpdate records the validator as it will be (deleting it
// when v is nil) and queues the update for the end of the block.
func queueValidatorUpdate(w state.ReadWriter, env medledger.Env, pub []byte, v *Validator) error {
	power := int64(0)
	if v == nil {
		if err := w.Delete(ValidatorKey(pub)); err != nil {
			return err
		}
	} else {
		v.Updated = env.Height
		if err := put(w, ValidatorKey(pub), v); err != nil {
			return err
		}
		power = v.Power
	}
	return w.Set(validatorUpdateKey(pub), []byte(i64toa(power)))
}

// removeOrgValidator takes a removed organisation's validator out of the
// set.
func removeOrgValidator(w state.ReadWriter, env medledger.Env, org *Org) error {
	if len(org.ValidatorKey) == 0 {
		return nil
	}
	v, err := GetValidator(w, org.ValidatorKey)
	if err != nil || v == nil {
		return err
	}
	return queueValidatorUpdate(w, env, org.ValidatorKey, nil)
}

// TakeValidatorUpdates returns the validator updates queued in the current
// block, in key order, and clears the queue. The ledger calls it at the end
// of every block.
func TakeValidatorUpdates(w state.ReadWriter) ([]medledger.ValidatorUpdate, error) {
	prefix := []byte("id/vu/")
	var keys [][]byte
	var out []medledger.ValidatorUpdate
	var perr error
	err := w.Iterate(prefix, state.PrefixEnd(prefix), func(k, v []byte) bool {
		pub, err := hex.DecodeString(strings.TrimPrefix(string(k), string(prefix)))
		power, err2 := parseInt64(v)
		if perr = firstErr(err, err2); perr != nil {
			return false
		}
		keys = append(keys, bytes.Clone(k))
		out = append(out, medledger.ValidatorUpdate{PubKey: pub, Power: power})
		return true
	})
	if err = firstErr(err, perr); err != nil {
		return nil, medledger.Errorf(medledger.KindInternal, "validator update queue: %v", err)
	}
	for _, k := range keys {
		if err := w.Delete(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseInt64(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

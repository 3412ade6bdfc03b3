package records

import (
	"strings"

	"medledger"
)

// Message types of the records module.
const (
	TypeAnchor = "records/anchor"
	TypeErase  = "records/erase"
)

// Categories a record may have (see internal/fhir).
var Categories = []string{"lab", "vital-signs", "observation", "condition", "medication", "immunization", "encounter",
	"procedure", "allergy", "care-plan", "claim", "imaging", "document", "device", "demographics", "provenance", "other"}

// Msg is a decoded records message.
type Msg interface {
	Type() string
	Validate() error
}

// Anchor anchors a record version: version 1 creates the record, version
// n+1 amends it.
type Anchor struct {
	Record      string           `cbor:"1,keyasint" json:"record"`
	Version     uint32           `cbor:"2,keyasint" json:"version"`
	Patient     medledger.ID     `cbor:"3,keyasint" json:"patient"`
	Blob        medledger.BlobID `cbor:"4,keyasint" json:"blob"`
	Size        int64            `cbor:"5,keyasint" json:"size"`
	ContentType string           `cbor:"6,keyasint" json:"content_type"` // FHIR resource type or media type
	Category    string           `cbor:"7,keyasint" json:"category"`
}

// Erase asks for a record's erasure. The signer is the patient or a
// delegate.
type Erase struct {
	Record string `cbor:"1,keyasint" json:"record"`
}

func (*Anchor) Type() string { return TypeAnchor }
func (*Erase) Type() string  { return TypeErase }

func invalid(format string, args ...any) error {
	return medledger.Errorf(medledger.KindInvalid, format, args...)
}

// ValidRecordID reports whether s is 32 lowercase hex characters.
func ValidRecordID(s string) error {
	if len(s) != 32 {
		return invalid("record id must be 32 hex characters")
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return invalid("record id must be lowercase hex")
		}
	}
	return nil
}

// MaxSize is the largest blob an anchor may name (a large imaging study).
const MaxSize = 4 << 30

// Validate implements Msg.
func (m *Anchor) Validate() error {
	if err := ValidRecordID(m.Record); err != nil {
		return err
	}
	if err := m.Patient.Validate(); err != nil {
		return err
	}
	if m.Version < 1 {
		return invalid("versions start at 1")
	}
	if m.Version == 1 && m.Record != IDFor(m.Blob) {
		return invalid("a new record's id is the first 32 hex characters of its first blob id")
	}
	if m.Blob.IsZero() || m.Size <= 0 || m.Size > MaxSize {
		return invalid("an anchor needs a blob id and a size between 1 byte and %d", int64(MaxSize))
	}
	if m.ContentType == "" || len(m.ContentType) > 100 || strings.ContainsAny(m.ContentType, " \t\n") {
		return invalid("content type must be a FHIR resource type or a media type")
	}
	for _, c := range Categories {
		if c == m.Category {
			return nil
		}
	}
	return invalid("category must be one of %s", strings.Join(Categories, ", "))
}

// Validate implements Msg.
func (m *Erase) Validate() error { return ValidRecordID(m.Record) }

// Decode decodes and validates a records message.
func Decode(msgType string, b []byte) (Msg, error) {
	var m Msg
	switch msgType {
	case TypeAnchor:
		m = new(Anchor)
	case TypeErase:
		m = new(Erase)
	default:
		return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown message type %q", msgType)
	}
	if err := medledger.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, m.Validate()
}

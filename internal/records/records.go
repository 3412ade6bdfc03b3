// Package records is the records module: anchors of record versions (the
// hash of the ciphertext, never the content), amendments as new versions,
// and erasure markers.
//
// A record's ID is the first 32 hex characters of the blob ID of its first
// version, so IDs are unique and need no coordination. A record is never
// edited in place: an amendment is version n+1, superseding n, by a member
// of the organisation that authored the record (or, for a self-reported
// record, by the patient or a delegate). Erasure marks the record erased;
// every node then deletes the ciphertext and the wraps of every version
// (crypto-shredding), and the chain keeps only hashes pointing at nothing.
package records

import (
	"errors"

	"medledger"
	"medledger/internal/state"
)

// Record is the head of a record: what all its versions share, and the
// latest version.
type Record struct {
	ID           string       `cbor:"1,keyasint" json:"id"`
	Patient      medledger.ID `cbor:"2,keyasint" json:"patient"`
	Author       medledger.ID `cbor:"3,keyasint" json:"author"`
	AuthorOrg    string       `cbor:"4,keyasint,omitempty" json:"author_org,omitempty"`
	SelfReported bool         `cbor:"5,keyasint,omitempty" json:"self_reported,omitempty"`
	Category     string       `cbor:"6,keyasint" json:"category"`
	ContentType  string       `cbor:"7,keyasint" json:"content_type"`
	Latest       uint32       `cbor:"8,keyasint" json:"latest"`
	Created      int64        `cbor:"9,keyasint" json:"created"`
	Erased       int64        `cbor:"10,keyasint,omitempty" json:"erased,omitempty"` // height of erasure
}

// Version is one anchored version.
type Version struct {
	Record     string           `cbor:"1,keyasint" json:"record"`
	Version    uint32           `cbor:"2,keyasint" json:"version"`
	Blob       medledger.BlobID `cbor:"3,keyasint" json:"blob"`
	Size       int64            `cbor:"4,keyasint" json:"size"`
	Author     medledger.ID     `cbor:"5,keyasint" json:"author"`
	AuthorOrg  string           `cbor:"6,keyasint,omitempty" json:"author_org,omitempty"`
	Supersedes uint32           `cbor:"7,keyasint,omitempty" json:"supersedes,omitempty"`
	Height     int64            `cbor:"8,keyasint" json:"height"`
	Time       int64            `cbor:"9,keyasint" json:"time"`
}

// IDFor returns the record ID a first version with this blob gets.
func IDFor(blob medledger.BlobID) string { return blob.String()[:32] }

// Authenticated keys:
//
//	rec/r/<record>              Record
//	rec/v/<record>/<version>    Version (version as 10 zero-padded digits)
//
// Index keys:
//
//	rec/p/<patient>/<record>    patient → records
//	rec/b/<blob id>             blob → record (what garbage collection keeps)

// RecordKey is the key of a record head.
func RecordKey(id string) []byte { return state.Key("rec", "r", id) }

// VersionKey is the key of a version.
func VersionKey(id string, v uint32) []byte { return state.Key("rec", "v", id, pad(uint64(v), 10)) }

// VersionsPrefix is the prefix of a record's versions.
func VersionsPrefix(id string) []byte { return state.Key("rec", "v", id, "") }

func patientIndex(p medledger.ID, id string) []byte { return state.Key("rec", "p", string(p), id) }

func blobIndex(b medledger.BlobID) []byte { return state.Key("rec", "b", b.String()) }

// BlobReferenced reports, from the index, whether an anchor names blob.
func BlobReferenced(index state.Reader, b medledger.BlobID) (bool, error) {
	v, err := index.Get(blobIndex(b))
	return v != nil, err
}

// PatientPrefix is the index prefix of a patient's records.
func PatientPrefix(p medledger.ID) []byte { return state.Key("rec", "p", string(p), "") }

func pad(n uint64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

// GetRecord returns a record head, or nil.
func GetRecord(r state.Reader, id string) (*Record, error) {
	return state.Load[Record](r, RecordKey(id))
}

// GetVersion returns a version, or nil.
func GetVersion(r state.Reader, id string, v uint32) (*Version, error) {
	return state.Load[Version](r, VersionKey(id, v))
}

// Versions returns every version of a record, oldest first.
func Versions(r state.Reader, id string) ([]Version, error) {
	return state.LoadAll[Version](r, VersionsPrefix(id))
}

// PatientRecords lists a patient's record IDs from the index.
func PatientRecords(index state.Reader, p medledger.ID) ([]string, error) {
	var out []string
	prefix := PatientPrefix(p)
	err := index.Iterate(prefix, state.PrefixEnd(prefix), func(k, _ []byte) bool {
		out = append(out, string(k[len(prefix):]))
		return true
	})
	return out, err
}

// RebuildIndex recomputes the patient → records index.
func RebuildIndex(r state.Reader, index state.ReadWriter) error {
	prefix := []byte("rec/r/")
	var err error
	iterErr := r.Iterate(prefix, state.PrefixEnd(prefix), func(_, v []byte) bool {
		var x Record
		if err = medledger.UnmarshalTrusted(v, &x); err == nil {
			err = index.Set(patientIndex(x.Patient, x.ID), []byte{1})
		}
		return err == nil
	})
	if iterErr != nil || err != nil {
		return errors.Join(iterErr, err)
	}
	prefix = []byte("rec/v/")
	iterErr = r.Iterate(prefix, state.PrefixEnd(prefix), func(_, v []byte) bool {
		var x Version
		if err = medledger.UnmarshalTrusted(v, &x); err == nil {
			err = index.Set(blobIndex(x.Blob), []byte(x.Record))
		}
		return err == nil
	})
	return errors.Join(iterErr, err)
}

// View is a record as the API shows it to a reader: the head, every
// version, and the basis on which the reader may read it.
type View struct {
	Record   *Record   `json:"record"`
	Versions []Version `json:"versions"`
	Basis    string    `json:"basis"`
}

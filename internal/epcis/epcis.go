// Package epcis converts between EPCIS 2.0 JSON-LD documents and the supply
// module: Import turns the events of an EPCISDocument into supply messages,
// ready to be signed and submitted; Export turns supply event records back
// into an EPCISDocument that validates against the GS1 EPCIS 2.0 JSON
// Schema.
//
// Import is strict. Anything it cannot map faithfully is an error that
// names the JSON path of the offending value (a *PathError), never a
// silent drop: malformed JSON, a value of the wrong type, a missing
// required field, an unknown event type, an identifier that is not an
// SGTIN or SSCC URN, a bad time. Class-level quantities (quantityList,
// childQuantityList) are refused except on a recall, because medledger
// tracks serialized items only and would otherwise record a part of the
// event as if it were the whole. What medledger does not keep but that
// does not change which items an event is about is read over: bizLocation,
// sensorElementList, persistentDisposition, certificationInfo, sourceList
// and extension fields other than medledger's own.
//
// Import does not authorise anything. It maps; the state machine decides
// whether the signer may do what a message asks.
//
// Mapping of EPCIS events to messages:
//
//	ObjectEvent ADD commissioning              Commission (one per 10,000 serials)
//	ObjectEvent OBSERVE shipping               Ship (Return when disposition is returned)
//	ObjectEvent OBSERVE receiving              Receive
//	ObjectEvent OBSERVE dispensing             Dispense, one per EPC
//	ObjectEvent DELETE/OBSERVE decommissioning Decommission (reason from the disposition)
//	ObjectEvent DELETE/OBSERVE destroying      Decommission destroyed
//	ObjectEvent DELETE/OBSERVE sampling        Decommission sample
//	ObjectEvent, disposition recalled          Recall, one per LGTIN in quantityList
//	ObjectEvent OBSERVE, any other bizStep     Observe (bizStep "other" unless medledger knows it)
//	AggregationEvent ADD                       Aggregate
//	AggregationEvent DELETE                    Disaggregate (no childEPCs: all)
//	AggregationEvent OBSERVE                   Observe of the parent and children
//	TransactionEvent ADD/OBSERVE               Observe with Transaction set
//	TransactionEvent DELETE, AssociationEvent, TransformationEvent: refused
//
// A shipment is named, on shipping and on receiving alike, by the first
// business transaction of type desadv, else bol, else po: its identifier
// when that is a valid shipment reference (supply.ValidateRef), else
// "B-" and 16 hex digits of the SHA-256 of the identifier, so that the two
// ends of a shipment that cite the same document still meet. With no such
// transaction the shipment is "E-" and 16 hex digits of the SHA-256 of
// the eventID. A document exported by this package names the shipment
// exactly, with a desadv transaction "urn:medledger:shipment:<id>".
//
// medledger's own extension fields live in the namespace
// "urn:medledger:epcis:" (prefix "medledger" in exported documents):
// reason (a recall's reason) and prescription (a dispense's prescription
// commitment). Import finds them under whatever prefix a document's
// @context gives the namespace, or under the full IRI.
package epcis

import (
	"strconv"
	"strings"

	"medledger/internal/supply"
)

// Limits on what Import accepts.
const (
	// MaxDocumentSize is the largest document Import reads, in bytes.
	MaxDocumentSize = 8 << 20
	// MaxEvents is the most events one document may hold.
	MaxEvents = 10000
	// maxDepth bounds how deeply JSON values may nest.
	maxDepth = 64
)

// ContextURL is the EPCIS 2.0 JSON-LD context that exported documents use.
const ContextURL = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"

// Namespace is the IRI prefix of medledger's extension fields.
const Namespace = "urn:medledger:epcis:"

// Identifiers medledger mints in EPCIS documents.
const (
	orgURN      = "urn:medledger:org:"      // + organisation ID: a source or destination party
	eventURN    = "urn:medledger:event:"    // + event number: the eventID of an event without one
	shipmentURN = "urn:medledger:shipment:" // + shipment ID: a desadv naming the shipment
	bizTxURN    = "urn:medledger:biztx:"    // + escaped ID: a business transaction ID that is not a URI
	bizTxType   = "urn:medledger:btt:"      // + escaped type: a business transaction type that is not a URI
)

// ImportOptions say how Import resolves what a document refers to.
type ImportOptions struct {
	// Parties maps party identifiers used in sourceList/destinationList (PGLN/SGLN URNs,
	// Digital Link https://id.gs1.org/417/<GLN>) to medledger organisation IDs.
	// "urn:medledger:org:<org-id>" always resolves to <org-id> without a mapping.
	// A PGLN URN, an SGLN URN without extension ("0") and a Digital Link
	// with AI 417 or 414 all name a GLN; a key in one of those forms also
	// matches the others that name the same GLN.
	Parties map[string]string
}

// Step is one message Import derived from an event.
type Step struct {
	Path string     // JSON path of the event, e.g. "epcisBody.eventList[3]"
	Msg  supply.Msg // the message to submit, already Validate()d
}

// PathError is an Import error at a place in the document.
type PathError struct {
	Path    string // JSON path, e.g. "epcisBody.eventList[2].epcList[0]"; "$" for the document as a whole
	Problem string
}

func (e *PathError) Error() string { return "epcis: " + e.Path + ": " + e.Problem }

// ExportOptions say how Export writes a document.
type ExportOptions struct {
	CreationTime int64 // Unix seconds, for creationDate
	// Focus, if set (an EPC URN), makes the class-level commission events
	// that created it list just this EPC. An event that commissioned a
	// range of serials is checked against the range; one that
	// commissioned a list does not keep the serials, so Focus is taken to
	// be among them if its GTIN matches: export the focus's own trail.
	Focus string
	// PrefixLen returns the GS1 company-prefix length of a GTIN (the
	// product's), which an LGTIN class URN needs. Nil, or a result of 0,
	// means 7.
	PrefixLen func(gtin string) int
}

// CBV vocabularies: each term may be written bare ("shipping"), as a CBV
// URN (urn:epcglobal:cbv:bizstep:shipping) or as a GS1 Web URI
// (https://ref.gs1.org/cbv/BizStep-shipping).
type vocabulary struct{ urn, web string }

var (
	bizStepVocab     = vocabulary{"urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"}
	dispositionVocab = vocabulary{"urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"}
	bizTxTypeVocab   = vocabulary{"urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"}
	sourceDestVocab  = vocabulary{"urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"}
)

// term returns the bare CBV term of s, or s itself if it is not written in
// one of the vocabulary's CBV forms.
func (v vocabulary) term(s string) string {
	for _, p := range []string{v.urn, v.web, "http" + strings.TrimPrefix(v.web, "https")} {
		if t, ok := strings.CutPrefix(s, p); ok && t != "" {
			return t
		}
	}
	return s
}

// cbvBizTxTypes are the CBV business transaction types, written bare.
var cbvBizTxTypes = []string{"bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma", "testprd", "testres", "upevt"}

// absoluteURI reports whether s is an absolute URI as RFC 3986 writes one:
// a scheme, a colon, and then only URI characters and %XX escapes.
func absoluteURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 {
		return false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	for i := colon + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return false
			}
			i += 2
		case unreserved(c) || strings.IndexByte(":/?#[]@!$&'()*+,;=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// escape percent-encodes every byte of s but the unreserved characters, so
// that any string can follow a URN prefix.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// unescape reverses escape; it reports false on a bad escape.
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", false
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	return b.String(), true
}

// index formats a JSON path element for an array index.
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// member formats a JSON path element for an object member: ".name" when
// the name is plain (letters, digits, _ - : @ $), else `["name"]`.
func member(path, name string) string {
	plain := name != ""
	for i := 0; i < len(name) && plain; i++ {
		c := name[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':' || c == '@' || c == '$'
	}
	switch {
	case !plain:
		if path == "" {
			path = "$"
		}
		return path + "[" + strconv.Quote(name) + "]"
	case path == "":
		return name
	}
	return path + "." + name
}

// Package supply is the pharmaceutical supply-chain module: GS1 products,
// serialized units, cases and pallets, EPCIS-shaped custody events,
// recalls, cold chain, and the data that lets anyone verify a pack.
//
// The model follows GS1 (GTIN, SGTIN, SSCC, GLN, the CBV vocabulary) and
// the US DSCSA: a licensed manufacturer registers a product under a GTIN
// it owns and commissions serialized units in lots; units are packed into
// cases and pallets (SSCC) so that moving a pallet moves everything in it;
// shipping is two-party (the sender ships to a named organisation, which
// acknowledges receipt and records discrepancies); a pharmacy dispenses; a
// custodian decommissions (destroyed, stolen, sample, expired, damaged);
// the manufacturer or a regulator recalls a lot.
//
// Efficiency. One commission tx may carry thousands of serials (a list, or
// a numeric range written compactly). Each unit is one small authenticated
// key, so a unit's state is proven by one ICS-23 path however large its
// lot. Everything that applies to many units at once is written once and
// found by walking up: custody and transit live on the top-level container
// (shipping a pallet of 5,000 packs writes the pallet), a recall lives on
// the lot, a temperature excursion on the shipment. A unit's custody trail
// is the list of event records that touched it or, while it was inside
// them, its containers.
//
// Cold chain. Registered devices sign batches of temperature readings with
// their own Ed25519 keys. Readings are not stored: each batch is a tx (so
// it is provable by inclusion), and the shipment keeps a per-device summary
// and its excursions (start, end, duration, peak). Any unit whose trail
// passes through a shipment with an excursion is flagged.
//
// Every state change is recorded as an EPCIS-shaped event (ObjectEvent,
// AggregationEvent or TransactionEvent, with a CBV bizStep and
// disposition), exported as EPCIS 2.0 JSON-LD by internal/epcis.
package supply

import (
	"medledger"
)

// Product is a trade item registered under its GTIN.
type Product struct {
	GTIN          string `cbor:"1,keyasint" json:"gtin"`           // 14 digits
	CompanyPrefix string `cbor:"2,keyasint" json:"company_prefix"` // the GS1 company prefix inside the GTIN
	Owner         string `cbor:"3,keyasint" json:"owner"`          // the organisation that owns the GTIN
	Name          string `cbor:"4,keyasint" json:"name"`
	NationalCode  string `cbor:"5,keyasint,omitempty" json:"national_code,omitempty"` // NDC or another national code
	Strength      string `cbor:"6,keyasint,omitempty" json:"strength,omitempty"`
	Form          string `cbor:"7,keyasint,omitempty" json:"form,omitempty"`
	TempMin       int32  `cbor:"8,keyasint" json:"temp_min"` // storage range, hundredths of a degree Celsius
	TempMax       int32  `cbor:"9,keyasint" json:"temp_max"`
	ShelfLifeDays uint32 `cbor:"10,keyasint" json:"shelf_life_days"`
	Registered    int64  `cbor:"11,keyasint" json:"registered"`                      // height
	OwnerSince    int64  `cbor:"12,keyasint,omitempty" json:"owner_since,omitempty"` // height of the last transfer
	PreviousOwner string `cbor:"13,keyasint,omitempty" json:"previous_owner,omitempty"`
}

// Lot is a production lot (batch) of a product.
type Lot struct {
	GTIN         string      `cbor:"1,keyasint" json:"gtin"`
	Lot          string      `cbor:"2,keyasint" json:"lot"`
	Expiry       string      `cbor:"3,keyasint" json:"expiry"`       // ISO date
	Commissioner string      `cbor:"4,keyasint" json:"commissioner"` // the organisation that commissioned it (the GTIN's owner then)
	Count        uint64      `cbor:"5,keyasint" json:"count"`        // units commissioned
	Created      int64       `cbor:"6,keyasint" json:"created"`      // height
	Recall       *RecallInfo `cbor:"7,keyasint,omitempty" json:"recall,omitempty"`
}

// RecallInfo is a lot's recall.
type RecallInfo struct {
	Reason string       `cbor:"1,keyasint" json:"reason"`
	Class  string       `cbor:"2,keyasint,omitempty" json:"class,omitempty"` // I, II or III
	By     medledger.ID `cbor:"3,keyasint" json:"by"`
	ByOrg  string       `cbor:"4,keyasint,omitempty" json:"by_org,omitempty"`
	Height int64        `cbor:"5,keyasint" json:"height"`
	Time   int64        `cbor:"6,keyasint" json:"time"`
	Event  uint64       `cbor:"7,keyasint" json:"event"`
}

// Item statuses. An item with no terminal status is active; whether it is
// in transit is given by Shipment on its top-level container.
const (
	StatusActive         = ""
	StatusDispensed      = "dispensed"
	StatusDecommissioned = "decommissioned"
	StatusMissing        = "missing" // shipped, and not received
)

// Decommission reasons and the CBV disposition each records.
var decommissionReasons = []struct{ Reason, BizStep, Disposition string }{
	{"destroyed", "destroying", "destroyed"},
	{"stolen", "decommissioning", "stolen"},
	{"sample", "sampling", "non_sellable_other"},
	{"expired", "decommissioning", "expired"},
	{"damaged", "decommissioning", "damaged"},
}

// DecommissionReasons lists the reasons a unit may be decommissioned for.
func DecommissionReasons() []string {
	out := make([]string, len(decommissionReasons))
	for i, r := range decommissionReasons {
		out[i] = r.Reason
	}
	return out
}

// Item is a serialized unit (key "01"+GTIN+"21"+serial) or a logistic unit
// such as a case or pallet (key "00"+SSCC). Custodian and Shipment are
// meaningful only on a top-level item (no Parent): an item inside a
// container is where its container is.
type Item struct {
	Lot           string     `cbor:"1,keyasint,omitempty" json:"lot,omitempty"` // units only
	Status        string     `cbor:"2,keyasint,omitempty" json:"status,omitempty"`
	Reason        string     `cbor:"3,keyasint,omitempty" json:"reason,omitempty"` // why decommissioned
	Custodian     string     `cbor:"4,keyasint,omitempty" json:"custodian,omitempty"`
	Parent        string     `cbor:"5,keyasint,omitempty" json:"parent,omitempty"`   // container key
	Joined        uint64     `cbor:"6,keyasint,omitempty" json:"joined,omitempty"`   // the event that put it in Parent
	Shipment      string     `cbor:"7,keyasint,omitempty" json:"shipment,omitempty"` // in transit in this shipment
	PrevCustodian string     `cbor:"8,keyasint,omitempty" json:"prev_custodian,omitempty"`
	Events        []uint64   `cbor:"9,keyasint,omitempty" json:"events,omitempty"`
	Sightings     []Sighting `cbor:"10,keyasint,omitempty" json:"sightings,omitempty"` // since the last custody change
	Children      []string   `cbor:"11,keyasint,omitempty" json:"children,omitempty"`  // containers only
	PrefixLen     uint8      `cbor:"12,keyasint,omitempty" json:"prefix_len,omitempty"`
	Ranged        bool       `cbor:"13,keyasint,omitempty" json:"ranged,omitempty"` // TempMin/Max apply (containers)
	TempMin       int32      `cbor:"14,keyasint,omitempty" json:"temp_min,omitempty"`
	TempMax       int32      `cbor:"15,keyasint,omitempty" json:"temp_max,omitempty"`
	Returned      bool       `cbor:"16,keyasint,omitempty" json:"returned,omitempty"`
}

// Sighting is an observation of an item by an organisation.
type Sighting struct {
	Org       string `cbor:"1,keyasint" json:"org"`
	Custodian bool   `cbor:"2,keyasint,omitempty" json:"custodian,omitempty"` // the observer held custody
	Event     uint64 `cbor:"3,keyasint" json:"event"`
	Height    int64  `cbor:"4,keyasint" json:"height"`
}

// Shipment statuses.
const (
	ShipmentInTransit     = "in_transit"
	ShipmentReceived      = "received"
	ShipmentDiscrepancies = "received_with_discrepancies"
)

// Shipment is a two-party transfer of custody.
type Shipment struct {
	ID         string           `cbor:"1,keyasint" json:"id"`
	From       string           `cbor:"2,keyasint" json:"from"`
	To         string           `cbor:"3,keyasint" json:"to"`
	Items      []string         `cbor:"4,keyasint" json:"items"` // top-level item keys
	Status     string           `cbor:"5,keyasint" json:"status"`
	Return     bool             `cbor:"6,keyasint,omitempty" json:"return,omitempty"`
	Sent       int64            `cbor:"7,keyasint" json:"sent"` // height
	SentTime   int64            `cbor:"8,keyasint" json:"sent_time"`
	Received   int64            `cbor:"9,keyasint,omitempty" json:"received,omitempty"`
	Missing    []string         `cbor:"10,keyasint,omitempty" json:"missing,omitempty"`    // shipped, not received
	Unexpected []string         `cbor:"11,keyasint,omitempty" json:"unexpected,omitempty"` // received, not shipped
	Ranged     bool             `cbor:"12,keyasint,omitempty" json:"ranged,omitempty"`
	TempMin    int32            `cbor:"13,keyasint,omitempty" json:"temp_min,omitempty"`
	TempMax    int32            `cbor:"14,keyasint,omitempty" json:"temp_max,omitempty"`
	Devices    []DeviceLog      `cbor:"15,keyasint,omitempty" json:"devices,omitempty"`
	Excursions []Excursion      `cbor:"16,keyasint,omitempty" json:"excursions,omitempty"`
	Events     []uint64         `cbor:"17,keyasint,omitempty" json:"events,omitempty"`
	BizTx      []BizTransaction `cbor:"18,keyasint,omitempty" json:"biz_transactions,omitempty"`
}

// DeviceLog is what a shipment keeps of one device's readings.
type DeviceLog struct {
	Device   string `cbor:"1,keyasint" json:"device"`
	Count    uint64 `cbor:"2,keyasint" json:"count"`
	Min      int32  `cbor:"3,keyasint" json:"min"`
	Max      int32  `cbor:"4,keyasint" json:"max"`
	First    int64  `cbor:"5,keyasint,omitempty" json:"first,omitempty"` // time of the first reading
	Last     int64  `cbor:"6,keyasint,omitempty" json:"last,omitempty"`  // time of the last reading
	Detached bool   `cbor:"7,keyasint,omitempty" json:"detached,omitempty"`
	// Open is the index+1 in Excursions of the excursion still under way
	// for this device, or 0.
	Open uint32 `cbor:"8,keyasint,omitempty" json:"open,omitempty"`
}

// Excursion is a run of readings outside the shipment's range: from the
// first reading out of range to the first reading back in it (or the last
// reading so far, while Open).
type Excursion struct {
	Device   string `cbor:"1,keyasint" json:"device"`
	Start    int64  `cbor:"2,keyasint" json:"start"` // Unix seconds
	End      int64  `cbor:"3,keyasint" json:"end"`
	Duration int64  `cbor:"4,keyasint" json:"duration_seconds"`
	Peak     int32  `cbor:"5,keyasint" json:"peak"` // the reading furthest outside the range, hundredths of °C
	Readings uint32 `cbor:"6,keyasint" json:"readings"`
	Open     bool   `cbor:"7,keyasint,omitempty" json:"open,omitempty"`
	Height   int64  `cbor:"8,keyasint" json:"height"` // height of the batch that began it
}

// Device is a registered IoT sensor.
type Device struct {
	ID         string `cbor:"1,keyasint" json:"id"`
	Org        string `cbor:"2,keyasint" json:"org"`
	Key        []byte `cbor:"3,keyasint" json:"key"` // Ed25519 public key
	Model      string `cbor:"4,keyasint,omitempty" json:"model,omitempty"`
	Shipment   string `cbor:"5,keyasint,omitempty" json:"shipment,omitempty"` // attached to
	Seq        uint64 `cbor:"6,keyasint,omitempty" json:"seq,omitempty"`      // last batch accepted
	LastTime   int64  `cbor:"7,keyasint,omitempty" json:"last_time,omitempty"`
	Registered int64  `cbor:"8,keyasint" json:"registered"`
}

// EPCIS event types.
const (
	ObjectEvent      = "ObjectEvent"
	AggregationEvent = "AggregationEvent"
	TransactionEvent = "TransactionEvent"
)

// EPCIS actions.
const (
	ActionAdd     = "ADD"
	ActionObserve = "OBSERVE"
	ActionDelete  = "DELETE"
)

// BizTransaction is an EPCIS business transaction reference (a purchase
// order, despatch advice, invoice).
type BizTransaction struct {
	Type string `cbor:"1,keyasint,omitempty" json:"type,omitempty"` // CBV type: po, desadv, inv, ...
	ID   string `cbor:"2,keyasint" json:"id"`
}

// Event is the EPCIS-shaped record of one state change. EPCs are EPC URNs.
type Event struct {
	ID          uint64           `cbor:"1,keyasint" json:"id"`
	Type        string           `cbor:"2,keyasint" json:"type"`
	Action      string           `cbor:"3,keyasint" json:"action"`
	BizStep     string           `cbor:"4,keyasint" json:"biz_step"`
	Disposition string           `cbor:"5,keyasint,omitempty" json:"disposition,omitempty"`
	EPCs        []string         `cbor:"6,keyasint,omitempty" json:"epcs,omitempty"`
	Parent      string           `cbor:"7,keyasint,omitempty" json:"parent,omitempty"`
	GTIN        string           `cbor:"8,keyasint,omitempty" json:"gtin,omitempty"` // class-level events (commission, recall)
	Lot         string           `cbor:"9,keyasint,omitempty" json:"lot,omitempty"`
	Quantity    uint64           `cbor:"10,keyasint,omitempty" json:"quantity,omitempty"`
	Expiry      string           `cbor:"11,keyasint,omitempty" json:"expiry,omitempty"`
	Org         string           `cbor:"12,keyasint,omitempty" json:"org,omitempty"`
	Signer      medledger.ID     `cbor:"13,keyasint" json:"signer"`
	Source      string           `cbor:"14,keyasint,omitempty" json:"source,omitempty"` // organisation
	Dest        string           `cbor:"15,keyasint,omitempty" json:"dest,omitempty"`
	Shipment    string           `cbor:"16,keyasint,omitempty" json:"shipment,omitempty"`
	BizTx       []BizTransaction `cbor:"17,keyasint,omitempty" json:"biz_transactions,omitempty"`
	ReadPoint   string           `cbor:"18,keyasint,omitempty" json:"read_point,omitempty"` // GLN
	EventTime   int64            `cbor:"19,keyasint" json:"event_time"`                     // when it happened (Unix s)
	Height      int64            `cbor:"20,keyasint" json:"height"`
	Time        int64            `cbor:"21,keyasint" json:"record_time"` // block time
	Reason      string           `cbor:"22,keyasint,omitempty" json:"reason,omitempty"`
	Rx          string           `cbor:"23,keyasint,omitempty" json:"prescription,omitempty"` // commitment to a prescription record
	EPCISID     string           `cbor:"24,keyasint,omitempty" json:"epcis_event_id,omitempty"`
	Serials     *SerialRange     `cbor:"25,keyasint,omitempty" json:"serial_range,omitempty"` // commission by range
}

package supply

import (
	"slices"
	"strings"

	"medledger"
	"medledger/gs1"
	"medledger/internal/state"
)

// GetProduct returns a product, or nil.
func GetProduct(r state.Reader, gtin string) (*Product, error) {
	return state.Load[Product](r, ProductKey(gtin))
}

// GetLot returns a lot, or nil.
func GetLot(r state.Reader, gtin, lot string) (*Lot, error) {
	return state.Load[Lot](r, LotKey(gtin, lot))
}

// GetItem returns a unit or container by item key, or nil.
func GetItem(r state.Reader, key string) (*Item, error) { return state.Load[Item](r, ItemKey(key)) }

// GetShipment returns a shipment, or nil.
func GetShipment(r state.Reader, id string) (*Shipment, error) {
	return state.Load[Shipment](r, ShipmentKey(id))
}

// GetDevice returns a device, or nil.
func GetDevice(r state.Reader, id string) (*Device, error) {
	return state.Load[Device](r, DeviceKey(id))
}

// GetEvent returns an event record, or nil.
func GetEvent(r state.Reader, id uint64) (*Event, error) { return state.Load[Event](r, EventKey(id)) }

// ListProducts returns every product in GTIN order.
func ListProducts(r state.Reader) ([]Product, error) {
	return state.LoadAll[Product](r, ProductPrefix())
}

// ListLots returns a product's lots in lot order.
func ListLots(r state.Reader, gtin string) ([]Lot, error) {
	return state.LoadAll[Lot](r, LotPrefix(gtin))
}

// OwnedProducts lists the GTINs an organisation owns, from the index.
func OwnedProducts(index state.Reader, org string) ([]string, error) {
	var out []string
	prefix := OwnedPrefix(org)
	err := index.Iterate(prefix, state.PrefixEnd(prefix), func(k, _ []byte) bool {
		out = append(out, string(k[len(prefix):]))
		return true
	})
	return out, err
}

// RebuildIndex recomputes the organisation → products index.
func RebuildIndex(r state.Reader, index state.ReadWriter) error {
	ps, err := ListProducts(r)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := index.Set(ownedIndex(p.Owner, p.GTIN), []byte{1}); err != nil {
			return err
		}
	}
	return nil
}

// ItemURN formats an item key as its EPC URN ("" if the item or its
// product is unknown).
func ItemURN(r state.Reader, key string) (string, error) { return itemURN(r, key, nil) }

// trailIDs returns the IDs of the events in an item's custody trail: its
// own and its containers' since it entered them, in order.
func trailIDs(r state.Reader, it *Item) ([]uint64, error) {
	inh, err := inherited(r, it)
	if err != nil {
		return nil, err
	}
	return mergeIDs(it.Events, inh), nil
}

// ShipmentExcursion is an excursion and the shipment it happened in.
type ShipmentExcursion struct {
	Shipment string `json:"shipment"`
	TempMin  int32  `json:"temp_min"`
	TempMax  int32  `json:"temp_max"`
	Excursion
}

// excursions returns the temperature excursions of every shipment in an
// item's trail.
func excursions(r state.Reader, it *Item) ([]ShipmentExcursion, error) {
	ids, err := trailIDs(r, it)
	if err != nil {
		return nil, err
	}
	var out []ShipmentExcursion
	var seen []string
	for _, id := range ids {
		e, err := GetEvent(r, id)
		if err != nil {
			return nil, err
		}
		if e == nil || e.Shipment == "" || slices.Contains(seen, e.Shipment) {
			continue
		}
		seen = append(seen, e.Shipment)
		s, err := GetShipment(r, e.Shipment)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		for _, x := range s.Excursions {
			out = append(out, ShipmentExcursion{Shipment: s.ID, TempMin: s.TempMin, TempMax: s.TempMax, Excursion: x})
		}
	}
	return out, nil
}

// Verification statuses beyond the item statuses.
const (
	VerifyUnknown   = "unknown" // never commissioned
	VerifyActive    = "active"
	VerifyInTransit = "in_transit"
)

// Flag codes: why a pack is suspect.
const (
	FlagUnknownSerial  = "unknown_serial"
	FlagUnknownProduct = "unknown_product"
	FlagDispensed      = "dispensed"
	FlagDecommissioned = "decommissioned"
	FlagMissing        = "missing"
	FlagRecalled       = "recalled"
	FlagExpired        = "expired"
	FlagCustodyGap     = "custody_gap"
	FlagCloned         = "cloned"
	FlagExcursion      = "excursion"
)

// Flag is one reason a pack is suspect.
type Flag struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Verification is what anyone may learn about a pack. It holds no PHI:
// a dispense shows where and when, never for whom.
type Verification struct {
	EPC        string              `json:"epc"`
	GTIN       string              `json:"gtin,omitempty"`
	Serial     string              `json:"serial,omitempty"`
	SSCC       string              `json:"sscc,omitempty"`
	Status     string              `json:"status"`
	Authentic  bool                `json:"authentic"`
	Suspect    bool                `json:"suspect"`
	Flags      []Flag              `json:"flags"`
	Product    *Product            `json:"product,omitempty"`
	Lot        *Lot                `json:"lot,omitempty"`
	Expiry     string              `json:"expiry,omitempty"`
	Custodian  string              `json:"custodian,omitempty"`
	Shipment   string              `json:"shipment,omitempty"`   // in transit in
	Containers []string            `json:"containers,omitempty"` // innermost first, as URNs
	Excursions []ShipmentExcursion `json:"excursions,omitempty"`
	Sightings  []Sighting          `json:"sightings,omitempty"`
	Trail      []Event             `json:"trail"`
	// Keys are the authenticated keys the answer was built from, for
	// proofs.
	Keys [][]byte `json:"-"`
}

// recorder notes the keys read through it.
type recorder struct {
	r    state.Reader
	keys [][]byte
}

func (rc *recorder) Get(k []byte) ([]byte, error) {
	if !slices.ContainsFunc(rc.keys, func(x []byte) bool { return string(x) == string(k) }) {
		rc.keys = append(rc.keys, slices.Clone(k))
	}
	return rc.r.Get(k)
}

func (rc *recorder) Iterate(start, end []byte, fn func(k, v []byte) bool) error {
	return rc.r.Iterate(start, end, fn)
}

// Verify answers what is known of an identifier (an SGTIN or SSCC EPC URN)
// at block time now: authenticity, status, custody, expiry, recall,
// excursions, the custody trail, and every reason for suspicion.
func Verify(r state.Reader, epc string, now int64) (*Verification, error) {
	key, e, err := ParseEPC(epc)
	if err != nil {
		return nil, err
	}
	rc := &recorder{r: r}
	v := &Verification{EPC: e.String(), GTIN: e.GTIN, Serial: e.Serial, SSCC: e.SSCC, Flags: []Flag{}, Trail: []Event{}}
	defer func() { v.Keys = rc.keys }()
	flag := func(code, detail string) { v.Flags = append(v.Flags, Flag{code, detail}) }
	if e.Kind == "sgtin" {
		if v.Product, err = GetProduct(rc, e.GTIN); err != nil {
			return nil, err
		}
		if v.Product == nil {
			flag(FlagUnknownProduct, "no product is registered under GTIN "+e.GTIN)
		}
	}
	l, err := locate(rc, key)
	if err != nil {
		return nil, err
	}
	if l == nil {
		v.Status, v.Suspect = VerifyUnknown, true
		flag(FlagUnknownSerial, "this identifier was never commissioned: the pack may be counterfeit")
		var list []Sighting
		if b, err := rc.Get(UnknownKey(key)); err != nil {
			return nil, err
		} else if b != nil {
			if err := medledger.UnmarshalTrusted(b, &list); err != nil {
				return nil, err
			}
		}
		v.Sightings = list
		return v, nil
	}
	it := l.item
	v.Custodian, v.Shipment, v.Sightings = l.custodian(), l.inTransit(), it.Sightings
	for _, a := range l.ancestors {
		urn, err := itemURN(rc, a, nil)
		if err != nil {
			return nil, err
		}
		v.Containers = append(v.Containers, urn)
	}
	switch {
	case l.status != StatusActive:
		v.Status = l.status
	case v.Shipment != "":
		v.Status = VerifyInTransit
	default:
		v.Status = VerifyActive
	}
	switch l.status {
	case StatusDispensed:
		flag(FlagDispensed, "this pack was already dispensed; a pack offered again is suspect")
	case StatusDecommissioned:
		reason := it.Reason
		if l.statusOf != key {
			it2, err := GetItem(rc, l.statusOf)
			if err != nil {
				return nil, err
			}
			reason = it2.Reason + " (with its container)"
		}
		flag(FlagDecommissioned, "this pack was decommissioned: "+reason)
	case StatusMissing:
		flag(FlagMissing, "this pack was shipped and never received")
	}
	if e.Kind == "sgtin" {
		lot, err := GetLot(rc, e.GTIN, it.Lot)
		if err != nil {
			return nil, err
		}
		v.Lot = lot
		if lot != nil {
			v.Expiry = lot.Expiry
			// Commissioning is allowed to the GTIN's owner only, so a
			// commissioned pack is authentic.
			v.Authentic = true
			if lot.Recall != nil {
				flag(FlagRecalled, "lot "+lot.Lot+" was recalled: "+lot.Recall.Reason)
			}
			if exp, err := gs1.ParseDate(lot.Expiry); err == nil && exp.Days() < gs1.DateOfUnix(now).Days() {
				flag(FlagExpired, "expired on "+lot.Expiry)
			}
		}
	} else {
		v.Authentic = true
	}
	if v.Excursions, err = excursions(rc, it); err != nil {
		return nil, err
	}
	for _, x := range v.Excursions {
		flag(FlagExcursion, "shipment "+x.Shipment+": "+FormatTemp(x.Peak)+" for "+FormatDuration(x.Duration)+
			" outside "+FormatTemp(x.TempMin)+" to "+FormatTemp(x.TempMax))
	}
	if code, detail := sightingFlag(it.Sightings, l); code != "" {
		flag(code, detail)
	}
	ids, err := trailIDs(rc, it)
	if err != nil {
		return nil, err
	}
	if e.Kind == "sgtin" && v.Lot != nil && v.Lot.Recall != nil {
		ids = mergeIDs(ids, []uint64{v.Lot.Recall.Event})
	}
	for _, id := range ids {
		ev, err := GetEvent(rc, id)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			v.Trail = append(v.Trail, *ev)
		}
	}
	v.Suspect = len(v.Flags) > 0
	return v, nil
}

// sightingFlag turns observations into a flag: a pack seen by someone who
// does not hold it is a custody gap; seen at two places at once, or after
// it left the supply chain, it is a clone.
func sightingFlag(ss []Sighting, l *located) (string, string) {
	var places, outsiders []string
	for _, s := range ss {
		if !slices.Contains(places, s.Org) {
			places = append(places, s.Org)
		}
		if !s.Custodian && !slices.Contains(outsiders, s.Org) {
			outsiders = append(outsiders, s.Org)
		}
	}
	if len(outsiders) == 0 {
		return "", ""
	}
	if l.custodian() != "" && !slices.Contains(places, l.custodian()) && len(places) == 1 && l.status == StatusActive {
		return FlagCustodyGap, "seen at " + outsiders[0] + ", but custody is with " + l.custodian() + " and no shipment to " + outsiders[0] + " is recorded"
	}
	if l.status != StatusActive && !slices.Contains(places, l.custodian()) {
		places = append([]string{l.custodian()}, places...)
	}
	if len(places) < 2 {
		return FlagCustodyGap, "seen at " + outsiders[0] + ", which does not hold it"
	}
	return FlagCloned, "the same serial was seen at " + strings.Join(places, " and ")
}

package supply

import (
	"encoding/binary"

	"medledger/internal/state"
)

// Authenticated keys:
//
//	sup/p/<gtin>              Product
//	sup/l/<gtin>/<lot>        Lot
//	sup/i/<item key>          Item: "01"+GTIN+"21"+serial, or "00"+SSCC
//	sup/s/<shipment>          Shipment
//	sup/d/<device>            Device
//	sup/e/<event id>          Event (id as 16 hex digits, so keys sort by id)
//	sup/x/<item key>          sightings of an identifier never commissioned
//	sup/seq                   the last event id
//
// Index keys (derived, rebuildable):
//
//	sup/o/<org>/<gtin>        products an organisation owns

// ProductKey is the key of a product.
func ProductKey(gtin string) []byte { return state.Key("sup", "p", gtin) }

// ProductPrefix is the prefix of every product.
func ProductPrefix() []byte { return state.Key("sup", "p", "") }

// LotKey is the key of a lot.
func LotKey(gtin, lot string) []byte { return state.Key("sup", "l", gtin, lot) }

// LotPrefix is the prefix of a product's lots.
func LotPrefix(gtin string) []byte { return state.Key("sup", "l", gtin, "") }

// ItemKey is the key of a unit or container, by its item key.
func ItemKey(key string) []byte { return state.Key("sup", "i", key) }

// UnitKey is the item key of a serialized unit.
func UnitKey(gtin, serial string) string { return "01" + gtin + "21" + serial }

// ContainerKey is the item key of a logistic unit.
func ContainerKey(sscc string) string { return "00" + sscc }

// ShipmentKey is the key of a shipment.
func ShipmentKey(id string) []byte { return state.Key("sup", "s", id) }

// DeviceKey is the key of a device.
func DeviceKey(id string) []byte { return state.Key("sup", "d", id) }

// EventKey is the key of an event record.
func EventKey(id uint64) []byte {
	const hex = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = hex[id&0xf]
		id >>= 4
	}
	return state.Key("sup", "e", string(b))
}

// UnknownKey is the key of the sightings of an identifier never commissioned.
func UnknownKey(key string) []byte { return state.Key("sup", "x", key) }

var seqKey = []byte("sup/seq")

func ownedIndex(org, gtin string) []byte { return state.Key("sup", "o", org, gtin) }

// OwnedPrefix is the index prefix of the products an organisation owns.
func OwnedPrefix(org string) []byte { return state.Key("sup", "o", org, "") }

func nextEventID(rw state.ReadWriter) (uint64, error) {
	b, err := rw.Get(seqKey)
	if err != nil {
		return 0, err
	}
	var n uint64
	if len(b) == 8 {
		n = binary.BigEndian.Uint64(b)
	}
	n++
	return n, rw.Set(seqKey, binary.BigEndian.AppendUint64(nil, n))
}

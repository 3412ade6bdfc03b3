package epcis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"medledger/gs1"
	"medledger/internal/supply"
)

// Export writes supply event records as an EPCIS 2.0 EPCISDocument in
// indented JSON, in the order given.
//
// Each event carries its times in UTC (eventTime, and recordTime, the
// block time), its eventID (the one it was submitted with if that is a
// URI, else urn:medledger:event:<id>), its read point as a Digital Link
// (https://id.gs1.org/414/<GLN>), its parties as owning_party
// urn:medledger:org:<org>, and its business transactions; a business
// transaction identifier or type that is not a URI the schema accepts is
// written urn:medledger:biztx:<escaped> or urn:medledger:btt:<escaped>,
// which Import reads back. A shipping or receiving event adds a desadv
// urn:medledger:shipment:<id> that names the shipment. Commissioning
// carries its lot and expiry in ilmd and, being recorded for a whole lot,
// a quantityList with the LGTIN class (or, with opts.Focus, an epcList
// with just that EPC); a recall carries the recalled lot the same way and
// its reason as medledger:reason; a dispense carries its prescription
// commitment, if any, as medledger:prescription.
func Export(events []supply.Event, opts ExportOptions) ([]byte, error) {
	x := &exporter{opts: opts}
	if opts.Focus != "" {
		f, err := gs1.ParseEPC(opts.Focus)
		if err != nil {
			return nil, fmt.Errorf("epcis: focus: %v", err)
		}
		x.focus = &f
	}
	list := make([]any, 0, len(events))
	for i := range events {
		o, err := x.event(&events[i])
		if err != nil {
			return nil, fmt.Errorf("epcis: event %d: %v", events[i].ID, err)
		}
		list = append(list, o)
	}
	ctx := []any{ContextURL}
	if x.ns {
		ctx = append(ctx, object{{"medledger", Namespace}})
	}
	doc := object{
		{"@context", ctx},
		{"type", "EPCISDocument"},
		{"schemaVersion", "2.0"},
		{"creationDate", timestamp(opts.CreationTime)},
		{"epcisBody", object{{"eventList", list}}},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("epcis: %v", err)
	}
	return b.Bytes(), nil
}

type exporter struct {
	opts  ExportOptions
	focus *gs1.EPC
	ns    bool // an event uses medledger's namespace
}

// object is a JSON object whose members keep their order.
type object []pair

type pair struct {
	k string
	v any
}

func (o *object) add(k string, v any) { *o = append(*o, pair{k, v}) }

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(m.k); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode ends with a newline
		b.WriteByte(':')
		if err := enc.Encode(m.v); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func timestamp(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

func (x *exporter) prefixLen(gtin string) int {
	if x.opts.PrefixLen != nil {
		if n := x.opts.PrefixLen(gtin); n != 0 {
			return n
		}
	}
	return 7
}

// lgtin is the quantityList of a class-level event.
func (x *exporter) lgtin(e *supply.Event) ([]any, error) {
	class, err := gs1.LGTINURN(e.GTIN, e.Lot, x.prefixLen(e.GTIN))
	if err != nil {
		return nil, err
	}
	q := object{{"epcClass", class}}
	if e.Quantity > 0 {
		q.add("quantity", e.Quantity)
	}
	return []any{q}, nil
}

// focused reports whether the focus EPC is one of the units a commission
// event created.
func (x *exporter) focused(e *supply.Event) bool {
	f := x.focus
	if f == nil || f.Kind != "sgtin" || f.GTIN != e.GTIN {
		return false
	}
	r := e.Serials
	if r == nil {
		return true // commissioned by list: the event does not keep the serials
	}
	rest, ok := strings.CutPrefix(f.Serial, r.Prefix)
	n, err := strconv.ParseUint(rest, 10, 64)
	if !ok || err != nil || n < r.Start || n-r.Start >= uint64(r.Count) {
		return false
	}
	return r.Serial(uint32(n-r.Start)) == f.Serial
}

func (x *exporter) event(e *supply.Event) (object, error) {
	switch e.Type {
	case supply.ObjectEvent, supply.AggregationEvent, supply.TransactionEvent:
	default:
		return nil, fmt.Errorf("unknown event type %q", e.Type)
	}
	switch e.Action {
	case supply.ActionAdd, supply.ActionObserve, supply.ActionDelete:
	default:
		return nil, fmt.Errorf("unknown action %q", e.Action)
	}
	o := object{{"type", e.Type}, {"eventTime", timestamp(e.EventTime)}}
	if e.Time != 0 {
		o.add("recordTime", timestamp(e.Time))
	}
	o.add("eventTimeZoneOffset", "+00:00")
	id := e.EPCISID
	if !absoluteURI(id) {
		id = eventURN + strconv.FormatUint(e.ID, 10)
	}
	o.add("eventID", id)

	commissioning := e.Type == supply.ObjectEvent && e.BizStep == "commissioning" && e.GTIN != ""
	recall := e.Type == supply.ObjectEvent && e.Disposition == "recalled" && e.GTIN != ""
	switch {
	case e.Type == supply.AggregationEvent:
		if e.Parent != "" {
			o.add("parentID", e.Parent)
		}
		if len(e.EPCs) > 0 || e.Action != supply.ActionDelete {
			o.add("childEPCs", nonNil(e.EPCs))
		}
	case commissioning && x.focused(e):
		o.add("epcList", []string{x.opts.Focus})
	case commissioning || recall:
		q, err := x.lgtin(e)
		if err != nil {
			return nil, err
		}
		o.add("quantityList", q)
	default:
		o.add("epcList", nonNil(e.EPCs))
	}
	o.add("action", e.Action)
	if e.BizStep != "" {
		o.add("bizStep", e.BizStep)
	}
	if e.Disposition != "" {
		o.add("disposition", e.Disposition)
	}
	if gs1.ValidateGLN(e.ReadPoint) == nil {
		o.add("readPoint", object{{"id", "https://id.gs1.org/414/" + e.ReadPoint}})
	}
	var btx []any
	if e.Shipment != "" {
		btx = append(btx, object{{"type", "desadv"}, {"bizTransaction", shipmentURN + e.Shipment}})
	}
	for _, b := range e.BizTx {
		t := object{}
		if b.Type != "" {
			t.add("type", bizTxTypeValue(b.Type))
		}
		t.add("bizTransaction", bizTxValue(b.ID))
		btx = append(btx, t)
	}
	if len(btx) > 0 {
		o.add("bizTransactionList", btx)
	} else if e.Type == supply.TransactionEvent {
		return nil, fmt.Errorf("a TransactionEvent needs a business transaction")
	}
	if e.Source != "" {
		o.add("sourceList", []any{object{{"type", "owning_party"}, {"source", orgURN + e.Source}}})
	}
	if e.Dest != "" {
		o.add("destinationList", []any{object{{"type", "owning_party"}, {"destination", orgURN + e.Dest}}})
	}
	if commissioning {
		o.add("ilmd", object{{"cbvmda:lotNumber", e.Lot}, {"cbvmda:itemExpirationDate", e.Expiry}})
	}
	if recall && e.Reason != "" {
		o.add("medledger:reason", e.Reason)
		x.ns = true
	}
	if e.BizStep == "dispensing" && e.Rx != "" {
		o.add("medledger:prescription", e.Rx)
		x.ns = true
	}
	return o, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// bizTxValue writes a business transaction identifier as a URI.
func bizTxValue(id string) string {
	if absoluteURI(id) && !strings.HasPrefix(id, bizTxURN) && !strings.HasPrefix(id, shipmentURN) {
		return id
	}
	return bizTxURN + escape(id)
}

// bizTxTypeValue writes a business transaction type as the schema wants
// it: a bare CBV term, or a URI outside the CBV's own.
func bizTxTypeValue(t string) string {
	if slices.Contains(cbvBizTxTypes, t) {
		return t
	}
	if absoluteURI(t) && !strings.HasPrefix(t, "urn:epcglobal:cbv") && !strings.HasPrefix(t, bizTxType) && bizTxTypeVocab.term(t) == t {
		return t
	}
	return bizTxType + escape(t)
}

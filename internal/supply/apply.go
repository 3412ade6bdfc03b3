package supply

import (
	"crypto/ed25519"
	"slices"
	"strconv"
	"strings"

	"medledger"
	"medledger/gs1"
	"medledger/internal/state"
)

func unauthorized(format string, args ...any) error {
	return medledger.Errorf(medledger.KindUnauthorized, format, args...)
}

func notFound(format string, args ...any) error {
	return medledger.Errorf(medledger.KindNotFound, format, args...)
}

func conflict(format string, args ...any) error {
	return medledger.Errorf(medledger.KindConflict, format, args...)
}

// Roles that may handle goods (pack, ship, receive, scan, decommission).
var custodyRoles = []medledger.Role{medledger.RoleAdmin, medledger.RoleLogistics, medledger.RoleQuality, medledger.RolePharmacist}

// member reports whether signer is an active member of org holding one of roles.
func member(signer medledger.Principal, org string, roles ...medledger.Role) bool {
	if signer.Kind != medledger.KindMember || signer.Org != org || !signer.Active() {
		return false
	}
	for _, r := range roles {
		if signer.Has(r) {
			return true
		}
	}
	return false
}

func requireMember(signer medledger.Principal, roles []medledger.Role, what string) error {
	if signer.Kind != medledger.KindMember || !member(signer, signer.Org, roles...) {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		return unauthorized("%s needs a member of an organisation with a role among %s", what, strings.Join(names, ", "))
	}
	return nil
}

// Apply executes a supply message.
func Apply(b state.Batch, env medledger.Env, signer medledger.Principal, dir medledger.Directory, m Msg) ([]medledger.Event, error) {
	a := &applier{b: b, env: env, signer: signer, dir: dir, products: map[string]*Product{}}
	switch m := m.(type) {
	case *RegisterProduct:
		return a.registerProduct(m)
	case *TransferProduct:
		return a.transferProduct(m)
	case *Commission:
		return a.commission(m)
	case *Aggregate:
		return a.aggregate(m)
	case *Disaggregate:
		return a.disaggregate(m)
	case *Ship:
		return a.ship(m)
	case *Receive:
		return a.receive(m)
	case *Dispense:
		return a.dispense(m)
	case *Decommission:
		return a.decommission(m)
	case *Recall:
		return a.recall(m)
	case *Observe:
		return a.observe(m)
	case *RegisterDevice:
		return a.registerDevice(m)
	case *AttachDevice:
		return a.attachDevice(m)
	case *Readings:
		return a.readings(m)
	}
	return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown supply message %T", m)
}

// applier carries one message's execution.
type applier struct {
	b        state.Batch
	env      medledger.Env
	signer   medledger.Principal
	dir      medledger.Directory
	products map[string]*Product // read cache, by GTIN
}

func (a *applier) put(key []byte, v any) error { return a.b.KV.Set(key, medledger.MustMarshal(v)) }

func (a *applier) product(gtin string) (*Product, error) {
	if p, ok := a.products[gtin]; ok {
		return p, nil
	}
	p, err := GetProduct(a.b.KV, gtin)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, notFound("no product is registered under GTIN %s", gtin)
	}
	a.products[gtin] = p
	return p, nil
}

// newEvent allocates the next event ID and fills what every event shares.
func (a *applier) newEvent(typ, action, bizStep, disposition string, c *Context) (*Event, error) {
	if c != nil && c.EventTime > a.env.Time+MaxSkew {
		return nil, invalid("event time is %d s ahead of the block time", c.EventTime-a.env.Time)
	}
	id, err := nextEventID(a.b.KV)
	if err != nil {
		return nil, err
	}
	e := &Event{ID: id, Type: typ, Action: action, BizStep: bizStep, Disposition: disposition, Org: a.signer.Org,
		Signer: a.signer.ID, EventTime: a.env.Time, Height: a.env.Height, Time: a.env.Time}
	if c != nil {
		e.ReadPoint, e.EPCISID = c.ReadPoint, c.EventID
		if c.EventTime != 0 {
			e.EventTime = c.EventTime
		}
	}
	return e, nil
}

func (a *applier) saveEvent(e *Event) error { return a.put(EventKey(e.ID), e) }

func (a *applier) today() gs1.Date { return gs1.DateOfUnix(a.env.Time) }

func (a *applier) registerProduct(m *RegisterProduct) ([]medledger.Event, error) {
	if err := requireMember(a.signer, []medledger.Role{medledger.RoleAdmin, medledger.RoleQuality}, "registering a product"); err != nil {
		return nil, err
	}
	if a.signer.OrgType != medledger.OrgManufacturer {
		return nil, unauthorized("only a licensed manufacturer registers products; %s is a %s", a.signer.Org, a.signer.OrgType)
	}
	old, err := GetProduct(a.b.KV, m.GTIN)
	if err != nil {
		return nil, err
	}
	if old != nil {
		return nil, medledger.Errorf(medledger.KindExists, "GTIN %s is already registered, by %s", m.GTIN, old.Owner)
	}
	p := &Product{GTIN: m.GTIN, CompanyPrefix: m.CompanyPrefix, Owner: a.signer.Org, Name: m.Name, NationalCode: m.NationalCode,
		Strength: m.Strength, Form: m.Form, TempMin: m.TempMin, TempMax: m.TempMax, ShelfLifeDays: m.ShelfLifeDays, Registered: a.env.Height}
	if err := a.put(ProductKey(p.GTIN), p); err != nil {
		return nil, err
	}
	if err := a.b.Index.Set(ownedIndex(p.Owner, p.GTIN), []byte{1}); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.product_registered", "gtin", p.GTIN, "owner", p.Owner)}, nil
}

func (a *applier) transferProduct(m *TransferProduct) ([]medledger.Event, error) {
	p, err := a.product(m.GTIN)
	if err != nil {
		return nil, err
	}
	if !member(a.signer, p.Owner, medledger.RoleAdmin) {
		return nil, unauthorized("only an admin of %s, the GTIN's owner, may transfer it", p.Owner)
	}
	if m.To == p.Owner {
		return nil, invalid("%s already owns GTIN %s", m.To, m.GTIN)
	}
	t, err := a.dir.OrgType(m.To)
	if err != nil {
		return nil, err
	}
	if ok, err := a.dir.OrgActive(m.To); err != nil || !ok || t != medledger.OrgManufacturer {
		if err == nil {
			err = invalid("a GTIN is transferred to an active manufacturer; %s is not one", m.To)
		}
		return nil, err
	}
	if err := a.b.Index.Delete(ownedIndex(p.Owner, p.GTIN)); err != nil {
		return nil, err
	}
	p.PreviousOwner, p.Owner, p.OwnerSince = p.Owner, m.To, a.env.Height
	if err := a.put(ProductKey(p.GTIN), p); err != nil {
		return nil, err
	}
	if err := a.b.Index.Set(ownedIndex(p.Owner, p.GTIN), []byte{1}); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.product_transferred", "gtin", p.GTIN, "from", p.PreviousOwner, "to", p.Owner)}, nil
}

func (a *applier) commission(m *Commission) ([]medledger.Event, error) {
	p, err := a.product(m.GTIN)
	if err != nil {
		return nil, err
	}
	if !member(a.signer, p.Owner, medledger.RoleAdmin, medledger.RoleQuality, medledger.RoleLogistics) {
		return nil, unauthorized("only %s, the owner of GTIN %s, may commission it", p.Owner, m.GTIN)
	}
	exp, _ := gs1.ParseDate(m.Expiry)
	today := a.today()
	if exp.Days() <= today.Days() {
		return nil, medledger.Errorf(medledger.KindExpired, "expiry %s is not after today, %s", m.Expiry, today)
	}
	if exp.Days() > today.Days()+int64(p.ShelfLifeDays) {
		return nil, invalid("expiry %s is beyond the product's shelf life of %d days", m.Expiry, p.ShelfLifeDays)
	}
	lot, err := GetLot(a.b.KV, m.GTIN, m.Lot)
	if err != nil {
		return nil, err
	}
	switch {
	case lot == nil:
		lot = &Lot{GTIN: m.GTIN, Lot: m.Lot, Expiry: m.Expiry, Commissioner: p.Owner, Created: a.env.Height}
	case lot.Expiry != m.Expiry:
		return nil, invalid("lot %s expires on %s; a lot has one expiry", m.Lot, lot.Expiry)
	case lot.Commissioner != p.Owner:
		return nil, unauthorized("lot %s was commissioned by %s", m.Lot, lot.Commissioner)
	case lot.Recall != nil:
		return nil, conflict("lot %s of GTIN %s was recalled", m.Lot, m.GTIN)
	}
	e, err := a.newEvent(ObjectEvent, ActionAdd, "commissioning", "active", &m.Context)
	if err != nil {
		return nil, err
	}
	e.GTIN, e.Lot, e.Expiry, e.Quantity, e.Serials = m.GTIN, m.Lot, m.Expiry, uint64(m.Count()), m.Range
	// One small value per unit: its lot, custodian and first event.
	val := medledger.MustMarshal(&Item{Lot: m.Lot, Custodian: p.Owner, Events: []uint64{e.ID}})
	for i := 0; i < m.Count(); i++ {
		s := m.Serial(i)
		k := ItemKey(UnitKey(m.GTIN, s))
		old, err := a.b.KV.Get(k)
		if err != nil {
			return nil, err
		}
		if old != nil {
			return nil, medledger.Errorf(medledger.KindExists, "serial %s of GTIN %s is already commissioned", s, m.GTIN)
		}
		if err := a.b.KV.Set(k, val); err != nil {
			return nil, err
		}
	}
	lot.Count += uint64(m.Count())
	if err := a.put(LotKey(lot.GTIN, lot.Lot), lot); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.commissioned", "gtin", m.GTIN, "lot", m.Lot, "count", strconv.Itoa(m.Count()),
		"org", p.Owner, "event", strconv.FormatUint(e.ID, 10))}, nil
}

// canon returns an EPC URN in its canonical form (escapes in upper case),
// as events record it; the message's validation already parsed it.
func canon(epc string) string {
	if e, err := gs1.ParseEPC(epc); err == nil {
		return e.String()
	}
	return epc
}

func canonAll(epcs []string) []string {
	out := make([]string, len(epcs))
	for i, s := range epcs {
		out[i] = canon(s)
	}
	return out
}

// located is an item with what the walk up its containers found.
type located struct {
	key       string
	item      *Item
	top       string // key of the top-level item (itself if top-level)
	topItem   *Item
	ancestors []string // parent first
	status    string   // the first terminal status on the way up, or active
	statusOf  string   // the item that carries it
}

// maxDepth bounds how deep containers nest (pallet in a container in ...).
const maxDepth = 8

// locate loads an item and walks up to its top-level container.
func locate(r state.Reader, key string) (*located, error) {
	it, err := GetItem(r, key)
	if err != nil || it == nil {
		return nil, err
	}
	l := &located{key: key, item: it, top: key, topItem: it, status: it.Status, statusOf: key}
	for cur := it; cur.Parent != ""; {
		if len(l.ancestors) == maxDepth {
			return nil, medledger.Errorf(medledger.KindInternal, "containers nest deeper than %d", maxDepth)
		}
		p, err := GetItem(r, cur.Parent)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, medledger.Errorf(medledger.KindInternal, "item %s names a missing container", key)
		}
		l.ancestors = append(l.ancestors, cur.Parent)
		l.top, l.topItem = cur.Parent, p
		if l.status == StatusActive && p.Status != StatusActive {
			l.status, l.statusOf = p.Status, cur.Parent
		}
		cur = p
	}
	return l, nil
}

// custodian is who holds the item: the top-level item's custodian.
func (l *located) custodian() string { return l.topItem.Custodian }

// inTransit is the shipment carrying the item, or "".
func (l *located) inTransit() string { return l.topItem.Shipment }

func (a *applier) mustLocate(epc string) (*located, error) {
	key, _, _ := ParseEPC(epc)
	l, err := locate(a.b.KV, key)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, notFound("%s is not commissioned", epc)
	}
	return l, nil
}

// holds checks the signer's organisation holds the item, active and not in transit.
func (a *applier) holds(epc string, l *located) error {
	switch {
	case l.custodian() != a.signer.Org:
		return unauthorized("%s is not in the custody of %s", epc, a.signer.Org)
	case l.inTransit() != "":
		return conflict("%s is in transit in shipment %s", epc, l.inTransit())
	case l.status != StatusActive:
		return conflict("%s is %s", epc, l.status)
	}
	return nil
}

// storage returns the temperature range an item needs, if any.
func (a *applier) storage(key string, it *Item) (lo, hi int32, ok bool, err error) {
	if strings.HasPrefix(key, "01") {
		p, err := a.product(key[2:16])
		if err != nil {
			return 0, 0, false, err
		}
		return p.TempMin, p.TempMax, true, nil
	}
	return it.TempMin, it.TempMax, it.Ranged, nil
}

// narrow intersects a running range with another.
func narrow(ranged *bool, lo, hi *int32, l, h int32) {
	if !*ranged {
		*ranged, *lo, *hi = true, l, h
		return
	}
	*lo, *hi = max(*lo, l), min(*hi, h)
}

func (a *applier) aggregate(m *Aggregate) ([]medledger.Event, error) {
	if err := requireMember(a.signer, custodyRoles, "packing"); err != nil {
		return nil, err
	}
	pkey, pe, _ := ParseEPC(m.Parent)
	pl, err := locate(a.b.KV, pkey)
	if err != nil {
		return nil, err
	}
	var parent *Item
	if pl == nil {
		parent = &Item{Custodian: a.signer.Org, PrefixLen: uint8(pe.PrefixLen)}
	} else {
		if err := a.holds(m.Parent, pl); err != nil {
			return nil, err
		}
		parent = pl.item
	}
	if len(parent.Children)+len(m.Children) > MaxChildren {
		return nil, invalid("a container holds at most %d items", MaxChildren)
	}
	e, err := a.newEvent(AggregationEvent, ActionAdd, "packing", "container_closed", &m.Context)
	if err != nil {
		return nil, err
	}
	e.Parent, e.EPCs = canon(m.Parent), canonAll(m.Children)
	for _, c := range m.Children {
		ck, _, _ := ParseEPC(c)
		if pl != nil && (ck == pl.top || slices.Contains(pl.ancestors, ck)) {
			return nil, invalid("%s contains %s, so it cannot go inside it", c, m.Parent)
		}
		cl, err := a.mustLocate(c)
		if err != nil {
			return nil, err
		}
		if cl.item.Parent != "" {
			return nil, conflict("%s is already inside another container; unpack it first", c)
		}
		if err := a.holds(c, cl); err != nil {
			return nil, err
		}
		lo, hi, ok, err := a.storage(ck, cl.item)
		if err != nil {
			return nil, err
		}
		if ok {
			narrow(&parent.Ranged, &parent.TempMin, &parent.TempMax, lo, hi)
			if parent.TempMin > parent.TempMax {
				return nil, invalid("%s needs storage that does not overlap the rest of %s", c, m.Parent)
			}
		}
		cl.item.Parent, cl.item.Joined = pkey, e.ID
		cl.item.Events = append(cl.item.Events, e.ID)
		if err := a.put(ItemKey(ck), cl.item); err != nil {
			return nil, err
		}
		parent.Children = append(parent.Children, ck)
	}
	parent.Events = append(parent.Events, e.ID)
	if err := a.put(ItemKey(pkey), parent); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.aggregated", "parent", m.Parent, "count", strconv.Itoa(len(m.Children)),
		"org", a.signer.Org, "event", strconv.FormatUint(e.ID, 10))}, nil
}

// inherited returns the events of an item's containers since it entered
// them: what it carries with it when it leaves.
func inherited(r state.Reader, it *Item) ([]uint64, error) {
	var out []uint64
	thr := it.Joined
	for cur, n := it, 0; cur.Parent != "" && n < maxDepth; n++ {
		p, err := GetItem(r, cur.Parent)
		if err != nil || p == nil {
			return out, err
		}
		for _, id := range p.Events {
			if id > thr {
				out = append(out, id)
			}
		}
		thr = max(thr, p.Joined)
		cur = p
	}
	return out, nil
}

func mergeIDs(a, b []uint64) []uint64 {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// detach takes an item out of its container (unpacking, or a unit
// dispensed or pulled from a case), carrying the container's events with
// it and taking its custodian.
func (a *applier) detach(key string, l *located, eventID uint64) error {
	it := l.item
	inh, err := inherited(a.b.KV, it)
	if err != nil {
		return err
	}
	parentKey := it.Parent
	parent, err := GetItem(a.b.KV, parentKey)
	if err != nil {
		return err
	}
	parent.Children = slices.DeleteFunc(parent.Children, func(c string) bool { return c == key })
	if eventID != 0 {
		parent.Events = append(parent.Events, eventID)
	}
	if err := a.put(ItemKey(parentKey), parent); err != nil {
		return err
	}
	it.Events = mergeIDs(it.Events, inh)
	it.Parent, it.Joined, it.Custodian = "", 0, l.custodian()
	return nil
}

func (a *applier) disaggregate(m *Disaggregate) ([]medledger.Event, error) {
	if err := requireMember(a.signer, custodyRoles, "unpacking"); err != nil {
		return nil, err
	}
	pl, err := a.mustLocate(m.Parent)
	if err != nil {
		return nil, err
	}
	if err := a.holds(m.Parent, pl); err != nil {
		return nil, err
	}
	pkey := pl.key
	children := m.Children
	if len(children) == 0 {
		if len(pl.item.Children) == 0 {
			return nil, invalid("%s is empty", m.Parent)
		}
		for _, ck := range pl.item.Children {
			urn, err := a.urn(ck)
			if err != nil {
				return nil, err
			}
			children = append(children, urn)
		}
	}
	e, err := a.newEvent(AggregationEvent, ActionDelete, "unpacking", "", &m.Context)
	if err != nil {
		return nil, err
	}
	e.Parent, e.EPCs = canon(m.Parent), canonAll(children)
	for _, c := range children {
		cl, err := a.mustLocate(c)
		if err != nil {
			return nil, err
		}
		if cl.item.Parent != pkey {
			return nil, invalid("%s is not inside %s", c, m.Parent)
		}
		// The parent is re-read by detach, so each child sees the last write.
		if err := a.detach(cl.key, cl, 0); err != nil {
			return nil, err
		}
		cl.item.Events = append(cl.item.Events, e.ID)
		if err := a.put(ItemKey(cl.key), cl.item); err != nil {
			return nil, err
		}
	}
	parent, err := GetItem(a.b.KV, pkey)
	if err != nil {
		return nil, err
	}
	parent.Events = append(parent.Events, e.ID)
	if len(parent.Children) == 0 {
		parent.Ranged, parent.TempMin, parent.TempMax = false, 0, 0
	}
	if err := a.put(ItemKey(pkey), parent); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.disaggregated", "parent", m.Parent, "count", strconv.Itoa(len(children)),
		"org", a.signer.Org, "event", strconv.FormatUint(e.ID, 10))}, nil
}

// urn formats an item key as its EPC URN.
func (a *applier) urn(key string) (string, error) { return itemURN(a.b.KV, key, a.products) }

func itemURN(r state.Reader, key string, cache map[string]*Product) (string, error) {
	if strings.HasPrefix(key, "00") {
		it, err := GetItem(r, key)
		if err != nil || it == nil {
			return "", err
		}
		return gs1.SSCCURN(key[2:], int(it.PrefixLen))
	}
	gtin := key[2:16]
	p := cache[gtin]
	if p == nil {
		var err error
		if p, err = GetProduct(r, gtin); err != nil || p == nil {
			return "", err
		}
		if cache != nil {
			cache[gtin] = p
		}
	}
	return gs1.SGTIN{GTIN: gtin, Serial: key[18:]}.URN(len(p.CompanyPrefix))
}

// unitIssue says why a unit must not be sold or dispensed: its lot is
// recalled or expired, or it went through a temperature excursion. It
// returns the kind and message, or nil.
func unitIssue(r state.Reader, key string, it *Item, today gs1.Date) error {
	if !strings.HasPrefix(key, "01") {
		return nil
	}
	lot, err := GetLot(r, key[2:16], it.Lot)
	if err != nil {
		return err
	}
	if lot == nil {
		return medledger.Errorf(medledger.KindInternal, "a unit names a missing lot")
	}
	if lot.Recall != nil {
		class := ""
		if lot.Recall.Class != "" {
			class = " (class " + lot.Recall.Class + ")"
		}
		return conflict("lot %s was recalled%s: %s", lot.Lot, class, lot.Recall.Reason)
	}
	if exp, err := gs1.ParseDate(lot.Expiry); err == nil && exp.Days() < today.Days() {
		return medledger.Errorf(medledger.KindExpired, "lot %s expired on %s", lot.Lot, lot.Expiry)
	}
	exc, err := excursions(r, it)
	if err != nil {
		return err
	}
	if len(exc) > 0 {
		x := exc[0]
		return conflict("temperature excursion in shipment %s: %s for %s", x.Shipment, FormatTemp(x.Peak), FormatDuration(x.Duration))
	}
	return nil
}

func (a *applier) ship(m *Ship) ([]medledger.Event, error) {
	if err := requireMember(a.signer, custodyRoles, "shipping"); err != nil {
		return nil, err
	}
	if old, err := GetShipment(a.b.KV, m.Shipment); err != nil || old != nil {
		if err == nil {
			err = medledger.Errorf(medledger.KindExists, "shipment %s already exists", m.Shipment)
		}
		return nil, err
	}
	if m.To == a.signer.Org {
		return nil, invalid("a shipment goes to another organisation")
	}
	if ok, err := a.dir.OrgActive(m.To); err != nil || !ok {
		if err == nil {
			err = notFound("organisation %s is not admitted and active", m.To)
		}
		return nil, err
	}
	e, err := a.newEvent(ObjectEvent, ActionObserve, "shipping", "in_transit", &m.Context)
	if err != nil {
		return nil, err
	}
	e.EPCs, e.Source, e.Dest, e.Shipment, e.BizTx = canonAll(m.EPCs), a.signer.Org, m.To, m.Shipment, m.BizTx
	if m.Return {
		e.Disposition, e.Reason = "returned", "return"
	}
	s := &Shipment{ID: m.Shipment, From: a.signer.Org, To: m.To, Status: ShipmentInTransit, Return: m.Return,
		Sent: a.env.Height, SentTime: a.env.Time, Events: []uint64{e.ID}, BizTx: m.BizTx}
	today := a.today()
	for _, epc := range m.EPCs {
		l, err := a.mustLocate(epc)
		if err != nil {
			return nil, err
		}
		if l.item.Parent != "" {
			return nil, conflict("%s is inside a container; ship the container or unpack it", epc)
		}
		if err := a.holds(epc, l); err != nil {
			return nil, err
		}
		owner := ""
		if strings.HasPrefix(l.key, "01") {
			p, err := a.product(l.key[2:16])
			if err != nil {
				return nil, err
			}
			owner = p.Owner
		}
		if m.Return {
			if m.To != l.item.PrevCustodian && m.To != owner {
				return nil, unauthorized("%s is returned to the organisation it came from or to the GTIN's owner", epc)
			}
		} else if err := unitIssue(a.b.KV, l.key, l.item, today); err != nil {
			// A recalled, expired or excursion-flagged unit only goes back.
			return nil, err
		}
		lo, hi, ok, err := a.storage(l.key, l.item)
		if err != nil {
			return nil, err
		}
		if ok {
			narrow(&s.Ranged, &s.TempMin, &s.TempMax, lo, hi)
		}
		l.item.Shipment = m.Shipment
		l.item.Events = append(l.item.Events, e.ID)
		if err := a.put(ItemKey(l.key), l.item); err != nil {
			return nil, err
		}
		s.Items = append(s.Items, l.key)
	}
	for _, d := range m.Devices {
		if err := a.attach(d, s); err != nil {
			return nil, err
		}
	}
	if err := a.put(ShipmentKey(s.ID), s); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.shipped", "shipment", s.ID, "from", s.From, "to", s.To,
		"count", strconv.Itoa(len(s.Items)), "event", strconv.FormatUint(e.ID, 10))}, nil
}

// attach attaches a device to a shipment in transit (the caller saves s).
func (a *applier) attach(id string, s *Shipment) error {
	d, err := GetDevice(a.b.KV, id)
	if err != nil {
		return err
	}
	if d == nil {
		return medledger.Errorf(medledger.KindUnknownAccount, "device %s is not registered", id)
	}
	if d.Org != a.signer.Org && s.From != a.signer.Org {
		return unauthorized("device %s belongs to %s", id, d.Org)
	}
	if d.Shipment != "" && d.Shipment != s.ID {
		if cur, err := GetShipment(a.b.KV, d.Shipment); err != nil || (cur != nil && cur.Status == ShipmentInTransit) {
			if err == nil {
				err = conflict("device %s is attached to shipment %s, still in transit", id, d.Shipment)
			}
			return err
		}
	}
	if len(s.Devices) >= 10 {
		return invalid("at most 10 devices per shipment")
	}
	for _, l := range s.Devices {
		if l.Device == id {
			return medledger.Errorf(medledger.KindExists, "device %s is already attached to shipment %s", id, s.ID)
		}
	}
	d.Shipment = s.ID
	s.Devices = append(s.Devices, DeviceLog{Device: id})
	return a.put(DeviceKey(id), d)
}

func (a *applier) receive(m *Receive) ([]medledger.Event, error) {
	s, err := GetShipment(a.b.KV, m.Shipment)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, notFound("no shipment %s", m.Shipment)
	}
	if a.signer.Kind != medledger.KindMember || a.signer.Org != s.To {
		return nil, unauthorized("shipment %s is addressed to %s, not to the signer's organisation", m.Shipment, s.To)
	}
	if err := requireMember(a.signer, custodyRoles, "receiving"); err != nil {
		return nil, err
	}
	if s.Status != ShipmentInTransit {
		return nil, medledger.Errorf(medledger.KindExists, "shipment %s was already received", m.Shipment)
	}
	disposition := "in_progress"
	if s.Return {
		disposition = "returned"
	}
	e, err := a.newEvent(ObjectEvent, ActionObserve, "receiving", disposition, &m.Context)
	if err != nil {
		return nil, err
	}
	e.Source, e.Dest, e.Shipment, e.BizTx = s.From, s.To, s.ID, s.BizTx
	got := map[string]bool{}
	var unexpected []string
	for _, epc := range m.EPCs {
		k, _, _ := ParseEPC(epc)
		got[k] = true
		if !slices.Contains(s.Items, k) {
			unexpected = append(unexpected, epc)
		}
	}
	for _, k := range s.Items {
		it, err := GetItem(a.b.KV, k)
		if err != nil {
			return nil, err
		}
		it.Events = append(it.Events, e.ID)
		it.Shipment = ""
		if len(m.EPCs) == 0 || got[k] {
			it.PrevCustodian, it.Custodian, it.Sightings = it.Custodian, s.To, nil
			it.Returned = s.Return
			urn, err := a.urn(k)
			if err != nil {
				return nil, err
			}
			e.EPCs = append(e.EPCs, urn)
		} else {
			it.Status = StatusMissing
			s.Missing = append(s.Missing, k)
		}
		if err := a.put(ItemKey(k), it); err != nil {
			return nil, err
		}
	}
	// What arrived without being shipped here is a sighting by a
	// non-custodian: custody skipped a link, or the pack is a clone.
	for _, epc := range unexpected {
		k, _, _ := ParseEPC(epc)
		if err := a.sight(k, epc, e.ID); err != nil {
			return nil, err
		}
		s.Unexpected = append(s.Unexpected, k)
	}
	s.Status, s.Received = ShipmentReceived, a.env.Height
	if len(s.Missing)+len(s.Unexpected) > 0 {
		s.Status = ShipmentDiscrepancies
	}
	if err := a.closeDevices(s); err != nil {
		return nil, err
	}
	s.Events = append(s.Events, e.ID)
	if err := a.put(ShipmentKey(s.ID), s); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.received", "shipment", s.ID, "from", s.From, "to", s.To, "status", s.Status,
		"missing", strconv.Itoa(len(s.Missing)), "unexpected", strconv.Itoa(len(s.Unexpected)), "event", strconv.FormatUint(e.ID, 10))}, nil
}

// closeDevices detaches a shipment's devices and closes open excursions.
func (a *applier) closeDevices(s *Shipment) error {
	for i := range s.Devices {
		l := &s.Devices[i]
		l.Detached = true
		if l.Open != 0 {
			s.Excursions[l.Open-1].Open = false
			l.Open = 0
		}
		d, err := GetDevice(a.b.KV, l.Device)
		if err != nil {
			return err
		}
		if d != nil && d.Shipment == s.ID {
			d.Shipment = ""
			if err := a.put(DeviceKey(d.ID), d); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxSightings bounds the sightings kept per item.
const maxSightings = 16

// sight records that the signer's organisation saw an item.
func (a *applier) sight(key, epc string, eventID uint64) error {
	l, err := locate(a.b.KV, key)
	if err != nil {
		return err
	}
	if l == nil {
		var list []Sighting
		if old, err := a.b.KV.Get(UnknownKey(key)); err != nil {
			return err
		} else if old != nil {
			if err := medledger.UnmarshalTrusted(old, &list); err != nil {
				return err
			}
		}
		list = appendSighting(list, Sighting{Org: a.signer.Org, Event: eventID, Height: a.env.Height})
		return a.put(UnknownKey(key), list)
	}
	holder := l.custodian() == a.signer.Org && l.status == StatusActive
	if sh := l.inTransit(); sh != "" {
		s, err := GetShipment(a.b.KV, sh)
		if err != nil {
			return err
		}
		holder = s != nil && s.To == a.signer.Org
	}
	l.item.Sightings = appendSighting(l.item.Sightings, Sighting{Org: a.signer.Org, Custodian: holder, Event: eventID, Height: a.env.Height})
	l.item.Events = append(l.item.Events, eventID)
	return a.put(ItemKey(key), l.item)
}

func appendSighting(list []Sighting, s Sighting) []Sighting {
	list = append(list, s)
	if len(list) > maxSightings {
		list = list[len(list)-maxSightings:]
	}
	return list
}

// dispensers are the organisation types whose pharmacists dispense.
var dispensers = []medledger.OrgType{medledger.OrgPharmacy, medledger.OrgHospital, medledger.OrgClinic}

func (a *applier) dispense(m *Dispense) ([]medledger.Event, error) {
	if !member(a.signer, a.signer.Org, medledger.RolePharmacist) || !slices.Contains(dispensers, a.signer.OrgType) {
		return nil, unauthorized("a pharmacist of a pharmacy, hospital or clinic dispenses")
	}
	l, err := a.mustLocate(m.EPC)
	if err != nil {
		return nil, err
	}
	if l.status == StatusDispensed {
		return nil, conflict("refused: %s was already dispensed", m.EPC)
	}
	if err := a.holds(m.EPC, l); err != nil {
		return nil, err
	}
	if err := unitIssue(a.b.KV, l.key, l.item, a.today()); err != nil {
		return nil, medledger.Errorf(medledger.KindOf(err), "refused: %s", strings.TrimPrefix(err.Error(), medledger.KindOf(err).String()+": "))
	}
	e, err := a.newEvent(ObjectEvent, ActionObserve, "dispensing", "dispensed", &m.Context)
	if err != nil {
		return nil, err
	}
	e.EPCs, e.Rx = []string{canon(m.EPC)}, m.Prescription
	if l.item.Parent != "" {
		if err := a.detach(l.key, l, 0); err != nil {
			return nil, err
		}
	}
	l.item.Status = StatusDispensed
	l.item.Events = append(l.item.Events, e.ID)
	if err := a.put(ItemKey(l.key), l.item); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.dispensed", "gtin", l.key[2:16], "org", a.signer.Org, "event", strconv.FormatUint(e.ID, 10))}, nil
}

func (a *applier) decommission(m *Decommission) ([]medledger.Event, error) {
	if err := requireMember(a.signer, custodyRoles, "decommissioning"); err != nil {
		return nil, err
	}
	bizStep, disposition, _ := decommission(m.Reason)
	e, err := a.newEvent(ObjectEvent, ActionDelete, bizStep, disposition, &m.Context)
	if err != nil {
		return nil, err
	}
	e.EPCs, e.Reason = canonAll(m.EPCs), m.Reason
	for _, epc := range m.EPCs {
		l, err := a.mustLocate(epc)
		if err != nil {
			return nil, err
		}
		err = a.holds(epc, l)
		if err != nil && m.Reason == "stolen" && l.custodian() == a.signer.Org && l.status == StatusActive {
			err = nil // goods stolen in transit are reported by their sender
		}
		if err != nil {
			return nil, err
		}
		if l.item.Parent != "" {
			if err := a.detach(l.key, l, e.ID); err != nil {
				return nil, err
			}
		}
		l.item.Status, l.item.Reason = StatusDecommissioned, m.Reason
		l.item.Events = append(l.item.Events, e.ID)
		if err := a.put(ItemKey(l.key), l.item); err != nil {
			return nil, err
		}
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.decommissioned", "reason", m.Reason, "count", strconv.Itoa(len(m.EPCs)),
		"org", a.signer.Org, "event", strconv.FormatUint(e.ID, 10))}, nil
}

func (a *applier) recall(m *Recall) ([]medledger.Event, error) {
	p, err := a.product(m.GTIN)
	if err != nil {
		return nil, err
	}
	regulator := a.signer.Kind == medledger.KindRegulator || (a.signer.Kind == medledger.KindMember && a.signer.OrgType == medledger.OrgRegulator)
	if !regulator && !member(a.signer, p.Owner, medledger.RoleAdmin, medledger.RoleQuality) {
		return nil, unauthorized("a lot is recalled by its manufacturer, %s, or by a regulator", p.Owner)
	}
	lot, err := GetLot(a.b.KV, m.GTIN, m.Lot)
	if err != nil {
		return nil, err
	}
	if lot == nil {
		return nil, notFound("no lot %s of GTIN %s", m.Lot, m.GTIN)
	}
	if lot.Recall != nil {
		return nil, medledger.Errorf(medledger.KindExists, "lot %s was already recalled at height %d", m.Lot, lot.Recall.Height)
	}
	e, err := a.newEvent(ObjectEvent, ActionObserve, "holding", "recalled", &m.Context)
	if err != nil {
		return nil, err
	}
	e.GTIN, e.Lot, e.Reason, e.Quantity = m.GTIN, m.Lot, m.Reason, lot.Count
	lot.Recall = &RecallInfo{Reason: m.Reason, Class: m.Class, By: a.signer.ID, ByOrg: a.signer.Org, Height: a.env.Height, Time: a.env.Time, Event: e.ID}
	if err := a.put(LotKey(lot.GTIN, lot.Lot), lot); err != nil {
		return nil, err
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.recalled", "gtin", m.GTIN, "lot", m.Lot, "class", m.Class,
		"by", string(a.signer.ID), "event", strconv.FormatUint(e.ID, 10))}, nil
}

func (a *applier) observe(m *Observe) ([]medledger.Event, error) {
	if err := requireMember(a.signer, custodyRoles, "recording an observation"); err != nil {
		return nil, err
	}
	typ, action, step := ObjectEvent, ActionObserve, m.BizStep
	if step == "" {
		step = "inspecting"
	}
	if m.Transaction {
		typ, action = TransactionEvent, ActionAdd
	}
	e, err := a.newEvent(typ, action, step, "", &m.Context)
	if err != nil {
		return nil, err
	}
	e.EPCs, e.BizTx = canonAll(m.EPCs), m.BizTx
	for _, epc := range m.EPCs {
		k, _, _ := ParseEPC(epc)
		if err := a.sight(k, epc, e.ID); err != nil {
			return nil, err
		}
	}
	if err := a.saveEvent(e); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.observed", "count", strconv.Itoa(len(m.EPCs)), "org", a.signer.Org,
		"biz_step", step, "event", strconv.FormatUint(e.ID, 10))}, nil
}

var deviceRoles = []medledger.Role{medledger.RoleAdmin, medledger.RoleLogistics, medledger.RoleQuality}

func (a *applier) registerDevice(m *RegisterDevice) ([]medledger.Event, error) {
	if err := requireMember(a.signer, deviceRoles, "registering a device"); err != nil {
		return nil, err
	}
	if old, err := GetDevice(a.b.KV, m.Device); err != nil || old != nil {
		if err == nil {
			err = medledger.Errorf(medledger.KindExists, "device %s is already registered", m.Device)
		}
		return nil, err
	}
	d := &Device{ID: m.Device, Org: a.signer.Org, Key: m.Key, Model: m.Model, Registered: a.env.Height}
	if err := a.put(DeviceKey(d.ID), d); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.device_registered", "device", d.ID, "org", d.Org)}, nil
}

func (a *applier) attachDevice(m *AttachDevice) ([]medledger.Event, error) {
	if err := requireMember(a.signer, deviceRoles, "attaching a device"); err != nil {
		return nil, err
	}
	s, err := GetShipment(a.b.KV, m.Shipment)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, notFound("no shipment %s", m.Shipment)
	}
	if s.Status != ShipmentInTransit {
		return nil, conflict("shipment %s was already received", m.Shipment)
	}
	if err := a.attach(m.Device, s); err != nil {
		return nil, err
	}
	if err := a.put(ShipmentKey(s.ID), s); err != nil {
		return nil, err
	}
	return []medledger.Event{medledger.NewEvent("supply.device_attached", "device", m.Device, "shipment", s.ID)}, nil
}

// outside reports how far t lies outside [lo, hi]; 0 if inside.
func outside(t, lo, hi int32) int32 {
	switch {
	case t < lo:
		return lo - t
	case t > hi:
		return t - hi
	}
	return 0
}

func (a *applier) readings(m *Readings) ([]medledger.Event, error) {
	if a.signer.Kind != medledger.KindMember {
		return nil, unauthorized("readings are relayed by a member of an organisation")
	}
	d, err := GetDevice(a.b.KV, m.Device)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, medledger.Errorf(medledger.KindUnknownAccount, "device %s is not registered", m.Device)
	}
	if !ed25519.Verify(ed25519.PublicKey(d.Key), m.SignedBytes(a.env.ChainID), m.Signature) {
		return nil, medledger.Errorf(medledger.KindBadSignature, "the batch is not signed by device %s", m.Device)
	}
	if d.Shipment != m.Shipment {
		return nil, unauthorized("device %s is not attached to shipment %s", m.Device, m.Shipment)
	}
	if m.Seq <= d.Seq {
		return nil, medledger.Errorf(medledger.KindDuplicate, "device %s already sent batch %d; the next must be above it", m.Device, d.Seq)
	}
	first, last := m.Readings[0].Time, m.Readings[len(m.Readings)-1].Time
	if first <= d.LastTime {
		return nil, invalid("readings must be newer than the device's last, at %d", d.LastTime)
	}
	if last > a.env.Time+MaxSkew {
		return nil, invalid("a reading is %d s ahead of the block time", last-a.env.Time)
	}
	s, err := GetShipment(a.b.KV, m.Shipment)
	if err != nil {
		return nil, err
	}
	if s == nil || s.Status != ShipmentInTransit {
		return nil, conflict("shipment %s is not in transit", m.Shipment)
	}
	idx := slices.IndexFunc(s.Devices, func(l DeviceLog) bool { return l.Device == m.Device })
	if idx < 0 {
		return nil, unauthorized("device %s is not attached to shipment %s", m.Device, m.Shipment)
	}
	log := &s.Devices[idx]
	started := 0
	bmin, bmax := m.Readings[0].Temp, m.Readings[0].Temp
	for _, r := range m.Readings {
		bmin, bmax = min(bmin, r.Temp), max(bmax, r.Temp)
		if log.Count == 0 {
			log.Min, log.Max, log.First = r.Temp, r.Temp, r.Time
		}
		log.Count++
		log.Min, log.Max, log.Last = min(log.Min, r.Temp), max(log.Max, r.Temp), r.Time
		off := int32(0)
		if s.Ranged {
			off = outside(r.Temp, s.TempMin, s.TempMax)
		}
		switch {
		case off > 0 && log.Open == 0:
			s.Excursions = append(s.Excursions, Excursion{Device: m.Device, Start: r.Time, End: r.Time, Peak: r.Temp, Readings: 1, Open: true, Height: a.env.Height})
			log.Open = uint32(len(s.Excursions))
			started++
		case off > 0:
			x := &s.Excursions[log.Open-1]
			x.End, x.Duration = r.Time, r.Time-x.Start
			x.Readings++
			if off > outside(x.Peak, s.TempMin, s.TempMax) {
				x.Peak = r.Temp
			}
		case log.Open != 0:
			// Back in range: the excursion lasted until this reading.
			x := &s.Excursions[log.Open-1]
			x.End, x.Duration, x.Open = r.Time, r.Time-x.Start, false
			log.Open = 0
		}
	}
	d.Seq, d.LastTime = m.Seq, last
	if err := a.put(DeviceKey(d.ID), d); err != nil {
		return nil, err
	}
	if err := a.put(ShipmentKey(s.ID), s); err != nil {
		return nil, err
	}
	evs := []medledger.Event{medledger.NewEvent("supply.readings", "device", m.Device, "shipment", s.ID, "seq", strconv.FormatUint(m.Seq, 10),
		"count", strconv.Itoa(len(m.Readings)), "min", FormatTemp(bmin), "max", FormatTemp(bmax))}
	for _, x := range s.Excursions[len(s.Excursions)-started:] {
		evs = append(evs, medledger.NewEvent("supply.excursion", "shipment", s.ID, "device", m.Device,
			"start", strconv.FormatInt(x.Start, 10), "peak", FormatTemp(x.Peak)))
	}
	return evs, nil
}

// FormatTemp formats hundredths of a degree Celsius: "12.50 °C".
func FormatTemp(t int32) string {
	sign := ""
	if t < 0 {
		sign, t = "-", -t
	}
	frac := strconv.Itoa(int(t % 100))
	if len(frac) == 1 {
		frac = "0" + frac
	}
	return sign + strconv.Itoa(int(t/100)) + "." + frac + " °C"
}

// FormatDuration formats seconds as "1h05m", "45m" or "30s".
func FormatDuration(s int64) string {
	switch {
	case s >= 3600:
		m := strconv.FormatInt(s%3600/60, 10)
		if len(m) == 1 {
			m = "0" + m
		}
		return strconv.FormatInt(s/3600, 10) + "h" + m + "m"
	case s >= 60:
		return strconv.FormatInt(s/60, 10) + "m"
	}
	return strconv.FormatInt(s, 10) + "s"
}

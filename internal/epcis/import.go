package epcis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"medledger"
	"medledger/gs1"
	"medledger/internal/supply"
)

// Import turns the events of an EPCIS 2.0 EPCISDocument into supply
// messages, in document order, each already validated. It returns a
// *PathError for the first part of the document it cannot map.
func Import(doc []byte, opts ImportOptions) (steps []Step, err error) {
	defer func() {
		// A bug must not take a server down with it; the fuzz test fails
		// on this error, so it is not how any input is meant to end.
		if r := recover(); r != nil {
			steps, err = nil, &PathError{Path: "$", Problem: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	root, err := parse(doc)
	if err != nil {
		return nil, err
	}
	top := val{n: root}
	if root.kind != kindObject {
		return nil, &PathError{Path: "$", Problem: "want an EPCISDocument object, got " + root.kind.String()}
	}
	typ, err := top.get("type").str()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "EPCISDocument":
	case "EPCISQueryDocument":
		return nil, top.get("type").fail("an EPCISQueryDocument is not accepted; send its events in an EPCISDocument")
	default:
		return nil, top.get("type").fail("want \"EPCISDocument\", got %q", typ)
	}
	im := &importer{opts: opts}
	if err := im.context(top.get("@context")); err != nil {
		return nil, err
	}
	sv, err := top.get("schemaVersion").str()
	if err != nil {
		return nil, err
	}
	if sv != "2.0" && sv != "2" {
		return nil, top.get("schemaVersion").fail("want \"2.0\", got %q", sv)
	}
	if _, err := top.get("creationDate").time(); err != nil {
		return nil, err
	}
	body := top.get("epcisBody")
	if err := body.object(); err != nil {
		return nil, err
	}
	events, err := body.get("eventList").list()
	if err != nil {
		return nil, err
	}
	if len(events) > MaxEvents {
		return nil, body.get("eventList").fail("%d events; a document may hold at most %d", len(events), MaxEvents)
	}
	im.indexParties()
	for _, ev := range events {
		msgs, err := im.event(ev)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if err := m.Validate(); err != nil {
				return nil, ev.fail("maps to %s, which medledger rejects: %v", m.Type(), err)
			}
			steps = append(steps, Step{Path: ev.path, Msg: m})
		}
	}
	return steps, nil
}

// The JSON tree. Import parses the document itself, token by token, so
// that it can say where a syntax error is, refuse duplicate member names
// (which encoding/json would silently resolve to the last) and bound the
// nesting depth.

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

type node struct {
	kind  kind
	str   string   // a string's value, or a number's text
	items []*node  // an array's elements
	keys  []string // an object's member names in document order
	vals  map[string]*node
}

// parse parses a JSON document into a tree, with errors that name the
// path where the document stops making sense.
func parse(doc []byte) (*node, error) {
	if len(doc) > MaxDocumentSize {
		return nil, &PathError{Path: "$", Problem: fmt.Sprintf("the document is %d bytes; the limit is %d (8 MiB)", len(doc), MaxDocumentSize)}
	}
	if !utf8.Valid(doc) {
		off := 0
		for off < len(doc) {
			r, n := utf8.DecodeRune(doc[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &PathError{Path: "$", Problem: fmt.Sprintf("malformed JSON at byte %d: not valid UTF-8", off)}
	}
	type frame struct {
		n     *node
		path  string
		key   string // the member whose value comes next
		named bool   // key is set: a value is expected, not a name
	}
	var stack []*frame
	var root *node
	// where is the path of the value the parser expects next.
	where := func() string {
		if len(stack) == 0 {
			return "$"
		}
		f := stack[len(stack)-1]
		switch {
		case f.n.kind == kindArray:
			return index(f.path, len(f.n.items))
		case f.named:
			return member(f.path, f.key)
		case f.path == "":
			return "$"
		}
		return f.path
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	for {
		tok, err := d.Token()
		if err != nil {
			msg, off := syntaxError(doc, err, d.InputOffset())
			return nil, &PathError{Path: where(), Problem: fmt.Sprintf("malformed JSON at byte %d: %s", off, msg)}
		}
		var n *node
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n = &node{kind: kindObject, vals: map[string]*node{}}
			case '[':
				n = &node{kind: kindArray}
			default: // '}' or ']': the container is complete
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return root, end(d)
				}
				continue
			}
		case string:
			if f := stack0(stack); f != nil && f.n.kind == kindObject && !f.named {
				if _, dup := f.n.vals[t]; dup {
					return nil, &PathError{Path: member(f.path, t), Problem: "duplicate member name"}
				}
				f.key, f.named = t, true
				continue
			}
			n = &node{kind: kindString, str: t}
		case json.Number:
			n = &node{kind: kindNumber, str: string(t)}
		case bool:
			n = &node{kind: kindBool}
			if t {
				n.str = "true"
			}
		case nil:
			n = &node{kind: kindNull}
		}
		path := where()
		if f := stack0(stack); f == nil {
			root = n
		} else if f.n.kind == kindArray {
			f.n.items = append(f.n.items, n)
		} else {
			f.n.keys = append(f.n.keys, f.key)
			f.n.vals[f.key] = n
			f.named = false
		}
		if n.kind == kindObject || n.kind == kindArray {
			if len(stack) >= maxDepth {
				return nil, &PathError{Path: path, Problem: fmt.Sprintf("nested more than %d levels deep", maxDepth)}
			}
			if path == "$" {
				path = ""
			}
			stack = append(stack, &frame{n: n, path: path})
		} else if len(stack) == 0 {
			return root, end(d)
		}
	}
}

// syntaxError restates a syntax error that the token walk met with the
// offset of the byte it is about. The walk's own offsets depend on where
// encoding/json found the error; its scanner over the whole document
// counts consistently.
func syntaxError(doc []byte, err error, off int64) (string, int64) {
	var raw json.RawMessage
	var se *json.SyntaxError
	if errors.As(json.Unmarshal(doc, &raw), &se) {
		if strings.HasPrefix(se.Error(), "unexpected end") {
			return io.ErrUnexpectedEOF.Error(), int64(len(doc))
		}
		return se.Error(), se.Offset - 1
	}
	return err.Error(), off
}

func stack0[T any](s []*T) *T {
	if len(s) == 0 {
		return nil
	}
	return s[len(s)-1]
}

// end checks that nothing but white space follows the document.
func end(d *json.Decoder) error {
	off := d.InputOffset()
	if _, err := d.Token(); err != io.EOF {
		return &PathError{Path: "$", Problem: fmt.Sprintf("malformed JSON: data after the document, which ends at byte %d", off)}
	}
	return nil
}

// val is a value in the tree with its path; n is nil when the value is
// absent.
type val struct {
	n    *node
	path string
}

func (v val) fail(format string, args ...any) *PathError {
	p := v.path
	if p == "" {
		p = "$"
	}
	return &PathError{Path: p, Problem: fmt.Sprintf(format, args...)}
}

func (v val) present() bool { return v.n != nil }

// get returns the member name of an object (absent if v is not an object).
func (v val) get(name string) val {
	out := val{path: member(v.path, name)}
	if v.n != nil && v.n.kind == kindObject {
		out.n = v.n.vals[name]
	}
	return out
}

func (v val) is(k kind) error {
	switch {
	case v.n == nil:
		return v.fail("missing")
	case v.n.kind != k:
		return v.fail("want %s, got %s", k, v.n.kind)
	}
	return nil
}

func (v val) object() error { return v.is(kindObject) }

// str returns a required string.
func (v val) str() (string, error) {
	if err := v.is(kindString); err != nil {
		return "", err
	}
	return v.n.str, nil
}

// optStr returns an optional string: "" when absent.
func (v val) optStr() (string, error) {
	if v.n == nil {
		return "", nil
	}
	return v.str()
}

// list returns the elements of a required array.
func (v val) list() ([]val, error) {
	if err := v.is(kindArray); err != nil {
		return nil, err
	}
	out := make([]val, len(v.n.items))
	for i, n := range v.n.items {
		out[i] = val{n: n, path: index(v.path, i)}
	}
	return out, nil
}

// optList returns the elements of an optional array: none when absent.
func (v val) optList() ([]val, error) {
	if v.n == nil {
		return nil, nil
	}
	return v.list()
}

// time parses a required RFC 3339 date-time.
func (v val) time() (time.Time, error) {
	s, err := v.str()
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, v.fail("%q is not an RFC 3339 date-time with a time zone", s)
	}
	return t, nil
}

// importer holds what Import learnt from the document's head.
type importer struct {
	opts ImportOptions
	glns map[string]string // GLN → organisation, from the keys of opts.Parties
	ns   []string          // the prefixes under which medledger's extension fields appear
}

// context checks @context and finds the prefixes the document gives
// medledger's namespace.
func (im *importer) context(c val) error {
	im.ns = []string{Namespace}
	if err := c.object(); err == nil {
		im.prefixes(c.n)
		return nil
	}
	switch {
	case !c.present():
		return c.fail("missing")
	case c.n.kind == kindString:
		return nil
	case c.n.kind != kindArray:
		return c.fail("want a string, an object or an array, got %s", c.n.kind)
	}
	items, _ := c.list()
	for _, it := range items {
		switch it.n.kind {
		case kindString:
		case kindObject:
			im.prefixes(it.n)
		default:
			return it.fail("want a string or an object, got %s", it.n.kind)
		}
	}
	return nil
}

func (im *importer) prefixes(n *node) {
	for _, k := range n.keys {
		v := n.vals[k]
		if v.kind == kindObject && v.vals["@id"] != nil {
			v = v.vals["@id"]
		}
		if v.kind == kindString && v.str == Namespace && !strings.Contains(k, ":") {
			im.ns = append(im.ns, k+":")
		}
	}
}

// ext returns medledger's extension field name of an event.
func (im *importer) ext(ev val, name string) val {
	for _, k := range ev.n.keys {
		for _, p := range im.ns {
			if k == p+name {
				return ev.get(k)
			}
		}
	}
	return val{path: member(ev.path, "medledger:"+name)}
}

// event maps one event to its messages.
func (im *importer) event(ev val) ([]supply.Msg, error) {
	if err := ev.object(); err != nil {
		return nil, err
	}
	typ, err := ev.get("type").str()
	if err != nil {
		return nil, err
	}
	switch typ {
	case supply.ObjectEvent, supply.AggregationEvent, supply.TransactionEvent:
	case "AssociationEvent", "TransformationEvent":
		return nil, ev.get("type").fail("%s is not supported by medledger", typ)
	default:
		return nil, ev.get("type").fail("unknown event type %q", typ)
	}
	if ed := ev.get("errorDeclaration"); ed.present() {
		return nil, ed.fail("corrective events (errorDeclaration) are not supported by medledger")
	}
	action, err := ev.get("action").str()
	if err != nil {
		return nil, err
	}
	switch action {
	case supply.ActionAdd, supply.ActionObserve, supply.ActionDelete:
	default:
		return nil, ev.get("action").fail("want ADD, OBSERVE or DELETE, got %q", action)
	}
	e := &event{v: ev, typ: typ, action: action}
	if e.ctx, err = eventContext(ev); err != nil {
		return nil, err
	}
	if e.bizStep, err = ev.get("bizStep").optStr(); err != nil {
		return nil, err
	}
	e.bizStep = bizStepVocab.term(e.bizStep)
	if e.disposition, err = ev.get("disposition").optStr(); err != nil {
		return nil, err
	}
	e.disposition = dispositionVocab.term(e.disposition)
	if e.bizTx, err = bizTransactions(ev.get("bizTransactionList")); err != nil {
		return nil, err
	}
	for _, name := range []string{"sourceList", "destinationList"} {
		if _, err := parties(ev.get(name), strings.TrimSuffix(name, "List")); err != nil {
			return nil, err
		}
	}
	switch typ {
	case supply.AggregationEvent:
		return im.aggregation(e)
	case supply.TransactionEvent:
		return im.transaction(e)
	}
	return im.object(e)
}

// event is what every event has, parsed.
type event struct {
	v           val
	typ, action string
	bizStep     string // bare CBV term when it is one
	disposition string
	ctx         supply.Context
	bizTx       []bizTx
}

type bizTx struct {
	supply.BizTransaction
	raw string // the bizTransaction as written
	v   val
}

// eventContext reads eventTime, eventTimeZoneOffset, eventID and readPoint.
func eventContext(ev val) (supply.Context, error) {
	var c supply.Context
	zv := ev.get("eventTimeZoneOffset")
	zone, err := zv.str()
	if err != nil {
		return c, err
	}
	offset, ok := parseOffset(zone)
	if !ok {
		return c, zv.fail("%q is not a time zone offset such as +02:00 (-14:00 to +14:00)", zone)
	}
	tv := ev.get("eventTime")
	ts, err := tv.str()
	if err != nil {
		return c, err
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		// A time without a zone is local time at eventTimeZoneOffset.
		local, err2 := time.Parse("2006-01-02T15:04:05.999999999", ts)
		if err2 != nil {
			return c, tv.fail("%q is not an RFC 3339 date-time", ts)
		}
		t = local.Add(-time.Duration(offset) * time.Second)
	}
	if c.EventTime = t.Unix(); c.EventTime <= 0 {
		return c, tv.fail("%q is not after 1970-01-01T00:00:00Z", ts)
	}
	iv := ev.get("eventID")
	if c.EventID, err = iv.optStr(); err != nil {
		return c, err
	}
	if c.EventID != "" && !absoluteURI(c.EventID) {
		return c, iv.fail("%q is not an absolute URI", clip(c.EventID))
	}
	if len(c.EventID) > 200 {
		return c, iv.fail("longer than 200 characters")
	}
	if c.ReadPoint, err = readPoint(ev.get("readPoint")); err != nil {
		return c, err
	}
	return c, nil
}

// parseOffset parses a time zone offset ±HH:MM within ±14:00 into seconds.
func parseOffset(s string) (int, bool) {
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, false
	}
	for _, i := range []int{1, 2, 4, 5} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	m := int(s[4]-'0')*10 + int(s[5]-'0')
	if m > 59 || h > 14 || h == 14 && m != 0 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// readPoint returns the GLN of a readPoint: from an SGLN URN or a Digital
// Link with AI 414. Another kind of identifier is no error: medledger
// keeps only GLNs, and the read point is optional.
func readPoint(rp val) (string, error) {
	if !rp.present() {
		return "", nil
	}
	if err := rp.object(); err != nil {
		return "", err
	}
	iv := rp.get("id")
	id, err := iv.str()
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(id, "urn:epc:id:sgln:") {
		gln, _, _, err := gs1.ParseSGLNURN(id)
		if err != nil {
			return "", iv.fail("%s", gs1Problem(err))
		}
		return gln, nil
	}
	if v, ok := digitalLinkValue(id, "414"); ok {
		if err := gs1.ValidateGLN(v); err != nil {
			return "", iv.fail("%s", gs1Problem(err))
		}
		return v, nil
	}
	return "", nil
}

// digitalLinkValue returns the value of AI ai in a Digital Link whose path
// ends with /{ai}/{value}, or /{ai}/{value}/254/{extension}.
func digitalLinkValue(s, ai string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return "", false
		}
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	segs := strings.Split(rest, "/")[1:] // without the host
	n := len(segs)
	switch {
	case n >= 2 && segs[n-2] == ai:
		return segs[n-1], true
	case n >= 4 && segs[n-4] == ai && segs[n-2] == "254":
		return segs[n-3], true
	}
	return "", false
}

// gs1Problem is a gs1 error without its package prefix.
func gs1Problem(err error) string { return strings.TrimPrefix(err.Error(), "gs1: ") }

// clip shortens untrusted input for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// bizTransactions parses a bizTransactionList.
func bizTransactions(lv val) ([]bizTx, error) {
	items, err := lv.optList()
	if err != nil {
		return nil, err
	}
	var out []bizTx
	for _, it := range items {
		if err := it.object(); err != nil {
			return nil, err
		}
		b := bizTx{v: it}
		idv := it.get("bizTransaction")
		if b.raw, err = idv.str(); err != nil {
			return nil, err
		}
		if b.raw == "" {
			return nil, idv.fail("empty")
		}
		b.ID = b.raw
		if rest, ok := strings.CutPrefix(b.raw, bizTxURN); ok {
			if b.ID, ok = unescape(rest); !ok || b.ID == "" {
				return nil, idv.fail("bad escape in %q", clip(b.raw))
			}
		}
		if err := plainText(idv, b.ID, 200); err != nil {
			return nil, err
		}
		tv := it.get("type")
		if b.Type, err = tv.optStr(); err != nil {
			return nil, err
		}
		b.Type = bizTxTypeVocab.term(b.Type)
		if rest, ok := strings.CutPrefix(b.Type, bizTxType); ok {
			if b.Type, ok = unescape(rest); !ok || b.Type == "" {
				return nil, tv.fail("bad escape in %q", clip(b.Type))
			}
		}
		if err := plainText(tv, b.Type, 40); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// plainText checks what supply keeps as free text: bounded, no control
// characters.
func plainText(v val, s string, max int) error {
	if len(s) > max {
		return v.fail("longer than %d characters", max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return v.fail("has a control character")
		}
	}
	return nil
}

// party is an entry of a sourceList or destinationList.
type party struct {
	typ, id string
	v       val // the source or destination value
}

// parties parses a sourceList or destinationList; field is "source" or
// "destination".
func parties(lv val, field string) ([]party, error) {
	items, err := lv.optList()
	if err != nil {
		return nil, err
	}
	var out []party
	for _, it := range items {
		if err := it.object(); err != nil {
			return nil, err
		}
		p := party{v: it.get(field)}
		if p.typ, err = it.get("type").str(); err != nil {
			return nil, err
		}
		p.typ = sourceDestVocab.term(p.typ)
		if p.id, err = p.v.str(); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// indexParties indexes the keys of opts.Parties that name a GLN. A GLN that
// two keys map to different organisations is left out: it is ambiguous.
func (im *importer) indexParties() {
	im.glns = map[string]string{}
	bad := map[string]bool{}
	for k, org := range im.opts.Parties {
		g := partyGLN(k)
		if g == "" || bad[g] {
			continue
		}
		if old, ok := im.glns[g]; ok && old != org {
			delete(im.glns, g)
			bad[g] = true
			continue
		}
		im.glns[g] = org
	}
}

// partyGLN returns the GLN that a party or location identifier names: a
// PGLN URN, an SGLN URN without extension, or a Digital Link with AI 417
// or 414 and no extension. Otherwise "".
func partyGLN(s string) string {
	if body, ok := strings.CutPrefix(s, "urn:epc:id:pgln:"); ok {
		cp, ref, ok := strings.Cut(body, ".")
		if !ok || len(cp) < 6 || len(cp) > 12 || len(cp)+len(ref) != 12 || !digits(cp+ref) {
			return ""
		}
		cd, err := gs1.CheckDigit(cp + ref)
		if err != nil {
			return ""
		}
		return cp + ref + string(cd)
	}
	if strings.HasPrefix(s, "urn:epc:id:sgln:") {
		if gln, ext, _, err := gs1.ParseSGLNURN(s); err == nil && ext == "0" {
			return gln
		}
		return ""
	}
	for _, ai := range []string{"417", "414"} {
		if v, ok := digitalLinkValue(s, ai); ok && !strings.Contains(s, "/254/") && gs1.ValidateGLN(v) == nil {
			return v
		}
	}
	return ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// resolve returns the organisation a party identifier stands for.
func (im *importer) resolve(p party) (string, bool, error) {
	org, ok := strings.CutPrefix(p.id, orgURN)
	if !ok {
		org, ok = im.opts.Parties[p.id]
	}
	if !ok {
		if g := partyGLN(p.id); g != "" {
			org, ok = im.glns[g]
		}
	}
	if !ok {
		return "", false, nil
	}
	if err := medledger.ValidateOrgID(org); err != nil {
		return "", false, p.v.fail("%q resolves to %q, which is not an organisation ID: %v", clip(p.id), clip(org), err)
	}
	return org, true, nil
}

// destination returns the organisation a shipment goes to: the owning
// party, else the possessing party, else the location, the first of these
// that resolves.
func (im *importer) destination(e *event) (string, error) {
	lv := e.v.get("destinationList")
	if !lv.present() {
		return "", lv.fail("missing: shipping names the party it ships to")
	}
	list, err := parties(lv, "destination")
	if err != nil {
		return "", err
	}
	var first *party
	for _, typ := range []string{"owning_party", "possessing_party", "location"} {
		for i := range list {
			if list[i].typ != typ {
				continue
			}
			org, ok, err := im.resolve(list[i])
			if err != nil || ok {
				return org, err
			}
			if first == nil {
				first = &list[i]
			}
		}
	}
	if first == nil {
		return "", lv.fail("no owning_party, possessing_party or location destination")
	}
	return "", first.v.fail("party %q is not mapped to a medledger organisation (ImportOptions.Parties)", clip(first.id))
}

// shipment names the shipment of a shipping or receiving event, and
// removes from e.bizTx the transaction that medledger's export adds to
// name it.
func (e *event) shipment() (string, error) {
	for i, b := range e.bizTx {
		if id, ok := strings.CutPrefix(b.raw, shipmentURN); ok {
			if err := supply.ValidateRef("shipment", id); err != nil {
				return "", b.v.get("bizTransaction").fail("%v", err)
			}
			e.bizTx = slices.Delete(e.bizTx, i, i+1)
			return id, nil
		}
	}
	for _, typ := range []string{"desadv", "bol", "po"} {
		for _, b := range e.bizTx {
			if b.Type != typ {
				continue
			}
			if supply.ValidateRef("shipment", b.ID) == nil {
				return b.ID, nil
			}
			return "B-" + hash16(b.ID), nil
		}
	}
	if e.ctx.EventID == "" {
		return "", e.v.get("eventID").fail("missing: without a desadv, bol or po business transaction, the eventID names the shipment")
	}
	return "E-" + hash16(e.ctx.EventID), nil
}

func hash16(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// transactions returns the business transactions as supply keeps them.
func (e *event) transactions() ([]supply.BizTransaction, error) {
	if len(e.bizTx) == 0 {
		return nil, nil
	}
	if len(e.bizTx) > 20 {
		return nil, e.v.get("bizTransactionList").fail("%d business transactions; medledger keeps at most 20", len(e.bizTx))
	}
	out := make([]supply.BizTransaction, len(e.bizTx))
	for i, b := range e.bizTx {
		out[i] = b.BizTransaction
	}
	return out, nil
}

// epcs parses an epcList or childEPCs: SGTIN and SSCC URNs, no repeats.
func epcs(lv val) ([]string, []gs1.EPC, error) {
	items, err := lv.optList()
	if err != nil {
		return nil, nil, err
	}
	out := make([]string, 0, len(items))
	parsed := make([]gs1.EPC, 0, len(items))
	seen := make(map[string]int, len(items))
	for i, it := range items {
		s, err := it.str()
		if err != nil {
			return nil, nil, err
		}
		e, err := parseEPC(it, s)
		if err != nil {
			return nil, nil, err
		}
		if j, dup := seen[e.Key()]; dup {
			return nil, nil, it.fail("repeats %s", index(lv.path[strings.LastIndexByte(lv.path, '.')+1:], j))
		}
		seen[e.Key()] = i
		out = append(out, s)
		parsed = append(parsed, e)
	}
	return out, parsed, nil
}

func parseEPC(v val, s string) (gs1.EPC, error) {
	if !strings.HasPrefix(s, "urn:epc:id:sgtin:") && !strings.HasPrefix(s, "urn:epc:id:sscc:") {
		return gs1.EPC{}, v.fail("not an SGTIN or SSCC URN")
	}
	e, err := gs1.ParseEPC(s)
	if err != nil {
		return gs1.EPC{}, v.fail("%s", gs1Problem(err))
	}
	return e, nil
}

// noQuantities refuses class-level quantities: medledger tracks
// serialized items, so an event about a quantity of a class would be
// recorded only in part.
func noQuantities(qv val) error {
	items, err := qv.optList()
	if err != nil || len(items) == 0 {
		return err
	}
	return qv.fail("class-level quantities are not supported by medledger, which tracks serialized items only")
}

// atMost refuses a list longer than a message may be.
func atMost(lv val, n, max int, what string) error {
	if n > max {
		return lv.fail("%d identifiers; one %s names at most %d", n, what, max)
	}
	return nil
}

func chunks(list []string, n int) [][]string {
	var out [][]string
	for len(list) > n {
		out = append(out, list[:n:n])
		list = list[n:]
	}
	return append(out, list)
}

// object maps an ObjectEvent.
func (im *importer) object(e *event) ([]supply.Msg, error) {
	if e.disposition == "recalled" {
		return im.recall(e)
	}
	if err := noQuantities(e.v.get("quantityList")); err != nil {
		return nil, err
	}
	lv := e.v.get("epcList")
	list, parsed, err := epcs(lv)
	if err != nil {
		return nil, err
	}
	av := e.v.get("action")
	need := func(what string) error {
		if len(list) == 0 {
			if lv.present() {
				return lv.fail("empty: %s", what)
			}
			return lv.fail("missing: %s", what)
		}
		return nil
	}
	switch e.bizStep {
	case "commissioning":
		if e.action != supply.ActionAdd {
			return nil, av.fail("commissioning must be an ADD event, not %s", e.action)
		}
		if err := need("commissioning names the serialized units (SGTINs) it creates"); err != nil {
			return nil, err
		}
		return commission(e, lv, list, parsed)
	case "shipping", "receiving":
		if e.action != supply.ActionObserve {
			return nil, av.fail("%s must be an OBSERVE event, not %s", e.bizStep, e.action)
		}
		id, err := e.shipment()
		if err != nil {
			return nil, err
		}
		if e.bizStep == "receiving" {
			if lv.present() {
				if err := need("a receiving event names what arrived (leave epcList out to receive the whole shipment)"); err != nil {
					return nil, err
				}
			}
			if err := atMost(lv, len(list), supply.MaxEPCs, "receiving event"); err != nil {
				return nil, err
			}
			return []supply.Msg{&supply.Receive{Shipment: id, EPCs: nilIfEmpty(list), Context: e.ctx}}, nil
		}
		if err := need("shipping names what it ships"); err != nil {
			return nil, err
		}
		if err := atMost(lv, len(list), supply.MaxEPCs, "shipping event"); err != nil {
			return nil, err
		}
		to, err := im.destination(e)
		if err != nil {
			return nil, err
		}
		btx, err := e.transactions()
		if err != nil {
			return nil, err
		}
		return []supply.Msg{&supply.Ship{Shipment: id, To: to, EPCs: list, Return: e.disposition == "returned", BizTx: btx, Context: e.ctx}}, nil
	case "dispensing":
		if e.action != supply.ActionObserve {
			return nil, av.fail("dispensing must be an OBSERVE event, not %s", e.action)
		}
		if err := need("dispensing names the units (SGTINs) dispensed"); err != nil {
			return nil, err
		}
		rv := im.ext(e.v, "prescription")
		rx, err := rv.optStr()
		if err != nil {
			return nil, err
		}
		if rx != "" && (len(rx) != 64 || strings.Trim(rx, "0123456789abcdef") != "") {
			return nil, rv.fail("want a 64-hex prescription commitment")
		}
		out := make([]supply.Msg, len(list))
		for i, s := range list {
			if parsed[i].Kind != "sgtin" {
				return nil, val{path: index(lv.path, i)}.fail("only a unit (SGTIN) is dispensed")
			}
			out[i] = &supply.Dispense{EPC: s, Prescription: rx, Context: e.ctx}
		}
		return out, nil
	case "decommissioning", "destroying", "sampling":
		if e.action == supply.ActionAdd {
			return nil, av.fail("%s must be a DELETE or OBSERVE event, not ADD", e.bizStep)
		}
		reason, err := decommissionReason(e)
		if err != nil {
			return nil, err
		}
		if err := need(e.bizStep + " names the items it takes out of the supply chain"); err != nil {
			return nil, err
		}
		var out []supply.Msg
		for _, c := range chunks(list, supply.MaxEPCs) {
			out = append(out, &supply.Decommission{EPCs: c, Reason: reason, Context: e.ctx})
		}
		return out, nil
	}
	if e.action != supply.ActionObserve {
		return nil, av.fail("an ObjectEvent %s with bizStep %q is not supported by medledger (commissioning adds; decommissioning, destroying and sampling delete)", e.action, clip(e.bizStep))
	}
	if err := need("medledger records observations of serialized items and containers"); err != nil {
		return nil, err
	}
	return observe(e, list, nil)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// observe builds Observe messages of at most MaxEPCs items each.
func observe(e *event, list []string, btx []supply.BizTransaction) ([]supply.Msg, error) {
	step := "other"
	if slices.Contains(supply.ObserveBizSteps, e.bizStep) {
		step = e.bizStep
	}
	var out []supply.Msg
	for _, c := range chunks(list, supply.MaxEPCs) {
		out = append(out, &supply.Observe{EPCs: c, BizStep: step, BizTx: btx, Transaction: btx != nil, Context: e.ctx})
	}
	return out, nil
}

// decommissionReason maps a decommissioning event's disposition to the
// reason medledger records.
func decommissionReason(e *event) (string, error) {
	dv := e.v.get("disposition")
	switch {
	case e.bizStep == "sampling":
		return "sample", nil
	case e.bizStep == "destroying" && e.disposition == "":
		return "destroyed", nil
	case e.disposition == "":
		return "", dv.fail("missing: %s says why in its disposition (destroyed, stolen, expired or damaged)", e.bizStep)
	}
	switch e.disposition {
	case "destroyed", "stolen", "expired", "damaged":
		return e.disposition, nil
	}
	return "", dv.fail("disposition %q has no decommission reason in medledger (want destroyed, stolen, expired or damaged)", clip(e.disposition))
}

// ILMD member names, in order of preference.
var (
	lotNames    = []string{"cbvmda:lotNumber", "urn:epcglobal:cbv:mda:lotNumber", "lotNumber"}
	expiryNames = []string{"cbvmda:itemExpirationDate", "urn:epcglobal:cbv:mda:itemExpirationDate", "itemExpirationDate"}
)

func ilmdField(iv val, names []string) (string, error) {
	for _, n := range names {
		if v := iv.get(n); v.present() {
			return v.str()
		}
	}
	return "", iv.fail("missing %s: commissioning needs it", names[0])
}

// commission maps a commissioning event.
func commission(e *event, lv val, list []string, parsed []gs1.EPC) ([]supply.Msg, error) {
	var gtin string
	serials := make([]string, len(list))
	for i, p := range parsed {
		ev := val{path: index(lv.path, i)}
		if p.Kind != "sgtin" {
			return nil, ev.fail("not an SGTIN: only serialized units are commissioned")
		}
		if i == 0 {
			gtin = p.GTIN
		} else if p.GTIN != gtin {
			return nil, ev.fail("GTIN %s differs from GTIN %s of epcList[0]: one commissioning event commissions one product", p.GTIN, gtin)
		}
		serials[i] = p.Serial
	}
	iv := e.v.get("ilmd")
	if err := iv.object(); err != nil {
		if !iv.present() {
			return nil, iv.fail("missing: commissioning needs the lot (cbvmda:lotNumber) and expiry (cbvmda:itemExpirationDate)")
		}
		return nil, err
	}
	lot, err := ilmdField(iv, lotNames)
	if err != nil {
		return nil, err
	}
	if err := gs1.ValidateLot(lot); err != nil {
		return nil, firstPresent(iv, lotNames).fail("%s", gs1Problem(err))
	}
	expiry, err := ilmdField(iv, expiryNames)
	if err != nil {
		return nil, err
	}
	if _, err := gs1.ParseDate(expiry); err != nil {
		return nil, firstPresent(iv, expiryNames).fail("%s", gs1Problem(err))
	}
	var out []supply.Msg
	for _, c := range chunks(serials, supply.MaxCommission) {
		out = append(out, &supply.Commission{GTIN: gtin, Lot: lot, Expiry: expiry, Serials: c, Context: e.ctx})
	}
	return out, nil
}

func firstPresent(v val, names []string) val {
	for _, n := range names {
		if m := v.get(n); m.present() {
			return m
		}
	}
	return v
}

// recall maps an event with disposition recalled: one Recall per LGTIN.
func (im *importer) recall(e *event) ([]supply.Msg, error) {
	if lv := e.v.get("epcList"); lv.present() {
		if items, err := lv.list(); err != nil {
			return nil, err
		} else if len(items) > 0 {
			return nil, lv.fail("a recall names lots (LGTIN classes in quantityList), not EPCs")
		}
	}
	qv := e.v.get("quantityList")
	items, err := qv.list()
	if err != nil {
		if !qv.present() {
			return nil, qv.fail("missing: a recall names the recalled lots as LGTIN classes")
		}
		return nil, err
	}
	if len(items) == 0 {
		return nil, qv.fail("empty: a recall names the recalled lots as LGTIN classes")
	}
	rv := im.ext(e.v, "reason")
	reason, err := rv.optStr()
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "recall"
	}
	if err := plainText(rv, reason, 500); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	var out []supply.Msg
	for i, it := range items {
		if err := it.object(); err != nil {
			return nil, err
		}
		cv := it.get("epcClass")
		class, err := cv.str()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(class, "urn:epc:class:lgtin:") {
			return nil, cv.fail("not an LGTIN class URN (urn:epc:class:lgtin:...): a recall names lots")
		}
		gtin, lot, _, err := gs1.ParseLGTINURN(class)
		if err != nil {
			return nil, cv.fail("%s", gs1Problem(err))
		}
		if j, dup := seen[gtin+"\x00"+lot]; dup {
			return nil, cv.fail("repeats the lot of quantityList[%d]", j)
		}
		seen[gtin+"\x00"+lot] = i
		out = append(out, &supply.Recall{GTIN: gtin, Lot: lot, Reason: reason, Context: e.ctx})
	}
	return out, nil
}

// parent parses an optional parentID.
func parent(e *event) (string, gs1.EPC, error) {
	pv := e.v.get("parentID")
	s, err := pv.optStr()
	if err != nil || s == "" {
		if err == nil && pv.present() {
			err = pv.fail("empty")
		}
		return "", gs1.EPC{}, err
	}
	p, err := parseEPC(pv, s)
	return s, p, err
}

// withParent puts the parent before the children, refusing a parent that
// is also a child.
func withParent(lv val, parent string, p gs1.EPC, list []string, parsed []gs1.EPC) ([]string, error) {
	if parent == "" {
		return list, nil
	}
	for i, c := range parsed {
		if c.Key() == p.Key() {
			return nil, val{path: index(lv.path, i)}.fail("is the parentID itself")
		}
	}
	return append([]string{parent}, list...), nil
}

// aggregation maps an AggregationEvent.
func (im *importer) aggregation(e *event) ([]supply.Msg, error) {
	if err := noQuantities(e.v.get("childQuantityList")); err != nil {
		return nil, err
	}
	lv := e.v.get("childEPCs")
	children, parsed, err := epcs(lv)
	if err != nil {
		return nil, err
	}
	par, p, err := parent(e)
	if err != nil {
		return nil, err
	}
	if e.action == supply.ActionObserve {
		all, err := withParent(lv, par, p, children, parsed)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, lv.fail("missing: an observation names a parentID or childEPCs")
		}
		return observe(e, all, nil)
	}
	pv := e.v.get("parentID")
	if par == "" {
		return nil, pv.fail("missing: packing and unpacking name the container")
	}
	if p.Kind != "sscc" {
		return nil, pv.fail("not an SSCC URN: medledger's containers are logistic units (urn:epc:id:sscc:...)")
	}
	if _, err := withParent(lv, par, p, children, parsed); err != nil {
		return nil, err
	}
	if err := atMost(lv, len(children), supply.MaxEPCs, "AggregationEvent"); err != nil {
		return nil, err
	}
	if e.action == supply.ActionDelete {
		return []supply.Msg{&supply.Disaggregate{Parent: par, Children: nilIfEmpty(children), Context: e.ctx}}, nil
	}
	if len(children) == 0 {
		if lv.present() {
			return nil, lv.fail("empty: packing names what goes into the container")
		}
		return nil, lv.fail("missing: packing names what goes into the container")
	}
	return []supply.Msg{&supply.Aggregate{Parent: par, Children: children, Context: e.ctx}}, nil
}

// transaction maps a TransactionEvent.
func (im *importer) transaction(e *event) ([]supply.Msg, error) {
	if e.action == supply.ActionDelete {
		return nil, e.v.get("action").fail("a TransactionEvent DELETE (ending a business transaction) is not supported by medledger")
	}
	bv := e.v.get("bizTransactionList")
	if len(e.bizTx) == 0 {
		if bv.present() {
			return nil, bv.fail("empty: a TransactionEvent names at least one business transaction")
		}
		return nil, bv.fail("missing: a TransactionEvent names at least one business transaction")
	}
	if err := noQuantities(e.v.get("quantityList")); err != nil {
		return nil, err
	}
	lv := e.v.get("epcList")
	list, parsed, err := epcs(lv)
	if err != nil {
		return nil, err
	}
	par, p, err := parent(e)
	if err != nil {
		return nil, err
	}
	all, err := withParent(lv, par, p, list, parsed)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, lv.fail("missing: medledger records transactions of serialized items and containers")
	}
	btx, err := e.transactions()
	if err != nil {
		return nil, err
	}
	return observe(e, all, btx)
}

package medledger

// Event is a typed record of something a tx did. Types are "<module>.<name>",
// for example "identity.org_admitted". Indexed attributes can be searched
// (CometBFT tx_search, GET /v1/events). Attributes never hold PHI.
type Event struct {
	Type  string `json:"type"`
	Attrs []Attr `json:"attributes"`
}

// Attr is one attribute of an event.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Index bool   `json:"index,omitempty"`
}

// NewEvent returns an event whose attributes, given as key, value pairs, are
// all indexed.
func NewEvent(typ string, kv ...string) Event {
	e := Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attr{Key: kv[i], Value: kv[i+1], Index: true})
	}
	return e
}

// Get returns the value of the first attribute named key.
func (e Event) Get(key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

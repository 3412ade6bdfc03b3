package supply

import (
	"strconv"
	"strings"

	"medledger"
	"medledger/gs1"
)

// Message types of the supply module.
const (
	TypeRegisterProduct = "supply/register_product"
	TypeTransferProduct = "supply/transfer_product"
	TypeCommission      = "supply/commission"
	TypeAggregate       = "supply/aggregate"
	TypeDisaggregate    = "supply/disaggregate"
	TypeShip            = "supply/ship"
	TypeReceive         = "supply/receive"
	TypeDispense        = "supply/dispense"
	TypeDecommission    = "supply/decommission"
	TypeRecall          = "supply/recall"
	TypeObserve         = "supply/observe"
	TypeRegisterDevice  = "supply/register_device"
	TypeAttachDevice    = "supply/attach_device"
	TypeReadings        = "supply/readings"
)

// Limits.
const (
	// MaxCommission is the most units one commission tx may create.
	MaxCommission = 10000
	// MaxEPCs is the most identifiers any other message may name.
	MaxEPCs = 2000
	// MaxChildren is the most items a container may hold.
	MaxChildren = 10000
	// MaxReadings is the most readings in one batch.
	MaxReadings = 1000
	// MaxSkew is how far an event or reading time may run ahead of the
	// block time, in seconds.
	MaxSkew = 300
)

// Msg is a decoded supply message.
type Msg interface {
	Type() string
	Validate() error
}

// Context is what every event message may say about where and when the
// event happened. EventTime 0 means the block time.
type Context struct {
	ReadPoint string `cbor:"40,keyasint,omitempty" json:"read_point,omitempty"` // GLN, 13 digits
	EventTime int64  `cbor:"41,keyasint,omitempty" json:"event_time,omitempty"` // Unix seconds
	EventID   string `cbor:"42,keyasint,omitempty" json:"epcis_event_id,omitempty"`
}

func (c *Context) validate() error {
	if c.ReadPoint != "" {
		if err := gs1.ValidateGLN(c.ReadPoint); err != nil {
			return invalid("read point: %v", err)
		}
	}
	if c.EventTime < 0 {
		return invalid("event time must be a Unix time")
	}
	if len(c.EventID) > 200 || strings.ContainsAny(c.EventID, " \t\n") {
		return invalid("epcis event id must be a URI of at most 200 characters")
	}
	return nil
}

// RegisterProduct registers a product under a GTIN the signer's
// organisation owns.
type RegisterProduct struct {
	GTIN          string `cbor:"1,keyasint" json:"gtin"`
	CompanyPrefix string `cbor:"2,keyasint" json:"company_prefix"`
	Name          string `cbor:"3,keyasint" json:"name"`
	NationalCode  string `cbor:"4,keyasint,omitempty" json:"national_code,omitempty"`
	Strength      string `cbor:"5,keyasint,omitempty" json:"strength,omitempty"`
	Form          string `cbor:"6,keyasint,omitempty" json:"form,omitempty"`
	TempMin       int32  `cbor:"7,keyasint" json:"temp_min"` // hundredths of °C
	TempMax       int32  `cbor:"8,keyasint" json:"temp_max"`
	ShelfLifeDays uint32 `cbor:"9,keyasint" json:"shelf_life_days"`
}

// TransferProduct transfers a GTIN to another manufacturer organisation.
type TransferProduct struct {
	GTIN string `cbor:"1,keyasint" json:"gtin"`
	To   string `cbor:"2,keyasint" json:"to"`
}

// SerialRange is a compact list of numeric serials: Prefix followed by
// Start, Start+1, ... (Count of them), each zero-padded to Width digits.
type SerialRange struct {
	Prefix string `cbor:"1,keyasint,omitempty" json:"prefix,omitempty"`
	Start  uint64 `cbor:"2,keyasint" json:"start"`
	Count  uint32 `cbor:"3,keyasint" json:"count"`
	Width  uint8  `cbor:"4,keyasint,omitempty" json:"width,omitempty"`
}

// Serial returns the i-th serial of the range.
func (r *SerialRange) Serial(i uint32) string {
	n := strconv.FormatUint(r.Start+uint64(i), 10)
	if pad := int(r.Width) - len(n); pad > 0 {
		n = strings.Repeat("0", pad) + n
	}
	return r.Prefix + n
}

func (r *SerialRange) validate() error {
	if r.Count == 0 || r.Count > MaxCommission {
		return invalid("a serial range holds 1 to %d serials", MaxCommission)
	}
	if r.Start > 1<<53 || r.Width > 20 {
		return invalid("serial range start or width out of bounds")
	}
	// The first and last serials bound the length of all of them.
	for _, s := range []string{r.Serial(0), r.Serial(r.Count - 1)} {
		if err := gs1.ValidateSerial(s); err != nil {
			return invalid("serial range: %v", err)
		}
	}
	return nil
}

// Commission creates serialized units of one lot, owned and held by the
// GTIN owner's organisation.
type Commission struct {
	GTIN    string       `cbor:"1,keyasint" json:"gtin"`
	Lot     string       `cbor:"2,keyasint" json:"lot"`
	Expiry  string       `cbor:"3,keyasint" json:"expiry"` // ISO date
	Serials []string     `cbor:"4,keyasint,omitempty" json:"serials,omitempty"`
	Range   *SerialRange `cbor:"5,keyasint,omitempty" json:"range,omitempty"`
	Context
}

// Count returns how many units the message commissions.
func (m *Commission) Count() int {
	if m.Range != nil {
		return int(m.Range.Count)
	}
	return len(m.Serials)
}

// Serial returns the i-th serial the message commissions.
func (m *Commission) Serial(i int) string {
	if m.Range != nil {
		return m.Range.Serial(uint32(i))
	}
	return m.Serials[i]
}

// Aggregate packs items (units or containers) into a container (case or
// pallet), creating the container if it is new.
type Aggregate struct {
	Parent   string   `cbor:"1,keyasint" json:"parent"`   // SSCC URN
	Children []string `cbor:"2,keyasint" json:"children"` // EPC URNs
	Context
}

// Disaggregate unpacks items from a container; no children means all.
type Disaggregate struct {
	Parent   string   `cbor:"1,keyasint" json:"parent"`
	Children []string `cbor:"2,keyasint,omitempty" json:"children,omitempty"`
	Context
}

// Ship sends top-level items to another organisation, which must
// acknowledge receipt. A return sends them back to a previous custodian or
// the GTIN owner.
type Ship struct {
	Shipment string           `cbor:"1,keyasint" json:"shipment"`
	To       string           `cbor:"2,keyasint" json:"to"`
	EPCs     []string         `cbor:"3,keyasint" json:"epcs"`
	Devices  []string         `cbor:"4,keyasint,omitempty" json:"devices,omitempty"`
	Return   bool             `cbor:"5,keyasint,omitempty" json:"return,omitempty"`
	BizTx    []BizTransaction `cbor:"6,keyasint,omitempty" json:"biz_transactions,omitempty"`
	Context
}

// Receive acknowledges a shipment. EPCs lists what arrived; empty means
// everything shipped. Anything shipped and not listed is recorded missing;
// anything listed and not shipped is recorded unexpected.
type Receive struct {
	Shipment string   `cbor:"1,keyasint" json:"shipment"`
	EPCs     []string `cbor:"2,keyasint,omitempty" json:"epcs,omitempty"`
	Context
}

// Dispense records that a pharmacy dispensed a unit to a patient.
// Prescription, if given, is a commitment to the prescription record
// (see RxCommitment), never the record ID itself: a verifier must not be
// able to link a pack to a patient.
type Dispense struct {
	EPC          string `cbor:"1,keyasint" json:"epc"`
	Prescription string `cbor:"2,keyasint,omitempty" json:"prescription,omitempty"` // 64 hex
	Context
}

// Decommission takes items out of the supply chain for a reason.
type Decommission struct {
	EPCs   []string `cbor:"1,keyasint" json:"epcs"`
	Reason string   `cbor:"2,keyasint" json:"reason"`
	Context
}

// Recall recalls a lot. The GTIN owner or a regulator may recall.
type Recall struct {
	GTIN   string `cbor:"1,keyasint" json:"gtin"`
	Lot    string `cbor:"2,keyasint" json:"lot"`
	Reason string `cbor:"3,keyasint" json:"reason"`
	Class  string `cbor:"4,keyasint,omitempty" json:"class,omitempty"`
	Context
}

// Observe records that the signer's organisation saw items (a scan at
// receiving, inspection, or a business-transaction link). Sightings by an
// organisation that does not hold custody are how clones and custody gaps
// come to light.
type Observe struct {
	EPCs    []string         `cbor:"1,keyasint" json:"epcs"`
	BizStep string           `cbor:"2,keyasint,omitempty" json:"biz_step,omitempty"` // CBV; inspecting by default
	BizTx   []BizTransaction `cbor:"3,keyasint,omitempty" json:"biz_transactions,omitempty"`
	// Transaction records an EPCIS TransactionEvent (ADD): the items are
	// associated with BizTx.
	Transaction bool `cbor:"4,keyasint,omitempty" json:"transaction,omitempty"`
	Context
}

// RegisterDevice registers an IoT sensor with its own Ed25519 key.
type RegisterDevice struct {
	Device string `cbor:"1,keyasint" json:"device"`
	Key    []byte `cbor:"2,keyasint" json:"key"`
	Model  string `cbor:"3,keyasint,omitempty" json:"model,omitempty"`
}

// AttachDevice attaches a device to a shipment in transit.
type AttachDevice struct {
	Device   string `cbor:"1,keyasint" json:"device"`
	Shipment string `cbor:"2,keyasint" json:"shipment"`
}

// Reading is one temperature reading.
type Reading struct {
	Time int64 `cbor:"1,keyasint" json:"time"` // Unix seconds
	Temp int32 `cbor:"2,keyasint" json:"temp"` // hundredths of °C
}

// Readings is a batch of readings signed by the device. Any member may
// relay it; what counts is the device's signature.
type Readings struct {
	Device    string    `cbor:"1,keyasint" json:"device"`
	Shipment  string    `cbor:"2,keyasint" json:"shipment"`
	Seq       uint64    `cbor:"3,keyasint" json:"seq"` // strictly increasing per device; gaps allowed
	Readings  []Reading `cbor:"4,keyasint" json:"readings"`
	Signature []byte    `cbor:"5,keyasint" json:"signature"`
}

// ReadingsDomain separates device signatures from every other signature.
const ReadingsDomain = "medledger/supply/readings/v1"

// SignedBytes returns what the device signs: the domain, the chain ID and
// the batch without its signature.
func (m *Readings) SignedBytes(chainID string) []byte {
	body := *m
	body.Signature = nil
	b := medledger.MustMarshal(&body)
	out := make([]byte, 0, len(ReadingsDomain)+1+len(chainID)+1+len(b))
	out = append(out, ReadingsDomain...)
	out = append(out, 0)
	out = append(out, chainID...)
	out = append(out, 0)
	return append(out, b...)
}

func (*RegisterProduct) Type() string { return TypeRegisterProduct }
func (*TransferProduct) Type() string { return TypeTransferProduct }
func (*Commission) Type() string      { return TypeCommission }
func (*Aggregate) Type() string       { return TypeAggregate }
func (*Disaggregate) Type() string    { return TypeDisaggregate }
func (*Ship) Type() string            { return TypeShip }
func (*Receive) Type() string         { return TypeReceive }
func (*Dispense) Type() string        { return TypeDispense }
func (*Decommission) Type() string    { return TypeDecommission }
func (*Recall) Type() string          { return TypeRecall }
func (*Observe) Type() string         { return TypeObserve }
func (*RegisterDevice) Type() string  { return TypeRegisterDevice }
func (*AttachDevice) Type() string    { return TypeAttachDevice }
func (*Readings) Type() string        { return TypeReadings }

func invalid(format string, args ...any) error {
	return medledger.Errorf(medledger.KindInvalid, format, args...)
}

// text checks a free-text field: printable, bounded, and required if min > 0.
func text(field, s string, min, max int) error {
	if len(s) < min || len(s) > max {
		if min > 0 {
			return invalid("%s must be %d to %d characters", field, min, max)
		}
		return invalid("%s must be at most %d characters", field, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("%s has a control character", field)
		}
	}
	return nil
}

// ValidateRef checks a shipment or device identifier: 1 to 64 characters
// of letters, digits and . _ - : (no '/', as it is part of a key).
func ValidateRef(field, s string) error {
	if len(s) == 0 || len(s) > 64 {
		return invalid("%s must be 1 to 64 characters", field)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':') {
			return invalid("%s may hold only letters, digits and . _ - :", field)
		}
	}
	return nil
}

func validGTIN(s string) error {
	if len(s) != 14 {
		return invalid("gtin must be the 14-digit GTIN")
	}
	if err := gs1.ValidateGTIN(s); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func validLot(s string) error {
	if err := gs1.ValidateLot(s); err != nil {
		return invalid("lot: %v", err)
	}
	return nil
}

// ParseEPC parses an EPC URN (sgtin or sscc) into its item key.
func ParseEPC(s string) (string, gs1.EPC, error) {
	k, e, err := epcKey(s)
	if err != nil {
		return "", e, invalid("%v", err)
	}
	return k, e, nil
}

// epcKey is ParseEPC with the parser's own error, for callers that say
// which field failed.
func epcKey(s string) (string, gs1.EPC, error) {
	e, err := gs1.ParseEPC(s)
	if err != nil {
		return "", e, err
	}
	if e.Kind == "sgtin" {
		return UnitKey(e.GTIN, e.Serial), e, nil
	}
	return ContainerKey(e.SSCC), e, nil
}

// epcList checks a list of EPC URNs: 1..max, each valid, no repeats.
func epcList(field string, epcs []string, min, max int) error {
	if len(epcs) < min || len(epcs) > max {
		return invalid("%s must name %d to %d identifiers", field, min, max)
	}
	seen := make(map[string]bool, len(epcs))
	for i, s := range epcs {
		k, _, err := epcKey(s)
		if err != nil {
			return invalid("%s[%d]: %v", field, i, err)
		}
		if seen[k] {
			return invalid("%s[%d] repeats %s", field, i, s)
		}
		seen[k] = true
	}
	return nil
}

func bizTx(list []BizTransaction) error {
	if len(list) > 20 {
		return invalid("at most 20 business transactions")
	}
	for i, b := range list {
		if err := text("biz_transactions["+strconv.Itoa(i)+"].id", b.ID, 1, 200); err != nil {
			return err
		}
		if err := text("biz_transactions["+strconv.Itoa(i)+"].type", b.Type, 0, 40); err != nil {
			return err
		}
	}
	return nil
}

// Validate implements Msg.
func (m *RegisterProduct) Validate() error {
	if err := validGTIN(m.GTIN); err != nil {
		return err
	}
	if err := gs1.ValidateCompanyPrefix(m.GTIN, m.CompanyPrefix); err != nil {
		return invalid("company prefix: %v", err)
	}
	if err := text("name", m.Name, 1, 200); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"national_code", m.NationalCode}, {"strength", m.Strength}, {"form", m.Form}} {
		if err := text(f.name, f.v, 0, 100); err != nil {
			return err
		}
	}
	if m.TempMin >= m.TempMax || m.TempMin < -27300 || m.TempMax > 10000 {
		return invalid("the storage range must have temp_min below temp_max, in hundredths of a degree Celsius between -273 and 100")
	}
	if m.ShelfLifeDays == 0 || m.ShelfLifeDays > 36500 {
		return invalid("shelf life must be 1 to 36500 days")
	}
	return nil
}

// Validate implements Msg.
func (m *TransferProduct) Validate() error {
	if err := validGTIN(m.GTIN); err != nil {
		return err
	}
	return medledger.ValidateOrgID(m.To)
}

// Validate implements Msg.
func (m *Commission) Validate() error {
	if err := validGTIN(m.GTIN); err != nil {
		return err
	}
	if err := validLot(m.Lot); err != nil {
		return err
	}
	if _, err := gs1.ParseDate(m.Expiry); err != nil {
		return invalid("expiry: %v", err)
	}
	switch {
	case m.Range != nil && len(m.Serials) > 0:
		return invalid("give serials or a range, not both")
	case m.Range != nil:
		if err := m.Range.validate(); err != nil {
			return err
		}
	case len(m.Serials) == 0 || len(m.Serials) > MaxCommission:
		return invalid("commission 1 to %d serials", MaxCommission)
	default:
		seen := make(map[string]bool, len(m.Serials))
		for i, s := range m.Serials {
			if err := gs1.ValidateSerial(s); err != nil {
				return invalid("serials[%d]: %v", i, err)
			}
			if seen[s] {
				return invalid("serials[%d] repeats a serial", i)
			}
			seen[s] = true
		}
	}
	return m.Context.validate()
}

func validSSCC(field, s string) error {
	k, _, err := epcKey(s)
	if err != nil {
		return invalid("%s: %v", field, err)
	}
	if !strings.HasPrefix(k, "00") {
		return invalid("%s must be an SSCC (urn:epc:id:sscc:...)", field)
	}
	return nil
}

// Validate implements Msg.
func (m *Aggregate) Validate() error {
	if err := validSSCC("parent", m.Parent); err != nil {
		return err
	}
	if err := epcList("children", m.Children, 1, MaxEPCs); err != nil {
		return err
	}
	if slicesContains(m.Children, m.Parent) {
		return invalid("a container cannot contain itself")
	}
	return m.Context.validate()
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Validate implements Msg.
func (m *Disaggregate) Validate() error {
	if err := validSSCC("parent", m.Parent); err != nil {
		return err
	}
	if err := epcList("children", m.Children, 0, MaxEPCs); err != nil {
		return err
	}
	return m.Context.validate()
}

// Validate implements Msg.
func (m *Ship) Validate() error {
	if err := ValidateRef("shipment", m.Shipment); err != nil {
		return err
	}
	if err := medledger.ValidateOrgID(m.To); err != nil {
		return err
	}
	if err := epcList("epcs", m.EPCs, 1, MaxEPCs); err != nil {
		return err
	}
	if len(m.Devices) > 10 {
		return invalid("at most 10 devices per shipment")
	}
	for _, d := range m.Devices {
		if err := ValidateRef("device", d); err != nil {
			return err
		}
	}
	if err := bizTx(m.BizTx); err != nil {
		return err
	}
	return m.Context.validate()
}

// Validate implements Msg.
func (m *Receive) Validate() error {
	if err := ValidateRef("shipment", m.Shipment); err != nil {
		return err
	}
	if err := epcList("epcs", m.EPCs, 0, MaxEPCs); err != nil {
		return err
	}
	return m.Context.validate()
}

// Validate implements Msg.
func (m *Dispense) Validate() error {
	k, _, err := ParseEPC(m.EPC)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(k, "01") {
		return invalid("only a unit (urn:epc:id:sgtin:...) is dispensed")
	}
	if m.Prescription != "" {
		if len(m.Prescription) != 64 || strings.Trim(m.Prescription, "0123456789abcdef") != "" {
			return invalid("prescription must be a 64-hex commitment (see medledger supply dispense --prescription)")
		}
	}
	return m.Context.validate()
}

// Validate implements Msg.
func (m *Decommission) Validate() error {
	if err := epcList("epcs", m.EPCs, 1, MaxEPCs); err != nil {
		return err
	}
	if _, _, ok := decommission(m.Reason); !ok {
		return invalid("reason must be one of %s", strings.Join(DecommissionReasons(), ", "))
	}
	return m.Context.validate()
}

func decommission(reason string) (bizStep, disposition string, ok bool) {
	for _, r := range decommissionReasons {
		if r.Reason == reason {
			return r.BizStep, r.Disposition, true
		}
	}
	return "", "", false
}

// Validate implements Msg.
func (m *Recall) Validate() error {
	if err := validGTIN(m.GTIN); err != nil {
		return err
	}
	if err := validLot(m.Lot); err != nil {
		return err
	}
	if err := text("reason", m.Reason, 1, 500); err != nil {
		return err
	}
	switch m.Class {
	case "", "I", "II", "III":
	default:
		return invalid("recall class must be I, II or III")
	}
	return m.Context.validate()
}

// ObserveBizSteps are the CBV business steps an observation may carry.
var ObserveBizSteps = []string{"inspecting", "receiving", "storing", "stocking", "picking", "arriving", "departing",
	"loading", "unloading", "holding", "cycle_counting", "stock_taking", "retail_selling", "other"}

// Validate implements Msg.
func (m *Observe) Validate() error {
	if err := epcList("epcs", m.EPCs, 1, MaxEPCs); err != nil {
		return err
	}
	if m.BizStep != "" && !slicesContains(ObserveBizSteps, m.BizStep) {
		return invalid("biz_step must be one of %s", strings.Join(ObserveBizSteps, ", "))
	}
	if m.Transaction && len(m.BizTx) == 0 {
		return invalid("a transaction event names at least one business transaction")
	}
	if err := bizTx(m.BizTx); err != nil {
		return err
	}
	return m.Context.validate()
}

// Validate implements Msg.
func (m *RegisterDevice) Validate() error {
	if err := ValidateRef("device", m.Device); err != nil {
		return err
	}
	if len(m.Key) != 32 {
		return invalid("a device key is a 32-byte Ed25519 public key")
	}
	return text("model", m.Model, 0, 100)
}

// Validate implements Msg.
func (m *AttachDevice) Validate() error {
	if err := ValidateRef("device", m.Device); err != nil {
		return err
	}
	return ValidateRef("shipment", m.Shipment)
}

// Validate implements Msg.
func (m *Readings) Validate() error {
	if err := ValidateRef("device", m.Device); err != nil {
		return err
	}
	if err := ValidateRef("shipment", m.Shipment); err != nil {
		return err
	}
	if m.Seq == 0 {
		return invalid("batch sequence numbers start at 1")
	}
	if len(m.Readings) == 0 || len(m.Readings) > MaxReadings {
		return invalid("a batch holds 1 to %d readings", MaxReadings)
	}
	for i, r := range m.Readings {
		if r.Time <= 0 || (i > 0 && r.Time <= m.Readings[i-1].Time) {
			return invalid("readings[%d]: times must be positive and strictly increasing", i)
		}
		if r.Temp < -27300 || r.Temp > 10000 {
			return invalid("readings[%d]: temperature out of bounds", i)
		}
	}
	if len(m.Signature) != 64 {
		return invalid("a batch carries the device's 64-byte Ed25519 signature")
	}
	return nil
}

// Decode decodes and validates a supply message.
func Decode(msgType string, b []byte) (Msg, error) {
	var m Msg
	switch msgType {
	case TypeRegisterProduct:
		m = new(RegisterProduct)
	case TypeTransferProduct:
		m = new(TransferProduct)
	case TypeCommission:
		m = new(Commission)
	case TypeAggregate:
		m = new(Aggregate)
	case TypeDisaggregate:
		m = new(Disaggregate)
	case TypeShip:
		m = new(Ship)
	case TypeReceive:
		m = new(Receive)
	case TypeDispense:
		m = new(Dispense)
	case TypeDecommission:
		m = new(Decommission)
	case TypeRecall:
		m = new(Recall)
	case TypeObserve:
		m = new(Observe)
	case TypeRegisterDevice:
		m = new(RegisterDevice)
	case TypeAttachDevice:
		m = new(AttachDevice)
	case TypeReadings:
		m = new(Readings)
	default:
		return nil, medledger.Errorf(medledger.KindUnknownMsg, "unknown message type %q", msgType)
	}
	if err := medledger.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, m.Validate()
}

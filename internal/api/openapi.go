package api

import (
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/internal/consent"
	"medledger/internal/identity"
)

// schemas are the documented response bodies, by component name. Their JSON
// schemas are derived from the Go types by reflection, so they follow the
// code.
var schemas = map[string]any{
	"TxStatus":        medledger.TxStatus{},
	"StateProof":      medledger.StateProof{},
	"LightBlock":      medledger.LightBlock{},
	"BlockList":       medledger.BlockList{},
	"Header":          medledger.Header{},
	"NodeStatus":      medledger.NodeStatus{},
	"Problem":         medledger.Problem{},
	"AccountResponse": AccountResponse{},
	"OrgResponse":     OrgResponse{},
	"DIDDocument":     identity.DIDDocument{},
	"EventPage":       EventPage{},
	"IDList": struct {
		IDs []medledger.ID `json:"ids"`
	}{},
	"OrgList": struct {
		Height int64          `json:"height"`
		Orgs   []identity.Org `json:"orgs"`
	}{},
	"ProposalList": struct {
		Height    int64               `json:"height"`
		Proposals []identity.Proposal `json:"proposals"`
	}{},
	"ValidatorList":    ValidatorList{},
	"VerifyResponse":   VerifyResponse{},
	"ProductList":      ProductList{},
	"ProductResponse":  ProductResponse{},
	"ShipmentResponse": ShipmentResponse{},
	"DeviceResponse":   DeviceResponse{},
	"RecordResponse":   RecordResponse{},
	"RecordList": struct {
		Height  int64            `json:"height"`
		Records []RecordResponse `json:"records"`
	}{},
	"AccessLog": struct {
		Height int64            `json:"height"`
		Events []AccessLogEntry `json:"events"`
	}{},
	"GrantList": struct {
		Height      int64               `json:"height"`
		Grants      []consent.Grant     `json:"grants"`
		Emergencies []consent.Emergency `json:"emergencies,omitempty"`
	}{},
	"Wrap": struct {
		Blob medledger.BlobID `json:"blob"`
		Key  string           `json:"key"`
		Wrap []byte           `json:"wrap"`
	}{},
	"Nonce": struct {
		Account medledger.ID `json:"account"`
		Nonce   uint64       `json:"nonce"`
		Height  int64        `json:"height"`
	}{},
}

var (
	timeType  = reflect.TypeOf(time.Time{})
	hexType   = reflect.TypeOf(medledger.HexBytes{})
	bytesType = reflect.TypeOf([]byte{})
)

// jsonSchema describes t as encoding/json encodes it.
func jsonSchema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == hexType:
		return map[string]any{"type": "string", "description": "upper-case hex"}
	case t == bytesType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8):
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonSchema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": jsonSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": jsonSchema(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" && f.Anonymous {
				// encoding/json promotes an embedded struct's fields.
				inner := jsonSchema(f.Type)
				for k, v := range inner["properties"].(map[string]any) {
					props[k] = v
				}
				if req, ok := inner["required"].([]string); ok {
					required = append(required, req...)
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = jsonSchema(f.Type)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			sort.Strings(required)
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

// Document returns the OpenAPI 3.1 document of the routes.
func (s *Server) Document() map[string]any {
	paths := map[string]any{}
	for _, r := range s.routes() {
		op := map[string]any{"operationId": r.ID, "summary": r.Summary, "tags": []string{r.Tag}}
		var params []any
		for _, p := range r.Params {
			params = append(params, map[string]any{"name": p.Name, "in": p.In, "required": p.Required, "description": p.Desc, "schema": map[string]any{"type": p.Type}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Body != "" && r.Raw {
			op["requestBody"] = map[string]any{"required": true, "description": r.Body, "content": map[string]any{
				"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}}}}
		} else if r.Body != "" {
			op["requestBody"] = map[string]any{"required": true, "description": r.Body, "content": map[string]any{
				"application/cbor": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/cbor"}},
				"application/json": map[string]any{"schema": map[string]any{"type": "object", "required": []string{"tx"}, "properties": map[string]any{"tx": map[string]any{"type": "string", "contentEncoding": "base64"}}}},
			}}
		}
		resps := map[string]any{}
		for code, desc := range r.Responses {
			resp := map[string]any{"description": desc}
			switch {
			case code < 300 && r.Schema != "":
				resp["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + r.Schema}}}
			case code >= 400:
				resp["content"] = map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}
			}
			resps[strconv.Itoa(code)] = resp
		}
		op["responses"] = resps
		item, _ := paths[r.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.Path] = item
		}
		item[strings.ToLower(r.Method)] = op
	}
	comps := map[string]any{}
	for name, v := range schemas {
		comps[name] = jsonSchema(reflect.TypeOf(v))
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "medledger API", "version": medledger.Version,
			"description": "REST interface of a medledger node. Writes are signed txs (deterministic CBOR, Ed25519); reads can carry ICS-23 proofs against the app hash. Errors are RFC 9457 problem+json."},
		"paths":      paths,
		"components": map[string]any{"schemas": comps},
	}
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.Document())
}

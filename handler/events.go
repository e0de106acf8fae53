package handler

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/payjs-close/payjs-close/payjs"
)

// Kind is the kind of event an invocation carries.
type Kind string

// The event kinds the function accepts.
const (
	KindHTTPAPI     Kind = "http_api"     // API Gateway HTTP API, payload 2.0
	KindFunctionURL Kind = "function_url" // Lambda Function URL
	KindRESTAPI     Kind = "rest_api"     // API Gateway REST API, payload 1.0
	KindEventBridge Kind = "eventbridge"
	KindSQS         Kind = "sqs"
	KindDirect      Kind = "direct" // Step Functions, aws lambda invoke, sam local invoke
	KindUnknown     Kind = "unknown"
)

// probe holds just enough of any event to tell the kinds apart. Fields
// that several kinds share (detail, source, version, Records) only count
// together with the fields that make a kind what it is.
type probe struct {
	Version        string          `json:"version"`
	HTTPMethod     *string         `json:"httpMethod"`
	RequestContext *probeContext   `json:"requestContext"`
	DetailType     *string         `json:"detail-type"`
	Source         *string         `json:"source"`
	Detail         json.RawMessage `json:"detail"`
	Records        []probeRecord   `json:"Records"`
	PayjsOrderID   json.RawMessage `json:"payjs_order_id"`
}

type probeContext struct {
	HTTP         json.RawMessage `json:"http"`
	ResourcePath *string         `json:"resourcePath"`
	DomainName   string          `json:"domainName"`
}

type probeRecord struct {
	EventSource string `json:"eventSource"`
}

// Recognize tells which kind of event payload is, from its shape alone.
// It returns KindUnknown for anything it does not recognize, and ok
// false when payload is not a JSON object at all.
func Recognize(payload []byte) (k Kind, ok bool) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return KindUnknown, false
	}
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return KindUnknown, false
	}
	return p.kind(), true
}

func (p *probe) kind() Kind {
	s := shape{
		version:      p.Version,
		httpMethod:   p.HTTPMethod != nil,
		detailType:   p.DetailType != nil,
		source:       p.Source != nil,
		detail:       isObject(p.Detail),
		records:      len(p.Records),
		payjsOrderID: p.PayjsOrderID != nil,
	}
	if rc := p.RequestContext; rc != nil {
		s.requestContext, s.http, s.resourcePath, s.domainName = true, isObject(rc.HTTP), rc.ResourcePath != nil, rc.DomainName
	}
	for _, r := range p.Records {
		if r.EventSource == "aws:sqs" {
			s.sqsRecords++
		}
	}
	return s.kind()
}

// shape is what tells the kinds apart, whichever struct an event was
// decoded into (probe, or envelope on the fast path).
type shape struct {
	version        string
	requestContext bool   // requestContext is an object
	http           bool   // requestContext.http is an object
	resourcePath   bool   // requestContext.resourcePath is present
	domainName     string // requestContext.domainName
	httpMethod     bool   // httpMethod is present
	detailType     bool   // detail-type is present
	source         bool   // source is present
	detail         bool   // detail is an object
	records        int    // len(Records)
	sqsRecords     int    // records whose eventSource is aws:sqs
	payjsOrderID   bool   // payjs_order_id is present
}

func (s *shape) kind() Kind {
	switch {
	case s.version == "2.0" && s.requestContext && s.http:
		if strings.Contains(s.domainName, ".lambda-url.") {
			return KindFunctionURL
		}
		return KindHTTPAPI
	case s.httpMethod && s.requestContext && s.resourcePath:
		return KindRESTAPI
	case s.detailType && s.source && s.detail:
		return KindEventBridge
	case s.records > 0 && s.sqsRecords == s.records:
		return KindSQS
	case s.payjsOrderID:
		return KindDirect
	}
	return KindUnknown
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// Request is one close request, whatever event carried it.
type Request struct {
	// PayjsOrderID is the PAYJS order to close.
	PayjsOrderID string
	// MchID picks the merchant when the secret holds several; it is
	// never sent to PAYJS.
	MchID string
}

// wireRequest is the JSON form of a Request (direct invokes, EventBridge
// detail, JSON bodies). Raw values let a number or null be refused with
// a clear message rather than silently coerced.
type wireRequest struct {
	PayjsOrderID json.RawMessage `json:"payjs_order_id"`
	MchID        json.RawMessage `json:"mchid"`
}

// decodeRequest reads a Request from a JSON object.
func decodeRequest(raw []byte) (Request, *Result) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Request{}, ptr(failed(CodeInvalidRequest, "request must be a JSON object"))
	}
	var w wireRequest
	if err := json.Unmarshal(raw, &w); err != nil {
		return Request{}, ptr(failed(CodeInvalidRequest, "request is not valid JSON"))
	}
	return requestFrom(w.PayjsOrderID, w.MchID)
}

// requestFrom builds a Request from the raw JSON values of its fields
// (nil when absent).
func requestFrom(payjsOrderID, mchID []byte) (Request, *Result) {
	var req Request
	var ok bool
	if req.PayjsOrderID, ok = jsonString(payjsOrderID); !ok {
		return Request{}, ptr(failed(CodeInvalidRequest, "payjs_order_id must be a string"))
	}
	if req.MchID, ok = jsonString(mchID); !ok {
		return Request{}, ptr(failed(CodeInvalidRequest, "mchid must be a string"))
	}
	return req, nil
}

// jsonString decodes an optional JSON string; absent means "".
func jsonString(raw []byte) (string, bool) {
	if raw == nil {
		return "", true
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if s, ok := plainJSONString(raw); ok {
		return s, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// plainJSONString returns the value of a JSON string literal that holds
// only printable ASCII and no escapes, such as every valid order id,
// without json.Unmarshal's reflection; ok is false for anything else.
func plainJSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(inner), true
}

// validate checks a Request before any network call. Valid ids are
// [0-9A-Za-z]{1,32}, so no value can smuggle a separator into the
// string PAYJS signs.
func (r Request) validate() *Result {
	switch {
	case r.PayjsOrderID == "":
		return ptr(failed(CodeInvalidRequest, "payjs_order_id is required"))
	case !payjs.ValidOrderID(r.PayjsOrderID):
		res := failed(CodeInvalidOrderID, "payjs_order_id must be 1 to 32 characters of [0-9A-Za-z]")
		return &res
	case r.MchID != "" && !payjs.ValidOrderID(r.MchID):
		return ptr(failed(CodeInvalidRequest, "mchid must be 1 to 32 characters of [0-9A-Za-z]"))
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

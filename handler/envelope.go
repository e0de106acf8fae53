package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// envelope holds every field the handler reads from an event of any
// kind, so that one json.Unmarshal both recognizes the kind and extracts
// the request. Recognizing an API Gateway event (a probe) and then
// decoding it again into its aws-lambda-go type took most of an HTTP
// invocation's CPU time and allocations (BenchmarkInvoke); fields that no
// kind reads are now skipped, not decoded.
//
// Its fields have the JSON names and types of [probe] and of the
// aws-lambda-go event types. An event with a field of another type here
// (never one that AWS sends) goes the slower way, [Handler.invokeDecoded],
// which answers it exactly as before. Fields the handler never reads are
// not type-checked on this path.
type envelope struct {
	// What recognizes the kind (see probe).
	Version        string      `json:"version"`
	HTTPMethod     *string     `json:"httpMethod"`
	RequestContext *envContext `json:"requestContext"`
	DetailType     *string     `json:"detail-type"`
	Source         *string     `json:"source"`
	Detail         rawJSON     `json:"detail"`
	Records        []sqsRecord `json:"Records"`
	PayjsOrderID   rawJSON     `json:"payjs_order_id"`

	// Direct invokes.
	MchID rawJSON `json:"mchid"`

	// HTTP API, REST API and Function URL events. Headers are decoded
	// only when a body needs its Content-Type (see httpRequest.loadHeaders).
	RouteKey          string            `json:"routeKey"`
	RawPath           string            `json:"rawPath"`
	Resource          string            `json:"resource"`
	Path              string            `json:"path"`
	PathParameters    map[string]string `json:"pathParameters"`
	Headers           rawJSON           `json:"headers"`
	MultiValueHeaders rawJSON           `json:"multiValueHeaders"`
	Body              string            `json:"body"`
	IsBase64Encoded   bool              `json:"isBase64Encoded"`
}

type envContext struct {
	HTTP         *envHTTP `json:"http"`
	ResourcePath *string  `json:"resourcePath"`
	DomainName   string   `json:"domainName"`
	Stage        string   `json:"stage"`
}

type envHTTP struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// sqsRecord is what the handler reads of one SQS message.
type sqsRecord struct {
	MessageID   string `json:"messageId"`
	Body        string `json:"body"`
	EventSource string `json:"eventSource"`
}

// rawJSON is a JSON value kept as it is, like json.RawMessage, but as a
// slice of the payload being decoded rather than a copy: the payload
// outlives every use of the envelope, and nothing writes to it.
type rawJSON []byte

// UnmarshalJSON keeps b. It is called for null too, as for
// json.RawMessage, so a field given as null is not nil.
func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// errTypes reports that an event decoded as JSON but a field had
// another type than the envelope's.
var errTypes = errors.New("an event field has an unexpected type")

// decodeEnvelope decodes payload into e. It returns ok false when payload
// is not a JSON object at all, and errTypes when a field had an
// unexpected type (then e must not be used).
func decodeEnvelope(payload []byte, e *envelope) (ok bool, err error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return false, nil
	}
	if err := json.Unmarshal(payload, e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return true, errTypes
		}
		return false, nil
	}
	return true, nil
}

// kind tells the event's kind, as [Recognize] does.
func (e *envelope) kind() Kind {
	s := shape{
		version:      e.Version,
		httpMethod:   e.HTTPMethod != nil,
		detailType:   e.DetailType != nil,
		source:       e.Source != nil,
		detail:       isObject(json.RawMessage(e.Detail)),
		records:      len(e.Records),
		payjsOrderID: e.PayjsOrderID != nil,
	}
	if rc := e.RequestContext; rc != nil {
		s.requestContext, s.http, s.resourcePath, s.domainName = true, rc.HTTP != nil, rc.ResourcePath != nil, rc.DomainName
	}
	for i := range e.Records {
		if e.Records[i].EventSource == "aws:sqs" {
			s.sqsRecords++
		}
	}
	return s.kind()
}

// httpV2 is the request of an HTTP API event, as fromV2 builds it.
func (e *envelope) httpV2() httpRequest {
	r := httpRequest{
		path:       e.RawPath,
		pathParams: e.PathParameters,
		rawHeaders: e.Headers,
		body:       e.Body,
		base64:     e.IsBase64Encoded,
	}
	if rc := e.RequestContext; rc != nil {
		r.stage = rc.Stage
		if rc.HTTP != nil {
			r.method = rc.HTTP.Method
			if r.path == "" {
				r.path = rc.HTTP.Path
			}
		}
	}
	if _, tmpl, ok := strings.Cut(e.RouteKey, " "); ok {
		r.route = tmpl
	}
	return r
}

// functionURL is the request of a Function URL event, as fromFunctionURL
// builds it.
func (e *envelope) functionURL() httpRequest {
	r := httpRequest{
		path:       e.RawPath,
		rawHeaders: e.Headers,
		body:       e.Body,
		base64:     e.IsBase64Encoded,
	}
	if rc := e.RequestContext; rc != nil && rc.HTTP != nil {
		r.method = rc.HTTP.Method
	}
	return r
}

// httpV1 is the request of a REST API event, as fromV1 builds it.
func (e *envelope) httpV1() httpRequest {
	r := httpRequest{
		method:          *e.HTTPMethod,
		route:           e.Resource,
		path:            e.Path,
		pathParams:      e.PathParameters,
		rawHeaders:      e.Headers,
		rawMultiHeaders: e.MultiValueHeaders,
		body:            e.Body,
		base64:          e.IsBase64Encoded,
	}
	if rc := e.RequestContext; rc != nil {
		r.stage = rc.Stage
	}
	return r
}

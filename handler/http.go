package handler

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBodyBytes is the largest HTTP body accepted, after base64 decoding.
const MaxBodyBytes = 4 << 10

// The two routes, as API Gateway names them.
const (
	routeOrders = "/orders/{payjs_order_id}/close"
	routeClose  = "/close"
)

// httpRequest is what the handler needs of any HTTP event kind.
type httpRequest struct {
	method     string
	route      string // the matched route template, when API Gateway matched one
	path       string // the request path, for Function URLs and $default routes
	stage      string
	pathParams map[string]string
	headers    map[string]string
	body       string
	base64     bool

	// On the fast path (see envelope) the headers stay raw JSON until
	// loadHeaders: only a request with a body reads one.
	rawHeaders      []byte
	rawMultiHeaders []byte // REST API: used when headers is empty
}

func fromV2(e *events.APIGatewayV2HTTPRequest) httpRequest {
	r := httpRequest{
		method:     e.RequestContext.HTTP.Method,
		path:       e.RawPath,
		stage:      e.RequestContext.Stage,
		pathParams: e.PathParameters,
		headers:    e.Headers,
		body:       e.Body,
		base64:     e.IsBase64Encoded,
	}
	if _, tmpl, ok := strings.Cut(e.RouteKey, " "); ok {
		r.route = tmpl
	}
	if r.path == "" {
		r.path = e.RequestContext.HTTP.Path
	}
	return r
}

func fromFunctionURL(e *events.LambdaFunctionURLRequest) httpRequest {
	return httpRequest{
		method:  e.RequestContext.HTTP.Method,
		path:    e.RawPath,
		headers: e.Headers,
		body:    e.Body,
		base64:  e.IsBase64Encoded,
	}
}

func fromV1(e *events.APIGatewayProxyRequest) httpRequest {
	h := e.Headers
	if len(h) == 0 && len(e.MultiValueHeaders) > 0 {
		h = make(map[string]string, len(e.MultiValueHeaders))
		for k, v := range e.MultiValueHeaders {
			if len(v) > 0 {
				h[k] = v[0]
			}
		}
	}
	return httpRequest{
		method:     e.HTTPMethod,
		route:      e.Resource,
		path:       e.Path,
		stage:      e.RequestContext.Stage,
		pathParams: e.PathParameters,
		headers:    h,
		body:       e.Body,
		base64:     e.IsBase64Encoded,
	}
}

// loadHeaders decodes the raw headers of the fast path, as the
// aws-lambda-go event types decode them. It reports false when they are
// malformed.
func (r *httpRequest) loadHeaders() bool {
	raw, multi := r.rawHeaders, r.rawMultiHeaders
	r.rawHeaders, r.rawMultiHeaders = nil, nil
	if raw != nil && json.Unmarshal(raw, &r.headers) != nil {
		return false
	}
	if len(r.headers) == 0 && multi != nil {
		var mv map[string][]string
		if json.Unmarshal(multi, &mv) != nil {
			return false
		}
		if len(mv) > 0 {
			r.headers = make(map[string]string, len(mv))
			for k, v := range mv {
				if len(v) > 0 {
					r.headers[k] = v[0]
				}
			}
		}
	}
	return true
}

// header returns the first header named name, in any case.
func (r *httpRequest) header(name string) string {
	if v, ok := r.headers[name]; ok {
		return v
	}
	for k, v := range r.headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// pathID resolves the route: ok false means neither route matches. For
// the orders route it returns the id in the path.
func (r *httpRequest) pathID() (id string, ok bool) {
	switch r.route {
	case routeClose:
		return "", true
	case routeOrders:
		return r.pathParams["payjs_order_id"], true
	}
	p := r.path
	if r.stage != "" && r.stage != "$default" {
		p = strings.TrimPrefix(p, "/"+r.stage)
	}
	p = strings.TrimSuffix(p, "/")
	if p == routeClose {
		return "", true
	}
	if rest, found := strings.CutPrefix(p, "/orders/"); found {
		if id, found := strings.CutSuffix(rest, "/close"); found && id != "" && !strings.Contains(id, "/") {
			if u, err := url.PathUnescape(id); err == nil {
				return u, true
			}
			return id, true
		}
	}
	return "", false
}

// extract turns an HTTP event into a Request, or the Result that refuses it.
func (r *httpRequest) extract() (Request, *Result) {
	pathID, ok := r.pathID()
	if !ok {
		return Request{}, ptr(failed(CodeNotFound, "no such route: use POST /orders/{payjs_order_id}/close or POST /close"))
	}
	if r.method != http.MethodPost {
		return Request{}, ptr(failed(CodeMethodNotAllowed, "method must be POST"))
	}
	body, res := r.decodedBody()
	if res != nil {
		return Request{}, res
	}
	var req Request
	if len(body) > 0 {
		if !r.loadHeaders() {
			return Request{}, ptr(failed(CodeInvalidRequest, "event is malformed"))
		}
		if req, res = decodeBody(r.header("Content-Type"), body); res != nil {
			return Request{}, res
		}
	}
	if pathID != "" {
		if req.PayjsOrderID != "" && req.PayjsOrderID != pathID {
			return Request{}, ptr(failed(CodeInvalidRequest, "payjs_order_id in the body differs from the one in the path"))
		}
		req.PayjsOrderID = pathID
	}
	return req, nil
}

func (r *httpRequest) decodedBody() ([]byte, *Result) {
	tooLarge := ptr(failed(CodePayloadTooLarge, "body must be at most 4096 bytes"))
	if !r.base64 {
		if len(r.body) > MaxBodyBytes {
			return nil, tooLarge
		}
		return []byte(r.body), nil
	}
	if base64.StdEncoding.DecodedLen(len(r.body)) > MaxBodyBytes+3 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(r.body)
	if err != nil {
		return nil, ptr(failed(CodeInvalidRequest, "body is not valid base64"))
	}
	if len(b) > MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}

// decodeBody reads a Request from a JSON or form body.
func decodeBody(contentType string, body []byte) (Request, *Result) {
	unsupported := ptr(failed(CodeUnsupportedMediaType, "Content-Type must be application/json or application/x-www-form-urlencoded"))
	if contentType == "" {
		return Request{}, unsupported
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Request{}, unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Request{}, ptr(failed(CodeUnsupportedMediaType, "charset must be utf-8"))
	}
	switch mt {
	case "application/json":
		return decodeRequest(body)
	case "application/x-www-form-urlencoded":
		return decodeForm(body)
	}
	return Request{}, unsupported
}

func decodeForm(body []byte) (Request, *Result) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return Request{}, ptr(failed(CodeInvalidRequest, "body is not a valid form"))
	}
	if len(v["payjs_order_id"]) > 1 || len(v["mchid"]) > 1 {
		return Request{}, ptr(failed(CodeInvalidRequest, "payjs_order_id and mchid may appear at most once"))
	}
	return Request{PayjsOrderID: v.Get("payjs_order_id"), MchID: v.Get("mchid")}, nil
}

// The headers of every HTTP answer, as json.Marshal writes them for a
// map[string]string (keys sorted): Content-Type and Cache-Control, and
// Allow for a 405.
const (
	httpHeadersJSON    = `{"Cache-Control":"no-store","Content-Type":"application/json; charset=utf-8"}`
	httpHeaders405JSON = `{"Allow":"POST","Cache-Control":"no-store","Content-Type":"application/json; charset=utf-8"}`
)

// httpShape is which aws-lambda-go response type an HTTP answer takes.
type httpShape int

const (
	shapeV2          httpShape = iota // events.APIGatewayV2HTTPResponse
	shapeFunctionURL                  // events.LambdaFunctionURLResponse
	shapeV1                           // events.APIGatewayProxyResponse
)

// encodeHTTP returns the HTTP response for res: the status of its error
// code, the headers above and res as the body, in the JSON form of the
// response type of shape, byte for byte what json.Marshal writes for that
// type, built in one buffer (marshaling the response type cost a
// second encoding pass and a map sort per invocation).
func encodeHTTP(shape httpShape, res *Result) ([]byte, error) {
	status := http.StatusOK
	headers := httpHeadersJSON
	if c := res.code(); c != "" {
		status = c.HTTPStatus()
		if c == CodeMethodNotAllowed {
			headers = httpHeaders405JSON
		}
	}
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 160+len(body)+len(body)/4)
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"headers":`...)
	b = append(b, headers...)
	if shape != shapeFunctionURL {
		b = append(b, `,"multiValueHeaders":null`...)
	}
	b = append(b, `,"body":`...)
	b = appendJSONQuoted(b, body)
	switch shape {
	case shapeV2:
		b = append(b, `,"cookies":null}`...)
	case shapeFunctionURL:
		b = append(b, `,"isBase64Encoded":false,"cookies":null}`...)
	default:
		b = append(b, '}')
	}
	return b, nil
}

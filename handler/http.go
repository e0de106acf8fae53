package handler

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// MaxBodyBytes is the largest HTTP body accepted, after base64 decoding.
const MaxBodyBytes = 4 << 10

// The routes, as API Gateway names them. POST closes (or schedules the
// close of) an order; DELETE on the orders route cancels a scheduled close.
const (
	routeOrders = "/orders/{payjs_order_id}/close"
	routeClose  = "/close"
)

// httpRequest is what the handler needs of any HTTP event kind.
type httpRequest struct {
	method     string
	route      string // the matched route template, when API Gateway matched one
	path       string // the request path, for Function URLs and $default routes
	pathParams map[string]string
	headers    map[string]string
	body       string
	base64     bool
}

func fromHTTPAPI(e *events.APIGatewayV2HTTPRequest) httpRequest {
	r := httpRequest{
		method:     e.RequestContext.HTTP.Method,
		path:       e.RawPath,
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

// fromRESTAPI reads a REST API event. Its path never holds the stage, and
// resource is the matched route template.
func fromRESTAPI(e *events.APIGatewayProxyRequest) httpRequest {
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
		pathParams: e.PathParameters,
		headers:    h,
		body:       e.Body,
		base64:     e.IsBase64Encoded,
	}
}

// header returns the header named name, in any case. Case-variants of
// name with different values are refused, naming the header: which one a
// map gives first is chance, and a front end may have read the other.
func (r httpRequest) header(name string) (string, error) {
	val, found := "", false
	for k, v := range r.headers {
		if !strings.EqualFold(k, name) {
			continue
		}
		if found && v != val {
			return "", closing.Errorf(closing.CodeInvalidRequest, "header "+name+" is given more than once, in different cases, with different values")
		}
		val, found = v, true
	}
	return val, nil
}

// pathID resolves the route: ok false means no route matches. For the
// orders route it returns the id in the path.
func (r httpRequest) pathID() (id string, ok bool) {
	switch r.route {
	case routeClose:
		return "", true
	case routeOrders:
		return r.pathParams["payjs_order_id"], true
	}
	p := strings.TrimSuffix(r.path, "/")
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

// request turns an HTTP event into a Request.
func (r httpRequest) request() (closing.Request, error) {
	pathID, ok := r.pathID()
	if !ok {
		return closing.Request{}, closing.Errorf(closing.CodeNotFound, "no such route: use POST /orders/{payjs_order_id}/close, POST /close or DELETE /orders/{payjs_order_id}/close")
	}
	cancel := r.method == http.MethodDelete && pathID != ""
	if r.method != http.MethodPost && !cancel {
		return closing.Request{}, closing.Errorf(closing.CodeMethodNotAllowed, "method must be POST (or DELETE on /orders/{payjs_order_id}/close)")
	}
	body, err := r.decodedBody()
	if err != nil {
		return closing.Request{}, err
	}
	var req closing.Request
	if len(body) > 0 {
		contentType, err := r.header("Content-Type")
		if err != nil {
			return closing.Request{}, err
		}
		if req, err = decodeBody(contentType, body); err != nil {
			return closing.Request{}, err
		}
	}
	if pathID != "" {
		if req.PayjsOrderID != "" && req.PayjsOrderID != pathID {
			return closing.Request{}, closing.Errorf(closing.CodeInvalidRequest, "payjs_order_id in the body differs from the one in the path")
		}
		req.PayjsOrderID = pathID
	}
	if cancel {
		req.Cancel = true
	}
	return req, nil
}

func (r httpRequest) decodedBody() ([]byte, error) {
	tooLarge := closing.Errorf(closing.CodePayloadTooLarge, "body must be at most 4096 bytes")
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
		return nil, closing.Errorf(closing.CodeInvalidRequest, "body is not valid base64")
	}
	if len(b) > MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}

// decodeBody reads a Request from a JSON or form body. A body that is a
// JSON object is read as JSON when the Content-Type is missing (as
// `sam local generate-event` and some clients send it) or is a form's
// (curl -d's default): read as a form, it would be one ignored field and
// the order closed now. A form is read as a form; any other type is
// refused.
func decodeBody(contentType string, body []byte) (closing.Request, error) {
	unsupported := closing.Errorf(closing.CodeUnsupportedMediaType, "Content-Type must be application/json or application/x-www-form-urlencoded")
	if strings.TrimSpace(contentType) == "" {
		if !isObject(body) {
			return closing.Request{}, closing.Errorf(closing.CodeUnsupportedMediaType, "Content-Type is missing and the body is not a JSON object: send Content-Type: application/json or application/x-www-form-urlencoded")
		}
		return closing.DecodeJSONBody(body)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return closing.Request{}, unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return closing.Request{}, closing.Errorf(closing.CodeUnsupportedMediaType, "charset must be utf-8")
	}
	switch mt {
	case "application/json":
		return closing.DecodeJSONBody(body)
	case "application/x-www-form-urlencoded":
		if isObject(body) {
			return closing.DecodeJSONBody(body)
		}
		return closing.DecodeForm(body)
	}
	return closing.Request{}, unsupported
}

// answerHTTP is the status, headers and body of an HTTP answer to res.
func answerHTTP(res *closing.Result) (status int, headers map[string]string, body string, err error) {
	status = http.StatusOK
	switch res.Status {
	case closing.StatusScheduled:
		status = http.StatusAccepted
	case closing.StatusClosed, closing.StatusAlreadyClosed, closing.StatusCancelled:
	default:
		status = res.Code().HTTPStatus()
	}
	headers = map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
	if res.Code() == closing.CodeMethodNotAllowed {
		headers["Allow"] = "POST, DELETE"
	}
	b, err := json.Marshal(res)
	return status, headers, string(b), err
}

// encodeHTTP answers res in the response type of the event kind.
func encodeHTTP(kind EventKind, res *closing.Result) ([]byte, error) {
	status, headers, body, err := answerHTTP(res)
	if err != nil {
		return nil, err
	}
	switch kind {
	case EventFunctionURL:
		return json.Marshal(events.LambdaFunctionURLResponse{StatusCode: status, Headers: headers, Body: body})
	case EventRESTAPI:
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: body})
	}
	return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: body})
}

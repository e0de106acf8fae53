package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invoker is the function as the gateway sees it: raw event in, raw
// answer out (the handler, or the bootstrap under the Lambda emulator).
type invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// gateway plays API Gateway's HTTP API (payload 2.0) in front of the
// function, as `sam local start-api` does: each HTTP request becomes an
// APIGatewayV2HTTPRequest event, and the function's answer becomes the
// HTTP response. Requests on a deployed route get its routeKey and path
// parameters; any other request is passed on as the $default route, so
// the function's own 404 and 405 answers show.
type gateway struct {
	fn      invoker
	timeout time.Duration
	seq     atomic.Int64
}

const maxGatewayBody = 10 << 20 // API Gateway's own payload limit

// localFunctionARN is the function's ARN as the gateway invokes it: the
// target of the schedules it makes, which the local Scheduler ignores.
const localFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:payjs-close"

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxGatewayBody+1))
	if err != nil || len(body) > maxGatewayBody {
		http.Error(w, `{"message":"Request Entity Too Large"}`, http.StatusRequestEntityTooLarge)
		return
	}
	n := g.seq.Add(1)
	reqID := fmt.Sprintf("local-%06d", n)
	ev := g.event(r, body, reqID)
	payload, err := json.Marshal(ev)
	if err != nil {
		http.Error(w, `{"message":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: reqID, InvokedFunctionArn: localFunctionARN})
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	out, err := g.fn.Invoke(ctx, payload)
	if err != nil {
		// API Gateway answers a function error with a bare 500.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"message":"Internal Server Error"}`)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"message":"Internal Server Error"}`)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	b := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return
		}
	}
	_, _ = w.Write(b)
}

func (g *gateway) event(r *http.Request, body []byte, reqID string) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "$default",
			AccountID:  "123456789012",
			Stage:      "$default",
			RequestID:  reqID,
			APIID:      "local",
			DomainName: r.Host,
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r.RemoteAddr),
				UserAgent: r.UserAgent(),
			},
		},
	}
	switch r.Method {
	case http.MethodPost:
		if r.URL.Path == "/close" {
			ev.RouteKey = "POST /close"
		} else if id, ok := ordersPathID(r.URL.Path); ok {
			ev.RouteKey = "POST /orders/{payjs_order_id}/close"
			ev.PathParameters = map[string]string{"payjs_order_id": id}
		}
	case http.MethodDelete:
		if id, ok := ordersPathID(r.URL.Path); ok {
			ev.RouteKey = "DELETE /orders/{payjs_order_id}/close"
			ev.PathParameters = map[string]string{"payjs_order_id": id}
		}
	}
	ev.RequestContext.RouteKey = ev.RouteKey
	if len(body) > 0 {
		// Like API Gateway: text bodies pass as they are, others in base64.
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// sourceIP is the client's IP address, without the port ("::1" from
// "[::1]:54321").
func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

func ordersPathID(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/orders/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/close")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

package handler

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

func setBody(body, contentType string, b64 bool) func(map[string]any) {
	return func(m map[string]any) {
		enc := body
		if b64 {
			enc = base64.StdEncoding.EncodeToString([]byte(body))
		}
		m["body"] = enc
		m["isBase64Encoded"] = b64
		h, _ := m["headers"].(map[string]any)
		if h == nil {
			h = map[string]any{}
			m["headers"] = h
		}
		for k := range h {
			if strings.EqualFold(k, "content-type") {
				delete(h, k)
			}
		}
		if contentType != "" {
			h["content-type"] = contentType
		}
	}
}

func setMethod(method string) func(map[string]any) {
	return func(m map[string]any) {
		if rc, ok := m["requestContext"].(map[string]any); ok {
			if h, ok := rc["http"].(map[string]any); ok {
				h["method"] = method
			}
		}
		if _, ok := m["httpMethod"]; ok {
			m["httpMethod"] = method
		}
		if rk, ok := m["routeKey"].(string); ok && rk != "$default" {
			_, tmpl, _ := strings.Cut(rk, " ")
			m["routeKey"] = method + " " + tmpl
		}
	}
}

// setPath makes an event for the $default route (or a REST proxy
// resource) at path, so that the handler must match the path itself.
func setPath(path string) func(map[string]any) {
	return func(m map[string]any) {
		delete(m, "pathParameters")
		if _, ok := m["rawPath"]; ok {
			m["rawPath"] = path
			m["routeKey"] = "$default"
		}
		if _, ok := m["resource"]; ok {
			m["resource"] = "/{proxy+}"
			m["path"] = path
		}
	}
}

// setPathID makes an event for the orders route, without a body.
func setPathID(id string) func(map[string]any) {
	return func(m map[string]any) {
		setBody("", "", false)(m)
		m["pathParameters"] = map[string]any{"payjs_order_id": id}
		if _, ok := m["rawPath"]; ok {
			m["rawPath"] = "/orders/" + id + "/close"
		}
		if _, ok := m["resource"]; ok {
			m["resource"] = "/orders/{payjs_order_id}/close"
			m["path"] = "/orders/" + id + "/close"
		}
	}
}

type httpAnswer struct {
	status  int
	headers map[string]string
	result  closing.Result
}

func (hs *harness) invokeHTTP(t *testing.T, payload []byte) httpAnswer {
	t.Helper()
	out, lerr := hs.invoke(t, payload)
	if lerr != nil {
		t.Fatalf("HTTP event answered with a Lambda error: %v", lerr)
	}
	var resp events.APIGatewayV2HTTPResponse // same JSON shape for all three HTTP kinds
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	if resp.IsBase64Encoded {
		t.Fatalf("response body is base64")
	}
	return httpAnswer{resp.StatusCode, resp.Headers, decodeResult(t, []byte(resp.Body))}
}

const (
	order1 = "2026112500000000000000000001"
	order2 = "2026112500000000000000000002"
)

func TestHTTPKindsValidateAndShape(t *testing.T) {
	big := `{"payjs_order_id":"` + order1 + `","pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	cases := []struct {
		name     string
		edits    []func(map[string]any)
		status   int
		code     closing.Code
		closedID string // the id PAYJS is asked to close; "" = no call
	}{
		{"path id closes", []func(map[string]any){setPathID(order1)}, 200, "", order1},
		{"close route with JSON body", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`"}`, "application/json", false)}, 200, "", order2},
		{"close route with form body", []func(map[string]any){setPath("/close"), setBody("payjs_order_id="+order2+"&mchid="+testMchID, "application/x-www-form-urlencoded", false)}, 200, "", order2},
		{"base64 JSON body", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`"}`, "application/json; charset=utf-8", true)}, 200, "", order2},
		{"path id with the same body id", []func(map[string]any){setPathID(order1), setBody(`{"payjs_order_id":"`+order1+`"}`, "application/json", false)}, 200, "", order1},
		{"path id and a different body id", []func(map[string]any){setPathID(order1), setBody(`{"payjs_order_id":"`+order2+`"}`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"GET is not allowed", []func(map[string]any){setPathID(order1), setMethod("GET")}, 405, closing.CodeMethodNotAllowed, ""},
		{"unknown path", []func(map[string]any){setPath("/orders")}, 404, closing.CodeNotFound, ""},
		{"nested unknown path", []func(map[string]any){setPath("/orders/" + order1 + "/refund")}, 404, closing.CodeNotFound, ""},
		{"body over 4 KiB", []func(map[string]any){setPath("/close"), setBody(big, "application/json", false)}, 413, closing.CodePayloadTooLarge, ""},
		{"base64 body over 4 KiB", []func(map[string]any){setPath("/close"), setBody(big, "application/json", true)}, 413, closing.CodePayloadTooLarge, ""},
		{"text/plain body", []func(map[string]any){setPath("/close"), setBody("payjs_order_id="+order2, "text/plain", false)}, 415, closing.CodeUnsupportedMediaType, ""},
		{"JSON body without content type", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`"}`, "", false)}, 200, "", order2},
		{"form body without content type", []func(map[string]any){setPath("/close"), setBody("payjs_order_id="+order2, "", false)}, 415, closing.CodeUnsupportedMediaType, ""},
		{"JSON body sent as a form (curl -d)", []func(map[string]any){setPath("/close"), setBody(` {"payjs_order_id":"`+order2+`"}`, "application/x-www-form-urlencoded", false)}, 200, "", order2},
		{"JSON body with an explicit other type", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`"}`, "text/plain", false)}, 415, closing.CodeUnsupportedMediaType, ""},
		{"form field that is no request field", []func(map[string]any){setPathID(order1), setBody("order=1", "application/x-www-form-urlencoded", false)}, 400, closing.CodeInvalidRequest, ""},
		{"form field spelt another way", []func(map[string]any){setPathID(order1), setBody("closeAfter=15m", "application/x-www-form-urlencoded", false)}, 400, closing.CodeInvalidRequest, ""},
		{"form with an empty close_after", []func(map[string]any){setPathID(order1), setBody("close_after=", "application/x-www-form-urlencoded", false)}, 400, closing.CodeInvalidRequest, ""},
		{"form with an empty close_at", []func(map[string]any){setPathID(order1), setBody("close_at=&mchid="+testMchID, "application/x-www-form-urlencoded", false)}, 400, closing.CodeInvalidRequest, ""},
		{"form body with no field", []func(map[string]any){setPathID(order1), setBody("&&", "application/x-www-form-urlencoded", false)}, 400, closing.CodeInvalidRequest, ""},
		{"JSON body with no request field", []func(map[string]any){setPathID(order1), setBody(`{"closeafterwards":"15m"}`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"empty JSON object with a path id", []func(map[string]any){setPathID(order1), setBody(`{}`, "application/json", false)}, 200, "", order1},
		{"latin-1 charset", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`"}`, "application/json; charset=latin1", false)}, 415, closing.CodeUnsupportedMediaType, ""},
		{"malformed JSON body", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"JSON array body", []func(map[string]any){setPath("/close"), setBody(`["`+order2+`"]`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"numeric id", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":12345}`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"invalid base64", []func(map[string]any){setPath("/close"), setBody("%%%", "application/json", false), func(m map[string]any) { m["isBase64Encoded"] = true }}, 400, closing.CodeInvalidRequest, ""},
		{"missing id", []func(map[string]any){setPath("/close"), setBody(`{}`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"empty body on /close", []func(map[string]any){setPath("/close"), setBody("", "", false)}, 400, closing.CodeInvalidRequest, ""},
		{"id with a dash", []func(map[string]any){setPathID("2026-11-25")}, 400, closing.CodeInvalidOrderID, ""},
		{"id over 32 characters", []func(map[string]any){setPathID(strings.Repeat("1", 33))}, 400, closing.CodeInvalidOrderID, ""},
		{"duplicate form ids", []func(map[string]any){setPath("/close"), setBody("payjs_order_id="+order1+"&payjs_order_id="+order2, "application/x-www-form-urlencoded", false)}, 400, closing.CodeInvalidRequest, ""},
		{"malformed mchid", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`","mchid":"12 34"}`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
		{"unknown mchid", []func(map[string]any){setPath("/close"), setBody(`{"payjs_order_id":"`+order2+`","mchid":"999"}`, "application/json", false)}, 400, closing.CodeInvalidRequest, ""},
	}
	for _, file := range []string{"http-api.json", "rest-api.json", "function-url.json"} {
		for _, tc := range cases {
			t.Run(file+"/"+tc.name, func(t *testing.T) {
				hs := newHarness(t)
				a := hs.invokeHTTP(t, event(t, file, tc.edits...))
				if a.status != tc.status {
					t.Fatalf("status = %d, want %d; result %+v", a.status, tc.status, a.result)
				}
				if got := a.headers["Content-Type"]; got != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", got)
				}
				if got := a.headers["Cache-Control"]; got != "no-store" {
					t.Errorf("Cache-Control = %q", got)
				}
				if tc.status == http.StatusMethodNotAllowed && a.headers["Allow"] != "POST, DELETE" {
					t.Errorf("405 without Allow: POST, DELETE")
				}
				if a.result.RequestID != testReqID {
					t.Errorf("request_id = %q", a.result.RequestID)
				}
				if tc.code == "" {
					if !a.result.OK || a.result.Status != closing.StatusClosed || a.result.PayjsOrderID != tc.closedID || a.result.Upstream == nil {
						t.Errorf("result = %+v, want closed %s", a.result, tc.closedID)
					}
				} else if a.result.OK || a.result.Failure == nil || a.result.Failure.Code != tc.code || a.result.Status != closing.StatusInvalid {
					t.Errorf("result = %+v, want code %s", a.result, tc.code)
				}
				var want []string
				if tc.closedID != "" {
					want = []string{tc.closedID}
				}
				if strings.Join(hs.closer.asked, ",") != strings.Join(want, ",") {
					t.Errorf("PAYJS asked to close %v, want %v", hs.closer.asked, want)
				}
			})
		}
	}
}

func TestHTTPStatusForUpstreamOutcomes(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   closing.Code
	}{
		{&payjs.Error{Kind: payjs.KindRejected, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnCode: 0, ReturnMsg: "订单已支付", Attempts: 1}}, 422, closing.CodePayjsRejected},
		{&payjs.Error{Kind: payjs.KindBadResponse, Msg: "response signature does not verify", Attempts: 1}, 502, closing.CodePayjsBadResponse},
		{&payjs.Error{Kind: payjs.KindUnavailable, Msg: "PAYJS answered HTTP 503", Attempts: 3}, 503, closing.CodePayjsUnavailable},
		{&payjs.Error{Kind: payjs.KindTimeout, Msg: "no answer", Attempts: 1}, 504, closing.CodePayjsTimeout},
	}
	for _, tc := range cases {
		t.Run(string(tc.code), func(t *testing.T) {
			hs := newHarness(t)
			hs.closer.answer = func(string) (*payjs.Result, error) { return nil, tc.err }
			a := hs.invokeHTTP(t, event(t, "http-api.json"))
			if a.status != tc.status || a.result.Failure == nil || a.result.Failure.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", a.status, a.result, tc.status, tc.code)
			}
			if a.result.Failure.Retryable != tc.code.Retryable() {
				t.Errorf("retryable = %v", a.result.Failure.Retryable)
			}
			if tc.code == closing.CodePayjsRejected && (a.result.Upstream == nil || a.result.Upstream.ReturnMsg != "订单已支付" || a.result.Status != closing.StatusRejected) {
				t.Errorf("rejected result lost PAYJS's answer: %+v", a.result)
			}
		})
	}
}

// TestContentTypeInTwoCases: two case-variants of Content-Type with
// different values are refused, naming the header, whichever a map gives
// first; the same value twice is one header.
func TestContentTypeInTwoCases(t *testing.T) {
	body := `{"payjs_order_id":"` + order2 + `"}`
	both := func(other string) func(map[string]any) {
		return func(m map[string]any) {
			h, _ := m["headers"].(map[string]any)
			h["Content-Type"] = other
		}
	}
	for _, file := range []string{"http-api.json", "rest-api.json", "function-url.json"} {
		for other, status := range map[string]int{"text/plain": 400, "application/x-www-form-urlencoded": 400, "application/json": 200} {
			for range 5 { // map order varies from run to run
				hs := newHarness(t)
				a := hs.invokeHTTP(t, event(t, file, setPath("/close"), setBody(body, "application/json", false), both(other)))
				if a.status != status {
					t.Fatalf("%s, content-type application/json and Content-Type %s: %d %+v, want %d", file, other, a.status, a.result, status)
				}
				if status == 400 && (a.result.Code() != closing.CodeInvalidRequest || !strings.Contains(a.result.Message, "Content-Type")) {
					t.Errorf("%s: %+v, want invalid_request naming Content-Type", file, a.result)
				}
			}
		}
	}
}

package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/payjs-close/payjs-close/payjs"
)

// The fast path (one decode into envelope, HTTP answers written by
// encodeHTTP) must answer every event as the decoded path (probe, then
// the aws-lambda-go type, then json.Marshal of the response type) does.

// objAt returns the JSON object at m[key]; a sample without one is a
// broken fixture.
func objAt(m map[string]any, key string) map[string]any {
	o, ok := m[key].(map[string]any)
	if !ok {
		panic("sample event has no object " + key)
	}
	return o
}

// fastPathCorpus is every sample event, edits of them, the fuzz corpus
// and hand-made edge cases.
func fastPathCorpus(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "events", "*.json"))
	for _, f := range files {
		if filepath.Base(f) == "env.json" {
			continue
		}
		out = append(out, event(t, filepath.Base(f)))
	}
	edits := []struct {
		file string
		edit func(map[string]any)
	}{
		{"http-api.json", func(m map[string]any) { objAt(objAt(m, "requestContext"), "http")["method"] = "GET" }},
		{"http-api.json", func(m map[string]any) { m["routeKey"] = "$default"; m["rawPath"] = "/nope" }},
		{"http-api.json", func(m map[string]any) {
			m["routeKey"] = "POST /close"
			m["body"] = `{"payjs_order_id":"2026112500000000000000000002","mchid":"1528140051"}`
			objAt(m, "headers")["Content-Type"] = "application/json; charset=utf-8"
		}},
		{"http-api.json", func(m map[string]any) { m["routeKey"] = "$default"; m["rawPath"] = "" }},
		{"http-api.json", func(m map[string]any) { m["body"] = "payjs_order_id=x"; m["headers"] = nil }},
		{"http-api.json", func(m map[string]any) { m["body"] = "e30="; m["isBase64Encoded"] = true }},
		{"function-url.json", func(m map[string]any) { m["body"] = "!!!" }},
		{"function-url.json", func(m map[string]any) { objAt(m, "headers")["content-type"] = "text/plain" }},
		{"rest-api.json", func(m map[string]any) { m["headers"] = nil }},
		{"rest-api.json", func(m map[string]any) { m["headers"] = nil; m["multiValueHeaders"] = nil }},
		{"rest-api.json", func(m map[string]any) { m["httpMethod"] = "PUT" }},
		{"rest-api.json", func(m map[string]any) { m["body"] = "payjs_order_id=<b>&mchid=1528140051" }},
		{"eventbridge.json", func(m map[string]any) { m["detail"] = map[string]any{"payjs_order_id": 7} }},
		{"eventbridge.json", func(m map[string]any) { m["detail"] = map[string]any{"payjs_order_id": "\u2028é\x01"} }},
		{"direct.json", func(m map[string]any) { m["mchid"] = "999" }},
		{"direct.json", func(m map[string]any) { m["payjs_order_id"] = nil }},
		{"direct.json", func(m map[string]any) { m["payjs_order_id"] = "a\\\"b" }},
		{"sqs.json", func(m map[string]any) { m["Records"] = []any{} }},
	}
	for _, e := range edits {
		out = append(out, event(t, e.file, e.edit))
	}
	for _, s := range []string{
		`{}`, `[]`, `null`, ``, ` {"payjs_order_id":"1"} `, `{"payjs_order_id":"1"`,
		`{"payjs_order_id":1}`, `{"payjs_order_id":"1","mchid":null}`,
		`{"version":"2.0","requestContext":{"http":"GET"}}`,
		`{"version":"2.0","requestContext":{"http":null}}`,
		`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"rawPath":"/close"}`,
		`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"rawPath":"/close","resource":5}`,
		`{"version":"2.0","requestContext":{"http":{"method":7}},"rawPath":"/close"}`,
		`{"version":"2.0","requestContext":{"http":{"method":"POST"},"domainName":"x.lambda-url.y"},"rawPath":"/orders/1/close"}`,
		`{"httpMethod":"POST","requestContext":{"resourcePath":"/close"},"resource":"/close","body":"payjs_order_id=1","headers":{"Content-Type":"application/x-www-form-urlencoded"}}`,
		`{"httpMethod":"POST","requestContext":{"resourcePath":"/close"},"resource":"/close","body":"payjs_order_id=1","multiValueHeaders":{"content-type":["application/x-www-form-urlencoded","x"]}}`,
		`{"detail-type":"x","source":"y","detail":{"payjs_order_id":"1"},"time":"not a time"}`,
		`{"detail-type":"x","source":"y","detail":"z"}`,
		`{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":"{\"payjs_order_id\":\"1\"}"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":5}]}`,
		`{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":"nope"},{"eventSource":"aws:sqs","messageId":"n","body":"{\"payjs_order_id\":\"bad!\"}"}]}`,
		`{"Records":[null]}`, `{"Records":5}`, `{"Records":[],"payjs_order_id":"1"}`,
		`{"PAYJS_ORDER_ID":"1"}`, `{"payjs_order_id":"1","payjs_order_id":"2"}`,
	} {
		out = append(out, []byte(s))
	}
	fuzz, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzInvoke", "*"))
	for _, f := range fuzz {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, lit, ok := strings.Cut(string(b), "[]byte(")
		if !ok {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// answerOf runs one invocation and returns what the runtime would send.
func answerOf(t *testing.T, invoke func(context.Context, []byte) ([]byte, error), payload []byte) string {
	t.Helper()
	out, err := invoke(lambdaCtx(t), payload)
	if err != nil {
		var ie messages.InvokeResponse_Error
		if errors.As(err, &ie) {
			return "lambda error " + ie.Type + ": " + ie.Message
		}
		return "error: " + err.Error()
	}
	return string(out)
}

func TestFastPathAnswersAsTheDecodedPath(t *testing.T) {
	for _, payload := range fastPathCorpus(t) {
		fast, slow := newHarness(t), newHarness(t)
		for _, hs := range []*harness{fast, slow} {
			hs.closer.answer = func(id string) (*payjs.Result, error) {
				if id == "2026112500000000000000000010" {
					return nil, &payjs.Error{Kind: payjs.KindRejected, Msg: "paid",
						Result: &payjs.Result{ReturnCode: 0, ReturnMsg: "订单已支付 <&>", PayjsOrderID: id, Verified: true, Attempts: 1}, Attempts: 1}
				}
				if id == "2026112500000000000000000503" {
					return nil, &payjs.Error{Kind: payjs.KindUnavailable, Msg: "PAYJS answered HTTP 503", Attempts: 3}
				}
				return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
			}
		}
		got := answerOf(t, fast.h.Invoke, payload)
		want := answerOf(t, slow.h.invokeDecoded, payload)
		if got != want {
			t.Errorf("payload %.300s\nfast path:    %.600s\ndecoded path: %.600s", payload, got, want)
		}
	}
}

// TestFastPathIgnoresUnreadFields pins the one difference of the fast
// path: a field that the handler never reads is not type-checked, where
// decoding into the aws-lambda-go type refused the whole event. AWS never
// sends such events.
func TestFastPathIgnoresUnreadFields(t *testing.T) {
	hs := newHarness(t)
	payload := event(t, "http-api.json", func(m map[string]any) { m["cookies"] = 5 })
	a := hs.invokeHTTP(t, payload)
	if a.status != 200 || !a.result.OK {
		t.Fatalf("got %d %+v", a.status, a.result)
	}
}

// TestEnvelopeKindMatchesRecognize checks the one-pass recognition
// against Recognize for every payload whose envelope decodes.
func TestEnvelopeKindMatchesRecognize(t *testing.T) {
	for _, payload := range fastPathCorpus(t) {
		var e envelope
		isObject, err := decodeEnvelope(payload, &e)
		if err != nil {
			continue // such events go the decoded path
		}
		kind := KindUnknown
		if isObject {
			kind = e.kind()
		}
		wantKind, wantObject := Recognize(payload)
		if kind != wantKind || isObject != wantObject {
			t.Errorf("%.200s: envelope says %s, %v; Recognize %s, %v", payload, kind, isObject, wantKind, wantObject)
		}
	}
}

func TestEncodeHTTPMatchesMarshal(t *testing.T) {
	headers := map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
	headers405 := map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "Allow": "POST"}
	results := []Result{
		{OK: true, Status: StatusClosed, PayjsOrderID: "2026112500000000000000000001", Message: "SUCCESS",
			Upstream: &Upstream{1, "SUCCESS"}, Verified: true, Attempts: 1, RequestID: testReqID},
		failed(CodeMethodNotAllowed, "method must be POST"),
		failed(CodePayjsRejected, "订单已支付 <script>&amp;\u2028\u2029\x00\x1f\x7f\b\f\n\r\t\"\\"),
		failed(CodeConfigUnavailable, "x"),
	}
	for _, res := range results {
		status := 200
		h := headers
		if res.Error != nil {
			status = res.Error.Code.HTTPStatus()
			if res.Error.Code == CodeMethodNotAllowed {
				h = headers405
			}
		}
		body, _ := json.Marshal(res)
		for shape, want := range map[httpShape]any{
			shapeV2:          events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: string(body)},
			shapeFunctionURL: events.LambdaFunctionURLResponse{StatusCode: status, Headers: h, Body: string(body)},
			shapeV1:          events.APIGatewayProxyResponse{StatusCode: status, Headers: h, Body: string(body)},
		} {
			wantJSON, _ := json.Marshal(want)
			got, err := encodeHTTP(shape, &res)
			if err != nil || !bytes.Equal(got, wantJSON) {
				t.Errorf("shape %d: %v\n got %s\nwant %s", shape, err, got, wantJSON)
			}
		}
	}
}

func FuzzAppendJSONQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", `"\<>&`, "\u2028\u2029", "\xff\xfe", "é订单", "\x00\x1f\x7f\b\f\n\r\t", "a\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONQuoted(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONQuoted(%q) = %s, want %s", s, got, want)
		}
		if got := appendJSONQuoted(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("appendJSONQuoted([]byte %q) = %s, want %s", s, got, want)
		}
		if !utf8.ValidString(s) {
			return
		}
		if v, ok := plainJSONString(want); ok && v != s {
			t.Errorf("plainJSONString(%s) = %q, want %q", want, v, s)
		}
	})
}

package handler

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

func TestRecognizeEverySample(t *testing.T) {
	want := map[string]EventKind{
		"http-api.json":     EventHTTPAPI,
		"function-url.json": EventFunctionURL,
		"rest-api.json":     EventRESTAPI,
		"eventbridge.json":  EventBridge,
		"sqs.json":          EventSQS,
		"direct.json":       EventDirect,
	}
	for file, kind := range want {
		f, ok := members(event(t, file))
		got := f.kind()
		if !ok || got != kind {
			t.Errorf("%s: Recognize = %s, %v; want %s", file, got, ok, kind)
		}
	}
}

func TestRecognizeSharedFieldsAlone(t *testing.T) {
	cases := []struct {
		payload string
		kind    EventKind
		object  bool
	}{
		{`{"detail":{"payjs_order_id":"1"}}`, EventUnknown, true},                                 // a bare detail is not EventBridge
		{`{"detail":{"payjs_order_id":"1"},"payjs_order_id":"2"}`, EventDirect, true},             // nor with an id beside it
		{`{"source":"x","detail-type":"y","detail":"not an object"}`, EventUnknown, true},         // detail must be an object
		{`{"version":"2.0","payjs_order_id":"1"}`, EventDirect, true},                             // version alone is not HTTP
		{`{"version":"2.0","requestContext":{"http":"GET"}}`, EventUnknown, true},                 // http must be an object
		{`{"httpMethod":"POST","payjs_order_id":"1"}`, EventDirect, true},                         // REST needs resourcePath
		{`{"Records":[{"eventSource":"aws:s3"}]}`, EventUnknown, true},                            // not SQS
		{`{"Records":[{"eventSource":"aws:sqs"},{"eventSource":"aws:sns"}]}`, EventUnknown, true}, // mixed sources
		{`{"Records":[]}`, EventUnknown, true},                                                    // no records
		{`{"Records":[],"payjs_order_id":"1"}`, EventDirect, true},                                // empty Records beside an id
		{`{}`, EventUnknown, true},
		{`[]`, EventUnknown, false},
		{`"payjs_order_id"`, EventUnknown, false},
		{`null`, EventUnknown, false},
		{`{"payjs_order_id":`, EventUnknown, false},
		{``, EventUnknown, false},
	}
	for _, tc := range cases {
		f, obj := members([]byte(tc.payload))
		k := f.kind()
		if k != tc.kind || obj != tc.object {
			t.Errorf("members(%s).kind() = %s, %v; want %s, %v", tc.payload, k, obj, tc.kind, tc.object)
		}
	}
}

func TestDirectAndEventBridgeAnswers(t *testing.T) {
	rejected := func(string) (*payjs.Result, error) {
		return nil, &payjs.Error{Kind: payjs.KindRejected, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: "订单已关闭", Attempts: 1}}
	}
	unavailable := func(string) (*payjs.Result, error) {
		return nil, &payjs.Error{Kind: payjs.KindUnavailable, Msg: "PAYJS answered HTTP 503", Attempts: 3}
	}
	setDetail := func(d any) func(map[string]any) { return func(m map[string]any) { m["detail"] = d } }
	cases := []struct {
		name     string
		payload  []byte
		answer   func(string) (*payjs.Result, error)
		code     closing.Code // "" = ok
		lambdaEr bool         // answered as a Lambda error (retryable)
	}{
		{"direct closes", event(t, "direct.json"), nil, "", false},
		{"direct without mchid", []byte(`{"payjs_order_id":"` + order1 + `"}`), nil, "", false},
		{"direct rejected is final", event(t, "direct.json"), rejected, closing.CodePayjsRejected, false},
		{"direct unavailable is a Lambda error", event(t, "direct.json"), unavailable, closing.CodePayjsUnavailable, true},
		{"direct invalid id", []byte(`{"payjs_order_id":"abc&key=x"}`), nil, closing.CodeInvalidOrderID, false},
		{"direct null id", []byte(`{"payjs_order_id":null}`), nil, closing.CodeInvalidRequest, false},
		{"direct empty id", []byte(`{"payjs_order_id":""}`), nil, closing.CodeInvalidRequest, false},
		{"eventbridge closes", event(t, "eventbridge.json"), nil, "", false},
		{"eventbridge unavailable is a Lambda error", event(t, "eventbridge.json"), unavailable, closing.CodePayjsUnavailable, true},
		{"eventbridge detail without id", event(t, "eventbridge.json", setDetail(map[string]any{"order": "1"})), nil, closing.CodeInvalidRequest, false},
		{"eventbridge numeric id", event(t, "eventbridge.json", setDetail(map[string]any{"payjs_order_id": 1})), nil, closing.CodeInvalidRequest, false},
		{"eventbridge with a malformed time", event(t, "eventbridge.json", func(m map[string]any) { m["time"] = "yesterday" }), nil, closing.CodeInvalidRequest, false},
		{"unknown event", []byte(`{"hello":"world"}`), nil, closing.CodeUnsupportedEvent, false},
		{"not an object", []byte(`[1,2,3]`), nil, closing.CodeInvalidRequest, false},
		{"not JSON", []byte(`payjs_order_id=1`), nil, closing.CodeInvalidRequest, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t)
			hs.closer.answer = tc.answer
			out, lerr := hs.invoke(t, tc.payload)
			if tc.lambdaEr {
				if lerr == nil {
					t.Fatalf("answered %s, want a Lambda error", out)
				}
				if lerr.Type != string(tc.code) {
					t.Errorf("error type = %q, want %q", lerr.Type, tc.code)
				}
				r := decodeResult(t, []byte(lerr.Message))
				if r.Failure == nil || r.Failure.Code != tc.code || !r.Failure.Retryable || r.RequestID != testReqID {
					t.Errorf("error message result = %+v", r)
				}
				return
			}
			if lerr != nil {
				t.Fatalf("Lambda error %v, want a result", lerr)
			}
			r := decodeResult(t, out)
			if tc.code == "" {
				if !r.OK || r.Status != closing.StatusClosed || r.PayjsOrderID == "" || !r.Verified || r.Attempts != 1 {
					t.Errorf("result = %+v, want closed", r)
				}
				return
			}
			if r.OK || r.Failure == nil || r.Failure.Code != tc.code || r.Failure.Retryable {
				t.Errorf("result = %+v, want final %s", r, tc.code)
			}
			if tc.code != closing.CodePayjsRejected && len(hs.closer.asked) != 0 {
				t.Errorf("PAYJS was asked %v for an invalid request", hs.closer.asked)
			}
		})
	}
}

func TestSQSBatchReportsExactlyTheRetryableRecords(t *testing.T) {
	hs := newHarness(t)
	hs.closer.answer = func(id string) (*payjs.Result, error) {
		switch id {
		case "2026112500000000000000000010":
			return nil, &payjs.Error{Kind: payjs.KindRejected, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: "订单已支付", Attempts: 1}}
		case "2026112500000000000000000503":
			return nil, &payjs.Error{Kind: payjs.KindUnavailable, Msg: "PAYJS answered HTTP 503", Attempts: 3}
		}
		return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
	}
	out, lerr := hs.invoke(t, event(t, "sqs.json"))
	if lerr != nil {
		t.Fatal(lerr)
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "msg-0503" {
		t.Fatalf("batchItemFailures = %+v, want just msg-0503", resp.BatchItemFailures)
	}
	asked := strings.Join(slices.Sorted(slices.Values(hs.closer.asked)), ",")
	want := "2026112500000000000000000005,2026112500000000000000000006,2026112500000000000000000010,2026112500000000000000000503"
	if asked != want {
		t.Errorf("PAYJS asked %s, want %s", asked, want)
	}
	logs := hs.out.String()
	for _, id := range []string{"msg-0005", "msg-0010", "msg-bad", "msg-0503", "msg-0006"} {
		if !strings.Contains(logs, `"sqs_message_id":"`+id+`"`) {
			t.Errorf("no log line for record %s", id)
		}
	}
	if n := strings.Count(logs, `"SQSPermanentFailures":1`); n != 2 {
		t.Errorf("SQSPermanentFailures counted %d times, want 2 (msg-0010, msg-bad)", n)
	}
}

func TestSQSBatchRunsConcurrentlyWithABound(t *testing.T) {
	hs := newHarness(t)
	hs.h.deps.SQSConcurrency = 3
	var mu = make(chan struct{}, 1)
	inFlight, peak := 0, 0
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	hs.closer.answer = func(id string) (*payjs.Result, error) {
		mu <- struct{}{}
		inFlight++
		if inFlight > peak {
			peak = inFlight
		}
		<-mu
		arrived <- struct{}{}
		<-release
		mu <- struct{}{}
		inFlight--
		<-mu
		return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
	}
	records := make([]map[string]any, 10)
	for i := range records {
		records[i] = map[string]any{"messageId": "m" + string(rune('a'+i)), "eventSource": "aws:sqs",
			"body": `{"payjs_order_id":"20261125000000000000000000` + string(rune('a'+i)) + `"}`}
	}
	payload, _ := json.Marshal(map[string]any{"Records": records})
	done := make(chan []byte)
	go func() {
		out, _ := hs.h.Invoke(lambdaCtx(t), payload)
		done <- out
	}()
	for range 3 {
		<-arrived // three closes are in flight at once...
	}
	close(release)
	out := <-done
	if peak != 3 {
		t.Errorf("peak concurrency = %d, want 3", peak)
	}
	if !strings.Contains(string(out), `"batchItemFailures":[]`) {
		t.Errorf("response = %s", out)
	}
}

// TestEveryRefusalIsLoggedAndCounted: whatever an event's flaw, one close
// line and one Closes metric say so.
func TestEveryRefusalIsLoggedAndCounted(t *testing.T) {
	for name, payload := range map[string][]byte{
		"eventbridge with a malformed time":  event(t, "eventbridge.json", func(m map[string]any) { m["time"] = "yesterday" }),
		"direct with a numeric id":           []byte(`{"payjs_order_id":1}`),
		"REST event with a numeric body":     event(t, "rest-api.json", func(m map[string]any) { m["body"] = 5 }),
		"HTTP API event with a numeric body": event(t, "http-api.json", func(m map[string]any) { m["body"] = 5 }),
		"unknown event":                      []byte(`{"hello":"world"}`),
	} {
		t.Run(name, func(t *testing.T) {
			hs := newHarness(t)
			hs.h.cold.Store(false)
			if _, lerr := hs.invoke(t, payload); lerr != nil {
				t.Fatal(lerr)
			}
			out := hs.out.String()
			if strings.Count(out, `"message":"close"`) != 1 || strings.Count(out, `"Closes":1`) != 1 {
				t.Errorf("want one close line and one Closes metric, got:\n%s", out)
			}
		})
	}
}

package handler

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/handler/closing"
)

// waysIn wraps a JSON request object in each event that carries one: a
// direct invoke, an EventBridge detail, an SQS body, and an HTTP body on
// each HTTP kind, sent as JSON, as curl -d sends it (a form's type) and
// with no Content-Type.
func waysIn(t *testing.T, obj string) map[string]struct {
	kind    EventKind
	payload []byte
} {
	t.Helper()
	type way = struct {
		kind    EventKind
		payload []byte
	}
	sqs, err := json.Marshal(map[string]any{"Records": []map[string]any{{"messageId": "m1", "eventSource": "aws:sqs", "body": obj}}})
	if err != nil {
		t.Fatal(err)
	}
	ways := map[string]way{
		"direct":      {EventDirect, []byte(obj)},
		"eventbridge": {EventBridge, event(t, "eventbridge.json", func(m map[string]any) { m["detail"] = json.RawMessage(obj) })},
		"sqs":         {EventSQS, sqs},
	}
	for file, kind := range map[string]EventKind{"http-api.json": EventHTTPAPI, "rest-api.json": EventRESTAPI, "function-url.json": EventFunctionURL} {
		for name, ct := range map[string]string{"json": "application/json", "curl": "application/x-www-form-urlencoded", "no type": ""} {
			ways[file+" "+name] = way{kind, event(t, file, setPath("/close"), setBody(obj, ct, false))}
		}
	}
	return ways
}

// TestRequestsMeanWhatTheySay: member names match exactly on every way
// in. A request field given twice, or spelt another way, is refused with
// a message naming it, and nothing is closed or scheduled; other members
// are ignored.
func TestRequestsMeanWhatTheySay(t *testing.T) {
	id := `"payjs_order_id":"` + order1 + `"`
	cases := []struct {
		name string
		obj  string
		msg  string // "" = scheduled
	}{
		{"camelCase close_after", `{` + id + `,"closeAfter":"15m"}`, `unknown field "closeAfter": did you mean "close_after"?`},
		{"Close_At", `{` + id + `,"Close_At":"2026-11-29T13:00:00Z"}`, `unknown field "Close_At": did you mean "close_at"?`},
		{"close-after", `{` + id + `,"close-after":"15m"}`, `unknown field "close-after": did you mean "close_after"?`},
		{"MchId", `{` + id + `,"MchId":"` + testMchID + `","close_after":"15m"}`, `unknown field "MchId": did you mean "mchid"?`},
		{"Action", `{` + id + `,"Action":"cancel"}`, `unknown field "Action": did you mean "action"?`},
		{"repeated id", `{` + id + `,"payjs_order_id":"` + order2 + `"}`, `member "payjs_order_id" is given more than once`},
		{"id in two cases", `{` + id + `,"PAYJS_ORDER_ID":"` + order2 + `"}`, `unknown field "PAYJS_ORDER_ID": did you mean "payjs_order_id"?`},
		{"only a misspelled id", `{"PAYJS_ORDER_ID":"` + order1 + `","close_after":"15m"}`, `unknown field "PAYJS_ORDER_ID": did you mean "payjs_order_id"?`},
		{"repeated close_after", `{` + id + `,"close_after":"15m","close_after":"15m"}`, `member "close_after" is given more than once`},
		{"other members ignored", `{` + id + `,"close_after":"15m","note":"x","closeafterwards":1,"source":{"app":"shop"}}`, ""},
		{"close_afer", `{` + id + `,"close_afer":"15m"}`, `unknown field "close_afer": did you mean "close_after"?`},
		{"trailing space", `{` + id + `,"close_after ":"15m"}`, `unknown field "close_after ": did you mean "close_after"?`},
		{"long s", `{` + id + `,"cloſe_after":"15m"}`, `unknown field "cloſe_after": did you mean "close_after"?`},
		{"paysj_order_id", `{` + id + `,"paysj_order_id":"` + order2 + `"}`, `unknown field "paysj_order_id": did you mean "payjs_order_id"?`},
		{"mch_ids", `{` + id + `,"mchids":"` + testMchID + `"}`, `unknown field "mchids": did you mean "mchid"?`},
		{"empty close_after", `{` + id + `,"close_after":""}`, `close_after is empty: give a duration such as 15m, or leave the field out`},
		{"null close_after", `{` + id + `,"close_after":null}`, `close_after is empty: give a duration such as 15m, or leave the field out`},
		{"empty close_at", `{` + id + `,"close_at":""}`, `close_at is empty: give an RFC 3339 time such as 2026-11-29T12:00:00Z, or leave the field out`},
		{"null close_at", `{` + id + `,"close_at":null}`, `close_at is empty: give an RFC 3339 time such as 2026-11-29T12:00:00Z, or leave the field out`},
		{"envelope members ignored", `{` + id + `,"close_after":"15m","version":"0","source":"shop","id":"e1","detail-type":"x","time":"now",` +
			`"region":"cn-north-1","resources":[],"account":"1","Records":5,"order":{},"amount":1.5,"status":"new"}`, ""},
	}
	for _, tc := range cases {
		for way, w := range waysIn(t, tc.obj) {
			t.Run(tc.name+"/"+way, func(t *testing.T) {
				hs, fs, _ := schedHarness(t)
				out, err := hs.invokeARN(t, w.payload)
				if err != nil {
					t.Fatal(err)
				}
				if len(hs.closer.asked) != 0 {
					t.Errorf("PAYJS was asked to close %v", hs.closer.asked)
				}
				if w.kind == EventSQS {
					wantCode := `"error_code":"invalid_request"`
					if tc.msg == "" {
						wantCode = `"outcome":"scheduled"`
					}
					if !strings.Contains(string(out), `"batchItemFailures":[]`) || !strings.Contains(hs.out.String(), wantCode) {
						t.Errorf("answer %s, logs %s; want %s", out, hs.out.String(), wantCode)
					}
				} else {
					status := 400
					if tc.msg == "" {
						status = 202
					}
					res := decodeAnswer(t, w.kind, out, status)
					switch {
					case tc.msg == "" && res.Status != closing.StatusScheduled:
						t.Errorf("result = %+v, want scheduled", res)
					case tc.msg != "" && (res.Failure == nil || res.Failure.Code != closing.CodeInvalidRequest || res.Failure.Message != tc.msg):
						t.Errorf("result = %+v, want invalid_request %q", res, tc.msg)
					}
				}
				if scheduled := len(fs.entries) == 1; scheduled != (tc.msg == "") {
					t.Errorf("schedules = %v", fs.entries)
				}
			})
		}
	}
}

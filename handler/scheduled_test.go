package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// sqsBodies is an SQS event with one record per body, message ids m0, m1…
func sqsBodies(bodies ...string) []byte {
	var e events.SQSEvent
	for i, b := range bodies {
		e.Records = append(e.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), EventSource: "aws:sqs", Body: b})
	}
	out, _ := json.Marshal(e)
	return out
}

const twoMerchants = `{"merchants":[{"mchid":"` + testMchID + `","key":"` + testKey + `"},{"mchid":"1528140052","key":"another-merchant-key"}]}`

// TestOnlyTheFunctionMarksACloseScheduled: on every way in a caller
// reaches, "scheduled": true is refused, 400 invalid_request naming the
// field, and PAYJS is never asked; the only place it is honored is a
// plain close request in an SQS record body.
func TestOnlyTheFunctionMarksACloseScheduled(t *testing.T) {
	forged := `{"payjs_order_id":"` + order1 + `","scheduled":true}`
	bridge := func(t *testing.T) []byte {
		return event(t, "eventbridge.json", func(m map[string]any) { m["detail"] = json.RawMessage(forged) })
	}
	for _, tc := range []struct {
		name    string
		kind    EventKind
		payload func(t *testing.T) []byte
	}{
		{"http api", EventHTTPAPI, func(t *testing.T) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(forged, "application/json", false))
		}},
		{"rest api", EventRESTAPI, func(t *testing.T) []byte {
			return event(t, "rest-api.json", setPathID(order1), setBody(forged, "application/json", false))
		}},
		{"function url", EventFunctionURL, func(t *testing.T) []byte {
			return event(t, "function-url.json", setPath("/close"), setBody(forged, "application/json", false))
		}},
		{"eventbridge", EventBridge, bridge},
		{"direct", EventDirect, func(*testing.T) []byte { return []byte(forged) }},
		{"eventbridge event in an sqs record", EventSQS, func(t *testing.T) []byte { return sqsBodies(string(bridge(t))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t)
			out, lerr := hs.invoke(t, tc.payload(t))
			if lerr != nil {
				t.Fatalf("Lambda error %v; want a final refusal", lerr)
			}
			if tc.kind == EventSQS {
				if string(out) != `{"batchItemFailures":[]}` || !strings.Contains(hs.out.String(), `"SQSPermanentFailures":1`) {
					t.Errorf("answer %s; want the record dropped as permanent", out)
				}
			} else {
				res := decodeAnswer(t, tc.kind, out, 400)
				if res.Code() != closing.CodeInvalidRequest || !strings.Contains(res.Failure.Message, "scheduled") {
					t.Errorf("result %+v; want invalid_request naming scheduled", res)
				}
			}
			if len(hs.closer.asked) != 0 {
				t.Errorf("PAYJS was asked to close %v", hs.closer.asked)
			}
		})
	}
}

// TestScheduleChecksTheMerchantFirst: a close is answered 202 only when
// it can run when it fires, and its message names the merchant resolved
// now.
func TestScheduleChecksTheMerchantFirst(t *testing.T) {
	for _, tc := range []struct {
		name, secret, mchid string
		code                closing.Code // "" for scheduled
		input               string       // the schedule's message when scheduled
	}{
		{"one merchant, none named: resolved", "", "", "",
			`{"payjs_order_id":"` + order1 + `","mchid":"` + testMchID + `","scheduled":true}`},
		{"one merchant, named", "", testMchID, "",
			`{"payjs_order_id":"` + order1 + `","mchid":"` + testMchID + `","scheduled":true}`},
		{"one merchant, another named", "", "1528140052", closing.CodeInvalidRequest, ""},
		{"several merchants, none named", twoMerchants, "", closing.CodeInvalidRequest, ""},
		{"several merchants, unknown named", twoMerchants, "9999", closing.CodeInvalidRequest, ""},
		{"several merchants, known named", twoMerchants, "1528140052", "",
			`{"payjs_order_id":"` + order1 + `","mchid":"1528140052","scheduled":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, fs, _ := schedHarness(t)
			if tc.secret != "" {
				hs.keys.set = mustSet(t, tc.secret)
			}
			mchid := ""
			if tc.mchid != "" {
				mchid = `,"mchid":"` + tc.mchid + `"`
			}
			out, lerr := hs.invoke(t, withFields(mchid+`,"close_after":"10m"`))
			if lerr != nil {
				t.Fatal(lerr)
			}
			res := decodeResult(t, out)
			if tc.code != "" {
				if res.Code() != tc.code || len(fs.entries) != 0 {
					t.Errorf("result %+v, schedules %v; want %s and nothing scheduled", res, fs.entries, tc.code)
				}
				return
			}
			if res.Status != closing.StatusScheduled || fs.entries["close-"+order1].Input != tc.input {
				t.Errorf("result %+v, schedule %+v; want scheduled with input %s", res, fs.entries["close-"+order1], tc.input)
			}
		})
	}
}

// TestScheduleWithoutTheKeyIsRetryable: no 202 when the merchant cannot
// be checked; the caller is told to try again.
func TestScheduleWithoutTheKeyIsRetryable(t *testing.T) {
	hs, fs, _ := schedHarness(t)
	hs.keys.err = errors.New("secrets manager unreachable")
	a := hs.invokeHTTP(t, event(t, "http-api.json", setPath("/close"), setBody(`{"payjs_order_id":"`+order1+`","close_after":"10m"}`, "application/json", false)))
	if a.status != 503 || a.result.Code() != closing.CodeConfigUnavailable || !a.result.Failure.Retryable || len(fs.entries) != 0 {
		t.Errorf("%d %+v, schedules %v; want 503 config_unavailable and nothing scheduled", a.status, a.result, fs.entries)
	}
}

// TestScheduledCloseThatCannotRunIsRetried: when the configuration
// changed between scheduling and firing (the merchant left the secret,
// or the secret grew a second merchant under an old message without
// mchid, or the key cannot be loaded), the record is retried, so that it
// reaches the close DLQ and its alarm rather than vanish; a plain close
// naming an unknown merchant stays invalid_request, dropped.
func TestScheduledCloseThatCannotRunIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name, secret, body string
		keysErr            error
		retried            bool
	}{
		{"merchant gone", twoMerchants, `{"payjs_order_id":"` + order1 + `","mchid":"1528140053","scheduled":true}`, nil, true},
		{"secret grew a merchant", twoMerchants, `{"payjs_order_id":"` + order1 + `","scheduled":true}`, nil, true},
		{"key not loadable", "", `{"payjs_order_id":"` + order1 + `","mchid":"` + testMchID + `","scheduled":true}`, errors.New("throttled"), true},
		{"plain close, unknown merchant", twoMerchants, `{"payjs_order_id":"` + order1 + `","mchid":"1528140053"}`, nil, false},
		{"scheduled close that can run", twoMerchants, `{"payjs_order_id":"` + order1 + `","mchid":"1528140052","scheduled":true}`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t)
			if tc.secret != "" {
				hs.keys.set = mustSet(t, tc.secret)
			}
			hs.keys.err = tc.keysErr
			out, lerr := hs.invoke(t, sqsBodies(tc.body))
			if lerr != nil {
				t.Fatal(lerr)
			}
			if retried := strings.Contains(string(out), `"itemIdentifier":"m0"`); retried != tc.retried {
				t.Errorf("answer %s; retried %v, want %v", out, retried, tc.retried)
			}
			if tc.retried && !strings.Contains(hs.out.String(), `"error_code":"config_unavailable"`) {
				t.Errorf("want config_unavailable logged: %s", hs.out.String())
			}
		})
	}
}

package handler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// fakeScheduler keeps schedules in memory and answers err when set.
type fakeScheduler struct {
	mu      sync.Mutex
	entries map[string]closing.ScheduledClose
	err     error
	calls   int
}

func (f *fakeScheduler) Schedule(_ context.Context, s closing.ScheduledClose) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return false, f.err
	}
	_, moved := f.entries[s.Name]
	f.entries[s.Name] = s
	return moved, nil
}

func (f *fakeScheduler) Cancel(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	if _, ok := f.entries[name]; !ok {
		return closing.ErrNotScheduled
	}
	delete(f.entries, name)
	return nil
}

const invokedARN = "arn:aws:lambda:us-east-1:123456789012:function:payjs-close:live"

// schedHarness is a harness with a scheduler and a fixed clock.
func schedHarness(t *testing.T) (*harness, *fakeScheduler, time.Time) {
	t.Helper()
	hs := newHarness(t)
	fs := &fakeScheduler{entries: map[string]closing.ScheduledClose{}}
	now := time.Date(2026, 11, 29, 12, 0, 0, 500_000_000, time.UTC)
	hs.h.deps.Scheduler = fs
	hs.h.deps.Now = func() time.Time { return now }
	hs.rebuild()
	return hs, fs, now
}

// invokeARN invokes with a context that names the invoked function, as
// Lambda's does.
func (hs *harness) invokeARN(t *testing.T, payload []byte) ([]byte, error) {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: testReqID, InvokedFunctionArn: invokedARN})
	return hs.h.Invoke(ctx, payload)
}

// withFields returns a direct request for order1 with extra members.
func withFields(members string) []byte {
	return []byte(`{"payjs_order_id":"` + order1 + `"` + members + `}`)
}

func TestScheduleOnEveryWayIn(t *testing.T) {
	body := `{"payjs_order_id":"` + order1 + `","close_after":"15m"}`
	cases := []struct {
		name    string
		payload func(t *testing.T) []byte
		kind    EventKind
	}{
		{"direct", func(*testing.T) []byte { return withFields(`,"close_after":"15m"`) }, EventDirect},
		{"eventbridge", func(t *testing.T) []byte {
			return event(t, "eventbridge.json", func(m map[string]any) { m["detail"] = json.RawMessage(body) })
		}, EventBridge},
		{"http json", func(t *testing.T) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(body, "application/json", false))
		}, EventHTTPAPI},
		{"http form", func(t *testing.T) []byte {
			return event(t, "http-api.json", setPathID(order1), setBody("close_after=15m", "application/x-www-form-urlencoded", false))
		}, EventHTTPAPI},
		{"rest", func(t *testing.T) []byte {
			return event(t, "rest-api.json", setPathID(order1), setBody(body, "application/json", false))
		}, EventRESTAPI},
		{"function url", func(t *testing.T) []byte {
			return event(t, "function-url.json", setPath("/close"), setBody(body, "application/json", false))
		}, EventFunctionURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, fs, now := schedHarness(t)
			out, err := hs.invokeARN(t, tc.payload(t))
			if err != nil {
				t.Fatal(err)
			}
			res := decodeAnswer(t, tc.kind, out, 202)
			want := now.Add(15 * time.Minute).Truncate(time.Second)
			if !res.OK || res.Status != closing.StatusScheduled || res.CloseAt != want.Format(time.RFC3339) || res.PayjsOrderID != order1 {
				t.Fatalf("result = %+v", res)
			}
			s := fs.entries["close-"+order1]
			if !s.At.Equal(want) || s.Input != `{"payjs_order_id":"`+order1+`","mchid":"`+testMchID+`","scheduled":true}` {
				t.Errorf("schedule = %+v", s)
			}
			if len(hs.closer.asked) != 0 {
				t.Errorf("PAYJS was called: %v", hs.closer.asked)
			}
			if !strings.Contains(hs.out.String(), `"Schedules":1`) || !strings.Contains(hs.out.String(), `"Action":"create"`) {
				t.Errorf("no schedule metric in %s", hs.out.String())
			}
		})
	}
}

// decodeAnswer returns the Result of an answer of kind, checking the HTTP
// status for HTTP kinds.
func decodeAnswer(t *testing.T, kind EventKind, out []byte, status int) closing.Result {
	t.Helper()
	res, got := readAnswer(t, kind, out)
	if got != 0 && got != status {
		t.Errorf("HTTP status %d, want %d", got, status)
	}
	return res
}

func TestScheduleTimes(t *testing.T) {
	cases := []struct {
		name    string
		members string
		code    closing.Code // "" = ok
		closes  bool         // closed now rather than scheduled
	}{
		{"61 s ahead is scheduled", `,"close_after":"61s"`, "", false},
		{"60 s ahead closes now", `,"close_after":"60s"`, "", true},
		{"in the past closes now", `,"close_at":"2026-11-29T11:00:00Z"`, "", true},
		{"30 days ahead is scheduled", `,"close_after":"720h"`, "", false},
		{"30 days and a second is refused", `,"close_after":"720h0m1s"`, closing.CodeInvalidRequest, false},
		{"close_at in another zone", `,"close_at":"2026-11-29T20:30:00+08:00"`, "", false},
		{"both fields", `,"close_at":"2026-11-29T13:00:00Z","close_after":"15m"`, closing.CodeInvalidRequest, false},
		{"malformed close_at", `,"close_at":"tomorrow"`, closing.CodeInvalidRequest, false},
		{"malformed close_after", `,"close_after":"15 minutes"`, closing.CodeInvalidRequest, false},
		{"numeric close_after", `,"close_after":900`, closing.CodeInvalidRequest, false},
		{"unknown action", `,"action":"refund"`, closing.CodeInvalidRequest, false},
		{"cancel with a time", `,"action":"cancel","close_after":"15m"`, closing.CodeInvalidRequest, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, fs, _ := schedHarness(t)
			out, err := hs.invokeARN(t, withFields(tc.members))
			if err != nil {
				t.Fatal(err)
			}
			res := decodeResult(t, out)
			switch {
			case tc.code != "":
				if res.Code() != tc.code || fs.calls != 0 || len(hs.closer.asked) != 0 {
					t.Errorf("result %+v, scheduler calls %d, closes %v; want %s and nothing done", res, fs.calls, hs.closer.asked, tc.code)
				}
			case tc.closes:
				if res.Status != closing.StatusClosed || fs.calls != 0 {
					t.Errorf("result %+v, scheduler calls %d; want closed now", res, fs.calls)
				}
			default:
				if res.Status != closing.StatusScheduled || fs.calls != 1 || len(hs.closer.asked) != 0 {
					t.Errorf("result %+v, scheduler calls %d; want scheduled", res, fs.calls)
				}
			}
		})
	}
}

func TestRescheduleAndCancel(t *testing.T) {
	hs, fs, now := schedHarness(t)
	for _, after := range []string{"15m", "2h"} {
		if _, err := hs.invokeARN(t, withFields(`,"close_after":"`+after+`"`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(fs.entries) != 1 || !fs.entries["close-"+order1].At.Equal(now.Add(2*time.Hour).Truncate(time.Second)) {
		t.Fatalf("schedules = %+v, want one, moved to 2h", fs.entries)
	}
	if !strings.Contains(hs.out.String(), `"Action":"reschedule"`) {
		t.Error("the move was not counted as a reschedule")
	}

	// Cancel over HTTP, then again: nothing is scheduled any more.
	del := event(t, "http-api.json", setPathID(order1), setMethod("DELETE"))
	out, _ := hs.invokeARN(t, del)
	if res := decodeAnswer(t, EventHTTPAPI, out, 200); res.Status != closing.StatusCancelled || !res.OK {
		t.Errorf("cancel = %+v", res)
	}
	out, _ = hs.invokeARN(t, del)
	if res := decodeAnswer(t, EventHTTPAPI, out, 404); res.Code() != closing.CodeNotScheduled || res.Failure.Retryable {
		t.Errorf("second cancel = %+v", res)
	}
	// The other ways in cancel with "action": "cancel".
	if _, err := hs.invokeARN(t, withFields(`,"close_after":"15m"`)); err != nil {
		t.Fatal(err)
	}
	out, err := hs.invokeARN(t, withFields(`,"action":"cancel"`))
	if res := decodeResult(t, out); err != nil || res.Status != closing.StatusCancelled {
		t.Errorf("direct cancel = %s, %v", out, err)
	}
	if len(fs.entries) != 0 || len(hs.closer.asked) != 0 {
		t.Errorf("left %v scheduled, closed %v", fs.entries, hs.closer.asked)
	}
	// DELETE on /close has no order to cancel.
	out, _ = hs.invokeARN(t, event(t, "http-api.json", setPath("/close"), setMethod("DELETE")))
	decodeAnswer(t, EventHTTPAPI, out, 405)
}

func TestSchedulerFailures(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code closing.Code
	}{
		{"unavailable", errors.New("ThrottlingException: Rate exceeded"), closing.CodeScheduleUnavailable},
		{"config", &closing.Error{Code: closing.CodeConfigUnavailable, Message: "access denied"}, closing.CodeConfigUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, fs, _ := schedHarness(t)
			fs.err = tc.err
			_, err := hs.invokeARN(t, withFields(`,"close_after":"15m"`))
			var lerr messages.InvokeResponse_Error
			if !errors.As(err, &lerr) || lerr.Type != string(tc.code) {
				t.Errorf("direct: %v, want a %s Lambda error", err, tc.code)
			}
			// On SQS the record is retried.
			sqs := event(t, "sqs.json", firstRecordOnly, func(m map[string]any) {
				recs, _ := m["Records"].([]any)
				rec, _ := recs[0].(map[string]any)
				rec["body"] = string(withFields(`,"close_after":"15m"`))
			})
			out, err := hs.invokeARN(t, sqs)
			if err != nil || !strings.Contains(string(out), `"itemIdentifier"`) {
				t.Errorf("SQS answer %s, %v; want the record listed for a retry", out, err)
			}
		})
	}
}

func TestSchedulingOff(t *testing.T) {
	hs := newHarness(t)
	for _, members := range []string{`,"close_after":"15m"`, `,"action":"cancel"`} {
		out, err := hs.invoke(t, withFields(members))
		if err != nil {
			t.Fatal(err)
		}
		res := decodeResult(t, out)
		if res.Code() != closing.CodeInvalidRequest || !strings.Contains(res.Message, "PAYJS_SCHEDULE_GROUP") {
			t.Errorf("%s: %+v, want invalid_request naming PAYJS_SCHEDULE_GROUP", members, res)
		}
	}
}

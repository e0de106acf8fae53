package handler

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// fakePublisher records what it was asked to publish and fails the
// events fail picks.
type fakePublisher struct {
	mu    sync.Mutex
	calls [][]OutcomeEvent
	fail  func(OutcomeEvent) error
}

func (f *fakePublisher) Publish(_ context.Context, evs []OutcomeEvent) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, evs)
	errs := make([]error, len(evs))
	for i, ev := range evs {
		if f.fail != nil {
			errs[i] = f.fail(ev)
		}
	}
	return errs
}

func (f *fakePublisher) published() []OutcomeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Concat(f.calls...)
}

// outcomeHarness is a harness whose outcomes go to a fakePublisher.
func outcomeHarness(t *testing.T) (*harness, *fakePublisher) {
	t.Helper()
	hs := newHarness(t)
	pub := &fakePublisher{}
	hs.h.deps.Outcomes = pub
	return hs, pub
}

// detailOf decodes an event's detail, refusing members it does not know.
func detailOf(t *testing.T, ev OutcomeEvent) OutcomeDetail {
	t.Helper()
	var d OutcomeDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatalf("detail %s: %v", ev.Detail, err)
	}
	var members map[string]any
	_ = json.Unmarshal(ev.Detail, &members)
	for _, m := range []string{"ok", "status", "payjs_order_id", "request_id", "mchid", "scheduled", "attempts", "verified"} {
		if _, ok := members[m]; !ok {
			t.Errorf("detail %s lacks %q", ev.Detail, m)
		}
	}
	if strings.Contains(string(ev.Detail), testKey) || strings.Contains(strings.ToLower(string(ev.Detail)), `"sign"`) {
		t.Errorf("detail %s holds the key or a signature", ev.Detail)
	}
	return d
}

// sqsAnswers are PAYJS's answers to sqs.json's orders: 0005 closes,
// 0010 is paid, 0503 is unavailable (retryable), 0006 (an EventBridge
// event in the queue) was closed before; msg-bad has an invalid id.
func sqsAnswers(id string) (*payjs.Result, error) {
	switch id {
	case "2026112500000000000000000010":
		return nil, &payjs.Error{Kind: payjs.KindPaid, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: "订单已支付", Attempts: 1}}
	case "2026112500000000000000000503":
		return nil, &payjs.Error{Kind: payjs.KindUnavailable, Msg: "PAYJS answered HTTP 503", Attempts: 3}
	case "2026112500000000000000000006":
		return nil, &payjs.Error{Kind: payjs.KindAlreadyClosed, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: "订单已关闭", Attempts: 1}}
	}
	return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
}

func batchFailures(t *testing.T, out []byte) []string {
	t.Helper()
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("batch response %s: %v", out, err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

func TestSQSBatchPublishesEachFinalOutcomeInOneCall(t *testing.T) {
	hs, pub := outcomeHarness(t)
	hs.closer.answer = sqsAnswers
	out, lerr := hs.invoke(t, event(t, "sqs.json"))
	if lerr != nil {
		t.Fatal(lerr)
	}
	if got := batchFailures(t, out); !slices.Equal(got, []string{"msg-0503"}) {
		t.Errorf("batchItemFailures = %v, want just msg-0503 (retryable: it publishes when it ends)", got)
	}
	if len(pub.calls) != 1 {
		t.Fatalf("Publish called %d times, want once for the batch", len(pub.calls))
	}
	got := map[string]string{}
	for _, ev := range pub.published() {
		d := detailOf(t, ev)
		got[d.PayjsOrderID] = ev.DetailType + " " + d.Status
		if d.MchID != testMchID || d.Scheduled || d.RequestID != testReqID {
			t.Errorf("detail %s: want mchid %s (the secret's only merchant), not scheduled, request id %s", ev.Detail, testMchID, testReqID)
		}
	}
	want := map[string]string{
		"2026112500000000000000000005": "PAYJS Order Closed closed",
		"2026112500000000000000000006": "PAYJS Order Closed already_closed",
		"2026112500000000000000000010": "PAYJS Order Paid paid",
	}
	if !mapsEqual(got, want) {
		t.Errorf("published %v, want %v (no event for the unreadable msg-bad nor the retryable msg-0503)", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestUnpublishedOutcomeIsRetried: at least once. A record whose event
// could not be put on the bus is delivered again; the retry finds the
// order already closed and publishes then.
func TestUnpublishedOutcomeIsRetried(t *testing.T) {
	hs, pub := outcomeHarness(t)
	hs.closer.answer = sqsAnswers
	pub.fail = func(ev OutcomeEvent) error {
		if strings.Contains(string(ev.Detail), "2026112500000000000000000005") {
			return errors.New("ThrottlingException: rate exceeded")
		}
		return nil
	}
	out, _ := hs.invoke(t, event(t, "sqs.json"))
	if got := batchFailures(t, out); !slices.Equal(got, []string{"msg-0005", "msg-0503"}) {
		t.Errorf("batchItemFailures = %v, want msg-0005 (unpublished) and msg-0503", got)
	}
	logs := hs.out.String()
	if metricsIn(t, logs)["OutcomePublishFailures[]"] != 1 {
		t.Errorf("OutcomePublishFailures not counted once:\n%s", logs)
	}
	if !strings.Contains(logs, `"message":"outcome not published`) || !strings.Contains(logs, `"sqs_message_id":"msg-0005"`) {
		t.Errorf("no ERROR line naming the unpublished record:\n%s", logs)
	}

	// The redelivery: PAYJS now says already closed, and the bus takes it.
	pub.fail = nil
	hs.closer.answer = func(string) (*payjs.Result, error) {
		return nil, &payjs.Error{Kind: payjs.KindAlreadyClosed, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: "订单已关闭", Attempts: 1}}
	}
	out, _ = hs.invoke(t, event(t, "sqs.json", firstRecordOnly))
	if got := batchFailures(t, out); len(got) != 0 {
		t.Errorf("retry: batchItemFailures = %v, want none", got)
	}
	evs := pub.published()
	last := detailOf(t, evs[len(evs)-1])
	if evs[len(evs)-1].DetailType != OutcomeClosed || last.Status != closing.StatusAlreadyClosed || last.PayjsOrderID != "2026112500000000000000000005" {
		t.Errorf("retry published %s %s, want PAYJS Order Closed already_closed", evs[len(evs)-1].DetailType, evs[len(evs)-1].Detail)
	}
}

func TestOutcomeTypes(t *testing.T) {
	ok := closing.Result{OK: true, Status: closing.StatusClosed, PayjsOrderID: order1}
	fail := func(code closing.Code) closing.Result {
		r := closing.Failed(closing.Errorf(code, "x"))
		r.PayjsOrderID = order1
		return r
	}
	already := ok
	already.Status = closing.StatusAlreadyClosed
	scheduled := closing.Result{OK: true, Status: closing.StatusScheduled, PayjsOrderID: order1}
	noID := closing.Failed(closing.Errorf(closing.CodeInvalidOrderID, "x"))
	cases := []struct {
		name string
		req  closing.Request
		res  closing.Result
		want string
	}{
		{"closed", closing.Request{}, ok, OutcomeClosed},
		{"already closed", closing.Request{}, already, OutcomeClosed},
		{"paid", closing.Request{}, fail(closing.CodeOrderPaid), OutcomePaid},
		{"rejected", closing.Request{}, fail(closing.CodePayjsRejected), OutcomeFailed},
		{"unknown mchid", closing.Request{MchID: "9"}, fail(closing.CodeInvalidRequest), OutcomeFailed},
		{"retryable", closing.Request{}, fail(closing.CodePayjsUnavailable), ""},
		{"key mismatch", closing.Request{}, fail(closing.CodeKeyMismatch), ""},
		{"no valid order id", closing.Request{}, noID, ""},
		{"scheduled", closing.Request{CloseAfter: "15m"}, scheduled, ""},
		{"bad close_after", closing.Request{CloseAfter: "soon"}, fail(closing.CodeInvalidRequest), ""},
		{"close_at in the past closes", closing.Request{CloseAt: "2020-01-01T00:00:00Z"}, ok, OutcomeClosed},
		{"cancel", closing.Request{Cancel: true}, closing.Result{OK: true, Status: closing.StatusCancelled, PayjsOrderID: order1}, ""},
		{"cancel of nothing", closing.Request{Cancel: true}, fail(closing.CodeNotScheduled), ""},
	}
	for _, tc := range cases {
		if got := outcomeType(tc.req, &tc.res); got != tc.want {
			t.Errorf("%s: detail-type %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWhichWaysInPublish: the close queue (a schedule's message among its
// records) and EventBridge publish; HTTP and direct callers have their
// answer, unless PublishAll asks.
func TestWhichWaysInPublish(t *testing.T) {
	scheduled := []byte(`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{\"payjs_order_id\":\"` + order1 + `\",\"scheduled\":true}"}]}`)
	eventbridgeQueued, err := json.Marshal(map[string]any{"Records": []map[string]any{{"messageId": "m1", "eventSource": "aws:sqs", "body": string(event(t, "eventbridge.json"))}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		payload []byte
		all     bool
		want    bool
	}{
		{"eventbridge, from the queue", eventbridgeQueued, false, true},
		{"scheduled, from the queue", scheduled, false, true},
		{"eventbridge, invoked directly", event(t, "eventbridge.json"), false, false},
		{"eventbridge, invoked directly, all", event(t, "eventbridge.json"), true, true},
		{"direct", event(t, "direct.json"), false, false},
		{"http api", event(t, "http-api.json"), false, false},
		{"rest api", event(t, "rest-api.json"), false, false},
		{"function url", event(t, "function-url.json"), false, false},
		{"direct, all", event(t, "direct.json"), true, true},
		{"http api, all", event(t, "http-api.json"), true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, pub := outcomeHarness(t)
			hs.h.deps.PublishAll = tc.all
			if _, lerr := hs.invoke(t, tc.payload); lerr != nil {
				t.Fatal(lerr)
			}
			evs := pub.published()
			if published := len(evs) == 1; published != tc.want || len(evs) > 1 {
				t.Fatalf("published %d events, want publishing %v", len(evs), tc.want)
			}
			if tc.want {
				d := detailOf(t, evs[0])
				if evs[0].DetailType != OutcomeClosed || d.Scheduled != (tc.name == "scheduled, from the queue") {
					t.Errorf("%s %s", evs[0].DetailType, evs[0].Detail)
				}
			}
		})
	}
}

// TestFailedPublishOnEachWayIn: an asynchronous invoke fails so that
// Lambda retries it; an HTTP caller still gets its answer.
func TestFailedPublishOnEachWayIn(t *testing.T) {
	hs, pub := outcomeHarness(t)
	hs.h.deps.PublishAll = true
	pub.fail = func(OutcomeEvent) error { return errors.New("AccessDeniedException") }

	_, lerr := hs.invoke(t, event(t, "eventbridge.json"))
	if lerr == nil || lerr.Type != ErrTypeOutcomeUnpublished {
		t.Fatalf("EventBridge: Lambda error %v, want type %s", lerr, ErrTypeOutcomeUnpublished)
	}
	if r := decodeResult(t, []byte(lerr.Message)); !r.OK || r.Status != closing.StatusClosed {
		t.Errorf("EventBridge: error message %s, want the closed result", lerr.Message)
	}
	if a := hs.invokeHTTP(t, event(t, "http-api.json")); a.status != 200 || a.result.Status != closing.StatusClosed {
		t.Errorf("HTTP: %d %+v, want 200 closed", a.status, a.result)
	}
	if n := metricsIn(t, hs.out.String())["OutcomePublishFailures[]"]; n != 2 {
		t.Errorf("OutcomePublishFailures = %v, want 2", n)
	}
}

// TestNoBusPublishesNothing: without a Publisher every way in answers
// as before.
func TestNoBusPublishesNothing(t *testing.T) {
	hs := newHarness(t)
	hs.h.deps.PublishAll = true
	if _, lerr := hs.invoke(t, event(t, "eventbridge.json")); lerr != nil {
		t.Fatal(lerr)
	}
	if strings.Contains(hs.out.String(), `"detail_type"`) {
		t.Errorf("logged an outcome without a bus:\n%s", hs.out.String())
	}
}

// stuckPublisher is a PutEvents that never answers: it blocks until its
// ctx ends, then fails every event with the ctx's error.
type stuckPublisher struct{}

func (stuckPublisher) Publish(ctx context.Context, evs []OutcomeEvent) []error {
	<-ctx.Done()
	errs := make([]error, len(evs))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return errs
}

// TestStuckPublishEndsBeforeTheDeadline: a publish that hangs is cut off
// before the Lambda deadline, so the invoke answers (the SQS records
// listed in batchItemFailures, an asynchronous invoke failing with
// outcome_unpublished) instead of timing out with its whole batch.
func TestStuckPublishEndsBeforeTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := newHarness(t)
		hs.h.deps.Outcomes, hs.h.deps.PublishAll = stuckPublisher{}, true
		hs.rebuild()
		invoke := func(payload []byte) ([]byte, error) {
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: testReqID})
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			dl, _ := ctx.Deadline()
			out, err := hs.h.Invoke(ctx, payload)
			if !time.Now().Before(dl) {
				t.Errorf("%s: the invoke returned at %v, not before its deadline %v", payload, time.Now(), dl)
			}
			return out, err
		}

		sqs := []byte(`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{\"payjs_order_id\":\"` + order1 + `\"}"},` +
			`{"messageId":"m2","eventSource":"aws:sqs","body":"{\"payjs_order_id\":\"` + order2 + `\"}"}]}`)
		out, err := invoke(sqs)
		if err != nil || !strings.Contains(string(out), `"m1"`) || !strings.Contains(string(out), `"m2"`) {
			t.Errorf("SQS: %s, %v; want both records in batchItemFailures", out, err)
		}
		for _, payload := range [][]byte{event(t, "eventbridge.json"), event(t, "direct.json")} {
			_, err := invoke(payload)
			var lerr messages.InvokeResponse_Error
			if !errors.As(err, &lerr) || lerr.Type != ErrTypeOutcomeUnpublished {
				t.Errorf("%s: %v, want an %s Lambda error", payload, err, ErrTypeOutcomeUnpublished)
			}
		}
		if a := hs.invokeHTTP(t, event(t, "http-api.json")); a.status != 200 {
			t.Errorf("HTTP: %d %+v, want 200", a.status, a.result)
		}
	})
}

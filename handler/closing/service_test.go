package closing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// ExampleService closes an order with the PAYJS simulator, then again.
func ExampleService() {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	keys, err := secret.One(payjstest.DemoMchID, payjstest.DemoKey)
	if err != nil {
		panic(err)
	}
	svc := closing.New(closing.Config{
		Keys: keys,
		NewCloser: func(key string) (closing.Closer, error) {
			return payjs.NewClient(key, payjs.WithBaseURL(srv.URL))
		},
	})
	req := closing.Request{PayjsOrderID: payjstest.DemoOrderUnpaid(1)}
	for range 2 {
		res, err := svc.Do(context.Background(), req)
		fmt.Println(res.OK, res.Status, res.Verified, err)
	}
	res, err := svc.Do(context.Background(), closing.Request{PayjsOrderID: "not&an-id"})
	fmt.Println(res.Status, res.Code(), res.Code().HTTPStatus(), err)
	// Output:
	// true closed true <nil>
	// true already_closed true <nil>
	// invalid invalid_order_id 400 invalid_order_id: payjs_order_id must be 1 to 32 characters of [0-9A-Za-z]
}

// TestScheduledMessageRoundTrips: what a schedule sends the close queue
// reads back as the request it was made from, marked scheduled.
func TestScheduledMessageRoundTrips(t *testing.T) {
	body := closing.ScheduledMessage{PayjsOrderID: "2026112500000000000000000001", MchID: "1528140051"}.Encode()
	if want := `{"payjs_order_id":"2026112500000000000000000001","mchid":"1528140051","scheduled":true}`; body != want {
		t.Errorf("Encode = %s, want %s", body, want)
	}
	req, err := closing.DecodeRequest([]byte(body))
	want := closing.Request{PayjsOrderID: "2026112500000000000000000001", MchID: "1528140051", Scheduled: true}
	if err != nil || req != want {
		t.Errorf("DecodeRequest(Encode) = %+v, %v; want %+v", req, err, want)
	}
}

// keysFailing is Keys that fail with err.
type keysFailing struct{ err error }

func (k keysFailing) Key(context.Context, string) (string, string, error) { return "", "", k.err }
func (k keysFailing) Rekey(context.Context, string, string) (string, string, error) {
	return "", "", k.err
}

// TestKeysErrorsHaveOneMapping: the errors of Keys take their codes in
// one place, the scheduled close's rule included.
func TestKeysErrorsHaveOneMapping(t *testing.T) {
	for _, tc := range []struct {
		err       error
		scheduled bool
		want      closing.Code
	}{
		{&secret.LoadError{SecretID: "s", Reason: secret.ReasonThrottled, Err: errors.New("slow")}, false, closing.CodeConfigUnavailable},
		{errors.New("anything else"), false, closing.CodeConfigUnavailable},
		{secret.ErrMchIDRequired, false, closing.CodeInvalidRequest},
		{secret.ErrUnknownMerchant, false, closing.CodeInvalidRequest},
		{secret.ErrUnknownMerchant, true, closing.CodeConfigUnavailable},
		{closing.ErrMchIDRequired, true, closing.CodeConfigUnavailable},
	} {
		svc := closing.New(closing.Config{Keys: keysFailing{tc.err}})
		res, err := svc.Do(context.Background(), closing.Request{PayjsOrderID: "1", Scheduled: tc.scheduled})
		if res.Code() != tc.want || closing.ErrorCode(err) != tc.want {
			t.Errorf("%v (scheduled %v) = %s, %v; want %s", tc.err, tc.scheduled, res.Code(), err, tc.want)
		}
	}
}

// rotatedKeys is Keys whose key was rotated: Key answers the old key,
// Rekey the new one.
type rotatedKeys struct{}

func (rotatedKeys) Key(context.Context, string) (string, string, error) { return "m", "old", nil }
func (rotatedKeys) Rekey(context.Context, string, string) (string, string, error) {
	return "m", "new", nil
}

// closeAnswers is a Closer that answers pr and err.
type closeAnswers struct {
	pr  *payjs.Result
	err error
}

func (c closeAnswers) CloseOrder(context.Context, string) (*payjs.Result, error) { return c.pr, c.err }

// keyCounts is an Observer counting key mismatches and healed rotations.
type keyCounts struct{ mismatches, healed int }

func (o *keyCounts) KeyMismatch(context.Context, closing.Request)       { o.mismatches++ }
func (o *keyCounts) KeyRotationHealed(context.Context, closing.Request) { o.healed++ }
func (o *keyCounts) Scheduled(context.Context, string, closing.Request, time.Time) {
}

// TestKeyRotationHealedOnlyWhenPAYJSAnswersTheRetry: after PAYJS rejects
// the old key's signature, the retry with the new key counts as a healed
// rotation only when PAYJS answered it (a close, or a refusal other than
// the signature's); a retry PAYJS never answered counts as neither, and
// a second rejection as a mismatch.
func TestKeyRotationHealedOnlyWhenPAYJSAnswersTheRetry(t *testing.T) {
	refused := &payjs.Result{ReturnCode: 0, ReturnMsg: "refused", Attempts: 1, Verified: true}
	for _, tc := range []struct {
		name               string
		retry              closeAnswers
		code               closing.Code
		mismatches, healed int
	}{
		{"closed", closeAnswers{pr: &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", Attempts: 1, Verified: true}}, "", 0, 1},
		{"refused", closeAnswers{err: &payjs.Error{Kind: payjs.KindRejected, Msg: "refused", Result: refused, Attempts: 1}}, closing.CodePayjsRejected, 0, 1},
		{"paid", closeAnswers{err: &payjs.Error{Kind: payjs.KindPaid, Msg: "paid", Result: refused, Attempts: 1}}, closing.CodeOrderPaid, 0, 1},
		{"mismatch again", closeAnswers{err: &payjs.Error{Kind: payjs.KindKeyMismatch, Msg: "sign", Result: refused, Attempts: 1}}, closing.CodeKeyMismatch, 1, 0},
		{"unavailable", closeAnswers{err: &payjs.Error{Kind: payjs.KindUnavailable, Msg: "HTTP 502", Attempts: 3}}, closing.CodePayjsUnavailable, 0, 0},
		{"timeout", closeAnswers{err: &payjs.Error{Kind: payjs.KindTimeout, Msg: "deadline", Attempts: 2}}, closing.CodePayjsTimeout, 0, 0},
		{"not a PAYJS error", closeAnswers{err: errors.New("dial tcp: refused")}, closing.CodePayjsUnavailable, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &keyCounts{}
			svc := closing.New(closing.Config{
				Keys:     rotatedKeys{},
				Observer: obs,
				NewCloser: func(key string) (closing.Closer, error) {
					if key == "old" {
						return closeAnswers{err: &payjs.Error{Kind: payjs.KindKeyMismatch, Msg: "sign", Result: refused, Attempts: 1}}, nil
					}
					return tc.retry, nil
				},
			})
			res, err := svc.Do(context.Background(), closing.Request{PayjsOrderID: "1"})
			if res.Code() != tc.code || closing.ErrorCode(err) != tc.code {
				t.Errorf("close = %s, %v; want code %q", res.Code(), err, tc.code)
			}
			if obs.mismatches != tc.mismatches || obs.healed != tc.healed {
				t.Errorf("%d mismatches and %d healed, want %d and %d", obs.mismatches, obs.healed, tc.mismatches, tc.healed)
			}
		})
	}
}

// schedulerFailing is a Scheduler whose calls fail with err.
type schedulerFailing struct{ err error }

func (s schedulerFailing) Schedule(context.Context, closing.ScheduledClose) (bool, error) {
	return false, s.err
}
func (s schedulerFailing) Cancel(context.Context, string) error { return s.err }

// TestSchedulerErrorsHaveOneMapping: a Scheduler's errors take their
// codes and messages here, from the sentinels they wrap; the wrapped
// cause reaches the log, never the answer.
func TestSchedulerErrorsHaveOneMapping(t *testing.T) {
	sdk := errors.New("AccessDeniedException: arn:aws:iam::123456789012:role/secret-role")
	for _, tc := range []struct {
		err  error
		code closing.Code
		msg  string
	}{
		{closing.ErrNotScheduled, closing.CodeNotScheduled, "no close is scheduled for this order"},
		{fmt.Errorf("%w: %w", closing.ErrSchedulerRefused, sdk), closing.CodeConfigUnavailable,
			"EventBridge Scheduler refused the schedule: check PAYJS_SCHEDULE_GROUP, PAYJS_SCHEDULE_ROLE_ARN, PAYJS_SCHEDULE_TARGET_ARN and the function's permissions"},
		{fmt.Errorf("%w: %w", closing.ErrSchedulerUnavailable, sdk), closing.CodeScheduleUnavailable, "EventBridge Scheduler is unavailable; try again later"},
		{sdk, closing.CodeScheduleUnavailable, "EventBridge Scheduler is unavailable; try again later"},
		{closing.Errorf(closing.CodeScheduleUnavailable, "the local scheduler is stopped"), closing.CodeScheduleUnavailable, "the local scheduler is stopped"},
	} {
		svc := closing.New(closing.Config{Keys: rotatedKeys{}, Scheduler: schedulerFailing{tc.err}})
		for _, req := range []closing.Request{
			{PayjsOrderID: "1", Cancel: true},
			{PayjsOrderID: "1", CloseAfter: "1h"},
		} {
			if req.CloseAfter != "" && tc.code == closing.CodeNotScheduled {
				continue // only a cancel finds no schedule
			}
			res, err := svc.Do(context.Background(), req)
			if res.Code() != tc.code || res.Message != tc.msg || !errors.Is(err, tc.err) {
				t.Errorf("%+v failing with %v = %s %q, %v; want %s %q", req, tc.err, res.Code(), res.Message, err, tc.code, tc.msg)
			}
		}
	}
}

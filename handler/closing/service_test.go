package closing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

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

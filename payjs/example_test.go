package payjs_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// The signature of a close request, as in the vector close_req_oid25_key1
// of testdata/payjs_sign.json.
func ExampleSign() {
	sign := payjs.Sign(map[string]string{"payjs_order_id": "2019043012232600733973651"}, "testkey123")
	fmt.Println(sign)
	// Output:
	// B8E9403B47097F8142A1CDD1FD1F867C
}

// Checking the signature of a PAYJS answer.
func ExampleVerifySign() {
	body := []byte(`{"return_code":1,"return_msg":"SUCCESS","payjs_order_id":"2019043012232600733973651","sign":"853437E15713D472F217418D6E3809D5"}`)
	fields, sign, err := payjs.ParseResponse(body)
	if err != nil {
		panic(err)
	}
	fmt.Println(payjs.VerifySign(fields, "testkey123", sign))
	fmt.Println(payjs.VerifySign(fields, "another-key", sign))
	// Output:
	// true
	// false
}

// Closing orders against the simulator of package payjstest, as tests
// and local runs do; in production the base URL is https://payjs.cn.
func ExampleClient_CloseOrder() {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()

	hc := payjs.NewHTTPClient() // one per process, shared by every Client
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(hc))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	res, err := c.CloseOrder(ctx, "2026112500000000000000000001")
	if err != nil {
		panic(err)
	}
	fmt.Printf("closed: return_code %d %s, verified %v, %d attempt\n", res.ReturnCode, res.ReturnMsg, res.Verified, res.Attempts)

	for _, id := range []string{
		"2026112500000000000000000001", // closed just now
		"2026112500000000000000000010", // paid
		"2026112500000000000000000012", // older than 30 days
		"bad-id!",
	} {
		_, err = c.CloseOrder(ctx, id)
		var pe *payjs.Error
		if errors.As(err, &pe) {
			fmt.Printf("%s: kind %s, retryable %v", id, pe.Kind, pe.Kind.Retryable())
			if pe.Result != nil {
				fmt.Printf(", PAYJS said %q", pe.Result.ReturnMsg)
			}
			fmt.Println()
		}
	}
	// Output:
	// closed: return_code 1 SUCCESS, verified true, 1 attempt
	// 2026112500000000000000000001: kind already_closed, retryable false, PAYJS said "订单已关闭"
	// 2026112500000000000000000010: kind paid, retryable false, PAYJS said "订单已支付"
	// 2026112500000000000000000012: kind rejected, retryable false, PAYJS said "订单已超过30天，无法关闭"
	// bad-id!: kind invalid_input, retryable false
}

// Connecting during init, so that the first close costs one round trip.
func ExampleWarm() {
	srv := payjstest.NewTLSServer(payjstest.WithDemoData())
	defer srv.Close()
	hc := srv.Client() // in production: payjs.NewHTTPClient()
	ctx := context.Background()

	if err := payjs.Warm(ctx, hc, srv.URL); err != nil {
		fmt.Println("warm-up failed:", err) // not fatal: the first close connects
	}
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(hc))
	if err != nil {
		panic(err)
	}
	res, err := c.CloseOrder(ctx, payjstest.DemoOrderUnpaid(1))
	fmt.Println(res.ReturnMsg, err, srv.Requests(), "request on", srv.Connections(), "connection")
	// Output:
	// SUCCESS <nil> 1 request on 1 connection
}

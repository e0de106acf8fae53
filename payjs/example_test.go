package payjs_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// The signature of a close request, as in the shared vector
// close_req_oid25_key1.
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
func ExampleClient_Close() {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()

	hc := payjs.NewHTTPClient() // one per process, shared by every Client
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(hc))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	res, err := c.Close(ctx, "2026112500000000000000000001")
	if err != nil {
		panic(err)
	}
	fmt.Printf("closed: return_code %d %s, verified %v, %d attempt\n", res.ReturnCode, res.ReturnMsg, res.Verified, res.Attempts)

	for _, id := range []string{"2026112500000000000000000010", "bad-id!"} {
		_, err = c.Close(ctx, id)
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
	// 2026112500000000000000000010: kind rejected, retryable false, PAYJS said "订单已支付"
	// bad-id!: kind invalid_input, retryable false
}

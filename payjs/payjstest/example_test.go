package payjstest_test

import (
	"context"
	"fmt"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func ExampleNewServer() {
	srv := payjstest.NewServer()
	defer srv.Close()
	srv.AddMerchant("1528140051", "merchant-key")
	srv.AddOrder(payjstest.Order{ID: "2026112500000000000000000001", MchID: "1528140051"})

	c, err := payjs.NewClient("merchant-key", payjs.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	res, err := c.CloseOrder(ctx, "2026112500000000000000000001")
	fmt.Println(res.ReturnCode, res.ReturnMsg, res.Verified, err)

	_, err = c.CloseOrder(ctx, "2026112500000000000000000001")
	fmt.Println(payjs.KindOf(err), err)

	o, _ := srv.Order("2026112500000000000000000001")
	fmt.Println(o.State, srv.Requests(), "requests on", srv.Connections(), "connection")
	// Output:
	// 1 SUCCESS true <nil>
	// already_closed payjs: PAYJS refused to close the order: 订单已关闭
	// closed 2 requests on 1 connection
}

func ExampleServer_Inject() {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()

	// The next two requests get HTTP 503; the client's third attempt
	// goes through.
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 503, Count: 2})

	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithBackoff(0, 0))
	if err != nil {
		panic(err)
	}
	res, err := c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(1))
	fmt.Println(res.ReturnMsg, res.Attempts, err)
	// Output:
	// SUCCESS 3 <nil>
}

func ExampleServer_PeakInFlight() {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	// One close after the other: never more than one at PAYJS.
	for n := 1; n <= 3; n++ {
		_, _ = c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(n))
	}
	fmt.Println(srv.Requests(), "requests, at most", srv.PeakInFlight(), "at once,", srv.InFlight(), "in flight now")
	// Output:
	// 3 requests, at most 1 at once, 0 in flight now
}

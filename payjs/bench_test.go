package payjs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func BenchmarkSign(b *testing.B) {
	params := map[string]string{"payjs_order_id": "2019043012232600733973651"}
	b.ReportAllocs()
	for b.Loop() {
		payjs.Sign(params, "testkey123")
	}
}

// BenchmarkCloseOrder measures one close against the simulator on loopback,
// over the keep-alive connection: sign, POST, read, parse, verify, and the
// simulator's own work.
func BenchmarkCloseOrder(b *testing.B) {
	srv := payjstest.NewServer()
	defer srv.Close()
	srv.AddMerchant("1528140051", "bench-key")
	hc := payjs.NewHTTPClient()
	defer hc.CloseIdleConnections()
	c, err := payjs.NewClient("bench-key", payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	// Every close needs an unpaid order; they are made ahead, in batches,
	// with the timer stopped.
	ids := make([]string, 0, 1024)
	next := 0
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if len(ids) == 0 {
			b.StopTimer()
			for range cap(ids) {
				id := fmt.Sprintf("B%031d", next)
				next++
				srv.AddOrder(payjstest.Order{ID: id, MchID: "1528140051"})
				ids = append(ids, id)
			}
			b.StartTimer()
		}
		id := ids[len(ids)-1]
		ids = ids[:len(ids)-1]
		res, err := c.CloseOrder(ctx, id)
		if err != nil || !res.Verified {
			b.Fatalf("close %s: %+v, %v", id, res, err)
		}
	}
	if got := srv.Connections(); got != 1 {
		b.Errorf("%d connections, want 1", got)
	}
}

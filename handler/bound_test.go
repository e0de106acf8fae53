package handler

import (
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// TestSQSBatchNeverHasMoreThanSQSConcurrencyRequestsAtPAYJS: the bound on
// PAYJS, per sandbox. A batch larger than PAYJS_SQS_CONCURRENCY, every
// close slowed at PAYJS so that they overlap, never has more than
// PAYJS_SQS_CONCURRENCY requests open at PAYJS (the simulator counts its
// peak), and does reach it.
func TestSQSBatchNeverHasMoreThanSQSConcurrencyRequestsAtPAYJS(t *testing.T) {
	const limit, batch = 4, 9
	hs, sim := simHarness(t)
	hs.h.deps.SQSConcurrency = limit
	var bodies []string
	for n := 1; n <= batch; n++ {
		bodies = append(bodies, `{"payjs_order_id":"`+payjstest.DemoOrderUnpaid(n)+`"}`)
	}
	sim.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: 150 * time.Millisecond, Count: batch})
	out, lerr := hs.invoke(t, sqsBodies(bodies...))
	if lerr != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("answer %s, %v; want every record closed", out, lerr)
	}
	if p := sim.PeakInFlight(); p > limit || p < limit {
		t.Errorf("PAYJS saw at most %d requests at once, want exactly PAYJS_SQS_CONCURRENCY = %d", p, limit)
	}
	if n := sim.Outcomes()[payjstest.OutcomeClosed]; n != batch {
		t.Errorf("%d orders closed, want %d", n, batch)
	}
	if strings.Contains(hs.out.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged: %s", hs.out.String())
	}
}

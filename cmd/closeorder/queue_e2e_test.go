package main

import (
	"testing"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// TestCloseQueueDeliversEveryAsyncCloseUnderTheEmulator: the close queue
// is the one way in for asynchronous closes. Under the emulator with moto:
// an EventBridge event, which the rule sends to the queue whole, closes
// the order when delivered as an SQS record body; a forged "scheduled"
// inside its detail is refused, not retried; and a schedule's message
// closes the order through the same path.
func TestCloseQueueDeliversEveryAsyncCloseUnderTheEmulator(t *testing.T) {
	t.Parallel()
	st, _ := startE2E(t)
	bridge := func(detail string) string {
		return `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Order Expired","source":"com.example.shop",` +
			`"account":"123456789012","time":"2026-11-25T08:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
	}
	closed, forged := payjstest.DemoOrderUnpaid(4), payjstest.DemoOrderUnpaid(5)
	raw, err := e2eInvoke(t, st, devstack.SQSEvent(
		bridge(`{"payjs_order_id":"`+closed+`"}`),
		bridge(`{"payjs_order_id":"`+forged+`","scheduled":true}`),
	))
	if err != nil || string(raw) != `{"batchItemFailures":[]}` {
		t.Fatalf("EventBridge events as SQS records: %s, %v; want no record retried", raw, err)
	}
	checkOrderState(t, st.Sim, closed, payjstest.StateClosed)
	checkOrderState(t, st.Sim, forged, payjstest.StateUnpaid)

	// A scheduled close's message, as Scheduler sends it to the queue.
	id := payjstest.DemoOrderUnpaid(6)
	raw, err = e2eInvoke(t, st, devstack.SQSEvent(`{"payjs_order_id":"`+id+`","mchid":"`+payjstest.DemoMchID+`","scheduled":true}`))
	if err != nil || string(raw) != `{"batchItemFailures":[]}` {
		t.Fatalf("a schedule's message as an SQS record: %s, %v", raw, err)
	}
	checkOrderState(t, st.Sim, id, payjstest.StateClosed)
}

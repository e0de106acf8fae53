package main

// End-to-end tests of outcome events: the real bootstrap under the
// emulator publishes to moto's EventBridge, where a rule sends every
// payjs-close event to an SQS queue, as a shop's rule would.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

const outcomeBus = "shop-events"

// shopEvent is an outcome event as the shop's queue receives it.
type shopEvent struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		OK           bool   `json:"ok"`
		Status       string `json:"status"`
		PayjsOrderID string `json:"payjs_order_id"`
		RequestID    string `json:"request_id"`
		MchID        string `json:"mchid"`
		Scheduled    *bool  `json:"scheduled"`
		Error        *struct {
			Code string `json:"code"`
		} `json:"error"`
	} `json:"detail"`
}

// received reads the shop's queue: each event's detail-type, order and
// status, sorted, after checking what every event must hold.
func received(t *testing.T, st *devstack.Stack) []string {
	t.Helper()
	var got []string
	for _, body := range st.Outcomes.Receive(t) {
		var ev shopEvent
		if err := json.Unmarshal([]byte(body), &ev); err != nil {
			t.Fatalf("event %s: %v", body, err)
		}
		d := ev.Detail
		if ev.Source != "payjs-close" || d.MchID != payjstest.DemoMchID || d.RequestID == "" || d.Scheduled == nil {
			t.Errorf("event %s: want source payjs-close, mchid %s, a request_id and scheduled", body, payjstest.DemoMchID)
		}
		if strings.Contains(body, payjstest.DemoKey) || strings.Contains(body, `"sign"`) {
			t.Errorf("event %s holds the key or a signature", body)
		}
		s := ev.DetailType + " " + d.PayjsOrderID + " " + d.Status
		if *d.Scheduled {
			s += " scheduled"
		}
		got = append(got, s)
	}
	slices.Sort(got)
	return got
}

func sqsSample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "events", "sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func batchItemFailures(t *testing.T, raw []byte) []string {
	t.Helper()
	var resp struct {
		BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("batch response %s: %v", raw, err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestOutcomeEventsReachTheShopsQueue(t *testing.T) {
	st, _ := devstack.StartTest(t, devstack.Options{Root: repoRoot, OutcomeBus: outcomeBus})

	// The SQS sample: 0005 and 0006 (an EventBridge event in the queue)
	// close, 0010 is paid, msg-bad cannot be read, 0503 fails retryably.
	raw, err := e2eInvoke(t, st, sqsSample(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := batchItemFailures(t, raw); !slices.Equal(got, []string{"msg-0503"}) {
		t.Errorf("batchItemFailures %v, want [msg-0503]", got)
	}
	want := []string{
		"PAYJS Order Closed 2026112500000000000000000005 closed",
		"PAYJS Order Closed 2026112500000000000000000006 closed",
		"PAYJS Order Paid 2026112500000000000000000010 paid",
	}
	if got := received(t, st); !slices.Equal(got, want) {
		t.Errorf("the shop's queue received\n%q\nwant\n%q", got, want)
	}
	if n := st.Moto.Calls(mototest.OpPutEvents); n != 1 {
		t.Errorf("PutEvents calls = %d, want 1 for the batch", n)
	}

	// A schedule's message, delivered by the close queue, publishes; an HTTP caller has its
	// answer.
	scheduled := payjstest.DemoOrderUnpaid(7)
	if _, err := e2eInvoke(t, st, devstack.SQSEvent(`{"payjs_order_id":"`+scheduled+`","mchid":"`+payjstest.DemoMchID+`","scheduled":true}`)); err != nil {
		t.Fatal(err)
	}
	http, err := os.ReadFile(filepath.Join(repoRoot, "events", "http-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2eInvoke(t, st, http); err != nil {
		t.Fatal(err)
	}
	if got := received(t, st); !slices.Equal(got, []string{"PAYJS Order Closed " + scheduled + " closed scheduled"}) {
		t.Errorf("after a scheduled and an HTTP close, the shop's queue received %q, want the scheduled close only", got)
	}
}

// TestUnpublishedOutcomeIsRetriedEndToEnd: EventBridge refuses the
// function's PutEvents; the record goes back to the queue, and its
// redelivery, once EventBridge accepts again, publishes already_closed.
func TestUnpublishedOutcomeIsRetriedEndToEnd(t *testing.T) {
	st, out := devstack.StartTest(t, devstack.Options{Root: repoRoot, OutcomeBus: outcomeBus})
	st.Moto.Fail(mototest.OpPutEvents, mototest.Fault{Status: 400, Code: "AccessDeniedException",
		Message: "User is not authorized to perform: events:PutEvents on resource: " + outcomeBus})
	id := payjstest.DemoOrderUnpaid(3)
	record := []byte(`{"Records":[{"messageId":"m-1","body":"{\"payjs_order_id\":\"` + id + `\"}","eventSource":"aws:sqs"}]}`)
	raw, err := e2eInvoke(t, st, record)
	if err != nil {
		t.Fatal(err)
	}
	if got := batchItemFailures(t, raw); !slices.Equal(got, []string{"m-1"}) {
		t.Errorf("batchItemFailures %v, want [m-1]: its outcome is not on the bus", got)
	}
	checkOrderState(t, st.Sim, id, payjstest.StateClosed)
	if got := received(t, st); len(got) != 0 {
		t.Errorf("the shop's queue received %q through a refused PutEvents", got)
	}
	logs := out.String()
	if !strings.Contains(logs, `"OutcomePublishFailures":1`) || !strings.Contains(logs, `"message":"outcome not published`) {
		t.Errorf("no OutcomePublishFailures metric or ERROR line:\n%s", logs)
	}

	// An EventBridge event invoked directly is a direct invoke: without
	// PAYJS_OUTCOME_ALL its outcome is not published, so the refused
	// PutEvents does not fail it.
	other := payjstest.DemoOrderUnpaid(4)
	if _, err = e2eInvoke(t, st, []byte(`{"version":"0","id":"e-1","detail-type":"Close PAYJS Order","source":"com.example.shop","account":"123456789012","time":"2026-11-25T08:30:00Z","region":"us-east-1","resources":[],"detail":{"payjs_order_id":"`+other+`"}}`)); err != nil {
		t.Errorf("EventBridge invoked directly: %v, want its close answered: it publishes nothing", err)
	}
	checkOrderState(t, st.Sim, other, payjstest.StateClosed)

	st.Moto.ClearFaults()
	raw, err = e2eInvoke(t, st, record)
	if err != nil {
		t.Fatal(err)
	}
	if got := batchItemFailures(t, raw); len(got) != 0 {
		t.Errorf("redelivery: batchItemFailures %v, want none", got)
	}
	if got := received(t, st); !slices.Equal(got, []string{"PAYJS Order Closed " + id + " already_closed"}) {
		t.Errorf("redelivery: the shop's queue received %q, want the already_closed outcome", got)
	}
}

package handler

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// orderedScheduler is a fakeScheduler that records each call in the
// order it was made, and holds the first Schedule until release is
// closed.
type orderedScheduler struct {
	fakeScheduler
	release chan struct{}
	mu      sync.Mutex
	ops     []string
	held    bool // the first Schedule came
}

func (o *orderedScheduler) Schedule(ctx context.Context, s closing.ScheduledClose) (bool, error) {
	o.record("schedule " + s.Name)
	o.mu.Lock()
	first := !o.held
	o.held = true
	o.mu.Unlock()
	if first {
		<-o.release
	}
	return o.fakeScheduler.Schedule(ctx, s)
}

func (o *orderedScheduler) Cancel(ctx context.Context, name string) error {
	o.record("cancel " + name)
	return o.fakeScheduler.Cancel(ctx, name)
}

func (o *orderedScheduler) record(op string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops = append(o.ops, op)
}

func (o *orderedScheduler) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ops)
}

// TestSQSServesOneOrdersRecordsInBatchOrder: a schedule, a cancel and a
// close of the same order in one batch run in their batch order, so the
// cancel finds the schedule; while the schedule is held, another order's
// record and one that cannot be read are served.
func TestSQSServesOneOrdersRecordsInBatchOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, _, _ := schedHarness(t)
		sched := &orderedScheduler{fakeScheduler: fakeScheduler{entries: map[string]closing.ScheduledClose{}}, release: make(chan struct{})}
		hs.h.deps.Scheduler = sched
		hs.rebuild()
		hs.closer.answer = func(id string) (*payjs.Result, error) {
			sched.record("close " + id)
			return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
		}
		bodies := []string{
			`{"payjs_order_id":"` + order1 + `","close_after":"1h"}`,
			`{"payjs_order_id":"` + order2 + `"}`,
			`{"payjs_order_id":"` + order1 + `","action":"cancel"}`,
			`not json`,
			`{"payjs_order_id":"` + order1 + `"}`,
		}
		records := make([]map[string]any, len(bodies))
		for i, b := range bodies {
			records[i] = map[string]any{"messageId": "m" + string(rune('0'+i)), "eventSource": "aws:sqs", "body": b}
		}
		payload, err := json.Marshal(map[string]any{"Records": records})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan []byte)
		go func() {
			out, lerr := hs.invoke(t, payload)
			if lerr != nil {
				t.Error(lerr)
			}
			done <- out
		}()
		// Every record that may run is done or blocked: order2's close and
		// the held schedule, in either order, and nothing else of order1.
		synctest.Wait()
		held := []string{"close " + order2, "schedule close-" + order1}
		if got := slices.Sorted(slices.Values(sched.seen())); !slices.Equal(got, held) {
			t.Errorf("while order1's schedule is held, the calls are %q; want %q", got, held)
		}
		if !strings.Contains(hs.out.String(), `"sqs_message_id":"m3"`) {
			t.Error("the unreadable record waited for order1's schedule")
		}
		close(sched.release)
		out := <-done
		if !strings.Contains(string(out), `"batchItemFailures":[]`) {
			t.Errorf("response = %s, want no retryable record", out)
		}
		var mine []string
		for _, op := range sched.seen() {
			if strings.HasSuffix(op, order1) {
				mine = append(mine, op)
			}
		}
		want := []string{"schedule close-" + order1, "cancel close-" + order1, "close " + order1}
		if !slices.Equal(mine, want) {
			t.Errorf("order1's calls = %q, want %q", mine, want)
		}
		if len(sched.entries) != 0 {
			t.Errorf("schedules left: %v; the cancel should have deleted it", sched.entries)
		}
		if strings.Contains(hs.out.String(), string(closing.CodeNotScheduled)) {
			t.Error("a record answered not_scheduled")
		}
	})
}

func TestSameOrderGroups(t *testing.T) {
	bad := closing.Errorf(closing.CodeInvalidRequest, "x")
	reqs := []closing.Request{{PayjsOrderID: "A"}, {PayjsOrderID: "B"}, {}, {PayjsOrderID: "A"}, {PayjsOrderID: "a"}, {PayjsOrderID: "B"}, {}}
	errs := []error{nil, nil, bad, nil, nil, nil, bad}
	got := sameOrder(reqs, errs)
	want := [][]int{{0, 3}, {1, 5}, {2}, {4}, {6}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("sameOrder = %v, want %v", got, want)
	}
}

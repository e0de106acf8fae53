package handler

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/aws/aws-lambda-go/events"
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
		payload := sqsBodies(bodies...)
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

// throttledScheduler fails every Schedule retryably while throttled, and
// records the calls it answers.
type throttledScheduler struct {
	fakeScheduler
	throttled bool
	ops       []string
}

func (s *throttledScheduler) Schedule(ctx context.Context, sc closing.ScheduledClose) (bool, error) {
	s.ops = append(s.ops, "schedule "+sc.Name)
	if s.throttled {
		return false, errors.New("ThrottlingException: Rate exceeded")
	}
	return s.fakeScheduler.Schedule(ctx, sc)
}

func (s *throttledScheduler) Cancel(ctx context.Context, name string) error {
	s.ops = append(s.ops, "cancel "+name)
	return s.fakeScheduler.Cancel(ctx, name)
}

// TestSQSHoldsBackAnOrdersLaterRecordsAfterARetry: when a schedule fails
// retryably, the cancel after it in the batch is not served (it would find
// nothing, be deleted, and the redelivered schedule survive): both come
// back, and in their redelivery the cancel deletes the schedule. Another
// order's record is served meanwhile.
func TestSQSHoldsBackAnOrdersLaterRecordsAfterARetry(t *testing.T) {
	hs, _, _ := schedHarness(t)
	sched := &throttledScheduler{fakeScheduler: fakeScheduler{entries: map[string]closing.ScheduledClose{}}, throttled: true}
	hs.h.deps.Scheduler = sched
	hs.rebuild()
	schedule := `{"payjs_order_id":"` + order1 + `","close_after":"1h"}`
	cancel := `{"payjs_order_id":"` + order1 + `","action":"cancel"}`
	out, lerr := hs.invoke(t, sqsBodies(schedule, cancel, `{"payjs_order_id":"`+order2+`"}`))
	if lerr != nil {
		t.Fatal(lerr)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if want := []string{"m0", "m1"}; !slices.Equal(failed, want) {
		t.Errorf("batchItemFailures = %q, want %q: the cancel must come back with its schedule", failed, want)
	}
	if want := []string{"schedule close-" + order1}; !slices.Equal(sched.ops, want) {
		t.Errorf("scheduler calls = %q, want %q: the cancel must not be served", sched.ops, want)
	}
	if !slices.Equal(hs.closer.asked, []string{order2}) {
		t.Errorf("PAYJS asked to close %v, want order2", hs.closer.asked)
	}

	sched.throttled, sched.ops = false, nil
	out, lerr = hs.invoke(t, sqsBodies(schedule, cancel))
	if lerr != nil || !strings.Contains(string(out), `"batchItemFailures":[]`) {
		t.Fatalf("redelivery answered %s, %v", out, lerr)
	}
	if len(sched.entries) != 0 {
		t.Errorf("schedules left after the redelivery: %v", sched.entries)
	}
}

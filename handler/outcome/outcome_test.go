package outcome_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/handler/outcome"
)

// fakeAPI is EventBridge answering each entry as refuse says, recording
// every call.
type fakeAPI struct {
	mu     sync.Mutex
	calls  []*eventbridge.PutEventsInput
	err    error
	refuse func(detail string) (code string)
}

func (f *fakeAPI) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &eventbridge.PutEventsOutput{}
	for i, e := range in.Entries {
		r := types.PutEventsResultEntry{EventId: aws.String(fmt.Sprint("id-", i))}
		if f.refuse != nil {
			if code := f.refuse(aws.ToString(e.Detail)); code != "" {
				r = types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("try later")}
				out.FailedEntryCount++
			}
		}
		out.Entries = append(out.Entries, r)
	}
	return out, nil
}

func entries(n int) []outcome.Entry {
	es := make([]outcome.Entry, n)
	for i := range es {
		es[i] = outcome.Entry{DetailType: "PAYJS Order Closed", Detail: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	return es
}

func TestPublishBatchesTenToACall(t *testing.T) {
	api := &fakeAPI{}
	built := 0
	c := outcome.NewWithAPI(func() outcome.API { built++; return api }, outcome.Config{Bus: "shop-events"})
	errs := c.Publish(context.Background(), entries(23))
	if len(errs) != 23 || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatalf("errors %v, want 23 nils", errs)
	}
	var sizes []int
	n := 0
	for _, in := range api.calls {
		sizes = append(sizes, len(in.Entries))
		for _, e := range in.Entries {
			if aws.ToString(e.EventBusName) != "shop-events" || aws.ToString(e.Source) != "payjs-close" ||
				aws.ToString(e.DetailType) != "PAYJS Order Closed" || aws.ToString(e.Detail) != fmt.Sprintf(`{"n":%d}`, n) {
				t.Errorf("entry %d = %+v", n, e)
			}
			n++
		}
	}
	if !slices.Equal(sizes, []int{10, 10, 3}) {
		t.Errorf("calls of %v entries, want 10, 10, 3", sizes)
	}
	if built != 3 {
		t.Errorf("api() called %d times, want once per call (New wraps it in sync.OnceValue)", built)
	}
}

func TestPublishReportsEachRefusedEntry(t *testing.T) {
	api := &fakeAPI{refuse: func(d string) string {
		if d == `{"n":3}` || d == `{"n":11}` {
			return "ThrottlingException"
		}
		return ""
	}}
	c := outcome.NewWithAPI(func() outcome.API { return api }, outcome.Config{Bus: "b"})
	errs := c.Publish(context.Background(), entries(12))
	for i, err := range errs {
		var ee *outcome.EntryError
		refused := errors.As(err, &ee) && ee.Code == "ThrottlingException"
		if refused != (i == 3 || i == 11) || (err != nil && !refused) {
			t.Errorf("entry %d: %v", i, err)
		}
	}
}

func TestPublishFailedCallFailsItsEntries(t *testing.T) {
	api := &fakeAPI{err: errors.New("AccessDeniedException: not authorized to perform events:PutEvents")}
	c := outcome.NewWithAPI(func() outcome.API { return api }, outcome.Config{Bus: "b"})
	for i, err := range c.Publish(context.Background(), entries(2)) {
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("entry %d: %v, want the call's error", i, err)
		}
	}
	if errs := c.Publish(context.Background(), nil); len(errs) != 0 || len(api.calls) != 1 {
		t.Errorf("no entries: %v after %d calls, want no call", errs, len(api.calls))
	}
}

// TestPublishToMoto: the events reach a rule's SQS target on the bus in
// EventBridge's shape; a throttled call is retried by the SDK; a bus that
// does not exist fails every entry.
func TestPublishToMoto(t *testing.T) {
	srv := mototest.Start(t)
	box := srv.CreateEventBus(t, "shop-events", "")
	c := outcome.New(mototest.Config(t, srv.URL), outcome.Config{Bus: "shop-events"})
	if errs := c.Publish(context.Background(), entries(12)); slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatalf("errors %v", errs)
	}
	if n := srv.Calls(mototest.OpPutEvents); n != 2 {
		t.Errorf("PutEvents calls = %d, want 2 for 12 events", n)
	}
	got := box.Receive(t)
	if len(got) != 12 {
		t.Fatalf("the rule's queue received %d events, want 12", len(got))
	}
	var ev struct {
		Source     string         `json:"source"`
		DetailType string         `json:"detail-type"`
		Detail     map[string]int `json:"detail"`
	}
	if err := json.Unmarshal([]byte(got[0]), &ev); err != nil || ev.Source != "payjs-close" || ev.DetailType != "PAYJS Order Closed" || len(ev.Detail) != 1 {
		t.Errorf("event %s: %v", got[0], err)
	}

	// Throttled once: the SDK's retry puts the events in the same Publish.
	srv.ResetCalls()
	throttled := mototest.Throttled()
	throttled.Times = 1
	srv.Fail(mototest.OpPutEvents, throttled)
	if errs := c.Publish(context.Background(), entries(1)); errs[0] != nil {
		t.Errorf("throttled once: %v, want the SDK's retry to publish", errs[0])
	}
	if n, got := srv.Calls(mototest.OpPutEvents), len(box.Receive(t)); n != 2 || got != 1 {
		t.Errorf("throttled once: %d PutEvents calls and %d events received, want 2 and 1", n, got)
	}

	missing := outcome.New(mototest.Config(t, srv.URL), outcome.Config{Bus: "no-such-bus"})
	for i, err := range missing.Publish(context.Background(), entries(2)) {
		if err == nil {
			t.Errorf("entry %d on a missing bus: no error", i)
		}
	}
}

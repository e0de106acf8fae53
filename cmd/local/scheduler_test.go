package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// fakeClock is the local scheduler's clock and timers, moved by hand: a
// timer's function runs in Advance, in the test's goroutine, so that a
// close that fires has finished when Advance returns.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock   *fakeClock
	due     time.Time
	f       func()
	stopped bool
	fired   bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, due: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	active := !t.stopped && !t.fired
	t.stopped = true
	return active
}

// Advance moves the clock by d and runs the timers that are then due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && !t.due.After(c.now) {
			t.fired = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// active returns the timers neither stopped nor fired.
func (c *fakeClock) active() []*fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			out = append(out, t)
		}
	}
	return out
}

// schedFixture is `make run`'s function, simulator, gateway and local
// scheduler on a fake clock, with no network but the simulator's.
type schedFixture struct {
	clock *fakeClock
	sched *localScheduler
	sim   *payjstest.Server
	gw    *gateway
	logs  *testlog.Buffer
}

func newSchedFixture(t *testing.T) *schedFixture {
	t.Helper()
	f := &schedFixture{
		clock: &fakeClock{now: time.Now().UTC().Truncate(time.Second)},
		sim:   payjstest.NewServer(payjstest.WithDemoData()),
		logs:  &testlog.Buffer{},
	}
	t.Cleanup(f.sim.Close)
	f.sched = newLocalScheduler()
	f.sched.now, f.sched.afterFunc = f.clock.Now, f.clock.AfterFunc
	h, closeIdle, err := newLocalHandler(f.sim.URL, noEnv, f.logs, f.sched)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeIdle)
	t.Cleanup(f.sched.Stop)
	f.gw = &gateway{fn: h, timeout: functionTimeout}
	return f
}

// do sends an HTTP request through the gateway.
func (f *schedFixture) do(t *testing.T, method, id, body string) response {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), method, "/orders/"+id+"/close", strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.gw.ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("%s %s: body %q: %v", method, id, rec.Body.Bytes(), err)
	}
	return r
}

func (f *schedFixture) schedule(t *testing.T, id, after string) response {
	t.Helper()
	r := f.do(t, http.MethodPost, id, `{"close_after":"`+after+`"}`)
	if r.status != http.StatusAccepted || r.body["status"] != "scheduled" {
		t.Fatalf("POST close_after %s: %d %v, want 202 scheduled", after, r.status, r.body)
	}
	return r
}

func (f *schedFixture) state(t *testing.T, id string) payjstest.State {
	t.Helper()
	o, ok := f.sim.Order(id)
	if !ok {
		t.Fatalf("no order %s at the simulator", id)
	}
	return o.State
}

func (f *schedFixture) closes() int { return f.sim.Outcomes()[payjstest.OutcomeClosed] }

func TestLocalSchedulerClosesTheOrderWhenDue(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t)
	id := payjstest.DemoOrderUnpaid(1)
	r := f.schedule(t, id, "15m")
	if want := f.clock.Now().Add(15 * time.Minute).Format(time.RFC3339); r.body["close_at"] != want {
		t.Errorf("close_at = %v, want %s", r.body["close_at"], want)
	}

	f.clock.Advance(15*time.Minute - time.Second)
	if got := f.state(t, id); got != payjstest.StateUnpaid || f.sim.Requests() != 0 {
		t.Fatalf("a second early: order %v after %d PAYJS requests, want unpaid and none", got, f.sim.Requests())
	}
	f.clock.Advance(time.Second)
	if got := f.state(t, id); got != payjstest.StateClosed || f.closes() != 1 {
		t.Fatalf("when due: order %v after %d closes, want closed by one", got, f.closes())
	}
	logs := f.logs.String()
	for _, want := range []string{
		`"message":"local scheduler: a scheduled close is due; delivering its input to the function as an SQS record"`,
		`"message":"close","event_kind":"sqs","payjs_order_id":"` + id + `","outcome":"closed"`,
		`"scheduled":true`,
		`"requestId":"local-scheduled-000001"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	// Once run, the schedule is gone, as ActionAfterCompletion DELETE.
	if r := f.do(t, http.MethodDelete, id, ""); r.status != http.StatusNotFound || errorCode(r) != "not_scheduled" {
		t.Errorf("cancel after it fired: %d %v, want 404 not_scheduled", r.status, r.body)
	}
}

func TestLocalSchedulerMovesARescheduledClose(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t)
	id := payjstest.DemoOrderUnpaid(2)
	f.schedule(t, id, "15m")
	first := f.clock.active()
	f.schedule(t, id, "30m")
	if !strings.Contains(f.logs.String(), `"message":"schedule","action":"reschedule"`) {
		t.Errorf("no reschedule log line:\n%s", f.logs.String())
	}
	if n := len(f.clock.active()); n != 1 || len(first) != 1 || !first[0].stopped {
		t.Fatalf("after moving it: %d timers running, the first stopped: %v; want one, and yes", n, first[0].stopped)
	}
	// Should the old timer fire as it is being stopped, nothing happens.
	first[0].f()
	f.clock.Advance(15 * time.Minute)
	if got := f.state(t, id); got != payjstest.StateUnpaid || f.sim.Requests() != 0 {
		t.Fatalf("at the old time: order %v after %d PAYJS requests, want unpaid and none", got, f.sim.Requests())
	}
	f.clock.Advance(15 * time.Minute)
	if got := f.state(t, id); got != payjstest.StateClosed || f.closes() != 1 || f.sim.Requests() != 1 {
		t.Fatalf("at the new time: order %v, %d requests; want closed by exactly one", got, f.sim.Requests())
	}
	f.clock.Advance(24 * time.Hour)
	if n := f.sim.Requests(); n != 1 {
		t.Errorf("%d PAYJS requests a day later, want the one", n)
	}
}

func TestLocalSchedulerCancel(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t)
	id := payjstest.DemoOrderUnpaid(3)

	// Nothing scheduled: through the gateway, the DELETE route.
	r := f.do(t, http.MethodDelete, id, "")
	if r.status != http.StatusNotFound || errorCode(r) != "not_scheduled" || r.body["ok"] != false {
		t.Errorf("cancel of nothing: %d %v, want 404 not_scheduled", r.status, r.body)
	}

	f.schedule(t, id, "15m")
	r = f.do(t, http.MethodDelete, id, "")
	if r.status != http.StatusOK || r.body["status"] != closing.StatusCancelled {
		t.Fatalf("cancel: %d %v, want 200 %s", r.status, r.body, closing.StatusCancelled)
	}
	if n := len(f.clock.active()); n != 0 {
		t.Errorf("%d timers still running after the cancel", n)
	}
	f.clock.Advance(31 * 24 * time.Hour)
	if got := f.state(t, id); got != payjstest.StateUnpaid || f.sim.Requests() != 0 {
		t.Errorf("after the cancel: order %v after %d PAYJS requests, want unpaid and none", got, f.sim.Requests())
	}
	if r := f.do(t, http.MethodDelete, id, ""); r.status != http.StatusNotFound || errorCode(r) != "not_scheduled" {
		t.Errorf("second cancel: %d %v, want 404 not_scheduled", r.status, r.body)
	}
}

func TestLocalSchedulerStopStopsEveryTimer(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t)
	f.schedule(t, payjstest.DemoOrderUnpaid(4), "15m")
	f.schedule(t, payjstest.DemoOrderUnpaid(5), "2h")
	f.sched.Stop()
	if n := len(f.clock.active()); n != 0 {
		t.Errorf("%d timers running after Stop", n)
	}
	f.clock.Advance(24 * time.Hour)
	if n := f.sim.Requests(); n != 0 {
		t.Errorf("%d PAYJS requests after Stop", n)
	}
	if !strings.Contains(f.logs.String(), `"dropped":2`) {
		t.Errorf("Stop does not say it dropped the two closes:\n%s", f.logs.String())
	}
	r := f.do(t, http.MethodPost, payjstest.DemoOrderUnpaid(6), `{"close_after":"15m"}`)
	if r.status != http.StatusServiceUnavailable || errorCode(r) != "schedule_unavailable" {
		t.Errorf("schedule after Stop: %d %v, want 503 schedule_unavailable", r.status, r.body)
	}
}

// recordingInvoker is a function that reports each invoke on a channel.
type recordingInvoker chan []byte

func (c recordingInvoker) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	c <- bytes.Clone(payload)
	return []byte(`{}`), nil
}

// With the real clock, a close moved to 20 ms ahead fires on its own,
// once, with its input as the body of one SQS record.
func TestLocalSchedulerFiresOnTheRealClock(t *testing.T) {
	t.Parallel()
	invoked := make(recordingInvoker, 2)
	l := newLocalScheduler()
	l.fn = invoked
	t.Cleanup(l.Stop)
	s := closing.ScheduledClose{Name: "close-1", At: time.Now().Add(time.Hour), Input: `{"payjs_order_id":"1"}`}
	if moved, err := l.Schedule(context.Background(), s); moved || err != nil {
		t.Fatalf("Schedule = %v, %v", moved, err)
	}
	s.At = time.Now().Add(20 * time.Millisecond)
	if moved, err := l.Schedule(context.Background(), s); !moved || err != nil {
		t.Fatalf("Schedule again = %v, %v; want moved", moved, err)
	}
	select {
	case p := <-invoked:
		var e events.SQSEvent
		if err := json.Unmarshal(p, &e); err != nil || len(e.Records) != 1 || e.Records[0].Body != s.Input || e.Records[0].EventSource != "aws:sqs" {
			t.Errorf("invoked with %s, want one SQS record whose body is %s", p, s.Input)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the close did not fire")
	}
	l.Stop() // waits for any invoke in flight
	if len(invoked) != 0 {
		t.Errorf("the moved close fired twice")
	}
	if err := l.Cancel(context.Background(), "close-1"); err != closing.ErrNotScheduled {
		t.Errorf("Cancel after it fired = %v, want ErrNotScheduled", err)
	}
}

// The banner's lines to schedule and cancel a close work as they say: the
// close to watch fires, on the real clock, and the one canceled is
// another order's, which stays unpaid.
func TestRunSchedulesTheBannersClose(t *testing.T) {
	t.Parallel()
	api, _, out, stop := startLocal(t)
	fireID, cancelID := payjstest.DemoOrderUnpaid(3), payjstest.DemoOrderUnpaid(4)
	fireURL, cancelURL := api+"/orders/"+fireID+"/close", api+"/orders/"+cancelID+"/close"
	banner := out.String()
	post := func(url, after string) string {
		return "curl -i -X POST " + url + ` -H 'Content-Type: application/json' -d '{"close_after":"` + after + `"}'   # 202 scheduled`
	}
	for _, want := range []string{
		post(fireURL, demoCloseAfter) + ": the log shows the close " + demoCloseAfter + " later",
		post(cancelURL, demoCancelAfter),
		"curl -i -X DELETE " + cancelURL + "   # 200 " + closing.StatusCancelled,
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %s:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, "DELETE "+fireURL) {
		t.Errorf("the banner cancels the close it tells one to watch:\n%s", banner)
	}

	after, err := time.ParseDuration(demoCloseAfter)
	if err != nil {
		t.Fatal(err)
	}
	fired := out.Watch(regexp.MustCompile(`"message":"close","event_kind":"sqs","payjs_order_id":"` + fireID + `","outcome":"closed"`))
	start := time.Now()
	r := do(t, http.MethodPost, fireURL, "application/json", `{"close_after":"`+demoCloseAfter+`"}`)
	if r.status != http.StatusAccepted || r.body["status"] != "scheduled" {
		t.Fatalf("the banner's close_after: %d %v, want 202 scheduled", r.status, r.body)
	}
	closeAt, _ := r.body["close_at"].(string)
	at, err := time.Parse(time.RFC3339, closeAt)
	if err != nil || at.Before(start.Add(after-time.Second)) || at.After(time.Now().Add(after)) {
		t.Errorf("close_at = %v, want %s from now", r.body["close_at"], demoCloseAfter)
	}

	r = do(t, http.MethodPost, cancelURL, "application/json", `{"close_after":"`+demoCancelAfter+`"}`)
	if r.status != http.StatusAccepted || r.body["status"] != "scheduled" {
		t.Fatalf("the banner's close_after %s: %d %v, want 202 scheduled", demoCancelAfter, r.status, r.body)
	}
	r = do(t, http.MethodDelete, cancelURL, "", "")
	if r.status != http.StatusOK || r.body["status"] != closing.StatusCancelled {
		t.Errorf("the banner's DELETE: %d %v, want 200 %s", r.status, r.body, closing.StatusCancelled)
	}
	r = do(t, http.MethodDelete, cancelURL, "", "")
	if r.status != http.StatusNotFound || errorCode(r) != "not_scheduled" {
		t.Errorf("the banner's DELETE again: %d %v, want 404 not_scheduled", r.status, r.body)
	}

	// The close to watch fires on time: the log says so, and PAYJS closed it.
	select {
	case <-fired:
	case <-time.After(after + 30*time.Second): // a wait, generous for a busy machine
		t.Fatalf("the scheduled close of %s did not fire within %s:\n%s", fireID, after+30*time.Second, out.String())
	}
	if elapsed := time.Since(start); elapsed < after-time.Second {
		t.Errorf("the close fired %s after it was scheduled, want %s", elapsed, demoCloseAfter)
	}
	if err := stop(); err != nil {
		t.Errorf("run = %v", err)
	}
	if strings.Contains(out.String(), `"payjs_order_id":"`+cancelID+`","outcome":"closed"`) {
		t.Errorf("the canceled close of %s ran:\n%s", cancelID, out.String())
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// `make invoke EVENT=events/schedule.json`, end to end: the real bootstrap
// under aws-lambda-rie schedules the close in moto as EventBridge
// Scheduler with the close queue as its target, the schedule is printed,
// and its input, delivered as an SQS record as the queue would, closes
// the order.
func TestInvokeSchedulesACloseInMotoUnderTheEmulator(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, _ := devstack.StartTest(t, devstack.Options{})
	payload, err := os.ReadFile("../../events/schedule.json")
	if err != nil {
		t.Fatal(err)
	}
	var event struct {
		PayjsOrderID string `json:"payjs_order_id"`
		CloseAfter   string `json:"close_after"`
	}
	if err := json.Unmarshal(payload, &event); err != nil || event.CloseAfter != "15m" {
		t.Fatalf("events/schedule.json: %v, %+v; want a direct invoke with close_after 15m", err, event)
	}
	id := event.PayjsOrderID

	var stdout, stderr bytes.Buffer
	before := time.Now().UTC()
	if err := invokeStack(ctx, st, payload, &stdout, &stderr); err != nil {
		t.Fatalf("invoke: %v\nstderr:\n%s", err, stderr.String())
	}
	after := time.Now().UTC()

	// stdout: the result, then the schedule.
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	var res map[string]any
	var printed schedule
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout does not start with the result: %v\n%s", err, stdout.String())
	}
	if err := dec.Decode(&printed); err != nil || dec.More() {
		t.Fatalf("stdout has not exactly one schedule after the result: %v\n%s", err, stdout.String())
	}
	if rid, _ := res["request_id"].(string); res["ok"] != true || res["status"] != "scheduled" || res["payjs_order_id"] != id || rid == "" {
		t.Errorf("result %v, want ok, scheduled, %s, a request_id", res, id)
	}
	closeAtText, _ := res["close_at"].(string)
	closeAt, err := time.Parse(time.RFC3339, closeAtText)
	if err != nil || closeAt.Location() != time.UTC ||
		closeAt.Before(before.Add(15*time.Minute).Truncate(time.Second)) || closeAt.After(after.Add(15*time.Minute)) {
		t.Errorf("close_at = %v, want UTC, 15 minutes after the invoke (%v..%v)", res["close_at"], before, after)
	}
	if want := "holds the schedule " + devstack.ScheduleGroup + "/close-" + id; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}

	// moto's schedule, as the SDK reads it.
	s, err := st.Schedule(ctx, "close-"+id)
	if err != nil {
		t.Fatal(err)
	}
	if got := scheduleView(s); !reflect.DeepEqual(got, printed) {
		t.Errorf("printed schedule %+v, moto holds %+v", printed, got)
	}
	if want := "at(" + closeAt.Format("2006-01-02T15:04:05") + ")"; aws.ToString(s.ScheduleExpression) != want {
		t.Errorf("ScheduleExpression = %q, want %q", aws.ToString(s.ScheduleExpression), want)
	}
	if tz := aws.ToString(s.ScheduleExpressionTimezone); tz != "UTC" {
		t.Errorf("ScheduleExpressionTimezone = %q, want UTC", tz)
	}
	if s.FlexibleTimeWindow == nil || s.FlexibleTimeWindow.Mode != types.FlexibleTimeWindowModeOff {
		t.Errorf("FlexibleTimeWindow = %+v, want OFF", s.FlexibleTimeWindow)
	}
	if s.ActionAfterCompletion != types.ActionAfterCompletionDelete {
		t.Errorf("ActionAfterCompletion = %q, want DELETE", s.ActionAfterCompletion)
	}
	tg := s.Target
	if tg == nil {
		t.Fatal("the schedule has no target")
	}
	// Scheduler's SQS target: the close queue, PAYJS_SCHEDULE_TARGET_ARN.
	if arn := aws.ToString(tg.Arn); arn != devstack.CloseQueueARN {
		t.Errorf("Target.Arn = %q, want the close queue %q", arn, devstack.CloseQueueARN)
	}
	if role := aws.ToString(tg.RoleArn); role != devstack.ScheduleRoleARN {
		t.Errorf("Target.RoleArn = %q, want %q", role, devstack.ScheduleRoleARN)
	}
	var input map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(tg.Input)), &input); err != nil ||
		!maps.Equal(input, map[string]any{"payjs_order_id": id, "mchid": payjstest.DemoMchID, "scheduled": true}) {
		t.Errorf("Target.Input = %q, want the order id and its resolved merchant marked scheduled, no time", aws.ToString(tg.Input))
	}
	if rp := tg.RetryPolicy; rp == nil || aws.ToInt32(rp.MaximumRetryAttempts) <= 0 ||
		aws.ToInt32(rp.MaximumEventAgeInSeconds) < 60 || aws.ToInt32(rp.MaximumEventAgeInSeconds) > 86400 {
		t.Errorf("Target.RetryPolicy = %+v, want retries within a day", rp)
	}
	if dl := tg.DeadLetterConfig; dl == nil || aws.ToString(dl.Arn) != devstack.ScheduleDLQARN {
		t.Errorf("Target.DeadLetterConfig = %+v, want %s", dl, devstack.ScheduleDLQARN)
	}
	if o, _ := st.Sim.Order(id); o.State != payjstest.StateUnpaid || st.Sim.Requests() != 0 {
		t.Errorf("after scheduling: order %v after %d PAYJS requests, want unpaid and none", o.State, st.Sim.Requests())
	}

	// When it is due, Scheduler sends the input to the close queue, whose
	// event source delivers it to the function as an SQS record.
	raw, err := st.Invoke(ctx, devstack.SQSEvent(aws.ToString(tg.Input)))
	if err != nil || string(raw) != `{"batchItemFailures":[]}` {
		t.Fatalf("the schedule's input as an SQS record: %s, %v; want no failures", raw, err)
	}
	if o, _ := st.Sim.Order(id); o.State != payjstest.StateClosed {
		t.Errorf("after the scheduled close: order %v, want closed", o.State)
	}
}

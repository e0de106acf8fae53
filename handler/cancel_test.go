package handler

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/schedule"
)

// emptyScheduler is EventBridge Scheduler with the group but no schedule in
// it: a delete answers ResourceNotFoundException in AWS's words.
type emptyScheduler struct{}

func (emptyScheduler) CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	return nil, errors.New("emptyScheduler: no create expected")
}

func (emptyScheduler) UpdateSchedule(context.Context, *scheduler.UpdateScheduleInput, ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	return nil, errors.New("emptyScheduler: no update expected")
}

func (emptyScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	return nil, &types.ResourceNotFoundException{Message: aws.String("Schedule " + aws.ToString(in.Name) + " does not exist.")}
}

// GetScheduleGroup finds the group: the schedule, not the group, is
// missing.
func (emptyScheduler) GetScheduleGroup(_ context.Context, in *scheduler.GetScheduleGroupInput, _ ...func(*scheduler.Options)) (*scheduler.GetScheduleGroupOutput, error) {
	return &scheduler.GetScheduleGroupOutput{Name: in.Name}, nil
}

// TestCancelOfNothingForAnIDHoldingGroup: Scheduler's "Schedule
// close-<id> does not exist." for an order id that holds "group", in any
// case, is no missing schedule group: the cancel answers 404
// not_scheduled, on HTTP and direct invokes alike.
func TestCancelOfNothingForAnIDHoldingGroup(t *testing.T) {
	for _, id := range []string{"group", "GroupOrder1", "2026112500000000GROUP000000001", "myGrOuP"} {
		hs := newHarness(t)
		hs.h.deps.Scheduler = schedule.NewWithAPI(func() schedule.API { return emptyScheduler{} }, schedule.Config{
			Group:     "payjs-close",
			RoleARN:   "arn:aws:iam::123456789012:role/payjs-close-scheduler",
			TargetARN: "arn:aws:sqs:us-east-1:123456789012:payjs-close-close",
		})
		hs.rebuild()

		if a := hs.invokeHTTP(t, event(t, "http-api.json", setPathID(id), setMethod("DELETE"))); a.status != 404 || a.result.Code() != closing.CodeNotScheduled {
			t.Errorf("DELETE /orders/%s/close: %d %+v, want 404 not_scheduled", id, a.status, a.result)
		}
		out, lerr := hs.invoke(t, []byte(`{"payjs_order_id":"`+id+`","action":"cancel"}`))
		if lerr != nil {
			t.Fatalf("direct cancel of %s: Lambda error %v, want not_scheduled", id, lerr)
		}
		if res := decodeResult(t, out); res.Code() != closing.CodeNotScheduled || res.PayjsOrderID != id {
			t.Errorf("direct cancel of %s: %+v, want not_scheduled", id, res)
		}
	}
}

package devstack

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
)

// Scheduled closes: [Start] creates the schedule group ScheduleGroup in moto
// and gives the function these as PAYJS_SCHEDULE_GROUP,
// PAYJS_SCHEDULE_ROLE_ARN, PAYJS_SCHEDULE_TARGET_ARN and
// PAYJS_SCHEDULE_DLQ_ARN, with moto as AWS_ENDPOINT_URL_SCHEDULER. moto
// stores schedules and never fires them, so neither the role nor the
// queues need to exist: a test fires a schedule by handing the function
// an SQS event whose record body is the schedule's input, as the close
// queue's event source would.
const (
	ScheduleGroup   = "payjs-close"
	ScheduleRoleARN = "arn:aws:iam::123456789012:role/payjs-close-scheduler"
	CloseQueueARN   = "arn:aws:sqs:us-east-1:123456789012:payjs-close-close"
	ScheduleDLQARN  = "arn:aws:sqs:us-east-1:123456789012:payjs-close-dlq"
)

// SQSEvent is the event the close queue's event source hands the
// function for messages of bodies (message ids m0, m1, …): how a test
// delivers a schedule's input, or an EventBridge event the rule sent to
// the queue, as Lambda would.
func SQSEvent(bodies ...string) []byte {
	var e events.SQSEvent
	for i, b := range bodies {
		e.Records = append(e.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("m%d", i), Body: b, EventSource: "aws:sqs", EventSourceARN: CloseQueueARN, AWSRegion: mototest.Region,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	out, _ := json.Marshal(e) // strings only: always encodes
	return out
}

// Scheduler returns an EventBridge Scheduler client for moto, as the
// function sees it.
func (st *Stack) Scheduler() *scheduler.Client {
	return scheduler.NewFromConfig(aws.Config{
		Region:       mototest.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(mototest.AccessKeyID, mototest.SecretAccessKey, ""),
		BaseEndpoint: aws.String(st.Moto.URL),
	})
}

// Schedule reads the schedule name of ScheduleGroup from moto.
func (st *Stack) Schedule(ctx context.Context, name string) (*scheduler.GetScheduleOutput, error) {
	out, err := st.Scheduler().GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(ScheduleGroup)})
	if err != nil {
		return nil, fmt.Errorf("get schedule %s/%s from moto: %w", ScheduleGroup, name, err)
	}
	return out, nil
}

// createScheduleGroup creates ScheduleGroup in moto.
func (st *Stack) createScheduleGroup(ctx context.Context) error {
	if _, err := st.Scheduler().CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(ScheduleGroup)}); err != nil {
		return fmt.Errorf("create schedule group %s in moto: %w", ScheduleGroup, err)
	}
	return nil
}

// scheduleEnv is the function's configuration for scheduled closes.
func (st *Stack) scheduleEnv() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_SCHEDULER": st.Moto.URL,
		"PAYJS_SCHEDULE_GROUP":       ScheduleGroup,
		"PAYJS_SCHEDULE_ROLE_ARN":    ScheduleRoleARN,
		"PAYJS_SCHEDULE_TARGET_ARN":  CloseQueueARN,
		"PAYJS_SCHEDULE_DLQ_ARN":     ScheduleDLQARN,
	}
}

package devstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/payjs-close/payjs-close/handler/secret/mototest"
)

// Scheduled closes: [Start] creates the schedule group ScheduleGroup in moto
// and gives the function these as PAYJS_SCHEDULE_GROUP,
// PAYJS_SCHEDULE_ROLE_ARN and PAYJS_SCHEDULE_DLQ_ARN, with moto as
// AWS_ENDPOINT_URL_SCHEDULER. moto stores schedules and never fires them,
// so neither the role nor the queue needs to exist.
const (
	ScheduleGroup   = "payjs-close"
	ScheduleRoleARN = "arn:aws:iam::123456789012:role/payjs-close-scheduler"
	ScheduleDLQARN  = "arn:aws:sqs:us-east-1:123456789012:payjs-close-scheduled-dlq"
)

// FunctionARN returns the ARN that aws-lambda-rie gives the function as
// its InvokedFunctionArn (fixed region and account, the function's
// name): the target of the schedules the function creates.
func (st *Stack) FunctionARN() string {
	name := st.env["AWS_LAMBDA_FUNCTION_NAME"]
	if name == "" {
		name = "test_function" // the emulator's default
	}
	return "arn:aws:lambda:us-east-1:012345678912:function:" + name
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
		"PAYJS_SCHEDULE_DLQ_ARN":     ScheduleDLQARN,
	}
}

// Package schedule keeps payjs-close's scheduled closes as EventBridge
// Scheduler one-time schedules: one schedule per order, at a UTC time,
// deleted by Scheduler once it has run, sending the close queue the plain
// close request (Scheduler's SQS target), which the function's SQS path
// reads, bounded as every queued close is. It implements
// [closing.Scheduler]:
//
//	sched := schedule.New(awsCfg, schedule.Config{
//		Group:     "payjs-close",                          // PAYJS_SCHEDULE_GROUP
//		RoleARN:   "arn:aws:iam::123456789012:role/sched", // PAYJS_SCHEDULE_ROLE_ARN
//		TargetARN: "arn:aws:sqs:...:payjs-close-close",     // PAYJS_SCHEDULE_TARGET_ARN
//		DLQARN:    "arn:aws:sqs:...:payjs-close-dlq",       // PAYJS_SCHEDULE_DLQ_ARN
//	})
//	svc := closing.New(closing.Config{Scheduler: sched, ...}) // handler.Deps.Scheduler passes it there
//
// The SDK client is made on first use, so a sandbox that only closes orders
// never builds it. Its errors wrap the SDK's with the sentinel that
// package closing gives a code: [closing.ErrSchedulerUnavailable] when
// Scheduler throttles, fails or times out, [closing.ErrSchedulerRefused]
// when the group is missing or access is denied, and
// [closing.ErrNotScheduled] for a cancel that finds no schedule.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/smithy-go"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// API is the part of the Scheduler SDK client this package calls;
// *scheduler.Client implements it.
type API interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(ctx context.Context, in *scheduler.UpdateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
	GetScheduleGroup(ctx context.Context, in *scheduler.GetScheduleGroupInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleGroupOutput, error)
}

// Config is where schedules go and where Scheduler sends their closes.
type Config struct {
	// Group is the schedule group (PAYJS_SCHEDULE_GROUP).
	Group string
	// RoleARN is the role Scheduler assumes to send to the target.
	RoleARN string
	// TargetARN is the close queue's ARN (PAYJS_SCHEDULE_TARGET_ARN).
	TargetARN string
	// DLQARN is the SQS queue for sends Scheduler gave up on; "" for none.
	DLQARN string
}

// How Scheduler retries sending to the close queue. Once the queue has
// taken the message, its redrive policy and dead-letter queue take over.
const (
	maxRetryAttempts = 20
	maxEventAge      = 24 * 60 * 60 // seconds
)

// Client creates, moves and deletes scheduled closes.
type Client struct {
	cfg Config
	api func() API
}

// New returns a Client that builds its SDK client from awsCfg on first
// use; the SDK reads AWS_ENDPOINT_URL_SCHEDULER.
func New(awsCfg aws.Config, cfg Config) *Client {
	return NewWithAPI(sync.OnceValue(func() API { return scheduler.NewFromConfig(awsCfg) }), cfg)
}

// NewWithAPI returns a Client calling the API that api returns.
func NewWithAPI(api func() API, cfg Config) *Client { return &Client{cfg: cfg, api: api} }

// maxPuts bounds how often Schedule creates the schedule again because it
// vanished between a create's conflict and the update.
const maxPuts = 3

// errFired is a put's update finding no schedule after the create found
// one: it fired (Scheduler deletes it after it runs) or was canceled in
// between, and creating it again is the answer.
var errFired = errors.New("the schedule was deleted between the create's conflict and the update")

// Schedule creates the schedule s.Name, or moves it to s.At when it exists.
func (c *Client) Schedule(ctx context.Context, s closing.ScheduledClose) (moved bool, err error) {
	if c.cfg.TargetARN == "" {
		return false, fmt.Errorf("%w: the close queue's ARN is not configured: set PAYJS_SCHEDULE_TARGET_ARN", closing.ErrSchedulerRefused)
	}
	for range maxPuts {
		moved, err = c.put(ctx, s)
		if !errors.Is(err, errFired) {
			return moved, err
		}
	}
	return false, fmt.Errorf("%w: the schedule kept vanishing between create and update: %w", closing.ErrSchedulerUnavailable, err)
}

// put creates the schedule, or updates it when it exists: errFired when
// it was deleted between the two.
func (c *Client) put(ctx context.Context, s closing.ScheduledClose) (moved bool, err error) {
	expr := "at(" + s.At.UTC().Format("2006-01-02T15:04:05") + ")"
	target := &types.Target{
		Arn:         aws.String(c.cfg.TargetARN),
		RoleArn:     aws.String(c.cfg.RoleARN),
		Input:       aws.String(s.Input),
		RetryPolicy: &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(maxRetryAttempts), MaximumEventAgeInSeconds: aws.Int32(maxEventAge)},
	}
	if c.cfg.DLQARN != "" {
		target.DeadLetterConfig = &types.DeadLetterConfig{Arn: aws.String(c.cfg.DLQARN)}
	}
	window := &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff}
	desc := aws.String("payjs-close: close the PAYJS order unless it is paid")
	_, err = c.api().CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String(s.Name), GroupName: aws.String(c.cfg.Group), Description: desc,
		ScheduleExpression: aws.String(expr), ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow: window, ActionAfterCompletion: types.ActionAfterCompletionDelete, Target: target,
	})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) {
		return false, classify(err)
	}
	// One schedule per order: scheduling again moves it.
	_, err = c.api().UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
		Name: aws.String(s.Name), GroupName: aws.String(c.cfg.Group), Description: desc,
		ScheduleExpression: aws.String(expr), ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow: window, ActionAfterCompletion: types.ActionAfterCompletionDelete, Target: target,
	})
	if nf := (*types.ResourceNotFoundException)(nil); errors.As(err, &nf) {
		return false, c.notFound(ctx, err, fmt.Errorf("%w: %w", errFired, err))
	}
	return err == nil, classify(err)
}

// Cancel deletes the schedule name: [closing.ErrNotScheduled] when there is
// none.
func (c *Client) Cancel(ctx context.Context, name string) error {
	_, err := c.api().DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(c.cfg.Group)})
	if nf := (*types.ResourceNotFoundException)(nil); errors.As(err, &nf) {
		return c.notFound(ctx, err, closing.ErrNotScheduled)
	}
	return classify(err)
}

// notFound answers a ResourceNotFoundException, err, from a call on one
// schedule: Scheduler gives it for a missing schedule and for a missing
// group alike, so the group is looked up. It exists: the schedule is
// missing, and noSchedule is the answer. It is missing too: a
// configuration error. The look-up failed: its error is the answer.
func (c *Client) notFound(ctx context.Context, err, noSchedule error) error {
	_, gerr := c.api().GetScheduleGroup(ctx, &scheduler.GetScheduleGroupInput{Name: aws.String(c.cfg.Group)})
	if nf := (*types.ResourceNotFoundException)(nil); errors.As(gerr, &nf) {
		return classify(fmt.Errorf("the schedule group %q does not exist: %w", c.cfg.Group, err))
	}
	if gerr != nil {
		return classify(fmt.Errorf("looking up the schedule group %q: %w", c.cfg.Group, gerr))
	}
	return noSchedule
}

// classify wraps a Scheduler error with the sentinel that gives it its
// code: refused for what only a fix of the configuration mends,
// unavailable for the rest.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDeniedException", "ResourceNotFoundException", "ValidationException",
			"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
			return fmt.Errorf("%w: %w", closing.ErrSchedulerRefused, err)
		}
	}
	return fmt.Errorf("%w: %w", closing.ErrSchedulerUnavailable, err)
}

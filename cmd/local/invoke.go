package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
)

// invoke sends the event in file through the real bootstrap under
// aws-lambda-rie, with moto and the simulator, and prints the answer to
// stdout; everything the emulator and the function print goes to stderr.
// A Lambda function error is printed too. When the answer is a failure
// (see [failure]), invoke returns a *failedError after printing it all.
func invoke(ctx context.Context, file string, getenv func(string) string, stdout, stderr io.Writer) error {
	payload, err := os.ReadFile(file) //nolint:gosec // G304: the event file the user names
	if err != nil {
		return err
	}
	if !json.Valid(payload) {
		return fmt.Errorf("%s is not JSON", file)
	}
	// The emulator's output is copied to stderr from another goroutine.
	stderr = &lineWriter{w: stderr}
	_, _ = fmt.Fprintln(stderr, "local: building the bootstrap; starting moto (Secrets Manager, EventBridge Scheduler), the PAYJS simulator and aws-lambda-rie on 127.0.0.1")
	st, err := devstack.Start(ctx, devstack.Options{Output: stderr, Getenv: getenv})
	if err != nil {
		return err
	}
	defer st.Close()
	return invokeStack(ctx, st, payload, stdout, stderr)
}

// invokeStack invokes the function of st with payload and prints its
// answer to stdout as indented JSON, then, as JSON too, every schedule
// moto holds: on a fresh stack, those the invoke created. When the answer
// is a failure, it returns a *failedError once all is printed.
func invokeStack(ctx context.Context, st *devstack.Stack, payload []byte, stdout, stderr io.Writer) error {
	answer, err := st.Invoke(ctx, payload)
	var fe *devstack.FunctionError
	if err != nil && !errors.As(err, &fe) {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, answer, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(answer)
	}
	pretty.WriteByte('\n')
	if _, err := stdout.Write(pretty.Bytes()); err != nil {
		return err
	}
	if fe != nil {
		_, _ = fmt.Fprintf(stderr, "local: the function failed the invoke with errorType %q: a Lambda error, which Lambda retries (async events) or redelivers (SQS)\n", fe.Type)
	}
	if err := printSchedules(ctx, st, stdout, stderr); err != nil {
		return err
	}
	if f := failure(answer, fe); f != nil {
		return f
	}
	return nil
}

// printSchedules prints each schedule of moto's group as JSON, announced
// on stderr, so that stdout stays a stream of JSON values.
func printSchedules(ctx context.Context, st *devstack.Stack, stdout, stderr io.Writer) error {
	list, err := st.Scheduler().ListSchedules(ctx, &scheduler.ListSchedulesInput{GroupName: aws.String(devstack.ScheduleGroup)})
	if err != nil {
		return fmt.Errorf("list the schedules in moto: %w", err)
	}
	for _, sum := range list.Schedules {
		s, err := st.Schedule(ctx, aws.ToString(sum.Name))
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(scheduleView(s), "", "  ")
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stderr, "local: moto, as EventBridge Scheduler, holds the schedule %s/%s and never fires it; when due, Scheduler would send its Target.Input to the close queue (Target.Arn):\n",
			devstack.ScheduleGroup, aws.ToString(s.Name))
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// schedule is the part of a schedule that the function sets, as
// GetSchedule names it.
type schedule struct {
	Name                       string
	GroupName                  string
	ScheduleExpression         string
	ScheduleExpressionTimezone string `json:",omitempty"`
	FlexibleTimeWindow         struct{ Mode string }
	ActionAfterCompletion      string
	State                      string
	Target                     struct {
		Arn         string
		RoleArn     string
		Input       string
		RetryPolicy *struct {
			MaximumRetryAttempts     *int32
			MaximumEventAgeInSeconds *int32
		} `json:",omitempty"`
		DeadLetterConfig *struct{ Arn string } `json:",omitempty"`
	}
}

func scheduleView(s *scheduler.GetScheduleOutput) schedule {
	var v schedule
	v.Name, v.GroupName = aws.ToString(s.Name), aws.ToString(s.GroupName)
	v.ScheduleExpression, v.ScheduleExpressionTimezone = aws.ToString(s.ScheduleExpression), aws.ToString(s.ScheduleExpressionTimezone)
	if s.FlexibleTimeWindow != nil {
		v.FlexibleTimeWindow.Mode = string(s.FlexibleTimeWindow.Mode)
	}
	v.ActionAfterCompletion, v.State = string(s.ActionAfterCompletion), string(s.State)
	t := s.Target
	if t == nil {
		t = &types.Target{}
	}
	v.Target.Arn, v.Target.RoleArn, v.Target.Input = aws.ToString(t.Arn), aws.ToString(t.RoleArn), aws.ToString(t.Input)
	if rp := t.RetryPolicy; rp != nil {
		v.Target.RetryPolicy = &struct {
			MaximumRetryAttempts     *int32
			MaximumEventAgeInSeconds *int32
		}{rp.MaximumRetryAttempts, rp.MaximumEventAgeInSeconds}
	}
	if dl := t.DeadLetterConfig; dl != nil {
		v.Target.DeadLetterConfig = &struct{ Arn string }{aws.ToString(dl.Arn)}
	}
	return v
}

package mototest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
)

// schedulerOperation names an EventBridge Scheduler request by its method
// and path, as Calls and Fail take it: "CreateSchedule", "GetSchedule",
// "UpdateSchedule", "DeleteSchedule", or the same with "ScheduleGroup".
func schedulerOperation(method, path string) string {
	var noun string
	switch {
	case strings.HasPrefix(path, "/schedules/"):
		noun = "Schedule"
	case strings.HasPrefix(path, "/schedule-groups/"):
		noun = "ScheduleGroup"
	default:
		return ""
	}
	switch method {
	case "POST":
		return "Create" + noun
	case "GET":
		return "Get" + noun
	case "PUT":
		return "Update" + noun
	case "DELETE":
		return "Delete" + noun
	}
	return ""
}

// SchedulerClient returns an EventBridge Scheduler client that reaches the
// server.
func (s *Server) SchedulerClient(tb testing.TB) *scheduler.Client {
	tb.Helper()
	return scheduler.NewFromConfig(Config(tb, s.URL))
}

// CreateScheduleGroup creates the schedule group name in moto, directly
// (uncounted). A Restart loses it, as it loses every schedule.
func (s *Server) CreateScheduleGroup(tb testing.TB, name string) {
	tb.Helper()
	c := scheduler.NewFromConfig(config(s.motoBase(tb).String()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(name)}); err != nil {
		tb.Fatalf("mototest: create schedule group %s: %v", name, err)
	}
}

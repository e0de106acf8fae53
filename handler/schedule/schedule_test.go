package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/schedule"
)

const (
	group    = "payjs-close"
	roleARN  = "arn:aws:iam::123456789012:role/payjs-close-scheduler"
	dlqARN   = "arn:aws:sqs:us-east-1:123456789012:payjs-close-scheduled-dlq"
	queueARN = "arn:aws:sqs:us-east-1:123456789012:payjs-close-close"
	order    = "2026112500000000000000000001"
)

// moto is one moto for the package's tests: each test makes its own
// schedule group in it.
var moto struct {
	once sync.Once
	srv  *mototest.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if moto.srv != nil {
		moto.srv.Close()
	}
	os.Exit(code)
}

// server returns the shared moto with the counts and faults of earlier
// tests cleared, and a schedule group of the test's own.
func server(t *testing.T) (*mototest.Server, string) {
	t.Helper()
	mototest.Require(t) // skips under -short: moto is the full tier's
	moto.once.Do(func() { moto.srv, moto.err = mototest.Launch(context.Background()) })
	if moto.err != nil {
		t.Fatal(moto.err)
	}
	moto.srv.ResetCalls()
	moto.srv.ClearFaults()
	g := group + "-" + strings.ReplaceAll(t.Name(), "/", "-")
	moto.srv.CreateScheduleGroup(t, g)
	return moto.srv, g
}

// newClient is a Client with the real SDK against moto, and moto's own
// view of its schedules.
func newClient(t *testing.T) (*schedule.Client, *mototest.Server, func() *scheduler.GetScheduleOutput) {
	t.Helper()
	srv, g := server(t)
	c := schedule.New(mototest.Config(t, srv.URL), schedule.Config{Group: g, RoleARN: roleARN, TargetARN: queueARN, DLQARN: dlqARN})
	sc := srv.SchedulerClient(t)
	get := func() *scheduler.GetScheduleOutput {
		t.Helper()
		out, err := sc.GetSchedule(context.Background(), &scheduler.GetScheduleInput{Name: aws.String("close-" + order), GroupName: aws.String(g)})
		if err != nil {
			t.Fatalf("GetSchedule: %v", err)
		}
		return out
	}
	return c, srv, get
}

// answered is the code the core answers a Scheduler's error with: the
// Client wraps its errors with closing's sentinels, and closing gives
// them their codes.
func answered(err error) closing.Code {
	svc := closing.New(closing.Config{Scheduler: failing{err}})
	res, _ := svc.Do(context.Background(), closing.Request{PayjsOrderID: "1", Cancel: true})
	return res.Code()
}

// failing is a closing.Scheduler whose calls fail with err.
type failing struct{ err error }

func (f failing) Schedule(context.Context, closing.ScheduledClose) (bool, error) { return false, f.err }
func (f failing) Cancel(context.Context, string) error                           { return f.err }

func closeAt(at time.Time) closing.ScheduledClose {
	return closing.ScheduledClose{Name: "close-" + order, At: at, Input: `{"payjs_order_id":"` + order + `","mchid":"1528140051","scheduled":true}`}
}

func TestScheduleCreatesAOneTimeSchedule(t *testing.T) {
	c, srv, get := newClient(t)
	at := time.Date(2026, 11, 30, 8, 15, 0, 0, time.FixedZone("CST", 8*3600))
	moved, err := c.Schedule(context.Background(), closeAt(at))
	if err != nil || moved {
		t.Fatalf("Schedule = %v, %v; want a new schedule", moved, err)
	}
	s := get()
	checks := []struct {
		what, got, want string
	}{
		{"expression", aws.ToString(s.ScheduleExpression), "at(2026-11-30T00:15:00)"},
		{"timezone", aws.ToString(s.ScheduleExpressionTimezone), "UTC"},
		{"window", string(s.FlexibleTimeWindow.Mode), string(types.FlexibleTimeWindowModeOff)},
		{"after completion", string(s.ActionAfterCompletion), string(types.ActionAfterCompletionDelete)},
		{"target: the close queue", aws.ToString(s.Target.Arn), queueARN},
		{"role", aws.ToString(s.Target.RoleArn), roleARN},
		{"input: the SQS message body", aws.ToString(s.Target.Input), `{"payjs_order_id":"` + order + `","mchid":"1528140051","scheduled":true}`},
		{"dead-letter queue", aws.ToString(s.Target.DeadLetterConfig.Arn), dlqARN},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if rp := s.Target.RetryPolicy; rp == nil || aws.ToInt32(rp.MaximumRetryAttempts) != 20 || aws.ToInt32(rp.MaximumEventAgeInSeconds) != 86400 {
		t.Errorf("retry policy = %+v", rp)
	}
	if n := srv.Calls("CreateSchedule"); n != 1 {
		t.Errorf("CreateSchedule called %d times", n)
	}
}

func TestScheduleAgainMovesIt(t *testing.T) {
	c, srv, get := newClient(t)
	first := time.Date(2026, 11, 30, 0, 15, 0, 0, time.UTC)
	if _, err := c.Schedule(context.Background(), closeAt(first)); err != nil {
		t.Fatal(err)
	}
	moved, err := c.Schedule(context.Background(), closeAt(first.Add(time.Hour)))
	if err != nil || !moved {
		t.Fatalf("Schedule again = %v, %v; want moved", moved, err)
	}
	if got := aws.ToString(get().ScheduleExpression); got != "at(2026-11-30T01:15:00)" {
		t.Errorf("expression = %q after the move", got)
	}
	if srv.Calls("UpdateSchedule") != 1 {
		t.Errorf("UpdateSchedule called %d times, want 1", srv.Calls("UpdateSchedule"))
	}
}

func TestCancel(t *testing.T) {
	c, srv, _ := newClient(t)
	// moto's "Schedule close-... does not exist." for an id holding "group".
	if err := c.Cancel(context.Background(), "close-GroupOrder1"); !errors.Is(err, closing.ErrNotScheduled) {
		t.Fatalf("Cancel of nothing for an id holding \"Group\" = %v, want ErrNotScheduled", err)
	}
	if err := c.Cancel(context.Background(), "close-"+order); !errors.Is(err, closing.ErrNotScheduled) {
		t.Fatalf("Cancel of nothing = %v, want ErrNotScheduled", err)
	}
	if _, err := c.Schedule(context.Background(), closeAt(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(context.Background(), "close-"+order); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if err := c.Cancel(context.Background(), "close-"+order); !errors.Is(err, closing.ErrNotScheduled) {
		t.Errorf("the schedule is still there: a second Cancel = %v", err)
	}
	if n := srv.Calls("DeleteSchedule"); n != 4 {
		t.Errorf("DeleteSchedule called %d times, want 4", n)
	}
	// Each schedule not found: the group was looked up to tell it from a
	// missing group.
	if n := srv.Calls("GetScheduleGroup"); n != 3 {
		t.Errorf("GetScheduleGroup called %d times, want 3", n)
	}
}

func TestErrorsCarryTheirCode(t *testing.T) {
	throttled := mototest.Fault{Status: 429, Code: "ThrottlingException", Message: "Rate exceeded"}
	denied := mototest.Fault{Status: 403, Code: "AccessDeniedException", Message: "not authorized to perform: scheduler:CreateSchedule"}
	internal := mototest.Fault{Status: 500, Code: "InternalServerException", Message: "oops"}
	cases := []struct {
		name  string
		op    string
		fault *mototest.Fault
		group string
		code  closing.Code
	}{
		{"throttled", "CreateSchedule", &throttled, "", closing.CodeScheduleUnavailable},
		{"server error", "CreateSchedule", &internal, "", closing.CodeScheduleUnavailable},
		{"access denied", "CreateSchedule", &denied, "", closing.CodeConfigUnavailable},
		{"cancel throttled", "DeleteSchedule", &throttled, "", closing.CodeScheduleUnavailable},
		{"cancel in a missing group", "DeleteSchedule", nil, "no-such-group", closing.CodeConfigUnavailable},
		{"cancel, the group look-up throttled", "GetScheduleGroup", &throttled, "", closing.CodeScheduleUnavailable},
		{"cancel, the group look-up denied", "GetScheduleGroup", &denied, "", closing.CodeConfigUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, g := server(t)
			if tc.group != "" {
				g = tc.group
			}
			cfg := mototest.Config(t, srv.URL)
			cfg.RetryMaxAttempts = 1
			c := schedule.New(cfg, schedule.Config{Group: g, RoleARN: roleARN, TargetARN: queueARN})
			if tc.fault != nil {
				srv.Fail(tc.op, *tc.fault)
			}
			var err error
			if tc.op != "CreateSchedule" { // a cancel of no schedule looks the group up
				err = c.Cancel(context.Background(), "close-"+order)
			} else {
				_, err = c.Schedule(context.Background(), closeAt(time.Now().Add(time.Hour)))
			}
			if got := answered(err); got != tc.code {
				t.Errorf("error %v has code %q, want %q", err, got, tc.code)
			}
			// The code is closing's to give: the error says which of its sentinels it is.
			sentinel := map[closing.Code]error{closing.CodeScheduleUnavailable: closing.ErrSchedulerUnavailable, closing.CodeConfigUnavailable: closing.ErrSchedulerRefused}[tc.code]
			var coded *closing.Error
			if !errors.Is(err, sentinel) || errors.As(err, &coded) {
				t.Errorf("error %v: want it to wrap %v and carry no code of its own", err, sentinel)
			}
		})
	}
}

func TestTimeoutIsUnavailable(t *testing.T) {
	c, srv, _ := newClient(t)
	srv.Fail("CreateSchedule", mototest.Slow(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Schedule(ctx, closeAt(time.Now().Add(time.Hour)))
	if got := answered(err); got != closing.CodeScheduleUnavailable {
		t.Errorf("error %v has code %q, want schedule_unavailable", err, got)
	}
}

func TestNoTargetIsAConfigError(t *testing.T) {
	c := schedule.NewWithAPI(func() schedule.API { t.Fatal("the API was called"); return nil }, schedule.Config{Group: group, RoleARN: roleARN})
	if _, err := c.Schedule(context.Background(), closeAt(time.Now().Add(time.Hour))); answered(err) != closing.CodeConfigUnavailable {
		t.Errorf("error %v, want config_unavailable", err)
	}
}

// createFails is a Scheduler API whose CreateSchedule answers err.
type createFails struct {
	schedule.API
	err error
}

func (c createFails) CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	return nil, c.err
}

// TestMissingGroupOnCreateIsAConfigError: EventBridge Scheduler answers a
// schedule in a group that does not exist with ResourceNotFoundException
// (moto answers HTTP 500 instead, so this runs against a stand-in).
func TestMissingGroupOnCreateIsAConfigError(t *testing.T) {
	api := createFails{err: &types.ResourceNotFoundException{Message: aws.String("Schedule group payjs-close does not exist.")}}
	c := schedule.NewWithAPI(func() schedule.API { return api }, schedule.Config{Group: group, RoleARN: roleARN, TargetARN: queueARN})
	if _, err := c.Schedule(context.Background(), closeAt(time.Now().Add(time.Hour))); answered(err) != closing.CodeConfigUnavailable {
		t.Errorf("error %v, want config_unavailable", err)
	}
}

// raceAPI is a Scheduler stand-in for the answers moto cannot be made to
// give in order: CreateSchedule and UpdateSchedule answer from their
// lists in turn (nil: success, past the end: the last), DeleteSchedule
// answers del and GetScheduleGroup group.
type raceAPI struct {
	creates, updates []error
	del, group       error
	nCreate, nUpdate int
	nGroup           int
}

func nth(errs []error, i int) error { return errs[min(i, len(errs)-1)] }

func (a *raceAPI) CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	a.nCreate++
	return &scheduler.CreateScheduleOutput{}, nth(a.creates, a.nCreate-1)
}

func (a *raceAPI) UpdateSchedule(context.Context, *scheduler.UpdateScheduleInput, ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	a.nUpdate++
	return &scheduler.UpdateScheduleOutput{}, nth(a.updates, a.nUpdate-1)
}

func (a *raceAPI) DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	return &scheduler.DeleteScheduleOutput{}, a.del
}

func (a *raceAPI) GetScheduleGroup(_ context.Context, in *scheduler.GetScheduleGroupInput, _ ...func(*scheduler.Options)) (*scheduler.GetScheduleGroupOutput, error) {
	a.nGroup++
	if aws.ToString(in.Name) != group {
		return nil, fmt.Errorf("GetScheduleGroup of %q, want the configured %q", aws.ToString(in.Name), group)
	}
	return &scheduler.GetScheduleGroupOutput{Name: in.Name}, a.group
}

// Scheduler's words for a missing schedule and a missing group.
func scheduleGone(name string) error {
	return &types.ResourceNotFoundException{Message: aws.String("Schedule " + name + " does not exist.")}
}

func groupGone() error {
	return &types.ResourceNotFoundException{Message: aws.String("Schedule group " + group + " does not exist.")}
}

func throttled() error { return &types.ThrottlingException{Message: aws.String("Rate exceeded")} }

// TestRescheduleOfAFiredScheduleCreatesItAgain: the schedule exists at the
// create (conflict) but has fired and been deleted by the update; it is
// created again, a bounded number of times.
func TestRescheduleOfAFiredScheduleCreatesItAgain(t *testing.T) {
	conflict := &types.ConflictException{Message: aws.String("Schedule close-" + order + " already exists.")}
	cases := []struct {
		name             string
		api              raceAPI
		code             closing.Code // "" = scheduled
		moved            bool
		creates, updates int
	}{
		{"gone between create and update", raceAPI{creates: []error{conflict, nil}, updates: []error{scheduleGone("close-" + order)}}, "", false, 2, 1},
		{"moved on the second try", raceAPI{creates: []error{conflict}, updates: []error{scheduleGone("close-" + order), nil}}, "", true, 2, 2},
		{"gone every time", raceAPI{creates: []error{conflict}, updates: []error{scheduleGone("close-" + order)}}, closing.CodeScheduleUnavailable, false, 3, 3},
		{"group gone at the update", raceAPI{creates: []error{conflict}, updates: []error{groupGone()}, group: groupGone()}, closing.CodeConfigUnavailable, false, 1, 1},
		// The group's look-up decides, not the wording of the update's error.
		{"group gone, worded as a schedule", raceAPI{creates: []error{conflict}, updates: []error{scheduleGone("close-" + order)}, group: groupGone()}, closing.CodeConfigUnavailable, false, 1, 1},
		{"schedule gone, worded as a group", raceAPI{creates: []error{conflict, nil}, updates: []error{groupGone()}}, "", false, 2, 1},
		{"group look-up throttled", raceAPI{creates: []error{conflict}, updates: []error{scheduleGone("close-" + order)}, group: throttled()}, closing.CodeScheduleUnavailable, false, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := tc.api
			c := schedule.NewWithAPI(func() schedule.API { return &api }, schedule.Config{Group: group, RoleARN: roleARN, TargetARN: queueARN})
			moved, err := c.Schedule(context.Background(), closeAt(time.Now().Add(time.Hour)))
			if got := answered(err); got != tc.code || moved != tc.moved {
				t.Errorf("Schedule = %v, %v (code %q); want moved %v, code %q", moved, err, got, tc.moved, tc.code)
			}
			if api.nCreate != tc.creates || api.nUpdate != tc.updates {
				t.Errorf("%d creates and %d updates, want %d and %d", api.nCreate, api.nUpdate, tc.creates, tc.updates)
			}
		})
	}
}

// TestCancelAnswersThroughTheHandler: a cancel, served by the core the
// handler calls, that finds no schedule is not_scheduled whatever the
// order id or Scheduler's message holds ("group" in any case); only a
// group that its look-up finds missing is a configuration error, and a
// look-up that fails answers as its failure.
func TestCancelAnswersThroughTheHandler(t *testing.T) {
	cases := []struct {
		order      string
		del, group error
		code       closing.Code
	}{
		{"Group1", scheduleGone("close-Group1"), nil, closing.CodeNotScheduled},
		{"GROUP", scheduleGone("close-GROUP"), nil, closing.CodeNotScheduled},
		{"schedulegroup2", scheduleGone("close-schedulegroup2"), nil, closing.CodeNotScheduled},
		{"1", scheduleGone("close-1"), nil, closing.CodeNotScheduled},
		{"1", groupGone(), nil, closing.CodeNotScheduled},
		{"1", groupGone(), groupGone(), closing.CodeConfigUnavailable},
		{"Group1", scheduleGone("close-Group1"), groupGone(), closing.CodeConfigUnavailable},
		{"1", scheduleGone("close-1"), throttled(), closing.CodeScheduleUnavailable},
	}
	for _, tc := range cases {
		api := &raceAPI{del: tc.del, group: tc.group}
		svc := closing.New(closing.Config{Scheduler: schedule.NewWithAPI(func() schedule.API { return api }, schedule.Config{Group: group, RoleARN: roleARN, TargetARN: queueARN})})
		res, err := svc.Do(context.Background(), closing.Request{PayjsOrderID: tc.order, Cancel: true})
		if res.Code() != tc.code || res.Retryable() != tc.code.Retryable() || err == nil {
			t.Errorf("cancel %s with %v, group %v = %+v, %v; want %s", tc.order, tc.del, tc.group, res, err, tc.code)
		}
		if api.nGroup != 1 {
			t.Errorf("cancel %s with %v: %d group look-ups, want 1", tc.order, tc.del, api.nGroup)
		}
	}
}

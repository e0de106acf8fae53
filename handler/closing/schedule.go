package closing

import (
	"context"
	"encoding/json"
	"time"
)

// Scheduler keeps the one-time schedules that close an order later.
// *schedule.Client (EventBridge Scheduler) is the production one. Its
// errors match [ErrNotScheduled], [ErrSchedulerRefused] or
// [ErrSchedulerUnavailable] through errors.Is, which result.go gives
// their codes; an *Error keeps its code, and any other error is
// schedule_unavailable.
type Scheduler interface {
	// Schedule creates the schedule s.Name, or moves it to s.At when it
	// exists; moved reports which.
	Schedule(ctx context.Context, s ScheduledClose) (moved bool, err error)
	// Cancel deletes the schedule name; ErrNotScheduled when there is
	// none.
	Cancel(ctx context.Context, name string) error
}

// ScheduledClose is one order's close, due at a later time.
type ScheduledClose struct {
	// Name is the schedule's name: "close-" and the order id, so that
	// an order has at most one.
	Name string
	// At is when the close is due.
	At time.Time
	// Input is the body of the message the schedule sends the close
	// queue: a [ScheduledMessage], encoded.
	Input string
}

func scheduleName(payjsOrderID string) string { return "close-" + payjsOrderID }

// ScheduledMessage is the message a schedule sends the close queue when
// the close is due: the plain close request with its merchant resolved,
// without a time, marked "scheduled":
//
//	{"payjs_order_id": "...", "mchid": "...", "scheduled": true}
//
// [ScheduledMessage.Encode] writes it; [DecodeRequest] reads it back as
// any request, the mark through [scheduledMark], below, and sets
// Request.Scheduled. Only the function writes one: handler.fromOutside
// says where the mark is honored.
type ScheduledMessage struct {
	PayjsOrderID string `json:"payjs_order_id"`
	MchID        string `json:"mchid"`
}

// Encode returns the message's body.
func (m ScheduledMessage) Encode() string {
	b, _ := json.Marshal(struct { // two strings and a bool: it cannot fail
		ScheduledMessage
		Scheduled bool `json:"scheduled"`
	}{m, true})
	return string(b)
}

// scheduledMark reports whether a request's members carry the mark that
// Encode writes.
func scheduledMark(vals map[string]json.RawMessage) bool {
	return string(vals["scheduled"]) == "true"
}

// schedule arranges for the order to be closed at at. Everything that can
// be checked now is, so that a close answered 202 can run: the order id
// (validate), and the merchant, which the message then names. A key that
// cannot be loaded is config_unavailable, retryable: no 202.
func (s *Service) schedule(ctx context.Context, req Request, at time.Time) (Result, error) {
	mchid, _, err := s.cfg.Keys.Key(ctx, req.MchID)
	if err != nil {
		return Result{}, dependencyError(err, req, merchantUnchecked)
	}
	at = at.UTC().Truncate(time.Second)
	input := ScheduledMessage{PayjsOrderID: req.PayjsOrderID, MchID: mchid}.Encode()
	moved, err := s.cfg.Scheduler.Schedule(ctx, ScheduledClose{Name: scheduleName(req.PayjsOrderID), At: at, Input: input})
	if err != nil {
		return Result{}, dependencyError(err, req, schedulerUnavailable)
	}
	action := "create"
	if moved {
		action = "reschedule"
	}
	s.cfg.Observer.Scheduled(ctx, action, req, at)
	return Result{OK: true, Status: StatusScheduled, Message: "the close is scheduled", CloseAt: RFC3339(at)}, nil
}

// cancel deletes the order's scheduled close.
func (s *Service) cancel(ctx context.Context, req Request) (Result, error) {
	err := s.cfg.Scheduler.Cancel(ctx, scheduleName(req.PayjsOrderID))
	if err != nil {
		return Result{}, dependencyError(err, req, schedulerUnavailable)
	}
	s.cfg.Observer.Scheduled(ctx, "cancel", req, time.Time{})
	return Result{OK: true, Status: StatusCancelled, Message: "the scheduled close is deleted"}, nil
}

package handler

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Scheduler keeps the one-time schedules that close an order later.
// *schedule.Client (EventBridge Scheduler) is the production one. Its
// errors are *Error values carrying the code to answer, except
// [ErrNotScheduled].
type Scheduler interface {
	// Schedule creates the schedule s.Name, or moves it to s.At when it
	// exists; moved reports which.
	Schedule(ctx context.Context, s ScheduledClose) (moved bool, err error)
	// Cancel deletes the schedule name; ErrNotScheduled when there is
	// none.
	Cancel(ctx context.Context, name string) error
}

// ErrNotScheduled is what a Scheduler's Cancel returns when no close is
// scheduled for the order.
var ErrNotScheduled = errors.New("no close is scheduled for the order")

// ScheduledClose is one order's close, due at a later time.
type ScheduledClose struct {
	// Name is the schedule's name: "close-" and the order id, so that
	// an order has at most one.
	Name string
	// At is when the close is due.
	At time.Time
	// Input is the body of the message the schedule sends the close
	// queue: the plain close request with its merchant resolved, without
	// a time, marked "scheduled" (see scheduled.go).
	Input string
}

func scheduleName(payjsOrderID string) string { return "close-" + payjsOrderID }

// schedule arranges for the order to be closed at at. Everything that can
// be checked now is, so that a close answered 202 can run: the order id
// (validate), and the merchant, which the message then names. A key that
// cannot be loaded is config_unavailable, retryable: no 202.
func (h *Handler) schedule(ctx context.Context, req Request, at time.Time) (Result, error) {
	set, err := h.deps.Keys.Get(ctx)
	if err != nil {
		return Result{}, &Error{Code: CodeConfigUnavailable, Message: "the PAYJS key could not be loaded, so the merchant cannot be checked; try again later", Cause: err}
	}
	m, err := lookup(set, req)
	if err != nil {
		return Result{}, err
	}
	input, err := json.Marshal(struct {
		PayjsOrderID string `json:"payjs_order_id"`
		MchID        string `json:"mchid"`
		Scheduled    bool   `json:"scheduled"`
	}{req.PayjsOrderID, m.MchID, true})
	if err != nil {
		return Result{}, err
	}
	at = at.UTC().Truncate(time.Second)
	moved, err := h.deps.Scheduler.Schedule(ctx, ScheduledClose{Name: scheduleName(req.PayjsOrderID), At: at, Input: string(input)})
	if err != nil {
		return Result{}, schedulerError(err)
	}
	action := "create"
	if moved {
		action = "reschedule"
	}
	h.deps.Obs.scheduled(ctx, action, req, at)
	return Result{OK: true, Status: StatusScheduled, Message: "the close is scheduled", CloseAt: rfc3339(at)}, nil
}

// cancel deletes the order's scheduled close.
func (h *Handler) cancel(ctx context.Context, req Request) (Result, error) {
	err := h.deps.Scheduler.Cancel(ctx, scheduleName(req.PayjsOrderID))
	if errors.Is(err, ErrNotScheduled) {
		return Result{}, &Error{Code: CodeNotScheduled, Message: "no close is scheduled for this order", Cause: err}
	}
	if err != nil {
		return Result{}, schedulerError(err)
	}
	h.deps.Obs.scheduled(ctx, "cancel", req, time.Time{})
	return Result{OK: true, Status: StatusCancelled, Message: "the scheduled close is deleted"}, nil
}

// schedulerError gives a Scheduler's error its code: the one it carries,
// else schedule_unavailable.
func schedulerError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: CodeScheduleUnavailable, Message: "EventBridge Scheduler is unavailable; try again later", Cause: err}
}

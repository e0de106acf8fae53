package handler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// Publisher puts outcome events on an event bus, so that the shop hears
// how a queued or scheduled close ended. *outcome.Client (EventBridge) is
// the production one, through a conversion in cmd/closeorder/wire.
type Publisher interface {
	// Publish puts every event on the bus, batching as it can, and
	// answers one error per event: nil when that event is on the bus.
	Publish(ctx context.Context, events []OutcomeEvent) []error
}

// OutcomeEvent is one outcome, as an EventBridge entry without its bus:
// the source is always [OutcomeSource].
type OutcomeEvent struct {
	// DetailType is one of the OutcomeClosed, OutcomePaid and
	// OutcomeFailed detail-types.
	DetailType string
	// Detail is the JSON of an [OutcomeDetail].
	Detail []byte
}

// The outcome events' source and detail-types.
const (
	OutcomeSource = "payjs-close"
	// OutcomeClosed: PAYJS closed the order, now or before (closed,
	// already_closed). The shop cancels the order.
	OutcomeClosed = "PAYJS Order Closed"
	// OutcomePaid: the order is paid (order_paid). The shop delivers it.
	OutcomePaid = "PAYJS Order Paid"
	// OutcomeFailed: the close was refused for good (payjs_rejected, or
	// an invalid request naming a valid order, such as an unknown mchid).
	OutcomeFailed = "PAYJS Close Failed"
)

// OutcomeDetail is an outcome event's detail: the normalized Result, its
// request_id included, plus the merchant and whether a schedule fired the
// close. It holds no key and no signature: the Result never does.
type OutcomeDetail struct {
	closing.Result
	// MchID is the merchant whose key closed the order: the request's
	// mchid, or the secret's only merchant.
	MchID string `json:"mchid,omitempty"`
	// Scheduled is true when a schedule fired the close.
	Scheduled bool `json:"scheduled"`
}

// outcomeType returns the detail-type of res, the outcome of req, or ""
// when it is no final outcome of a close: a retryable failure (it will be
// retried, and will publish then), a schedule or a cancel (not a close), a
// request without a valid order id (nothing to tell the shop about).
func outcomeType(req closing.Request, res *closing.Result) string {
	switch {
	case !payjs.ValidOrderID(res.PayjsOrderID), req.Cancel, res.Retryable():
		return ""
	case res.Status == closing.StatusClosed, res.Status == closing.StatusAlreadyClosed:
		return OutcomeClosed
	case res.Code() == closing.CodeOrderPaid:
		return OutcomePaid
	case res.Failure != nil && (req.CloseAt == "" && req.CloseAfter == "" || res.Code() != closing.CodeInvalidRequest):
		return OutcomeFailed
	}
	return "" // scheduled, or a close_at or close_after refused
}

// publishesFor reports whether outcomes of requests that came as kind are
// published: by default only the close queue's (scheduled closes, the
// EventBridge rule's events, SQS messages), whose sender hears no answer.
// HTTP and direct callers have their answer, an EventBridge event invoked
// directly included, unless PublishAll asks for it.
func (h *Handler) publishesFor(kind EventKind) bool {
	if h.deps.Outcomes == nil {
		return false
	}
	return kind == EventSQS || h.deps.PublishAll
}

// publishReserve is the time kept back from the Lambda deadline for
// publishing outcomes, when they are published: the records are served
// until then, so that a slow PutEvents ends in records delivered again,
// not in a timed-out invocation whose whole batch comes back.
// answerReserve, like closing.Service's reserve, is kept back from the
// publish to shape and return the answer.
const (
	publishReserve = time.Second
	answerReserve  = 200 * time.Millisecond
)

// budgets returns the contexts to serve a kind's requests under and to
// publish their outcomes under: ctx itself for both when nothing is
// published or ctx has no deadline. cancel releases them.
func (h *Handler) budgets(ctx context.Context, kind EventKind) (serve, publish context.Context, cancel func()) {
	dl, ok := ctx.Deadline()
	if !ok || !h.publishesFor(kind) {
		return ctx, ctx, func() {}
	}
	serve, cancelServe := context.WithDeadline(ctx, dl.Add(-publishReserve))
	publish, cancelPublish := context.WithDeadline(ctx, dl.Add(-answerReserve))
	return serve, publish, func() { cancelServe(); cancelPublish() }
}

// publishOutcomes puts the final outcomes of an SQS batch's records on
// the bus in one Publish, and reports the records whose outcome could not
// be published: they must be delivered again (their retry finds the order
// already closed and publishes then).
func (h *Handler) publishOutcomes(ctx context.Context, records []events.SQSMessage, reqs []closing.Request, results []closing.Result) (failed []bool) {
	names := make([]string, len(records))
	for i := range records {
		names[i] = records[i].MessageId
	}
	return h.publish(ctx, EventSQS, names, reqs, results)
}

// publish puts the final outcomes among results on the bus. failed[i]
// is true when results[i] had one and it is not on the bus. names are the
// SQS message ids, for the log; nil elsewhere.
func (h *Handler) publish(ctx context.Context, kind EventKind, names []string, reqs []closing.Request, results []closing.Result) (failed []bool) {
	failed = make([]bool, len(results))
	if len(results) == 0 || !h.publishesFor(kind) {
		return failed
	}
	var evs []OutcomeEvent
	var which []int
	for i := range results {
		dt := outcomeType(reqs[i], &results[i])
		if dt == "" {
			continue
		}
		detail, err := json.Marshal(OutcomeDetail{Result: results[i], MchID: mchid(reqs[i], results[i]), Scheduled: reqs[i].Scheduled})
		if err != nil {
			failed[i] = true // cannot happen: a Result always marshals
			continue
		}
		evs = append(evs, OutcomeEvent{DetailType: dt, Detail: detail})
		which = append(which, i)
	}
	if len(evs) == 0 {
		return failed
	}
	errs := h.deps.Outcomes.Publish(ctx, evs)
	for j, i := range which {
		var err error
		if j < len(errs) {
			err = errs[j]
		} else {
			err = errors.New("the publisher gave no answer for this event")
		}
		name := ""
		if names != nil {
			name = names[i]
		}
		h.deps.Obs.outcomePublished(ctx, name, evs[j].DetailType, results[i].PayjsOrderID, err)
		failed[i] = err != nil
	}
	return failed
}

// mchid is the merchant whose key closed the order, or, before the keys
// named one, the request's: the shop's detail names it even when the
// request did not. It is read from the Result, never from the keys again:
// a refresh here could eat the publish's time.
func mchid(req closing.Request, res closing.Result) string {
	if res.MchID != "" {
		return res.MchID
	}
	return req.MchID
}

// servePublished serves an EventBridge or direct invoke's request (err:
// why it could not be read) and answers as finalPublished, within the
// time budgets.
func (h *Handler) servePublished(ctx context.Context, kind EventKind, req closing.Request, err error) ([]byte, error) {
	serveCtx, publishCtx, cancel := h.budgets(ctx, kind)
	defer cancel()
	return h.finalPublished(publishCtx, kind, req, h.serve(serveCtx, kind, "", req, err))
}

// finalPublished shapes the answer of an EventBridge or direct invoke
// like final, after publishing its outcome where that is due. When the
// outcome could not be published, the invoke fails with a Lambda error of
// type outcome_unpublished: the asynchronous retry finds the order already
// closed and publishes then.
func (h *Handler) finalPublished(ctx context.Context, kind EventKind, req closing.Request, res closing.Result) ([]byte, error) {
	if h.publish(ctx, kind, nil, []closing.Request{req}, []closing.Result{res})[0] {
		body, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		return nil, messages.InvokeResponse_Error{Type: ErrTypeOutcomeUnpublished, Message: string(body)}
	}
	return final(res)
}

// ErrTypeOutcomeUnpublished is the Lambda errorType of an asynchronous
// invoke whose close ended but whose outcome event could not be put on the
// bus; its errorMessage is the Result.
const ErrTypeOutcomeUnpublished = "outcome_unpublished"

// outcomePublished logs an outcome event that could not be published, and
// counts it; a published one is logged at DEBUG.
func (o *Observer) outcomePublished(ctx context.Context, record, detailType, payjsOrderID string, err error) {
	attrs := []slog.Attr{slog.String("detail_type", detailType), slog.String("payjs_order_id", payjsOrderID)}
	if record != "" {
		attrs = append(attrs, slog.String("sqs_message_id", record))
	}
	if err == nil {
		o.log.LogAttrs(ctx, slog.LevelDebug, "outcome published", attrs...)
		return
	}
	attrs = append(attrs, slog.String("cause", err.Error()))
	o.log.LogAttrs(ctx, slog.LevelError, "outcome not published: the close will be retried to publish it", attrs...)
	o.emit(nil, metric{Name: "OutcomePublishFailures", Unit: "Count", value: 1})
}

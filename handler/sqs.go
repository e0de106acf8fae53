package handler

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/payjs-close/payjs-close/handler/closing"
	"golang.org/x/sync/errgroup"
)

// sqs serves the records of a batch, at most SQSConcurrency at a time,
// and lists in batchItemFailures the records SQS must deliver again (and,
// after maxReceiveCount, move to the dead-letter queue): those whose
// failure is retryable, those whose outcome could not be published, and
// those held back behind a retryable record of their order. Permanent
// failures are logged and counted, not retried: retrying them could never
// succeed.
//
// Records that name the same order are served one after another in their
// batch order (a schedule then a cancel must not race: the cancel would
// find nothing and the schedule survive); other orders run concurrently.
// With a publisher, the records are served until publishReserve before
// the Lambda deadline, and the outcomes published until answerReserve
// before it.
func (h *Handler) sqs(ctx context.Context, records []events.SQSMessage) ([]byte, error) {
	retry := make([]bool, len(records))
	reqs, results := make([]closing.Request, len(records)), make([]closing.Result, len(records))
	errs := make([]error, len(records))
	for i := range records {
		reqs[i], errs[i] = recordRequest(records[i].Body)
	}
	serveCtx, publishCtx, cancel := h.budgets(ctx, EventSQS)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(h.deps.SQSConcurrency)
	for _, group := range sameOrder(reqs, errs) {
		g.Go(func() error {
			for k, i := range group {
				results[i] = h.serve(serveCtx, EventSQS, records[i].MessageId, reqs[i], errs[i])
				if retry[i] = results[i].Retryable(); retry[i] {
					h.holdBack(serveCtx, records, group[k+1:], retry)
					break
				}
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines return no error
	unpublished := h.publishOutcomes(publishCtx, records, reqs, results)

	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, r := range retry {
		if r || unpublished[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: records[i].MessageId})
		}
	}
	return json.Marshal(resp)
}

// holdBack marks the records of held, the rest of a same-order group whose
// earlier record failed retryably, for delivery again without serving
// them: they come back with it, and run after it. Served now, a cancel
// would find nothing and its schedule, created on the retry, survive.
func (h *Handler) holdBack(ctx context.Context, records []events.SQSMessage, held []int, retry []bool) {
	for _, i := range held {
		retry[i] = true
		h.deps.Obs.Logger().LogAttrs(ctx, slog.LevelWarn, "record held back: an earlier record of its order is retried first",
			slog.String("sqs_message_id", records[i].MessageId))
	}
}

// sameOrder groups the indexes of a batch's requests by order id, each
// group in batch order and the groups in the order of their first record.
// A record that could not be read, or names no order, is a group of its
// own.
func sameOrder(reqs []closing.Request, errs []error) [][]int {
	var groups [][]int
	at := make(map[string]int, len(reqs))
	for i, req := range reqs {
		id := req.PayjsOrderID
		if errs[i] != nil || id == "" {
			groups = append(groups, []int{i})
			continue
		}
		if g, ok := at[id]; ok {
			groups[g] = append(groups[g], i)
			continue
		}
		at[id] = len(groups)
		groups = append(groups, []int{i})
	}
	return groups
}

// recordRequest reads the request in an SQS message body: a direct
// request, or an EventBridge event (an EventBridge rule targeting the
// queue delivers the whole event).
func recordRequest(body string) (closing.Request, error) {
	f, ok := members([]byte(body))
	if !ok {
		return closing.Request{}, closing.Errorf(closing.CodeInvalidRequest, "SQS message body is not a JSON object")
	}
	switch f.kind() {
	case EventBridge:
		return fromOutside(closing.DecodeRequest(f["detail"]))
	case EventDirect:
		return closing.DecodeRequest([]byte(body)) // a plain close, or a schedule's ScheduledMessage: see fromOutside
	}
	if err := closing.MisspelledOrderID(f); err != nil {
		return closing.Request{}, err
	}
	return closing.Request{}, closing.Errorf(closing.CodeUnsupportedEvent, `SQS message body must be {"payjs_order_id": "..."} or an EventBridge event`)
}

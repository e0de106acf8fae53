package handler

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// sqs serves every record of a batch, at most SQSConcurrency at a time,
// and lists in batchItemFailures exactly the records whose failure is
// retryable, so that SQS delivers them again (and, after maxReceiveCount,
// moves them to the dead-letter queue). Permanent failures are logged and
// counted, not retried: retrying them could never succeed.
func (h *Handler) sqs(ctx context.Context, records []events.SQSMessage) ([]byte, error) {
	retry := make([]bool, len(records))
	reqs, results := make([]Request, len(records)), make([]Result, len(records))
	sem := make(chan struct{}, h.deps.SQSConcurrency)
	var wg sync.WaitGroup
	for i := range records {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req, err := recordRequest(records[i].Body)
			res := h.serve(ctx, EventSQS, records[i].MessageId, req, err)
			retry[i] = res.retryable()
			reqs[i], results[i] = req, res
		})
	}
	wg.Wait()
	unpublished := h.publishOutcomes(ctx, records, reqs, results)

	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, r := range retry {
		if r || unpublished[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: records[i].MessageId})
		}
	}
	return json.Marshal(resp)
}

// recordRequest reads the request in an SQS message body: a direct
// request, or an EventBridge event (an EventBridge rule targeting the
// queue delivers the whole event).
func recordRequest(body string) (Request, error) {
	var f fields
	if !isObject([]byte(body)) || json.Unmarshal([]byte(body), &f) != nil {
		return Request{}, errorf(CodeInvalidRequest, "SQS message body is not a JSON object")
	}
	switch f.kind() {
	case EventBridge:
		return decodeRequest(f["detail"])
	case EventDirect:
		return decodeRequest([]byte(body))
	}
	return Request{}, errorf(CodeUnsupportedEvent, `SQS message body must be {"payjs_order_id": "..."} or an EventBridge event`)
}

package handler

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// sqs closes every record of a batch, at most sqsConc at a time, and
// lists in batchItemFailures exactly the records whose failure is
// retryable, so that SQS redelivers them (and, after maxReceiveCount,
// moves them to the dead-letter queue). Permanent failures are logged
// and counted, not retried: retrying them could never succeed.
func (h *Handler) sqs(ctx context.Context, records []sqsRecord) ([]byte, error) {
	results := make([]Result, len(records))
	sem := make(chan struct{}, h.sqsConc)
	var wg sync.WaitGroup
	for i := range records {
		rec := &records[i]
		req, res := recordRequest(rec.Body)
		if res != nil {
			res.RequestID = requestID(ctx)
			h.obs.closed(ctx, KindSQS, rec.MessageID, req, res, 0, nil)
			results[i] = *res
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = h.close(ctx, KindSQS, rec.MessageID, req)
		}()
	}
	wg.Wait()

	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, r := range results {
		if r.Error != nil && r.Error.Retryable {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: records[i].MessageID})
		}
	}
	return json.Marshal(resp)
}

// recordRequest reads the close request in an SQS message body: a direct
// request, or an EventBridge event (an EventBridge rule targeting the
// queue delivers the whole event).
func recordRequest(body string) (Request, *Result) {
	var p probe
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return Request{}, ptr(failed(CodeInvalidRequest, "SQS message body is not a JSON object"))
	}
	switch p.kind() {
	case KindEventBridge:
		return decodeRequest(p.Detail)
	case KindDirect:
		return decodeRequest([]byte(body))
	}
	return Request{}, ptr(failed(CodeUnsupportedEvent, "SQS message body must be {\"payjs_order_id\": \"...\"} or an EventBridge event"))
}

package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// EventKind is the kind of event an invocation carries.
type EventKind string

// The event kinds the function accepts.
const (
	EventHTTPAPI     EventKind = "http_api"     // API Gateway HTTP API, payload 2.0
	EventFunctionURL EventKind = "function_url" // Lambda Function URL
	EventRESTAPI     EventKind = "rest_api"     // API Gateway REST API, payload 1.0
	EventBridge      EventKind = "eventbridge"
	EventSQS         EventKind = "sqs"
	EventDirect      EventKind = "direct" // Step Functions, aws lambda invoke
	EventUnknown     EventKind = "unknown"
)

// Deps are what a Handler needs from outside.
type Deps struct {
	// Keys gives the merchant keys (*secret.Store).
	Keys closing.Keys
	// NewCloser builds the Closer for one merchant key. It is called
	// once per merchant and key version, never per request.
	NewCloser func(key string) (closing.Closer, error)
	// Scheduler creates and deletes scheduled closes; nil turns
	// scheduling off (a request with close_at is then invalid).
	Scheduler closing.Scheduler
	// Obs writes logs and metrics. Nil discards them.
	Obs *Observer
	// SQSConcurrency bounds how many records of one SQS batch are closed
	// at once (default 10).
	SQSConcurrency int
	// Budget bounds one request, key lookup and PAYJS retries included
	// (PAYJS_TIMEOUT; default 5s).
	Budget time.Duration
	// Now is the clock for scheduled closes (default time.Now).
	Now func() time.Time
	// CloseNowWithin is how soon a requested close time counts as now
	// (default 60s: a schedule could not fire much sooner).
	CloseNowWithin time.Duration
	// Outcomes puts the outcome of every close that came through the
	// close queue (SQS messages, the EventBridge rule's events, scheduled
	// closes) on the shop's event bus; nil publishes nothing (outcome.go).
	Outcomes Publisher
	// PublishAll publishes the outcomes of HTTP and direct invokes too,
	// EventBridge events invoked directly included (PAYJS_OUTCOME_ALL).
	PublishAll bool
}

// Handler is the Lambda function. It implements lambda.Handler, so it
// sees the raw event bytes and can tell the kinds apart by shape.
type Handler struct {
	deps Deps
	svc  *closing.Service
	cold atomic.Bool
}

// New returns a Handler.
func New(d Deps) *Handler {
	if d.Obs == nil {
		d.Obs = NewObserver(nil, nil)
	}
	if d.SQSConcurrency <= 0 {
		d.SQSConcurrency = 10
	}
	h := &Handler{deps: d, svc: closing.New(closing.Config{
		Keys:           d.Keys,
		NewCloser:      d.NewCloser,
		Scheduler:      d.Scheduler,
		Observer:       d.Obs,
		Budget:         d.Budget,
		Now:            d.Now,
		CloseNowWithin: d.CloseNowWithin,
	})}
	h.cold.Store(true)
	return h
}

// Invoke handles one Lambda invocation. The answer depends on the kind:
// an HTTP response for API Gateway and Function URLs, an SQS batch
// response for SQS, and the Result for EventBridge and direct invokes, or
// a Lambda error whose type is the error code when the failure is
// retryable, so that async retries, Step Functions Retry and dead-letter
// queues take over.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if h.cold.Swap(false) {
		h.deps.Obs.coldStart()
	}
	f, isObject := members(payload)
	kind := f.kind()
	switch kind {
	case EventHTTPAPI:
		return serveHTTP(ctx, h, kind, payload, fromHTTPAPI)
	case EventFunctionURL:
		return serveHTTP(ctx, h, kind, payload, fromFunctionURL)
	case EventRESTAPI:
		return serveHTTP(ctx, h, kind, payload, fromRESTAPI)
	case EventBridge:
		var e events.EventBridgeEvent // the envelope must be one: its time a time, and so on
		if err := json.Unmarshal(payload, &e); err != nil {
			return final(h.serve(ctx, kind, "", closing.Request{}, closing.Errorf(closing.CodeInvalidRequest, "EventBridge event is malformed")))
		}
		// The request is the member named exactly "detail", as recognized:
		// e.Detail would be the last of "detail" and "Detail".
		req, err := fromOutside(closing.DecodeRequest(f["detail"]))
		return h.servePublished(ctx, kind, req, err)
	case EventSQS:
		var e events.SQSEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			// No record can be told apart: fail the whole invocation so
			// that SQS delivers every record again.
			h.serve(ctx, kind, "", closing.Request{}, closing.Errorf(closing.CodeInvalidRequest, "SQS event is malformed"))
			return nil, err
		}
		return h.sqs(ctx, e.Records)
	case EventDirect:
		req, err := fromOutside(closing.DecodeRequest(payload))
		return h.servePublished(ctx, kind, req, err)
	}
	err := closing.Errorf(closing.CodeUnsupportedEvent, `event kind not recognized: send an API Gateway, Function URL, EventBridge or SQS event, or {"payjs_order_id": "..."}`)
	if !isObject {
		err = closing.Errorf(closing.CodeInvalidRequest, "event must be a JSON object")
	} else if herr := closing.MisspelledOrderID(f); herr != nil {
		err = herr // {"PAYJS_ORDER_ID": ...} is a direct request with a typo
	}
	return final(h.serve(ctx, EventUnknown, "", closing.Request{}, err))
}

// serveHTTP answers an HTTP event decoded into its aws-lambda-go type E.
func serveHTTP[E any](ctx context.Context, h *Handler, kind EventKind, payload []byte, from func(*E) httpRequest) ([]byte, error) {
	var e E
	var req closing.Request
	err := json.Unmarshal(payload, &e)
	if err != nil {
		err = closing.Errorf(closing.CodeInvalidRequest, "event is malformed")
	} else {
		req, err = fromOutside(from(&e).request())
	}
	serveCtx, publishCtx, cancel := h.budgets(ctx, kind)
	defer cancel()
	res := h.serve(serveCtx, kind, "", req, err)
	h.publish(publishCtx, kind, nil, []closing.Request{req}, []closing.Result{res}) // the caller has its answer: a failure is logged and counted
	return encodeHTTP(kind, &res)
}

// final shapes the answer for EventBridge and direct invokes: the Result
// itself, or, when retrying may help, a Lambda error typed with the code.
func final(res closing.Result) ([]byte, error) {
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if res.Retryable() {
		return nil, messages.InvokeResponse_Error{Type: string(res.Failure.Code), Message: string(body)}
	}
	return body, nil
}

// serve carries out one request, or answers why it could not be read
// (err), and logs and counts the outcome. record names the SQS message.
func (h *Handler) serve(ctx context.Context, kind EventKind, record string, req closing.Request, err error) closing.Result {
	start := time.Now()
	var res closing.Result
	if err == nil {
		res, err = h.svc.Do(ctx, req)
	} else {
		res = closing.Failed(err)
	}
	if payjs.ValidOrderID(req.PayjsOrderID) {
		res.PayjsOrderID = req.PayjsOrderID // never echo an invalid, possibly hostile, value
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		res.RequestID = lc.AwsRequestID
	}
	h.deps.Obs.served(ctx, kind, record, req, &res, time.Since(start), err)
	return res
}

// fields is an event's top-level members, undecoded. Recognizing a kind
// looks only at the members that make it what it is, so a member of an
// unexpected type elsewhere (a direct invoke's "version": 2) never hides
// the kind.
type fields map[string]json.RawMessage

// members reads payload's top-level members, from which [fields.kind]
// tells the kind of event. ok is false when payload is not a JSON object.
func members(payload []byte) (f fields, ok bool) {
	if !isObject(payload) || json.Unmarshal(payload, &f) != nil {
		return nil, false
	}
	return f, true
}

func (f fields) kind() EventKind {
	var rc fields
	_ = json.Unmarshal(f["requestContext"], &rc) // not an object: no API Gateway kind
	switch {
	case f.string("version") == "2.0" && isObject(rc["http"]):
		if strings.Contains(rc.string("domainName"), ".lambda-url.") {
			return EventFunctionURL
		}
		return EventHTTPAPI
	case f["httpMethod"] != nil && rc["resourcePath"] != nil:
		return EventRESTAPI
	case f["detail-type"] != nil && f["source"] != nil && isObject(f["detail"]):
		return EventBridge
	case f.sqsRecords():
		return EventSQS
	case f["payjs_order_id"] != nil:
		return EventDirect
	}
	return EventUnknown
}

// string returns member name when it is a JSON string, else "".
func (f fields) string(name string) string {
	var s string
	_ = json.Unmarshal(f[name], &s)
	return s
}

// sqsRecords reports whether Records is a non-empty list of SQS messages.
func (f fields) sqsRecords() bool {
	var recs []fields
	if json.Unmarshal(f["Records"], &recs) != nil || len(recs) == 0 {
		return false
	}
	for _, r := range recs {
		if r.string("eventSource") != "aws:sqs" {
			return false
		}
	}
	return true
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// A scheduled close is a close the function arranged itself: when it was
// scheduled, the order id was valid and the merchant known, so a failure
// it meets when it fires for a reason of configuration is retried, not
// dropped, and finding the order paid is the customer paying in time,
// which pages nobody (no PaidOrders).
//
// Only the function marks a close as scheduled. Its schedules send the
// close queue a [closing.ScheduledMessage],
//
//	{"payjs_order_id": "...", "mchid": "...", "scheduled": true}
//
// and "scheduled": true is honored there only: at the top level of an
// SQS record body that is a plain close request. The close queue's policy
// admits the EventBridge rule, whose bodies are EventBridge events, and
// the Scheduler role; any other sender needs IAM sqs:SendMessage on the
// queue, that is, it is an operator. Everywhere else a caller reaches
// (HTTP API, REST API, Function URL, an EventBridge event's detail,
// whether invoked directly or delivered through the queue, and direct
// invokes) the member is refused by fromOutside.

// fromOutside refuses a request, read from a way in open to callers,
// that claims to be a scheduled close: 400 invalid_request naming the
// field. err is the reading's error, passed through.
func fromOutside(req closing.Request, err error) (closing.Request, error) {
	if err == nil && req.Scheduled {
		req.Scheduled = false
		return req, closing.Errorf(closing.CodeInvalidRequest, `scheduled may not be set: it marks the function's own scheduled closes; remove it`)
	}
	return req, err
}

package handler

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
)

// KeySource gives the merchant keys. *secret.Store is the production one:
// it loads the secret once and serves it from memory until its TTL.
type KeySource interface {
	Get(ctx context.Context) (*secret.Set, error)
}

// Closer closes one PAYJS order with one merchant's key. *payjs.Client
// is the production one.
type Closer interface {
	Close(ctx context.Context, payjsOrderID string) (*payjs.Result, error)
}

// Deps are what a Handler needs from outside.
type Deps struct {
	// Keys loads the merchant keys.
	Keys KeySource
	// NewCloser builds the Closer for one merchant key. It is called once
	// per merchant and key version, never per request.
	NewCloser func(key string) (Closer, error)
	// Obs writes logs and metrics. Nil discards them.
	Obs *Observer
	// SQSConcurrency bounds how many records of one SQS batch are closed
	// at once (default 10).
	SQSConcurrency int
	// Reserve is the time kept back from the Lambda deadline to shape and
	// return the answer after a close gives up (default 200ms).
	Reserve time.Duration
	// Budget, when set, is the Closers' time budget (PAYJS_TIMEOUT): the
	// key lookup and the close then share one deadline.
	Budget time.Duration
}

// Handler is the Lambda function. It implements lambda.Handler, so it
// sees the raw event bytes and can tell the kinds apart by shape.
type Handler struct {
	keys    KeySource
	newC    func(key string) (Closer, error)
	obs     *Observer
	sqsConc int
	reserve time.Duration
	budget  time.Duration
	cold    atomic.Bool

	mu      sync.Mutex
	set     *secret.Set       // the key set the clients were built for
	clients map[string]Closer // by mchid
}

// New returns a Handler.
func New(d Deps) *Handler {
	h := &Handler{keys: d.Keys, newC: d.NewCloser, obs: d.Obs, sqsConc: d.SQSConcurrency, reserve: d.Reserve, budget: d.Budget}
	if h.obs == nil {
		h.obs = NewObserver(nil, nil)
	}
	if h.sqsConc <= 0 {
		h.sqsConc = 10
	}
	if h.reserve <= 0 {
		h.reserve = 200 * time.Millisecond
	}
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
		h.obs.coldStart()
	}
	var e envelope
	isObject, err := decodeEnvelope(payload, &e)
	if err != nil {
		return h.invokeDecoded(ctx, payload)
	}
	kind := KindUnknown
	if isObject {
		kind = e.kind()
	}
	switch kind {
	case KindHTTPAPI:
		r := e.httpV2()
		return h.http(ctx, kind, &r, nil)
	case KindFunctionURL:
		r := e.functionURL()
		return h.http(ctx, kind, &r, nil)
	case KindRESTAPI:
		r := e.httpV1()
		return h.http(ctx, kind, &r, nil)
	case KindEventBridge:
		// EventBridge events are small, and their aws-lambda-go type
		// checks every field (time must be RFC 3339): decoded as before.
		return h.eventBridge(ctx, payload)
	case KindSQS:
		return h.sqs(ctx, e.Records)
	case KindDirect:
		req, res := requestFrom(e.PayjsOrderID, e.MchID)
		return h.direct(ctx, kind, req, res)
	}
	return h.unsupported(ctx, isObject)
}

// invokeDecoded handles an event that has a field of another type than
// the envelope expects: it recognizes the kind by the probe and decodes
// the event into its aws-lambda-go type, as Invoke did before the
// envelope, so that such events are answered as they always were.
func (h *Handler) invokeDecoded(ctx context.Context, payload []byte) ([]byte, error) {
	kind, isObject := Recognize(payload)
	switch kind {
	case KindHTTPAPI:
		return httpDecoded(ctx, h, kind, payload, fromV2)
	case KindFunctionURL:
		return httpDecoded(ctx, h, kind, payload, fromFunctionURL)
	case KindRESTAPI:
		return httpDecoded(ctx, h, kind, payload, fromV1)
	case KindEventBridge:
		return h.eventBridge(ctx, payload)
	case KindSQS:
		var e events.SQSEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			// Nothing in the batch can be told apart: fail the whole
			// invocation so that SQS redelivers every record.
			res := failed(CodeInvalidRequest, "SQS event is malformed")
			h.obs.closed(ctx, KindSQS, "", Request{}, &res, 0, nil)
			return nil, err
		}
		recs := make([]sqsRecord, len(e.Records))
		for i, r := range e.Records {
			recs[i] = sqsRecord{MessageID: r.MessageId, Body: r.Body, EventSource: r.EventSource}
		}
		return h.sqs(ctx, recs)
	case KindDirect:
		req, res := decodeRequest(payload)
		return h.direct(ctx, kind, req, res)
	}
	return h.unsupported(ctx, isObject)
}

// httpDecoded answers an HTTP event of kind after decoding it into its
// aws-lambda-go type E and building the request with from.
func httpDecoded[E any](ctx context.Context, h *Handler, kind Kind, payload []byte, from func(*E) httpRequest) ([]byte, error) {
	var e E
	if err := json.Unmarshal(payload, &e); err != nil {
		return h.http(ctx, kind, nil, ptr(failed(CodeInvalidRequest, "event is malformed")))
	}
	r := from(&e)
	return h.http(ctx, kind, &r, nil)
}

// eventBridge closes the order of an EventBridge event.
func (h *Handler) eventBridge(ctx context.Context, payload []byte) ([]byte, error) {
	var e events.EventBridgeEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return h.direct(ctx, KindEventBridge, Request{}, ptr(failed(CodeInvalidRequest, "event is malformed")))
	}
	req, res := decodeRequest(e.Detail)
	return h.direct(ctx, KindEventBridge, req, res)
}

// direct closes the request of an EventBridge event or a direct invoke,
// or answers why its fields could not be read (res).
func (h *Handler) direct(ctx context.Context, kind Kind, req Request, res *Result) ([]byte, error) {
	if res != nil {
		h.obs.closed(ctx, kind, "", Request{}, res, 0, nil)
		return h.final(ctx, *res)
	}
	return h.final(ctx, h.close(ctx, kind, "", req))
}

// unsupported answers an event of no kind the function knows.
func (h *Handler) unsupported(ctx context.Context, isObject bool) ([]byte, error) {
	res := failed(CodeUnsupportedEvent, "event kind not recognized: send an API Gateway, Function URL, EventBridge or SQS event, or {\"payjs_order_id\": \"...\"}")
	if !isObject {
		res = failed(CodeInvalidRequest, "event must be a JSON object")
	}
	h.obs.closed(ctx, KindUnknown, "", Request{}, &res, 0, nil)
	return h.final(ctx, res)
}

// http answers an HTTP event: it serves r, or, when the event could not be
// read at all, logs and answers res; then shapes the answer for kind.
func (h *Handler) http(ctx context.Context, kind Kind, r *httpRequest, res *Result) ([]byte, error) {
	if res == nil {
		res = h.serveHTTP(ctx, kind, r)
	} else {
		res.RequestID = requestID(ctx)
		h.obs.closed(ctx, kind, "", Request{}, res, 0, nil)
	}
	switch kind {
	case KindFunctionURL:
		return encodeHTTP(shapeFunctionURL, res)
	case KindRESTAPI:
		return encodeHTTP(shapeV1, res)
	}
	return encodeHTTP(shapeV2, res)
}

func (h *Handler) serveHTTP(ctx context.Context, kind Kind, r *httpRequest) *Result {
	req, res := r.extract()
	if res != nil {
		res.RequestID = requestID(ctx)
		h.obs.closed(ctx, kind, "", req, res, 0, nil)
		return res
	}
	out := h.close(ctx, kind, "", req)
	return &out
}

// final shapes the answer for EventBridge and direct invokes: the Result
// itself, or, when retrying may help, a Lambda error typed with the code.
func (h *Handler) final(ctx context.Context, res Result) ([]byte, error) {
	res.RequestID = requestID(ctx)
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if res.Error != nil && res.Error.Retryable {
		return nil, messages.InvokeResponse_Error{Type: string(res.Error.Code), Message: string(body)}
	}
	return body, nil
}

// close validates req, finds the merchant's key and closes the order.
// It logs and counts the outcome. record names the SQS record, if any.
func (h *Handler) close(ctx context.Context, kind Kind, record string, req Request) Result {
	start := time.Now()
	res, cause := h.doClose(ctx, req, start)
	res.RequestID = requestID(ctx)
	h.obs.closed(ctx, kind, record, req, &res, time.Since(start), cause)
	return res
}

// doClose returns the Result and, for a failed upstream call, its cause
// for the log (payjs errors never hold the key or a signature). The
// budget runs from start.
func (h *Handler) doClose(ctx context.Context, req Request, start time.Time) (Result, error) {
	if res := req.validate(); res != nil {
		return *res, nil
	}
	// The reserve bounds the key load too: a first load from a Secrets
	// Manager that hangs must end in config_unavailable before the
	// Lambda deadline, not in a timed-out invocation.
	// With Budget known, one deadline serves both: the sooner of the
	// budget and the reserve, and the client then needs no timer of its
	// own (see payjs.Client.Close).
	cctx := ctx
	dl, ok := ctx.Deadline()
	if ok {
		dl = dl.Add(-h.reserve)
	}
	if h.budget > 0 {
		if b := start.Add(h.budget); !ok || b.Before(dl) {
			dl, ok = b, true
		}
	}
	if ok {
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	c, res := h.closer(cctx, req.MchID)
	if res != nil {
		res.PayjsOrderID = req.PayjsOrderID
		return *res, nil
	}
	pr, err := c.Close(cctx, req.PayjsOrderID)
	return fromPayjs(req.PayjsOrderID, pr, err), err
}

// closer returns the Closer for mchid, building clients only when the
// key set changed (cold start, or a refresh that found a new secret).
func (h *Handler) closer(ctx context.Context, mchid string) (Closer, *Result) {
	set, err := h.keys.Get(ctx)
	if err != nil {
		h.obs.keyError(ctx, err)
		return nil, ptr(failed(CodeConfigUnavailable, "the PAYJS key could not be loaded; try again later"))
	}
	m, err := set.Lookup(mchid)
	if err != nil {
		if errors.Is(err, secret.ErrMchIDRequired) {
			return nil, ptr(failed(CodeInvalidRequest, "mchid is required: the secret holds several merchants"))
		}
		return nil, ptr(failed(CodeInvalidRequest, "mchid is not a merchant this function holds a key for"))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set != set {
		h.set, h.clients = set, make(map[string]Closer)
	}
	if c, ok := h.clients[m.MchID]; ok {
		return c, nil
	}
	c, err := h.newC(m.Key)
	if err != nil {
		h.obs.keyError(ctx, err)
		return nil, ptr(failed(CodeConfigUnavailable, "the PAYJS key is unusable; fix the secret"))
	}
	h.clients[m.MchID] = c
	return c, nil
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

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
}

// Handler is the Lambda function. It implements lambda.Handler, so it
// sees the raw event bytes and can tell the kinds apart by shape.
type Handler struct {
	keys    KeySource
	newC    func(key string) (Closer, error)
	obs     *Observer
	sqsConc int
	reserve time.Duration
	cold    atomic.Bool

	mu      sync.Mutex
	set     *secret.Set       // the key set the clients were built for
	clients map[string]Closer // by mchid
}

// New returns a Handler.
func New(d Deps) *Handler {
	h := &Handler{keys: d.Keys, newC: d.NewCloser, obs: d.Obs, sqsConc: d.SQSConcurrency, reserve: d.Reserve}
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
	kind, isObject := Recognize(payload)
	switch kind {
	case KindHTTPAPI:
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return h.httpV2(ctx, kind, nil, ptr(failed(CodeInvalidRequest, "event is malformed")))
		}
		r := fromV2(&e)
		return h.httpV2(ctx, kind, &r, nil)
	case KindFunctionURL:
		var e events.LambdaFunctionURLRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			return h.httpV2(ctx, kind, nil, ptr(failed(CodeInvalidRequest, "event is malformed")))
		}
		r := fromFunctionURL(&e)
		return h.httpV2(ctx, kind, &r, nil)
	case KindRESTAPI:
		var e events.APIGatewayProxyRequest
		var res *Result
		var r httpRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			res = ptr(failed(CodeInvalidRequest, "event is malformed"))
		} else {
			r = fromV1(&e)
			res = h.serveHTTP(ctx, kind, &r)
		}
		status, headers, body, err := httpResponse(res)
		if err != nil {
			return nil, err
		}
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: body})
	case KindEventBridge:
		var e events.EventBridgeEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			return h.final(ctx, kind, failed(CodeInvalidRequest, "event is malformed"))
		}
		req, res := decodeRequest(e.Detail)
		if res != nil {
			h.obs.closed(ctx, kind, "", Request{}, res, 0, nil)
			return h.final(ctx, kind, *res)
		}
		return h.final(ctx, kind, h.close(ctx, kind, "", req))
	case KindSQS:
		return h.sqs(ctx, payload)
	case KindDirect:
		req, res := decodeRequest(payload)
		if res != nil {
			h.obs.closed(ctx, kind, "", Request{}, res, 0, nil)
			return h.final(ctx, kind, *res)
		}
		return h.final(ctx, kind, h.close(ctx, kind, "", req))
	}
	res := failed(CodeUnsupportedEvent, "event kind not recognised: send an API Gateway, Function URL, EventBridge or SQS event, or {\"payjs_order_id\": \"...\"}")
	if !isObject {
		res = failed(CodeInvalidRequest, "event must be a JSON object")
	}
	h.obs.closed(ctx, KindUnknown, "", Request{}, &res, 0, nil)
	return h.final(ctx, KindUnknown, res)
}

// httpV2 answers an HTTP API or Function URL event. Both take the same
// response shape.
func (h *Handler) httpV2(ctx context.Context, kind Kind, r *httpRequest, res *Result) ([]byte, error) {
	if res == nil {
		res = h.serveHTTP(ctx, kind, r)
	} else {
		h.obs.closed(ctx, kind, "", Request{}, res, 0, nil)
	}
	status, headers, body, err := httpResponse(res)
	if err != nil {
		return nil, err
	}
	if kind == KindFunctionURL {
		return json.Marshal(events.LambdaFunctionURLResponse{StatusCode: status, Headers: headers, Body: body})
	}
	return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: body})
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
func (h *Handler) final(ctx context.Context, _ Kind, res Result) ([]byte, error) {
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
	res, cause := h.doClose(ctx, req)
	res.RequestID = requestID(ctx)
	h.obs.closed(ctx, kind, record, req, &res, time.Since(start), cause)
	return res
}

// doClose returns the Result and, for a failed upstream call, its cause
// for the log (payjs errors never hold the key or a signature).
func (h *Handler) doClose(ctx context.Context, req Request) (Result, error) {
	if res := req.validate(); res != nil {
		return *res, nil
	}
	c, res := h.closer(ctx, req.MchID)
	if res != nil {
		res.PayjsOrderID = req.PayjsOrderID
		return *res, nil
	}
	cctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadline(ctx, dl.Add(-h.reserve))
		defer cancel()
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

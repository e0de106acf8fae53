package handler

import (
	"cmp"
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
	// Get returns the current keys.
	Get(ctx context.Context) (*secret.Set, error)
	// Refresh reads the secret again even inside its TTL, because PAYJS
	// rejected a signature made with the keys seen. It answers newer keys
	// than seen when it has them, waits for a read in flight rather than
	// answer the keys that read replaces, and may answer seen when it
	// read them moments ago.
	Refresh(ctx context.Context, seen *secret.Set) (*secret.Set, error)
}

// OrderCloser closes one PAYJS order with one merchant's key.
// *payjs.Client is the production one.
type OrderCloser interface {
	CloseOrder(ctx context.Context, payjsOrderID string) (*payjs.Result, error)
}

// Deps are what a Handler needs from outside.
type Deps struct {
	// Keys loads the merchant keys.
	Keys KeySource
	// NewCloser builds the OrderCloser for one merchant key. It is called
	// once per merchant and key version, never per request.
	NewCloser func(key string) (OrderCloser, error)
	// Scheduler creates and deletes scheduled closes; nil turns
	// scheduling off (a request with close_at is then invalid).
	Scheduler Scheduler
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
	// Outcomes puts the outcome of every queued, EventBridge and
	// scheduled close on the shop's event bus; nil publishes nothing
	// (outcome.go).
	Outcomes Publisher
	// PublishAll publishes the outcomes of HTTP and other direct
	// requests too (PAYJS_OUTCOME_ALL).
	PublishAll bool
}

// Handler is the Lambda function. It implements lambda.Handler, so it
// sees the raw event bytes and can tell the kinds apart by shape.
type Handler struct {
	deps Deps
	cold atomic.Bool

	mu      sync.Mutex
	closers map[string]keyedCloser // by mchid
}

// reserve is the time kept back from the Lambda deadline to shape and
// return the answer after a request gives up.
const reserve = 200 * time.Millisecond

// keyedCloser is a merchant's OrderCloser and the key it signs with.
type keyedCloser struct {
	key string
	c   OrderCloser
}

// New returns a Handler.
func New(d Deps) *Handler {
	if d.Obs == nil {
		d.Obs = NewObserver(nil, nil)
	}
	if d.SQSConcurrency <= 0 {
		d.SQSConcurrency = 10
	}
	d.Budget = cmp.Or(d.Budget, payjs.DefaultTimeout)
	d.CloseNowWithin = cmp.Or(d.CloseNowWithin, time.Minute)
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &Handler{deps: d, closers: make(map[string]keyedCloser)}
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
	kind, isObject := recognize(payload)
	switch kind {
	case EventHTTPAPI:
		return serveHTTP(ctx, h, kind, payload, fromHTTPAPI)
	case EventFunctionURL:
		return serveHTTP(ctx, h, kind, payload, fromFunctionURL)
	case EventRESTAPI:
		return serveHTTP(ctx, h, kind, payload, fromRESTAPI)
	case EventBridge:
		var e events.EventBridgeEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			return final(h.serve(ctx, kind, "", Request{}, errorf(CodeInvalidRequest, "EventBridge event is malformed")))
		}
		// The member named exactly "detail", as recognized: the struct
		// above would take the last of "detail" and "Detail".
		var f fields
		_ = json.Unmarshal(payload, &f) // recognized as an object
		req, err := fromOutside(decodeRequest(f["detail"]))
		return h.finalPublished(ctx, kind, req, h.serve(ctx, kind, "", req, err))
	case EventSQS:
		var e events.SQSEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			// No record can be told apart: fail the whole invocation so
			// that SQS delivers every record again.
			h.serve(ctx, kind, "", Request{}, errorf(CodeInvalidRequest, "SQS event is malformed"))
			return nil, err
		}
		return h.sqs(ctx, e.Records)
	case EventDirect:
		req, err := fromOutside(decodeRequest(payload))
		return h.finalPublished(ctx, kind, req, h.serve(ctx, kind, "", req, err))
	}
	err := errorf(CodeUnsupportedEvent, `event kind not recognized: send an API Gateway, Function URL, EventBridge or SQS event, or {"payjs_order_id": "..."}`)
	if !isObject {
		err = errorf(CodeInvalidRequest, "event must be a JSON object")
	} else if herr := misspelledOrderID(payload); herr != nil {
		err = herr // {"PAYJS_ORDER_ID": ...} is a direct request with a typo
	}
	return final(h.serve(ctx, EventUnknown, "", Request{}, err))
}

// serveHTTP answers an HTTP event decoded into its aws-lambda-go type E.
func serveHTTP[E any](ctx context.Context, h *Handler, kind EventKind, payload []byte, from func(*E) httpRequest) ([]byte, error) {
	var e E
	var req Request
	err := json.Unmarshal(payload, &e)
	if err != nil {
		err = errorf(CodeInvalidRequest, "event is malformed")
	} else {
		req, err = fromOutside(from(&e).request())
	}
	res := h.serve(ctx, kind, "", req, err)
	h.publish(ctx, kind, nil, []Request{req}, []Result{res}) // the caller has its answer: a failure is logged and counted
	return encodeHTTP(kind, &res)
}

// final shapes the answer for EventBridge and direct invokes: the Result
// itself, or, when retrying may help, a Lambda error typed with the code.
func final(res Result) ([]byte, error) {
	body, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if res.retryable() {
		return nil, messages.InvokeResponse_Error{Type: string(res.Failure.Code), Message: string(body)}
	}
	return body, nil
}

// serve carries out one request, or answers why it could not be read
// (err), and logs and counts the outcome. record names the SQS message.
func (h *Handler) serve(ctx context.Context, kind EventKind, record string, req Request, err error) Result {
	start := time.Now()
	var res Result
	if err == nil {
		res, err = h.do(ctx, req)
	}
	if err != nil {
		partial := res // how many attempts a failed close made, and whether PAYJS signed its answer
		res = failure(err)
		res.Attempts, res.Verified = partial.Attempts, partial.Verified
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

// do validates req and closes the order, or schedules or cancels its
// close, within the request's budget.
func (h *Handler) do(ctx context.Context, req Request) (Result, error) {
	at, err := req.validate(h.deps.Now(), h.deps.CloseNowWithin)
	if err != nil {
		return Result{}, err
	}
	// One deadline bounds the key load too: a first load from a Secrets
	// Manager that hangs must end in config_unavailable before the
	// Lambda deadline, not in a timed-out invocation.
	dl := time.Now().Add(h.deps.Budget)
	if ldl, ok := ctx.Deadline(); ok && ldl.Add(-reserve).Before(dl) {
		dl = ldl.Add(-reserve)
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	switch {
	case (req.Cancel || !at.IsZero()) && h.deps.Scheduler == nil:
		return Result{}, errorf(CodeInvalidRequest, "scheduled closes are off: set PAYJS_SCHEDULE_GROUP to use close_at, close_after and cancel")
	case req.Cancel:
		return h.cancel(ctx, req)
	case !at.IsZero():
		return h.schedule(ctx, req, at)
	}
	return h.closeOrder(ctx, req)
}

// closeOrder asks PAYJS to close the order. When PAYJS rejects the
// signature, the key may have been rotated: the secret is read again (one
// read shared by the closes of the sandbox that saw the same keys) and, if
// it holds another key, the close is tried once more with it. Only a
// mismatch that outlives the refresh counts in KeyMismatches.
func (h *Handler) closeOrder(ctx context.Context, req Request) (Result, error) {
	set, kc, err := h.closer(ctx, req, h.deps.Keys.Get)
	if err != nil {
		return Result{}, err
	}
	pr, err := kc.c.CloseOrder(ctx, req.PayjsOrderID)
	if payjs.KindOf(err) != payjs.KindKeyMismatch {
		return fromPayjs(pr, err)
	}
	first, err := fromPayjs(pr, err)
	_, fresh, ferr := h.closer(ctx, req, func(ctx context.Context) (*secret.Set, error) {
		return h.deps.Keys.Refresh(ctx, set)
	})
	if ferr != nil || fresh.key == kc.key {
		h.deps.Obs.keyMismatch(ctx, req)
		return first, err // the secret holds the same key: asking again cannot help
	}
	res, err := fromPayjs(fresh.c.CloseOrder(ctx, req.PayjsOrderID))
	res.Attempts += first.Attempts
	if ErrorCode(err) == CodeKeyMismatch {
		h.deps.Obs.keyMismatch(ctx, req)
	} else {
		h.deps.Obs.keyRotationHealed(ctx, req)
	}
	return res, err
}

// fromPayjs maps the PAYJS client's answer to a Result or an *Error.
// PAYJS's message is clipped, whatever the OrderCloser did with it.
func fromPayjs(pr *payjs.Result, err error) (Result, error) {
	var pe *payjs.Error
	if err != nil && !errors.As(err, &pe) {
		return Result{}, &Error{Code: CodePayjsUnavailable, Message: "PAYJS could not be reached", Cause: err}
	}
	if pe != nil {
		pr = pe.Result // what PAYJS answered, if it answered
	}
	res := Result{OK: true, Status: StatusClosed}
	if pr != nil {
		res.Message, res.Verified, res.Attempts = clipUTF8(pr.ReturnMsg, payjs.MaxMessageBytes), pr.Verified, pr.Attempts
		res.Upstream = &Upstream{ReturnCode: pr.ReturnCode, ReturnMsg: res.Message}
	}
	if pe == nil {
		return res, nil
	}
	res.Attempts = pe.Attempts
	e := &Error{Upstream: res.Upstream, Cause: err}
	switch pe.Kind {
	case payjs.KindAlreadyClosed:
		res.Status = StatusAlreadyClosed
		return res, nil
	case payjs.KindPaid:
		e.Code, e.Message = CodeOrderPaid, "the order is paid and cannot be closed: deliver or refund it"
	case payjs.KindKeyMismatch:
		e.Code, e.Message = CodeKeyMismatch, "PAYJS rejected the signature: the secret's key is not the merchant's key at PAYJS"
	case payjs.KindRejected:
		e.Code, e.Message = CodePayjsRejected, "PAYJS refused to close the order: "+res.Message
	case payjs.KindBadResponse:
		e.Code, e.Message = CodePayjsBadResponse, "PAYJS answered with an invalid response: "+pe.Msg
	case payjs.KindTimeout:
		e.Code, e.Message = CodePayjsTimeout, "PAYJS did not answer within the time budget"
	case payjs.KindInvalidInput:
		e.Code, e.Message = CodeInvalidOrderID, pe.Msg
	default:
		e.Code, e.Message = CodePayjsUnavailable, "PAYJS is unavailable: "+pe.Msg
	}
	return res, e
}

// closer returns the OrderCloser for req's merchant with the key that
// load returns, and the set it came from, building a client only for a
// key it has not seen (cold start, or a refresh that found a new key).
func (h *Handler) closer(ctx context.Context, req Request, load func(context.Context) (*secret.Set, error)) (*secret.Set, keyedCloser, error) {
	set, err := load(ctx)
	if err != nil {
		return nil, keyedCloser{}, &Error{Code: CodeConfigUnavailable, Message: "the PAYJS key could not be loaded; try again later", Cause: err}
	}
	m, err := lookup(set, req)
	if err != nil {
		return nil, keyedCloser{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if kc, ok := h.closers[m.MchID]; ok && kc.key == m.Key {
		return set, kc, nil
	}
	c, err := h.deps.NewCloser(m.Key)
	if err != nil {
		return nil, keyedCloser{}, &Error{Code: CodeConfigUnavailable, Message: "the PAYJS key is unusable; fix the secret", Cause: err}
	}
	kc := keyedCloser{key: m.Key, c: c}
	h.closers[m.MchID] = kc
	return set, kc, nil
}

// lookup finds req's merchant in set. A scheduled close was checked when
// it was scheduled: a merchant it cannot find now is a configuration gone
// wrong since, retried (config_unavailable) until it is fixed or the
// message reaches the dead-letter queue. Any other request names a
// merchant wrongly (invalid_request).
func lookup(set *secret.Set, req Request) (secret.Merchant, error) {
	m, err := set.Lookup(req.MchID)
	switch {
	case err == nil:
		return m, nil
	case req.Scheduled:
		return m, &Error{Code: CodeConfigUnavailable, Message: "the scheduled close's merchant is not in the secret any more; restore it, or the close reaches the dead-letter queue", Cause: err}
	case errors.Is(err, secret.ErrMchIDRequired):
		return m, errorf(CodeInvalidRequest, "mchid is required: the secret holds several merchants")
	}
	return m, errorf(CodeInvalidRequest, "mchid is not a merchant this function holds a key for")
}

package handler

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// Namespace is the CloudWatch namespace of the function's metrics.
const Namespace = "PayjsClose"

// Observer writes the function's JSON logs (through slog) and its
// CloudWatch Embedded Metric Format lines. It never writes a key, a
// signature or a secret: nothing it is given holds one.
type Observer struct {
	log     *slog.Logger
	metrics io.Writer
	now     func() time.Time
	stack   string // the Stack dimension's value; "" leaves it out
}

// NewJSONObserver returns an Observer writing JSON log lines (see
// [NewLogger]) at level and above, and metric lines, to w, one line at a
// time.
func NewJSONObserver(w io.Writer, level slog.Leveler) *Observer {
	lw := &lockedWriter{w: w}
	return NewObserver(NewLogger(lw, level), lw)
}

// lockedWriter keeps log lines and metric lines, written from several
// goroutines of an SQS batch, from interleaving.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// NewObserver returns an Observer that logs to log and writes metric
// lines to metrics. Either may be nil to drop that output.
func NewObserver(log *slog.Logger, metrics io.Writer) *Observer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = io.Discard
	}
	return &Observer{log: log, metrics: metrics, now: time.Now}
}

// Logger returns the Observer's logger.
func (o *Observer) Logger() *slog.Logger { return o.log }

// NewLogger returns a JSON slog logger in the shape of Lambda's JSON log
// format (timestamp, level, message, requestId), writing to w. A nil
// level means INFO.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds the Lambda request id to every record logged with
// an invocation's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// served logs one request's outcome and counts it. err is why it failed,
// if it did; its cause is logged, never answered.
func (o *Observer) served(ctx context.Context, kind EventKind, record string, req closing.Request, res *closing.Result, latency time.Duration, err error) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("event_kind", string(kind)),
		slog.String("payjs_order_id", closing.Clip(req.PayjsOrderID)),
		slog.String("outcome", res.Status),
		slog.Int("attempts", res.Attempts),
		slog.Float64("latency_ms", ms(latency)),
	}
	if req.MchID != "" {
		attrs = append(attrs, slog.String("mchid", closing.Clip(req.MchID)))
	}
	if record != "" {
		attrs = append(attrs, slog.String("sqs_message_id", record))
	}
	if res.CloseAt != "" {
		attrs = append(attrs, slog.String("close_at", res.CloseAt))
	}
	if req.Scheduled {
		attrs = append(attrs, slog.Bool("scheduled", true))
	}
	unverified := res.Status == closing.StatusClosed && !res.Verified
	if res.OK {
		attrs = append(attrs, slog.Bool("verified", res.Verified))
		if unverified {
			level = slog.LevelWarn
		}
	} else {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error_code", string(res.Failure.Code)), slog.Bool("retryable", res.Failure.Retryable))
		if res.Failure.Retryable {
			level = slog.LevelError
		}
	}
	if res.Upstream != nil {
		attrs = append(attrs, slog.Int("return_code", res.Upstream.ReturnCode), slog.String("return_msg", res.Upstream.ReturnMsg))
	}
	var e *closing.Error
	if errors.As(err, &e) && e.Cause != nil {
		attrs = append(attrs, slog.String("cause", e.Cause.Error()))
	}
	o.log.LogAttrs(ctx, level, "close", attrs...)

	mets := []metric{{Name: "Closes", Unit: "Count", dim: "Outcome", value: 1}}
	if res.Attempts > 0 {
		mets = append(mets, metric{Name: "UpstreamLatency", Unit: "Milliseconds", value: ms(latency)})
	}
	count := func(name string, when bool) {
		if when {
			mets = append(mets, metric{Name: name, Unit: "Count", value: 1})
		}
	}
	count("RetryableFailures", res.Retryable())
	count("PaidOrders", res.Code() == closing.CodeOrderPaid && !req.Scheduled)
	count("UnverifiedSuccesses", unverified)
	// A queued request refused for good is deleted with its batch: nobody waits for its
	// answer, so it is counted for the QueuedClosesRefused alarm. A paid order is an outcome,
	// not a failure (PaidOrders counts it when it is news), and a cancel that finds nothing
	// scheduled (a redelivery, or a schedule that already fired) has nothing left to do.
	refused := res.Failure != nil && !res.Failure.Retryable && res.Code() != closing.CodeOrderPaid && res.Code() != closing.CodeNotScheduled
	count("SQSPermanentFailures", kind == EventSQS && refused)
	o.emit(map[string]string{"Outcome": res.Status}, mets...)
}

// KeyMismatch logs and counts a signature that PAYJS rejected even after
// the secret was read again: the key in the secret is not the merchant's
// key at PAYJS.
func (o *Observer) KeyMismatch(ctx context.Context, req closing.Request) {
	o.log.LogAttrs(ctx, slog.LevelError, "PAYJS rejected the signature: the secret's key differs from the merchant's key at PAYJS, even after reading the secret again",
		slog.String("payjs_order_id", req.PayjsOrderID), slog.String("mchid", closing.Clip(req.MchID)))
	o.emit(nil, metric{Name: "KeyMismatches", Unit: "Count", value: 1})
}

// KeyRotationHealed logs and counts a signature PAYJS rejected that the
// refreshed secret's new key then made good: a key rotation, caught in
// the same invoke, that needs nobody.
func (o *Observer) KeyRotationHealed(ctx context.Context, req closing.Request) {
	o.log.LogAttrs(ctx, slog.LevelWarn, "PAYJS rejected the signature of the key in use; the secret read again holds a new key, which PAYJS took: a key rotation",
		slog.String("payjs_order_id", req.PayjsOrderID), slog.String("mchid", closing.Clip(req.MchID)))
	o.emit(nil, metric{Name: "KeyRotationsHealed", Unit: "Count", value: 1})
}

// Scheduled logs and counts a schedule's create, reschedule or cancel.
func (o *Observer) Scheduled(ctx context.Context, action string, req closing.Request, at time.Time) {
	attrs := []slog.Attr{slog.String("action", action), slog.String("payjs_order_id", req.PayjsOrderID)}
	if !at.IsZero() {
		attrs = append(attrs, slog.String("close_at", closing.RFC3339(at)))
	}
	o.log.LogAttrs(ctx, slog.LevelInfo, "schedule", attrs...)
	o.emit(map[string]string{"Action": action}, metric{Name: "Schedules", Unit: "Count", dim: "Action", value: 1})
}

func (o *Observer) coldStart() {
	o.emit(nil, metric{Name: "ColdStarts", Unit: "Count", value: 1})
}

// SecretLoaded counts one Secrets Manager load. The secret store calls it.
func (o *Observer) SecretLoaded(ok bool, d time.Duration) {
	result := "ok"
	if !ok {
		result = "error"
	}
	o.emit(map[string]string{"Result": result},
		metric{Name: "SecretLoads", Unit: "Count", dim: "Result", value: 1},
		metric{Name: "SecretLoadLatency", Unit: "Milliseconds", dim: "Result", value: ms(d)})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// metric is one value of an EMF line. dim names the one dimension it is
// published with; "" publishes it without dimensions.
type metric struct {
	Name  string
	Unit  string
	dim   string
	value float64
}

// emfDirective is one entry of an EMF line's CloudWatchMetrics: metrics
// that share a dimension set.
type emfDirective struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []metric
	dim        string
}

// emit writes one EMF line holding ms and the dimension values dims.
// Metrics published with the same dimension come one after another.
func (o *Observer) emit(dims map[string]string, ms ...metric) {
	if o.metrics == io.Discard {
		return
	}
	line := make(map[string]any, len(dims)+len(ms)+1)
	for k, v := range dims {
		line[k] = v
	}
	if o.stack != "" {
		line[StackDimension] = o.stack
	}
	var directives []emfDirective
	for _, m := range ms {
		if n := len(directives); n == 0 || directives[n-1].dim != m.dim {
			dimset := []string{}
			if o.stack != "" {
				dimset = append(dimset, StackDimension)
			}
			if m.dim != "" {
				dimset = append(dimset, m.dim)
			}
			directives = append(directives, emfDirective{Namespace: Namespace, Dimensions: [][]string{dimset}, dim: m.dim})
		}
		directives[len(directives)-1].Metrics = append(directives[len(directives)-1].Metrics, m)
		line[m.Name] = m.value
	}
	line["_aws"] = map[string]any{"Timestamp": o.now().UnixMilli(), "CloudWatchMetrics": directives}
	b, err := json.Marshal(line)
	if err != nil {
		return // only finite numbers and strings: cannot happen
	}
	_, _ = o.metrics.Write(append(b, '\n'))
}

// StackDimension is the dimension every metric carries once the Observer
// has a stack ([Observer.WithStack]): two stacks in one account and region
// then never add to each other's metrics, and so never fire each other's
// alarms.
const StackDimension = "Stack"

// WithStack returns a copy of o whose metrics all carry the dimension
// Stack=stack (the CloudFormation stack's name, PAYJS_METRICS_STACK), in
// every dimension set, before the metric's own dimension. An empty stack
// publishes them without it.
func (o *Observer) WithStack(stack string) *Observer {
	c := *o
	c.stack = stack
	return &c
}

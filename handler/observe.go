package handler

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Namespace is the CloudWatch namespace of the function's metrics.
const Namespace = "PayjsClose"

// Observer writes the function's JSON logs (through slog) and its
// CloudWatch Embedded Metric Format lines. It never writes a key, a
// signature or a secret: nothing it is given holds one.
type Observer struct {
	log     *slog.Logger
	mu      sync.Mutex
	metrics io.Writer
	now     func() time.Time
	lines   *lineWriter // set by NewJSONObserver: one write per close
}

// NewJSONObserver returns an Observer writing JSON log lines (see
// [NewLogger]) at level and above, and metric lines, to w. A close's log
// line and metric line reach w in one Write: on Lambda, stdout is a pipe
// to the runtime's log agent, and a write is a system call and a wake-up.
func NewJSONObserver(w io.Writer, level slog.Leveler) *Observer {
	lw := &lineWriter{w: w}
	o := NewObserver(NewLogger(lw, level), lw)
	o.lines = lw
	return o
}

// lineWriter passes writes through to w, one at a time, except between
// hold and flush, when it gathers them and then writes them at once.
type lineWriter struct {
	section sync.Mutex // one holder at a time
	mu      sync.Mutex
	w       io.Writer
	held    bool
	buf     []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		l.buf = append(l.buf, p...)
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *lineWriter) hold() {
	l.section.Lock()
	l.mu.Lock()
	l.held = true
	l.mu.Unlock()
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	if len(l.buf) > 0 {
		_, _ = l.w.Write(l.buf)
	}
	l.buf, l.held = l.buf[:0], false
	l.mu.Unlock()
	l.section.Unlock()
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
// format (timestamp, level, message, requestId), writing to w, one Write
// per record and one at a time. A nil level means INFO.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(newLogHandler(w, level))
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

// maxLoggedInput bounds how much of a caller's (possibly hostile) value
// goes into a log line.
const maxLoggedInput = 64

func clip(s string) string {
	if len(s) > maxLoggedInput {
		return s[:maxLoggedInput] + "…"
	}
	return s
}

// closed logs one close request's outcome and counts it.
func (o *Observer) closed(ctx context.Context, kind Kind, record string, req Request, res *Result, latency time.Duration, cause error) {
	if o.lines != nil {
		o.lines.hold()
		defer o.lines.flush()
	}
	now := o.now() // the log line and the metric line say the same time
	outcome := res.Status
	level := slog.LevelInfo
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("event_kind", string(kind)),
		slog.String("payjs_order_id", clip(req.PayjsOrderID)),
		slog.String("outcome", outcome),
		slog.Int("attempts", res.Attempts),
		slog.Float64("latency_ms", ms(latency)),
	)
	if req.MchID != "" {
		attrs = append(attrs, slog.String("mchid", clip(req.MchID)))
	}
	if record != "" {
		attrs = append(attrs, slog.String("sqs_message_id", record))
	}
	if res.OK {
		attrs = append(attrs, slog.Bool("verified", res.Verified))
		if !res.Verified {
			level = slog.LevelWarn
		}
	} else {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error_code", string(res.Error.Code)), slog.Bool("retryable", res.Error.Retryable))
		if res.Error.Retryable {
			level = slog.LevelError
		}
	}
	if res.Upstream != nil {
		attrs = append(attrs, slog.Int("return_code", res.Upstream.ReturnCode), slog.String("return_msg", res.Upstream.ReturnMsg))
	}
	if cause != nil {
		attrs = append(attrs, slog.String("cause", cause.Error()))
	}
	// The handler directly, as slog's own output methods do, without
	// the call-site lookup they make for AddSource, which is off.
	if h := o.log.Handler(); h.Enabled(ctx, level) {
		r := slog.NewRecord(now, level, "close", 0)
		r.AddAttrs(attrs...)
		_ = h.Handle(ctx, r) // a log line that cannot be written has nowhere to be reported
	}

	m := emf{dims: [][2]string{{"Outcome", outcome}}, metrics: []metric{{"Closes", "Count", 1}}}
	if res.Attempts > 0 {
		m.metrics = append(m.metrics, metric{"UpstreamLatency", "Milliseconds", ms(latency)})
	}
	if res.OK && !res.Verified {
		m.metrics = append(m.metrics, metric{"UnverifiedSuccesses", "Count", 1})
	}
	if kind == KindSQS && res.Error != nil && !res.Error.Retryable {
		m.metrics = append(m.metrics, metric{"SQSPermanentFailures", "Count", 1})
	}
	o.emit(m, now)
}

func (o *Observer) coldStart() {
	o.emit(emf{metrics: []metric{{"ColdStarts", "Count", 1}}}, o.now())
}

// SecretLoaded logs and counts one Secrets Manager load. The secret
// store calls it.
func (o *Observer) SecretLoaded(ok bool, d time.Duration) {
	result := "ok"
	if !ok {
		result = "error"
	}
	o.emit(emf{dims: [][2]string{{"Result", result}}, metrics: []metric{
		{"SecretLoads", "Count", 1}, {"SecretLoadLatency", "Milliseconds", ms(d)},
	}}, o.now())
}

func (o *Observer) keyError(ctx context.Context, err error) {
	o.log.LogAttrs(ctx, slog.LevelError, "PAYJS key unavailable", slog.String("error", err.Error()))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type metric struct {
	name, unit string
	value      float64
}

// emf is one Embedded Metric Format line: metrics sharing one set of
// dimensions (possibly none).
type emf struct {
	dims    [][2]string
	metrics []metric
}

// emit writes m as one EMF line stamped at.
func (o *Observer) emit(m emf, at time.Time) {
	if o.metrics == io.Discard {
		return
	}
	b := make([]byte, 0, 320)
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, at.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":"`+Namespace+`","Dimensions":[[`...)
	for i, d := range m.dims {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, d[0])
	}
	b = append(b, `]],"Metrics":[`...)
	for i, mt := range m.metrics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = strconv.AppendQuote(b, mt.name)
		b = append(b, `,"Unit":`...)
		b = strconv.AppendQuote(b, mt.unit)
		b = append(b, '}')
	}
	b = append(b, `]}]}`...)
	for _, d := range m.dims {
		b = append(b, ',')
		b = appendJSONQuoted(b, d[0])
		b = append(b, ':')
		b = appendJSONQuoted(b, d[1])
	}
	for _, mt := range m.metrics {
		b = append(b, ',')
		b = strconv.AppendQuote(b, mt.name)
		b = append(b, ':')
		b = strconv.AppendFloat(b, mt.value, 'f', -1, 64)
	}
	b = append(b, '}', '\n')
	o.mu.Lock()
	_, _ = o.metrics.Write(b)
	o.mu.Unlock()
}

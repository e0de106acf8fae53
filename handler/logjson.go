package handler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// logHandler is the function's slog.Handler. It writes, byte for byte,
// what the standard JSON handler with lambdacontext.ReplaceAttr, under
// requestIDHandler, writes: one JSON object per record with Lambda's
// keys (timestamp, level, message), the attributes, then the
// invocation's requestId.
//
// It writes them itself for records whose attributes are strings,
// integers, finite floats, booleans and errors, which is everything the
// function logs, and hands any other record, and any logger with a
// group, to that standard handler. The close line is written on every
// invocation, and the standard handler's generality (a ReplaceAttr call
// per attribute, json.Marshal for every float) was most of its cost.
type logHandler struct {
	w     io.Writer // serialized: it and std take turns on one writer
	level slog.Leveler
	pre   []byte       // the attributes of WithAttrs, encoded, each after a comma
	std   slog.Handler // the standard handler, with the same attributes
}

func newLogHandler(w io.Writer, level slog.Leveler) *logHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	if _, ok := w.(*lineWriter); !ok {
		w = &lineWriter{w: w}
	}
	std := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return &logHandler{w: w, level: level, std: requestIDHandler{std}}
}

// Enabled reports whether records at l are written.
func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// logBufs holds the buffers records are encoded into.
var logBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle writes r as one line, in one Write.
func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	bp, _ := logBufs.Get().(*[]byte) // New makes nothing else
	defer func() {
		if cap(*bp) <= 16<<10 {
			logBufs.Put(bp)
		}
	}()
	b, ok := h.appendRecord(ctx, (*bp)[:0], r)
	*bp = b
	if !ok {
		return h.std.Handle(ctx, r)
	}
	_, err := h.w.Write(b)
	return err
}

func (h *logHandler) appendRecord(ctx context.Context, b []byte, r slog.Record) ([]byte, bool) {
	b = append(b, '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0) // no monotonic reading, as the standard handler
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `"timestamp":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendLogQuoted(b, r.Level.String())
	b = append(b, `,"message":`...)
	b = appendLogQuoted(b, r.Message)
	b = append(b, h.pre...)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendLogAttr(b, a)
		return ok
	})
	if !ok {
		return b, false
	}
	if lc, found := lambdacontext.FromContext(ctx); found {
		b = append(b, `,"requestId":`...)
		b = appendLogQuoted(b, lc.AwsRequestID)
	}
	return append(b, '}', '\n'), true
}

// appendLogAttr appends a comma and a, or nothing for an empty Attr. It
// reports false for a value it leaves to the standard handler.
func appendLogAttr(b []byte, a slog.Attr) ([]byte, bool) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b, true
	}
	key := a.Key
	switch key { // as lambdacontext.ReplaceAttr renames them
	case slog.TimeKey:
		key = "timestamp"
	case slog.MessageKey:
		key = "message"
	}
	n := len(b)
	b = append(b, ',')
	b = appendLogQuoted(b, key)
	b = append(b, ':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return appendLogQuoted(b, v.String()), true
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindFloat64:
		if f := v.Float64(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return appendJSONFloat(b, f), true
		}
	case slog.KindAny:
		a := v.Any()
		if _, marshals := a.(json.Marshaler); !marshals {
			if err, isErr := a.(error); isErr {
				return appendLogQuoted(b, err.Error()), true
			}
		}
	}
	return b[:n], false
}

// appendJSONFloat appends f as json.Marshal writes a finite float64.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// json.Marshal writes e-7, not e-07.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// WithAttrs returns a handler whose records carry as too.
func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.std = h.std.WithAttrs(as)
	pre := append([]byte(nil), h.pre...)
	for _, a := range as {
		var ok bool
		if pre, ok = appendLogAttr(pre, a); !ok {
			return h2.std
		}
	}
	h2.pre = pre
	return &h2
}

// WithGroup returns the standard handler with the group: the function
// logs no groups, and the standard handler has their every rule.
func (h *logHandler) WithGroup(name string) slog.Handler {
	return h.std.WithGroup(name)
}

package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// stdLogHandler is what logHandler must write byte for byte: the standard
// JSON handler with Lambda's keys, under requestIDHandler.
func stdLogHandler(w *bytes.Buffer) slog.Handler {
	return requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: lambdacontext.ReplaceAttr})}
}

var logTime = time.Date(2026, 11, 25, 23, 4, 5, 123456789, time.FixedZone("CST", 8*3600))

// jsonMarshalerError is an error that marshals itself: the standard
// handler writes its JSON, not its message.
type jsonMarshalerError struct{}

func (jsonMarshalerError) Error() string                { return "message" }
func (jsonMarshalerError) MarshalJSON() ([]byte, error) { return []byte(`{"as":"json"}`), nil }

type valuer struct{ v slog.Value }

func (v valuer) LogValue() slog.Value { return v.v }

// logValues are attribute values, and whether logHandler writes them
// itself (fast) or hands the record to the standard handler.
var logValues = []struct {
	name string
	v    slog.Value
	fast bool
}{
	{"empty string", slog.StringValue(""), true},
	{"plain", slog.StringValue("2026112500000000000000000001"), true},
	{"quotes and backslashes", slog.StringValue(`a "b" \c\`), true},
	{"control characters", slog.StringValue("\x00\x01\b\f\n\r\t\x1f\x7f"), true},
	{"html", slog.StringValue("<script>&amp;</script>"), true},
	{"unicode", slog.StringValue("订单已关闭 é 🙂"), true},
	{"invalid utf-8", slog.StringValue("bad \xff\xfe\xc3 end"), true},
	{"line separators", slog.StringValue("a\u2028b\u2029c"), true},
	{"zero", slog.IntValue(0), true},
	{"negative", slog.Int64Value(math.MinInt64), true},
	{"max int", slog.Int64Value(math.MaxInt64), true},
	{"max uint", slog.Uint64Value(math.MaxUint64), true},
	{"float zero", slog.Float64Value(0), true},
	{"negative zero", slog.Float64Value(math.Copysign(0, -1)), true},
	{"latency", slog.Float64Value(0.123), true},
	{"fraction", slog.Float64Value(123.456), true},
	{"tiny", slog.Float64Value(1e-7), true},
	{"small", slog.Float64Value(1e-6), true},
	{"negative tiny", slog.Float64Value(-2.5e-10), true},
	{"denormal", slog.Float64Value(5e-324), true},
	{"large", slog.Float64Value(1e20), true},
	{"exponent", slog.Float64Value(1e21), true},
	{"huge", slog.Float64Value(1.5e300), true},
	{"true", slog.BoolValue(true), true},
	{"false", slog.BoolValue(false), true},
	{"error", slog.AnyValue(errors.New(`cannot reach "PAYJS"`)), true},
	{"wrapped error", slog.AnyValue(fmt.Errorf("load: %w", errors.New("denied\nby policy"))), true},
	{"valuer of a string", slog.AnyValue(valuer{slog.StringValue("resolved")}), true},
	{"NaN", slog.Float64Value(math.NaN()), false},
	{"infinity", slog.Float64Value(math.Inf(-1)), false},
	{"error that marshals", slog.AnyValue(jsonMarshalerError{}), false},
	{"duration", slog.DurationValue(1500 * time.Millisecond), false},
	{"time", slog.TimeValue(logTime), false},
	{"group", slog.GroupValue(slog.String("a", "b"), slog.Int("c", 1)), false},
	{"empty group", slog.GroupValue(), true}, // the record drops it
	{"map", slog.AnyValue(map[string]int{"a": 1}), false},
	{"nil", slog.AnyValue(nil), false},
	{"valuer of a group", slog.AnyValue(valuer{slog.GroupValue(slog.String("a", "b"))}), false},
}

// same writes r through both handlers, built by with from a fresh one,
// and fails unless they wrote the same bytes. It returns whether
// logHandler wrote the record itself.
func same(t *testing.T, ctx context.Context, r slog.Record, with func(slog.Handler) slog.Handler) bool {
	t.Helper()
	var ours, std bytes.Buffer
	oh := with(newLogHandler(&ours, slog.LevelDebug))
	if err := oh.Handle(ctx, r.Clone()); err != nil {
		t.Fatal(err)
	}
	if err := with(stdLogHandler(&std)).Handle(ctx, r.Clone()); err != nil {
		t.Fatal(err)
	}
	if ours.String() != std.String() {
		t.Errorf("logHandler wrote\n%s\nthe standard handler\n%s", ours.String(), std.String())
	}
	h, isOurs := oh.(*logHandler)
	if !isOurs {
		return false
	}
	_, fast := h.appendRecord(ctx, nil, r.Clone())
	return fast
}

func record(level slog.Level, msg string, as ...slog.Attr) slog.Record {
	r := slog.NewRecord(logTime, level, msg, 0)
	r.AddAttrs(as...)
	return r
}

func same1(h slog.Handler) slog.Handler { return h }

func TestLogHandlerWritesWhatTheStandardHandlerWrites(t *testing.T) {
	invocation := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f5c1f2e-5b7e-4a57-9a0e-3d2f4b1c6a70"})
	for _, v := range logValues {
		t.Run(v.name, func(t *testing.T) {
			r := record(slog.LevelInfo, "close", slog.String("event_kind", "direct"), slog.Attr{Key: "value", Value: v.v})
			if fast := same(t, invocation, r, same1); fast != v.fast {
				t.Errorf("written by logHandler itself: %v, want %v", fast, v.fast)
			}
			// The same value given to WithAttrs.
			same(t, invocation, record(slog.LevelInfo, "close"), func(h slog.Handler) slog.Handler {
				return h.WithAttrs([]slog.Attr{{Key: "value", Value: v.v}})
			})
		})
	}

	cases := []struct {
		name string
		ctx  context.Context
		r    slog.Record
		with func(slog.Handler) slog.Handler
		fast bool
	}{
		{"no invocation", context.Background(), record(slog.LevelInfo, "init", slog.Bool("key_loaded", true)), same1, true},
		{"odd request id", lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "a\"b\n<c>"}), record(slog.LevelInfo, "m"), same1, true},
		{"no time", context.Background(), slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0), same1, true},
		{"UTC time", context.Background(), slog.NewRecord(logTime.UTC(), slog.LevelInfo, "m", 0), same1, true},
		{"whole second", context.Background(), slog.NewRecord(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, "m", 0), same1, true},
		{"monotonic time", context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0), same1, true},
		{"year 10000", context.Background(), slog.NewRecord(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "m", 0), same1, false},
		{"debug", context.Background(), record(slog.LevelDebug, "m"), same1, true},
		{"warn", context.Background(), record(slog.LevelWarn, "m"), same1, true},
		{"error", context.Background(), record(slog.LevelError, "m"), same1, true},
		{"custom level", context.Background(), record(slog.LevelInfo+2, "m"), same1, true},
		{"message to escape", context.Background(), record(slog.LevelInfo, "a\"b\\c\n\x00<>&\u2028\xff"), same1, true},
		{"keys renamed as Lambda's", context.Background(), record(slog.LevelInfo, "m", slog.String("msg", "x"), slog.String("time", "y"), slog.String("level", "z")), same1, true},
		{"keys to escape", context.Background(), record(slog.LevelInfo, "m", slog.String("k\"\n<", "v")), same1, true},
		{"empty attr dropped", context.Background(), record(slog.LevelInfo, "m", slog.Attr{}, slog.String("a", "b")), same1, true},
		{"empty key kept", context.Background(), record(slog.LevelInfo, "m", slog.String("", "v")), same1, true},
		{"many attrs", context.Background(), record(slog.LevelWarn, "close", slog.String("event_kind", "sqs"), slog.String("payjs_order_id", "x"), slog.String("outcome", "error"),
			slog.Int("attempts", 3), slog.Float64("latency_ms", 812.5), slog.String("mchid", "1528140051"), slog.String("sqs_message_id", "m1"),
			slog.String("error_code", "payjs_unavailable"), slog.Bool("retryable", true), slog.String("cause", "cannot reach PAYJS")), same1, true},
		{"attrs, then more", context.Background(), record(slog.LevelInfo, "m", slog.Int("c", 3)), func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("a", "1")}).WithAttrs(nil).WithAttrs([]slog.Attr{slog.Float64("b", 2.5)})
		}, true},
		{"attrs the standard handler writes", context.Background(), record(slog.LevelInfo, "m", slog.Int("c", 3)), func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("a", "1")}).WithAttrs([]slog.Attr{slog.Duration("d", time.Second)}).WithAttrs([]slog.Attr{slog.Int("e", 1)})
		}, false},
		{"group", context.Background(), record(slog.LevelInfo, "m", slog.Int("c", 3)), func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("a", "1")}).WithGroup("g").WithAttrs([]slog.Attr{slog.Int("e", 1)})
		}, false},
		{"empty group name", context.Background(), record(slog.LevelInfo, "m", slog.Int("c", 3)), func(h slog.Handler) slog.Handler {
			return h.WithGroup("")
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if fast := same(t, c.ctx, c.r, c.with); fast != c.fast {
				t.Errorf("written by logHandler itself: %v, want %v", fast, c.fast)
			}
		})
	}
}

func TestLogHandlerLevelsAndWrites(t *testing.T) {
	var w countingWriter
	l := slog.New(newLogHandler(&w, slog.LevelWarn))
	l.Info("dropped")
	l.Warn("kept", "a", 1)
	l.Error("kept too", "err", errors.New("e"))
	if w.writes != 2 {
		t.Errorf("%d writes, want 2 (one per record at WARN and above)", w.writes)
	}
	if !newLogHandler(&w, nil).Enabled(context.Background(), slog.LevelInfo) || newLogHandler(&w, nil).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("a nil level is not INFO")
	}
}

// TestLogHandlerTakesTurnsWithTheStandardHandler logs records that
// logHandler writes itself and records it hands to the standard handler,
// from several goroutines, to a writer that is not safe for concurrent
// use: every line must come out whole (and -race must see no race).
func TestLogHandlerTakesTurnsWithTheStandardHandler(t *testing.T) {
	var w countingWriter
	l := slog.New(newLogHandler(&w, slog.LevelInfo))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if g%2 == 0 {
					l.Info("fast", "i", i)
				} else {
					l.Info("standard", "d", time.Duration(i))
				}
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 200 || w.writes != 200 {
		t.Fatalf("%d lines in %d writes, want 200 in 200", len(lines), w.writes)
	}
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Fatalf("a line is not whole JSON: %q", line)
		}
	}
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func FuzzLogHandler(f *testing.F) {
	f.Add("close", "payjs_order_id", "2026112500000000000000000001", 0.123, int64(1), "8f5c1f2e")
	f.Add("a\"\\\n\x00<>&", "msg", "\xff\u2028", 1e-7, int64(-1), "")
	f.Add("", "", "", 1e21, int64(math.MinInt64), "\x7f")
	f.Fuzz(func(t *testing.T, msg, key, s string, fl float64, i int64, reqID string) {
		ctx := context.Background()
		if reqID != "" {
			ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: reqID})
		}
		r := record(slog.LevelInfo, msg, slog.String(key, s), slog.Float64("f", fl), slog.Int64(s, i), slog.Any("err", errors.New(s)))
		same(t, ctx, r, func(h slog.Handler) slog.Handler { return h.WithAttrs([]slog.Attr{slog.String(s, key)}) })
	})
}

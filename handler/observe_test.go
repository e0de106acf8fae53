package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog records each Write separately.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestJSONObserverWritesEachCloseAtOnce(t *testing.T) {
	hs := newHarness(t)
	w := &writeLog{}
	hs.h.obs = NewJSONObserver(w, slog.LevelInfo)
	hs.h.cold.Store(false)
	for range 3 {
		if _, lerr := hs.invoke(t, event(t, "direct.json")); lerr != nil {
			t.Fatal(lerr)
		}
	}
	if len(w.writes) != 3 {
		t.Fatalf("3 closes made %d writes, want 3", len(w.writes))
	}
	for _, wr := range w.writes {
		lines := strings.Split(strings.TrimSuffix(wr, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], `"message":"close"`) || !strings.Contains(lines[1], `"Closes":1`) {
			t.Errorf("a close's write is not its log line then its metric line: %q", wr)
		}
	}
	recordOutput(t, strings.Join(w.writes, ""))
}

func TestJSONObserverKeepsConcurrentClosesWhole(t *testing.T) {
	hs := newHarness(t)
	w := &writeLog{}
	hs.h.obs = NewJSONObserver(w, slog.LevelInfo)
	hs.h.cold.Store(false)
	if _, lerr := hs.invoke(t, event(t, "sqs.json")); lerr != nil {
		t.Fatal(lerr)
	}
	for _, wr := range w.writes {
		lines := strings.Split(strings.TrimSuffix(wr, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], `"sqs_message_id"`) || !strings.Contains(lines[1], `"_aws"`) {
			t.Errorf("a close's write is torn or mixed: %q", wr)
		}
	}
	if len(w.writes) != 5 {
		t.Errorf("5 records made %d writes, want 5", len(w.writes))
	}
	recordOutput(t, strings.Join(w.writes, ""))
}

// TestCloseLogAndMetricLinesShareATime reads the clock once per close: with
// a clock that moves a second on every read, the log line's timestamp and
// the metric line's Timestamp are still the same instant.
func TestCloseLogAndMetricLinesShareATime(t *testing.T) {
	w := &writeLog{}
	o := NewJSONObserver(w, slog.LevelInfo)
	clock := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	o.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	res := Result{OK: true, Status: StatusClosed, Verified: true, Attempts: 1}
	o.closed(context.Background(), KindDirect, "", Request{PayjsOrderID: "1"}, &res, time.Millisecond, nil)

	lines := strings.Split(strings.TrimSuffix(strings.Join(w.writes, ""), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a log line and a metric line, got %q", lines)
	}
	var logLine struct{ Timestamp time.Time }
	var metricLine struct {
		AWS struct{ Timestamp int64 } `json:"_aws"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &logLine); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &metricLine); err != nil {
		t.Fatal(err)
	}
	if got, want := metricLine.AWS.Timestamp, logLine.Timestamp.UnixMilli(); got != want || want == 0 {
		t.Errorf("metric line at %d ms, log line at %d ms: want the same", got, want)
	}
}

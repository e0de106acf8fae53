package handler

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
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

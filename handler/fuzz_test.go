package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// FuzzInvoke drives event recognition and decoding with arbitrary
// payloads. Whatever comes in, the handler must not panic, must answer
// valid JSON (or a Lambda error carrying a JSON result), must never ask
// PAYJS to close an id that fails validation, and must schedule only
// valid ids, more than a minute and at most 30 days ahead.
func FuzzInvoke(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "events", "*.json"))
	for _, name := range files {
		if filepath.Base(name) == "env.json" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"payjs_order_id":"abc&key=x"}`))
	f.Add([]byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"1","body":"{\"payjs_order_id\":\"1\"}"}]}`))
	f.Add([]byte(`{"detail-type":"x","source":"y","detail":{"payjs_order_id":"1","mchid":"2"}}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/close","requestContext":{"http":{"method":"POST"}},"headers":{"content-type":"application/x-www-form-urlencoded"},"body":"payjs_order_id=1%00"}`))
	f.Add([]byte(`{"payjs_order_id":"1","close_after":"15m","version":2}`))
	f.Add([]byte(`{"payjs_order_id":"1","close_at":"2026-12-01T00:00:00+08:00","source":{"app":"shop"}}`))
	f.Add([]byte(`{"payjs_order_id":"1","action":"cancel"}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/orders/1/close","requestContext":{"http":{"method":"DELETE"}}}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/close","requestContext":{"http":{"method":"POST"}},"headers":{"content-type":"application/x-www-form-urlencoded"},"body":"payjs_order_id=1&close_after=-5h&action=close"}`))

	f.Add([]byte(`{"payjs_order_id":"1","closeAfter":"15m"}`))
	f.Add([]byte(`{"payjs_order_id":"1","payjs_order_id":"2"}`))
	f.Add([]byte(`{"payjs_order_id":"1","PAYJS_ORDER_ID":"2"}`))
	f.Add([]byte(`{"PAYJS_ORDER_ID":"1"}`))
	f.Add([]byte(`{"payjs_order_id":"1","close_at":"2026-11-29T12:15:00+24:00"}`))
	f.Add([]byte(`{"payjs_order_id":"1","close_at":"2026-11-29t13:15:00.5z","Mch-Id":"2"}`))
	f.Add([]byte(`{"detail-type":"x","source":"y","detail":{"payjs_order_id":"1","close_after":"1h","close_after":"2h"}}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/orders/1/close","requestContext":{"http":{"method":"POST"}},"headers":{"content-type":"application/x-www-form-urlencoded"},"body":"{\"close_after\":\"10s\"}"}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/orders/1/close","requestContext":{"http":{"method":"POST"}},"body":"{\"closeAfter\":\"10m\"}"}`))

	keys := &staticKeys{set: mustSet(f, `{"mchid":"`+testMchID+`","key":"`+testKey+`"}`)}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var bad []string
		closer := &fakeCloser{answer: func(id string) (*payjs.Result, error) {
			if !payjs.ValidOrderID(id) {
				bad = append(bad, id)
			}
			return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Attempts: 1}, nil
		}}
		sched := &fakeScheduler{entries: map[string]closing.ScheduledClose{}}
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		h := New(Deps{Keys: keys, NewCloser: func(string) (closing.Closer, error) { return closer, nil }, SQSConcurrency: 1,
			Scheduler: sched, Now: func() time.Time { return now }})
		out, err := h.Invoke(context.Background(), payload)
		for _, s := range sched.entries {
			id := strings.TrimPrefix(s.Name, "close-")
			if !payjs.ValidOrderID(id) || s.At.Sub(now) <= time.Minute-time.Second || s.At.Sub(now) > 30*24*time.Hour {
				t.Fatalf("scheduled %+v", s)
			}
		}
		if err != nil {
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) {
				// Only a malformed SQS batch fails the whole invocation.
				if f, _ := members(payload); f.kind() != EventSQS {
					t.Fatalf("Invoke: %v", err)
				}
				return
			}
			out = []byte(ie.Message)
		}
		if !json.Valid(out) {
			t.Fatalf("answer is not JSON: %q", out)
		}
		if len(bad) > 0 {
			t.Fatalf("PAYJS asked to close invalid ids %q", bad)
		}
		if obj := requestObject(payload); obj != nil && ambiguous(obj) && (len(closer.asked) > 0 || len(sched.entries) > 0) {
			t.Fatalf("acted on an ambiguous request %s: closed %v, scheduled %v", obj, closer.asked, sched.entries)
		}
	})
}

// requestObject returns the request object of a direct invoke or an
// EventBridge event, or nil.
func requestObject(payload []byte) []byte {
	f, _ := members(payload)
	switch k := f.kind(); k {
	case EventDirect:
		return payload
	case EventBridge:
		var f map[string]json.RawMessage
		_ = json.Unmarshal(payload, &f)
		return f["detail"]
	}
	return nil
}

// ambiguous reports whether a JSON object names a request field more
// than once, or in another spelling (case, '-' or '_'): the strict
// decoder must refuse it. It is the test's own reading, by lower-casing.
func ambiguous(obj []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]int{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		name, _ := t.(string)
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
		folded := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name))
		for _, field := range []string{"payjs_order_id", "mchid", "close_at", "close_after", "action", "scheduled"} {
			if folded == strings.ReplaceAll(field, "_", "") {
				if name != field {
					return true
				}
				if seen[field]++; seen[field] > 1 {
					return true
				}
			}
		}
	}
	return false
}

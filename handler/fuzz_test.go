package handler

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/payjs-close/payjs-close/payjs"
)

// FuzzInvoke drives event recognition and decoding with arbitrary
// payloads. Whatever comes in, the handler must not panic, must answer
// valid JSON (or a Lambda error carrying a JSON result), and must never
// ask PAYJS to close an id that fails validation.
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

	keys := &staticKeys{set: mustSet(f, `{"mchid":"`+testMchID+`","key":"`+testKey+`"}`)}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var bad []string
		closer := &fakeCloser{answer: func(id string) (*payjs.Result, error) {
			if !payjs.ValidOrderID(id) {
				bad = append(bad, id)
			}
			return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Attempts: 1}, nil
		}}
		h := New(Deps{Keys: keys, NewCloser: func(string) (OrderCloser, error) { return closer, nil }, SQSConcurrency: 1})
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) {
				// Only a malformed SQS batch fails the whole invocation.
				if k, _ := recognize(payload); k != EventSQS {
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
	})
}

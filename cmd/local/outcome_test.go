package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func TestFailureReadsEveryKindOfAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer string
		fe     *devstack.FunctionError
		want   string // "" for a success
	}{
		{"closed", `{"ok":true,"status":"closed"}`, nil, ""},
		{"already closed", `{"ok":true,"status":"already_closed"}`, nil, ""},
		{"scheduled", `{"ok":true,"status":"scheduled","close_at":"2026-11-25T08:45:00Z"}`, nil, ""},
		{"paid", `{"ok":false,"status":"paid","error":{"code":"order_paid"}}`, nil, "ok: false, order_paid"},
		{"invalid, no code", `{"ok":false,"status":"invalid"}`, nil, "ok: false, no error code"},
		{"Lambda error", `{"errorType":"payjs_unavailable","errorMessage":"{}"}`,
			&devstack.FunctionError{Type: "payjs_unavailable", Message: "{}"}, "a Lambda error, errorType payjs_unavailable"},
		{"HTTP 200", `{"statusCode":200,"body":"{\"ok\":true}"}`, nil, ""},
		{"HTTP 202", `{"statusCode":202,"body":"{\"ok\":true,\"status\":\"scheduled\"}"}`, nil, ""},
		{"HTTP 409", `{"statusCode":409,"body":"{\"ok\":false,\"error\":{\"code\":\"order_paid\"}}"}`, nil, "HTTP 409, order_paid"},
		{"HTTP 404, body not JSON", `{"statusCode":404,"body":"not found"}`, nil, "HTTP 404"},
		{"SQS, none to redeliver", `{"batchItemFailures":[]}`, nil, ""},
		{"SQS, two to redeliver", `{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]}`, nil,
			"batchItemFailures: 2 SQS record(s) to redeliver"},
		{"not an object", `"closed"`, nil, "an answer that is not a JSON object"},
		{"not JSON", `Task timed out`, nil, "an answer that is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := failure([]byte(tt.answer), tt.fe)
			switch {
			case tt.want == "" && f != nil:
				t.Errorf("failure(%s) = %q, want a success", tt.answer, f.What)
			case tt.want != "" && f == nil:
				t.Errorf("failure(%s) = a success, want %q", tt.answer, tt.want)
			case f != nil && f.What != tt.want:
				t.Errorf("failure(%s) = %q, want %q", tt.answer, f.What, tt.want)
			}
		})
	}
}

// `make invoke` exits 1 when the function answered a failure (main exits 1
// on any error of run), and prints the answer all the same.
func TestInvokeFailsWhenTheFunctionAnswersAFailure(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, _ := devstack.StartTest(t, devstack.Options{})
	event := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	direct := func(id string) []byte { return []byte(`{"payjs_order_id":"` + id + `"}`) }
	paidHTTP := bytes.ReplaceAll(event("http-api.json"), []byte(payjstest.DemoOrderUnpaid(1)), []byte(payjstest.DemoOrderPaid))
	tests := []struct {
		name    string
		payload []byte
		want    string // the failure, "" for none
		stdout  string // in what invoke prints
	}{
		{"direct, closed", direct(payjstest.DemoOrderUnpaid(7)), "", `"status": "closed"`},
		{"direct, scheduled", event("schedule.json"), "", `"status": "scheduled"`},
		{"direct, paid", direct(payjstest.DemoOrderPaid), "ok: false, order_paid", `"status": "paid"`},
		{"direct, invalid id", direct("not-an-id"), "ok: false, invalid_order_id", `"status": "invalid"`},
		{"direct, PAYJS down", direct(payjstest.DemoOrderUnavailable), "a Lambda error, errorType payjs_unavailable", `"errorType": "payjs_unavailable"`},
		{"HTTP API, paid", paidHTTP, "HTTP 409, order_paid", `"statusCode": 409`},
		{"SQS, one record to redeliver", event("sqs.json"), "batchItemFailures: 1 SQS record(s) to redeliver", `"batchItemFailures"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := invokeStack(ctx, st, tt.payload, &stdout, &stderr)
		var fe *failedError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: invoke = %v, want nil\nstdout:\n%s", tt.name, err, stdout.String())
		case tt.want != "" && !errors.As(err, &fe):
			t.Errorf("%s: invoke = %v, want a failedError %q\nstdout:\n%s", tt.name, err, tt.want, stdout.String())
		case fe != nil && fe.What != tt.want:
			t.Errorf("%s: invoke = %q, want %q", tt.name, fe.What, tt.want)
		}
		if !strings.Contains(stdout.String(), tt.stdout) {
			t.Errorf("%s: stdout lacks %s:\n%s", tt.name, tt.stdout, stdout.String())
		}
	}
}

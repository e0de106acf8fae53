package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
)

// failedError is invoke's error when the function answered, and its
// answer is a failure: `make invoke` exits 1, as a script that checks its
// status expects, after printing the answer like any other.
type failedError struct {
	// What says which failure: the error code of a result, the errorType
	// of a Lambda error, an HTTP status, or the SQS records to redeliver.
	What string
}

func (e *failedError) Error() string { return "the function answered a failure: " + e.What }

// failure reads the function's answer to one invoke, fe when the function
// failed the invoke, and says what failed; it returns nil when the answer
// is a success. The answer is whatever the event's kind returns:
//   - a result (direct, EventBridge, Scheduler): a failure when "ok" is false;
//   - an API Gateway response (HTTP API, REST API, Function URL): a failure
//     when statusCode is 400 or more;
//   - an SQS batch response: a failure when batchItemFailures names a
//     record (a permanent failure of a record is logged, not answered);
//   - a Lambda error (a retryable failure of any kind): always a failure.
func failure(answer []byte, fe *devstack.FunctionError) *failedError {
	if fe != nil {
		return &failedError{What: "a Lambda error, errorType " + fe.Type}
	}
	var a struct {
		OK    *bool `json:"ok"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
		StatusCode        *int              `json:"statusCode"`
		Body              string            `json:"body"`
		BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return &failedError{What: "an answer that is not a JSON object"}
	}
	switch {
	case a.OK != nil && !*a.OK:
		code := "no error code"
		if a.Error != nil && a.Error.Code != "" {
			code = a.Error.Code
		}
		return &failedError{What: "ok: false, " + code}
	case a.StatusCode != nil && *a.StatusCode >= 400:
		what := fmt.Sprintf("HTTP %d", *a.StatusCode)
		if inner := failure([]byte(a.Body), nil); inner != nil && strings.HasPrefix(inner.What, "ok: false, ") {
			what += ", " + strings.TrimPrefix(inner.What, "ok: false, ")
		}
		return &failedError{What: what}
	case len(a.BatchItemFailures) > 0:
		return &failedError{What: fmt.Sprintf("batchItemFailures: %d SQS record(s) to redeliver", len(a.BatchItemFailures))}
	}
	return nil
}

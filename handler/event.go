package handler

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/payjs-close/payjs-close/handler/closing"
)

// EventKind is the kind of event an invocation carries.
type EventKind string

// The event kinds the function accepts.
const (
	EventHTTPAPI     EventKind = "http_api"     // API Gateway HTTP API, payload 2.0
	EventFunctionURL EventKind = "function_url" // Lambda Function URL
	EventRESTAPI     EventKind = "rest_api"     // API Gateway REST API, payload 1.0
	EventBridge      EventKind = "eventbridge"
	EventSQS         EventKind = "sqs"
	EventDirect      EventKind = "direct" // Step Functions, aws lambda invoke, Scheduler
	EventUnknown     EventKind = "unknown"
)

// fields is an event's top-level members, undecoded. Recognizing a kind
// looks only at the members that make it what it is, so a member of an
// unexpected type elsewhere (a direct invoke's "version": 2) never hides
// the kind.
type fields map[string]json.RawMessage

// recognize tells the kind of payload from its shape. ok is false when
// payload is not a JSON object.
func recognize(payload []byte) (kind EventKind, ok bool) {
	var f fields
	if !isObject(payload) || json.Unmarshal(payload, &f) != nil {
		return EventUnknown, false
	}
	return f.kind(), true
}

func (f fields) kind() EventKind {
	var rc fields
	_ = json.Unmarshal(f["requestContext"], &rc) // not an object: no API Gateway kind
	switch {
	case f.string("version") == "2.0" && isObject(rc["http"]):
		if strings.Contains(rc.string("domainName"), ".lambda-url.") {
			return EventFunctionURL
		}
		return EventHTTPAPI
	case f["httpMethod"] != nil && rc["resourcePath"] != nil:
		return EventRESTAPI
	case f["detail-type"] != nil && f["source"] != nil && isObject(f["detail"]):
		return EventBridge
	case f.sqsRecords():
		return EventSQS
	case f["payjs_order_id"] != nil:
		return EventDirect
	}
	return EventUnknown
}

// string returns member name when it is a JSON string, else "".
func (f fields) string(name string) string {
	var s string
	_ = json.Unmarshal(f[name], &s)
	return s
}

// sqsRecords reports whether Records is a non-empty list of SQS messages.
func (f fields) sqsRecords() bool {
	var recs []fields
	if json.Unmarshal(f["Records"], &recs) != nil || len(recs) == 0 {
		return false
	}
	for _, r := range recs {
		if r.string("eventSource") != "aws:sqs" {
			return false
		}
	}
	return true
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// misspelledOrderID answers an object of no known kind whose top level
// spells payjs_order_id another way: see [closing.MisspelledOrderID].
func misspelledOrderID(payload []byte) *closing.Error {
	var f fields
	if json.Unmarshal(payload, &f) != nil {
		return nil
	}
	return closing.MisspelledOrderID(f)
}

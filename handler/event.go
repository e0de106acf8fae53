package handler

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
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

// Request is one request, whatever event carried it: close an order now,
// schedule its close, or cancel a scheduled close.
type Request struct {
	// PayjsOrderID is the PAYJS order to close.
	PayjsOrderID string
	// MchID picks the merchant when the secret holds several; it is
	// never sent to PAYJS.
	MchID string
	// CloseAt (RFC 3339) or CloseAfter (a Go duration such as 15m)
	// schedule the close instead of closing now; at most one is set.
	CloseAt    string
	CloseAfter string
	// Cancel asks to delete the order's scheduled close.
	Cancel bool
	// Scheduled marks the close a schedule fires. Finding the order paid
	// is then the customer paying in time, not news for an operator.
	Scheduled bool
}

// decodeRequest reads a Request from a JSON object (direct invokes,
// EventBridge detail, SQS bodies, JSON bodies). Member names match
// exactly, see [members]; the values are read one by one, so that a number
// or an object is refused with a message naming the member.
func decodeRequest(raw []byte) (Request, error) {
	vals, _, err := members(raw)
	if err != nil {
		return Request{}, err
	}
	return requestOf(vals)
}

// requestOf reads a Request from the values of the request fields.
func requestOf(vals map[string]json.RawMessage) (Request, error) {
	var req Request
	var action string
	for _, m := range []struct {
		name string
		to   *string
	}{
		{"payjs_order_id", &req.PayjsOrderID},
		{"mchid", &req.MchID},
		{"close_at", &req.CloseAt},
		{"close_after", &req.CloseAfter},
		{"action", &action},
	} {
		if raw, ok := vals[m.name]; ok && json.Unmarshal(raw, m.to) != nil {
			return Request{}, errorf(CodeInvalidRequest, m.name+" must be a string")
		}
	}
	req.Scheduled = string(vals["scheduled"]) == "true"
	return req, setAction(&req, action)
}

// setAction applies the action member: "close" (or none) or "cancel".
func setAction(req *Request, action string) error {
	switch action {
	case "", "close":
	case "cancel":
		req.Cancel = true
	default:
		return errorf(CodeInvalidRequest, `action must be "close" or "cancel"`)
	}
	return nil
}

// maxScheduleAhead is how far ahead a close may be scheduled: PAYJS closes
// only orders up to 30 days old.
const maxScheduleAhead = 30 * 24 * time.Hour

// validate checks a Request before any network call and returns when its
// close is due: the zero time means now, as for a time within closeNow.
// Valid ids are [0-9A-Za-z]{1,32}, so no value can smuggle a separator
// into the string PAYJS signs.
func (r Request) validate(now time.Time, closeNow time.Duration) (at time.Time, err error) {
	switch {
	case r.PayjsOrderID == "":
		return at, errorf(CodeInvalidRequest, "payjs_order_id is required")
	case !payjs.ValidOrderID(r.PayjsOrderID):
		return at, errorf(CodeInvalidOrderID, "payjs_order_id must be 1 to 32 characters of [0-9A-Za-z]")
	case r.MchID != "" && !payjs.ValidOrderID(r.MchID):
		return at, errorf(CodeInvalidRequest, "mchid must be 1 to 32 characters of [0-9A-Za-z]")
	case r.CloseAt != "" && r.CloseAfter != "":
		return at, errorf(CodeInvalidRequest, "give close_at or close_after, not both")
	case r.Cancel && (r.CloseAt != "" || r.CloseAfter != ""):
		return at, errorf(CodeInvalidRequest, "a cancel takes no close_at or close_after")
	case r.CloseAt != "":
		if at, err = parseCloseAt(r.CloseAt); err != nil {
			return at, err
		}
	case r.CloseAfter != "":
		d, err := time.ParseDuration(r.CloseAfter)
		if err != nil {
			return at, errorf(CodeInvalidRequest, "close_after must be a duration such as 15m or 2h")
		}
		at = now.Add(d)
	}
	switch {
	case at.IsZero():
	case at.Sub(now) > maxScheduleAhead:
		return time.Time{}, errorf(CodeInvalidRequest, "a close may be scheduled at most 30 days ahead: PAYJS closes only orders up to 30 days old")
	case at.Sub(now) <= closeNow:
		at = time.Time{} // due within a minute, or past: close now
	}
	return at, nil
}

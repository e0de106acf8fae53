package payjstest

import (
	"fmt"
	"time"
)

// FaultKind says how an injected [Fault] makes a close request misbehave.
//
// Some faults stand for trouble in front of PAYJS (a gateway, a CDN, the
// network): the request never reaches PAYJS and the order is untouched.
// Others stand for trouble on the way back: PAYJS handles the close (an
// unpaid order is closed) and the answer is damaged. Each kind says which;
// [Fault.AfterClose] moves the first sort behind PAYJS.
type FaultKind int

// The kinds of fault.
const (
	// FaultLatency answers normally after the fault's Delay. (Any fault
	// may have a Delay; this one adds nothing else.)
	FaultLatency FaultKind = iota + 1
	// FaultStatus answers HTTP Status (503 if zero), such as 500, 502,
	// 503 or 429, with a small HTML body and, when RetryAfter is set, a
	// Retry-After header in whole seconds (rounded up). Order untouched.
	FaultStatus
	// FaultHTML answers HTTP 200 (or Status) with an HTML error page, as
	// a web application firewall or a captive portal does. Order untouched.
	FaultHTML
	// FaultInvalidJSON answers HTTP 200 with a body that starts like a
	// close answer but is not valid JSON. Order untouched.
	FaultInvalidJSON
	// FaultTruncated handles the close, then sends the first half of the
	// answer under a Content-Length for all of it and closes the
	// connection.
	FaultTruncated
	// FaultOversize handles the close, then pads the answer with
	// whitespace to more than [payjs.MaxResponseBytes].
	FaultOversize
	// FaultWrongSign handles the close, then signs the answer with a key
	// that is not the merchant's.
	FaultWrongSign
	// FaultNoSign handles the close, then leaves "sign" out of the answer,
	// as PAYJS itself is known to do on some successful answers.
	FaultNoSign
	// FaultDrop closes the connection without answering. Order untouched.
	FaultDrop
	// FaultBody answers HTTP Status (200 if zero) with Body as it is, as
	// application/json: for answers of a wrong shape, a refusal in "msg"
	// instead of "return_msg", or a 60 KB return_msg. Order untouched.
	FaultBody
)

var faultNames = [...]string{
	FaultLatency:     "latency",
	FaultStatus:      "status",
	FaultHTML:        "html",
	FaultInvalidJSON: "invalid_json",
	FaultTruncated:   "truncated",
	FaultOversize:    "oversize",
	FaultWrongSign:   "wrong_sign",
	FaultNoSign:      "no_sign",
	FaultDrop:        "drop",
	FaultBody:        "body",
}

// String returns the kind's name as logged, such as "wrong_sign".
func (k FaultKind) String() string {
	if k >= FaultLatency && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Forever is the Count of a Fault that applies to every request until
// [Server.ClearFaults].
const Forever = -1

// Fault is a misbehavior for [Server.Inject]. Only the fields that its
// Kind names matter, except Delay and Count, which apply to every kind.
type Fault struct {
	// Kind says what goes wrong.
	Kind FaultKind
	// Count is how many requests the fault affects: 0 means 1, [Forever]
	// (or any negative number) means every request.
	Count int
	// Delay holds each affected request for this long before anything
	// else happens, as a slow network would: if the client gives up
	// meanwhile, the request is dropped and the order untouched.
	Delay time.Duration
	// Status is the HTTP status of FaultStatus, FaultHTML and FaultBody.
	Status int
	// RetryAfter, for FaultStatus, sets the Retry-After header.
	RetryAfter time.Duration
	// Body is the answer of FaultBody.
	Body string
	// AfterClose makes an order-untouched kind (FaultStatus, FaultHTML,
	// FaultInvalidJSON, FaultBody, FaultDrop) strike after PAYJS handled
	// the close: the order is closed, as by a gateway that lost PAYJS's
	// answer. A client that asks again is told [MsgAlreadyClosed].
	AfterClose bool
}

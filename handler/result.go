package handler

import (
	"errors"
	"net/http"

	"github.com/payjs-close/payjs-close/payjs"
)

// Code is a machine-readable error code of a [Result]. Every code has a
// fixed HTTP status and says whether retrying the same request later may
// succeed.
type Code string

// The error codes of DESIGN.md.
const (
	CodeInvalidRequest       Code = "invalid_request"
	CodeInvalidOrderID       Code = "invalid_order_id"
	CodeUnsupportedEvent     Code = "unsupported_event"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodePayjsRejected        Code = "payjs_rejected"
	CodePayjsBadResponse     Code = "payjs_bad_response"
	CodePayjsUnavailable     Code = "payjs_unavailable"
	CodePayjsTimeout         Code = "payjs_timeout"
	CodeConfigUnavailable    Code = "config_unavailable"
)

// HTTPStatus is the status an HTTP caller sees for this code.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeInvalidRequest, CodeInvalidOrderID, CodeUnsupportedEvent:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case CodePayjsRejected:
		return http.StatusUnprocessableEntity
	case CodePayjsBadResponse:
		return http.StatusBadGateway
	case CodePayjsUnavailable, CodeConfigUnavailable:
		return http.StatusServiceUnavailable
	case CodePayjsTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Retryable reports whether the same request may succeed later.
func (c Code) Retryable() bool {
	switch c {
	case CodePayjsBadResponse, CodePayjsUnavailable, CodePayjsTimeout, CodeConfigUnavailable:
		return true
	}
	return false
}

// status is the coarse outcome of a failed close.
func (c Code) status() string {
	switch c {
	case CodePayjsRejected:
		return StatusRejected
	case CodePayjsBadResponse, CodePayjsUnavailable, CodePayjsTimeout, CodeConfigUnavailable:
		return StatusError
	}
	return StatusInvalid
}

// The values of Result.Status.
const (
	StatusClosed   = "closed"
	StatusInvalid  = "invalid"
	StatusRejected = "rejected"
	StatusError    = "error"
)

// Result is the normalized answer to one close request, the same for
// every event kind. It never holds a key, a signature, a stack trace or a
// raw upstream body.
type Result struct {
	OK           bool      `json:"ok"`
	Status       string    `json:"status"`
	PayjsOrderID string    `json:"payjs_order_id,omitempty"`
	Message      string    `json:"message"`
	Upstream     *Upstream `json:"upstream,omitempty"`
	Verified     bool      `json:"verified"`
	Attempts     int       `json:"attempts"`
	RequestID    string    `json:"request_id,omitempty"`
	Error        *Error    `json:"error,omitempty"`
}

// Upstream is what PAYJS answered, present whenever it answered.
type Upstream struct {
	ReturnCode int    `json:"return_code"`
	ReturnMsg  string `json:"return_msg"`
}

// Error describes why a Result is not ok.
type Error struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// failed returns a not-ok Result for code with a message for the caller.
func failed(code Code, msg string) Result {
	return Result{
		Status:  code.status(),
		Message: msg,
		Error:   &Error{Code: code, Message: msg, Retryable: code.Retryable()},
	}
}

// code returns the Result's error code, or "" when it is ok.
func (r *Result) code() Code {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

// fromPayjs maps the PAYJS client's answer to a Result.
func fromPayjs(id string, res *payjs.Result, err error) Result {
	if err == nil {
		return Result{
			OK:           true,
			Status:       StatusClosed,
			PayjsOrderID: id,
			Message:      res.ReturnMsg,
			Upstream:     &Upstream{ReturnCode: res.ReturnCode, ReturnMsg: res.ReturnMsg},
			Verified:     res.Verified,
			Attempts:     res.Attempts,
		}
	}
	var r Result
	var pe *payjs.Error
	if !errors.As(err, &pe) {
		r = failed(CodePayjsUnavailable, "PAYJS could not be reached")
	} else {
		switch pe.Kind {
		case payjs.KindRejected:
			r = failed(CodePayjsRejected, "PAYJS refused to close the order")
			if pe.Result != nil {
				r.Message = pe.Result.ReturnMsg
				r.Error.Message += ": " + pe.Result.ReturnMsg
			}
		case payjs.KindBadResponse:
			r = failed(CodePayjsBadResponse, "PAYJS answered with an invalid response: "+pe.Msg)
		case payjs.KindTimeout:
			r = failed(CodePayjsTimeout, "PAYJS did not answer within the time budget")
		case payjs.KindInvalidInput:
			r = failed(CodeInvalidOrderID, pe.Msg)
		default:
			r = failed(CodePayjsUnavailable, "PAYJS is unavailable: "+pe.Msg)
		}
		r.Attempts = pe.Attempts
		if pe.Result != nil {
			r.Upstream = &Upstream{ReturnCode: pe.Result.ReturnCode, ReturnMsg: pe.Result.ReturnMsg}
			r.Verified = pe.Result.Verified
		}
	}
	r.PayjsOrderID = id
	return r
}

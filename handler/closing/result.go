package closing

import (
	"cmp"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/payjs-close/payjs-close/payjs"
)

// Code is a machine-readable error code of a [Result]. Every code has a
// fixed HTTP status and says whether retrying the same request later may
// succeed; codeInfo lists them.
type Code string

// The error codes, as the README's table lists them.
const (
	CodeInvalidRequest       Code = "invalid_request"
	CodeInvalidOrderID       Code = "invalid_order_id"
	CodeUnsupportedEvent     Code = "unsupported_event"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeNotScheduled         Code = "not_scheduled"
	CodeOrderPaid            Code = "order_paid"
	CodePayjsRejected        Code = "payjs_rejected"
	CodeKeyMismatch          Code = "key_mismatch"
	CodeScheduleUnavailable  Code = "schedule_unavailable"
	CodePayjsBadResponse     Code = "payjs_bad_response"
	CodePayjsUnavailable     Code = "payjs_unavailable"
	CodePayjsTimeout         Code = "payjs_timeout"
	CodeConfigUnavailable    Code = "config_unavailable"
)

// codeInfo is each code's HTTP status, Result status and retryability.
var codeInfo = map[Code]struct {
	http      int
	status    string
	retryable bool
}{
	CodeInvalidRequest:       {http.StatusBadRequest, StatusInvalid, false},
	CodeInvalidOrderID:       {http.StatusBadRequest, StatusInvalid, false},
	CodeUnsupportedEvent:     {http.StatusBadRequest, StatusInvalid, false},
	CodeNotFound:             {http.StatusNotFound, StatusInvalid, false},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, StatusInvalid, false},
	CodePayloadTooLarge:      {http.StatusRequestEntityTooLarge, StatusInvalid, false},
	CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, StatusInvalid, false},
	CodeNotScheduled:         {http.StatusNotFound, StatusInvalid, false},
	CodeOrderPaid:            {http.StatusConflict, StatusPaid, false},
	CodePayjsRejected:        {http.StatusUnprocessableEntity, StatusRejected, false},
	CodeKeyMismatch:          {http.StatusServiceUnavailable, StatusError, true},
	CodeScheduleUnavailable:  {http.StatusServiceUnavailable, StatusError, true},
	CodePayjsBadResponse:     {http.StatusBadGateway, StatusError, true},
	CodePayjsUnavailable:     {http.StatusServiceUnavailable, StatusError, true},
	CodePayjsTimeout:         {http.StatusGatewayTimeout, StatusError, true},
	CodeConfigUnavailable:    {http.StatusServiceUnavailable, StatusError, true},
}

// HTTPStatus is the status an HTTP caller sees for this code.
func (c Code) HTTPStatus() int { return cmp.Or(codeInfo[c].http, http.StatusInternalServerError) }

// Retryable reports whether the same request may succeed later.
func (c Code) Retryable() bool { return codeInfo[c].retryable }

// The values of Result.Status.
const (
	StatusClosed        = "closed"
	StatusAlreadyClosed = "already_closed"
	StatusScheduled     = "scheduled"
	StatusCancelled     = "cancelled" //nolint:misspell // the contract's spelling
	StatusInvalid       = "invalid"
	StatusRejected      = "rejected"
	StatusPaid          = "paid"
	StatusError         = "error"
)

// Result is the normalized answer to one close request, the same for
// every event kind. It never holds a key, a signature, a stack trace or a
// raw upstream body.
type Result struct {
	OK           bool      `json:"ok"`
	Status       string    `json:"status"`
	PayjsOrderID string    `json:"payjs_order_id,omitempty"`
	Message      string    `json:"message"`
	CloseAt      string    `json:"close_at,omitempty"`
	Upstream     *Upstream `json:"upstream,omitempty"`
	Verified     bool      `json:"verified"`
	Attempts     int       `json:"attempts"`
	RequestID    string    `json:"request_id,omitempty"`
	Failure      *Failure  `json:"error,omitempty"`
	// MchID is the merchant whose key the close used, once the keys
	// named one: outcome events tell the shop, answers never carry it.
	MchID string `json:"-"`
}

// Upstream is what PAYJS answered, present whenever it answered.
type Upstream struct {
	ReturnCode int    `json:"return_code"`
	ReturnMsg  string `json:"return_msg"`
}

// Failure says why a Result is not ok: the "error" member of its JSON.
type Failure struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Code returns the Result's error code, or "" when it is ok.
func (r *Result) Code() Code {
	if r.Failure == nil {
		return ""
	}
	return r.Failure.Code
}

// Retryable reports whether r failed in a way that retrying may mend.
func (r *Result) Retryable() bool { return r.Failure != nil && r.Failure.Retryable }

// Error is a failed request: a code, a message for the caller, and the
// cause for the log (never shown to the caller). Every step of a request
// reports its failures as an *Error; [ErrorCode] reads the code back.
type Error struct {
	Code    Code
	Message string
	// Upstream is what PAYJS answered, when it answered.
	Upstream *Upstream
	// Cause is logged, never answered. It never holds a key: the secret
	// and payjs packages keep keys out of their errors.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Cause.Error()
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with code and msg.
func Errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// ErrorCode returns the code of the first *Error in err's chain: "" for
// nil, and [CodePayjsUnavailable] for an error that carries none.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodePayjsUnavailable
}

// Failed is the Result of a request that failed with err.
func Failed(err error) Result {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodePayjsUnavailable, Message: "PAYJS could not be reached", Cause: err}
	}
	info := codeInfo[e.Code]
	return Result{
		Status:   info.status,
		Message:  e.Message,
		Upstream: e.Upstream,
		Failure:  &Failure{Code: e.Code, Message: e.Message, Retryable: info.retryable},
	}
}

// ClipUTF8 cuts s to at most n bytes without splitting a character.
func ClipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RFC3339 formats t as the results and schedules show it: UTC, seconds.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// The errors of what the Service consumes, matched with errors.Is. The
// functions below give them, and PAYJS's, their codes: the one place
// that does.
var (
	// ErrKeysUnavailable: Keys could not load any key (yet).
	ErrKeysUnavailable = errors.New("the merchant keys could not be loaded")
	// ErrMchIDRequired: the request named no mchid, but the keys are
	// several merchants'.
	ErrMchIDRequired = errors.New("mchid required: the secret holds several merchants")
	// ErrUnknownMerchant: the request's mchid is not among the keys.
	ErrUnknownMerchant = errors.New("unknown merchant")
	// ErrNotScheduled is what a Scheduler's Cancel returns when no close
	// is scheduled for the order.
	ErrNotScheduled = errors.New("no close is scheduled for the order")
	// ErrSchedulerRefused: the Scheduler refused the request, or would,
	// until the configuration is fixed: access denied, a missing
	// schedule group, a request it finds invalid (the close queue's ARN
	// unset included), credentials it does not accept.
	ErrSchedulerRefused = errors.New("the scheduler refused the request")
	// ErrSchedulerUnavailable: the Scheduler throttled, failed or did not
	// answer in time; asking again later may succeed.
	ErrSchedulerUnavailable = errors.New("the scheduler is unavailable")
)

// dependencyError gives an error of what the Service consumes, [Keys] or
// [Scheduler], its code and message; otherwise is the code and message
// of an error that matches none of the sentinels above.
//
// A merchant the keys do not hold is the request naming it wrongly
// (invalid_request), except for a scheduled close: its merchant was
// checked when it was scheduled, so a merchant gone since is a
// configuration gone wrong, retried (config_unavailable) until it is
// fixed or the message reaches the dead-letter queue. An *Error keeps
// its code: cmd/local's stand-in Scheduler answers with one.
func dependencyError(err error, req Request, otherwise Error) error {
	noMerchant := errors.Is(err, ErrMchIDRequired) || errors.Is(err, ErrUnknownMerchant)
	var e *Error
	switch {
	case errors.Is(err, ErrNotScheduled):
		return &Error{Code: CodeNotScheduled, Message: "no close is scheduled for this order", Cause: err}
	case errors.Is(err, ErrSchedulerRefused):
		return &Error{Code: CodeConfigUnavailable, Message: "EventBridge Scheduler refused the schedule: check PAYJS_SCHEDULE_GROUP, PAYJS_SCHEDULE_ROLE_ARN, PAYJS_SCHEDULE_TARGET_ARN and the function's permissions", Cause: err}
	case errors.Is(err, ErrSchedulerUnavailable):
		return &Error{Code: CodeScheduleUnavailable, Message: schedulerUnavailable.Message, Cause: err}
	case noMerchant && req.Scheduled:
		return &Error{Code: CodeConfigUnavailable, Message: "the scheduled close's merchant is not in the secret any more; restore it, or the close reaches the dead-letter queue", Cause: err}
	case errors.Is(err, ErrMchIDRequired):
		return Errorf(CodeInvalidRequest, "mchid is required: the secret holds several merchants")
	case errors.Is(err, ErrUnknownMerchant):
		return Errorf(CodeInvalidRequest, "mchid is not a merchant this function holds a key for")
	case errors.As(err, &e):
		return err
	}
	return &Error{Code: otherwise.Code, Message: otherwise.Message, Cause: err}
}

// The answers to the errors of Keys and of the Scheduler that
// dependencyError does not know.
var (
	keysUnavailable      = Error{Code: CodeConfigUnavailable, Message: "the PAYJS key could not be loaded; try again later"}
	merchantUnchecked    = Error{Code: CodeConfigUnavailable, Message: "the PAYJS key could not be loaded, so the merchant cannot be checked; try again later"}
	schedulerUnavailable = Error{Code: CodeScheduleUnavailable, Message: "EventBridge Scheduler is unavailable; try again later"}
)

// fromPayjs maps the PAYJS client's answer to a Result or an *Error.
// PAYJS's message is clipped, whatever the Closer did with it.
func fromPayjs(pr *payjs.Result, err error) (Result, error) {
	var pe *payjs.Error
	if err != nil && !errors.As(err, &pe) {
		return Result{}, &Error{Code: CodePayjsUnavailable, Message: "PAYJS could not be reached", Cause: err}
	}
	if pe != nil {
		pr = pe.Result // what PAYJS answered, if it answered
	}
	res := Result{OK: true, Status: StatusClosed}
	if pr != nil {
		res.Message, res.Verified, res.Attempts = ClipUTF8(pr.ReturnMsg, payjs.MaxMessageBytes), pr.Verified, pr.Attempts
		res.Upstream = &Upstream{ReturnCode: pr.ReturnCode, ReturnMsg: res.Message}
	}
	if pe == nil {
		return res, nil
	}
	res.Attempts = pe.Attempts
	e := &Error{Upstream: res.Upstream, Cause: err}
	switch pe.Kind {
	case payjs.KindAlreadyClosed:
		res.Status = StatusAlreadyClosed
		return res, nil
	case payjs.KindPaid:
		e.Code, e.Message = CodeOrderPaid, "the order is paid and cannot be closed: deliver or refund it"
	case payjs.KindKeyMismatch:
		e.Code, e.Message = CodeKeyMismatch, "PAYJS rejected the signature: the secret's key is not the merchant's key at PAYJS"
	case payjs.KindRejected:
		e.Code, e.Message = CodePayjsRejected, "PAYJS refused to close the order: "+res.Message
	case payjs.KindBadResponse:
		e.Code, e.Message = CodePayjsBadResponse, "PAYJS answered with an invalid response: "+pe.Msg
	case payjs.KindTimeout:
		e.Code, e.Message = CodePayjsTimeout, "PAYJS did not answer within the time budget"
	case payjs.KindInvalidInput:
		e.Code, e.Message = CodeInvalidOrderID, pe.Msg
	default:
		e.Code, e.Message = CodePayjsUnavailable, "PAYJS is unavailable: "+pe.Msg
	}
	return res, e
}

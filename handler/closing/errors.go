package closing

import (
	"errors"

	"github.com/payjs-close/payjs-close/payjs"
)

// The errors of [Keys], matched with errors.Is; keysError gives them
// their codes.
var (
	// ErrKeysUnavailable: no key could be loaded (yet).
	ErrKeysUnavailable = errors.New("the merchant keys could not be loaded")
	// ErrMchIDRequired: the request named no mchid, but the keys are
	// several merchants'.
	ErrMchIDRequired = errors.New("mchid required: the secret holds several merchants")
	// ErrUnknownMerchant: the request's mchid is not among the keys.
	ErrUnknownMerchant = errors.New("unknown merchant")
)

// This file maps the errors of what the Service consumes (Keys, the
// Scheduler, PAYJS) to codes: the one place that does.

// keysError gives an error of [Keys] its code. A merchant the keys do not
// hold is the request naming it wrongly (invalid_request), except for a
// scheduled close: its merchant was checked when it was scheduled, so a
// merchant gone since is a configuration gone wrong, retried
// (config_unavailable) until it is fixed or the message reaches the
// dead-letter queue. Any other failure is config_unavailable with
// unavailable as its message.
func keysError(err error, req Request, unavailable string) error {
	noMerchant := errors.Is(err, ErrMchIDRequired) || errors.Is(err, ErrUnknownMerchant)
	switch {
	case !noMerchant:
		return &Error{Code: CodeConfigUnavailable, Message: unavailable, Cause: err}
	case req.Scheduled:
		return &Error{Code: CodeConfigUnavailable, Message: "the scheduled close's merchant is not in the secret any more; restore it, or the close reaches the dead-letter queue", Cause: err}
	case errors.Is(err, ErrMchIDRequired):
		return Errorf(CodeInvalidRequest, "mchid is required: the secret holds several merchants")
	}
	return Errorf(CodeInvalidRequest, "mchid is not a merchant this function holds a key for")
}

// schedulerError gives a Scheduler's error its code: not_scheduled for
// [ErrNotScheduled], the code an *Error carries, else
// schedule_unavailable.
func schedulerError(err error) error {
	var e *Error
	switch {
	case errors.Is(err, ErrNotScheduled):
		return &Error{Code: CodeNotScheduled, Message: "no close is scheduled for this order", Cause: err}
	case errors.As(err, &e):
		return err
	}
	return &Error{Code: CodeScheduleUnavailable, Message: "EventBridge Scheduler is unavailable; try again later", Cause: err}
}

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

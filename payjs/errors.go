package payjs

import (
	"errors"
	"fmt"
)

// Kind classifies a failed close so that callers can decide what to answer
// and whether to retry without matching on error strings.
type Kind string

// The kinds of failure a [Client] reports.
const (
	// KindInvalidInput: the request was refused before any network call
	// (malformed order id, unusable key, bad base URL).
	KindInvalidInput Kind = "invalid_input"
	// KindRejected: PAYJS answered return_code 0. Never retried.
	KindRejected Kind = "rejected"
	// KindBadResponse: PAYJS answered something that is not a well-formed,
	// correctly signed close response (HTML, invalid or truncated JSON,
	// wrong shape, wrong signature, or a required signature missing).
	KindBadResponse Kind = "bad_response"
	// KindUnavailable: PAYJS could not be reached, or kept answering HTTP
	// 5xx or 429, for every attempt the time budget allowed.
	KindUnavailable Kind = "unavailable"
	// KindTimeout: no answer within the time budget or the context deadline.
	KindTimeout Kind = "timeout"
)

// Retryable reports whether a failure of this kind may succeed if the
// whole close is tried again later.
func (k Kind) Retryable() bool {
	switch k {
	case KindBadResponse, KindUnavailable, KindTimeout:
		return true
	}
	return false
}

// Error is the error type of every failure this package reports.
// Use [errors.As] or [KindOf] to classify it.
//
// Its message never holds the key or a signature.
type Error struct {
	// Kind classifies the failure.
	Kind Kind
	// Msg says what went wrong, in lower case, without secrets.
	Msg string
	// Result holds what PAYJS answered when it answered with a parseable
	// close response (always for KindRejected); nil otherwise.
	Result *Result
	// Attempts is the number of HTTP requests made (0 when the close was
	// refused before any network call).
	Attempts int
	// Err is the underlying cause, if any.
	Err error

	// final marks a failure of a retryable kind that asking again within
	// the same close cannot mend (a certificate that does not verify).
	final bool
}

func (e *Error) Error() string {
	msg := "payjs: " + e.Msg
	if e.Err != nil && !errors.Is(e.Err, ErrUnusableKey) {
		msg = fmt.Sprintf("%s: %v", msg, e.Err)
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or "" when
// there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

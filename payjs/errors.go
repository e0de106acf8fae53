package payjs

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a failed close so that callers can decide what to answer
// and whether to retry without matching on error strings.
type Kind string

// The kinds of failure a [Client] reports. The four kinds of a
// return_code 0 answer come from [Refusals].
const (
	// KindInvalidInput: refused before any network call (malformed order
	// id, unusable key, bad base URL).
	KindInvalidInput Kind = "invalid_input"
	// KindAlreadyClosed: PAYJS says the order was closed before (perhaps
	// by a close whose answer was lost): a caller may count it as closed.
	KindAlreadyClosed Kind = "already_closed"
	// KindPaid: PAYJS says the order is paid; it can never be closed.
	KindPaid Kind = "paid"
	// KindKeyMismatch: PAYJS rejected the request's signature: the key is
	// not the merchant's. Retryable once the key is fixed.
	KindKeyMismatch Kind = "key_mismatch"
	// KindRejected: any other return_code 0 answer.
	KindRejected Kind = "rejected"
	// KindBadResponse: not a well-formed, correctly signed close response
	// (HTML, bad JSON or shape, wrong or required but missing signature).
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
	return k == KindKeyMismatch || k == KindBadResponse || k == KindUnavailable || k == KindTimeout
}

// Refusal names a kind of return_code 0 answer by a Marker in its message.
type Refusal struct {
	Marker string
	Kind   Kind
}

// Refusals classifies return_code 0 answers: the first entry whose Marker
// the message holds gives the Kind; any other message is [KindRejected].
// Short stable parts ("订单已关闭" holds "已关闭") still match a reworded
// message, and an unknown one stays a final KindRejected. Package
// payjstest answers with messages this table classifies. Read-only.
var Refusals = [...]Refusal{
	{Marker: "已支付", Kind: KindPaid},
	{Marker: "已关闭", Kind: KindAlreadyClosed},
	{Marker: "签名", Kind: KindKeyMismatch},
}

// RefusalKind returns the Kind, by [Refusals], of a return_code 0 answer
// whose message is msg.
func RefusalKind(msg string) Kind {
	for _, r := range Refusals {
		if strings.Contains(msg, r.Marker) {
			return r.Kind
		}
	}
	return KindRejected
}

// Error is the error type of every failure this package reports; use
// [errors.As] or [KindOf] to classify it. Its message never holds the key
// or a signature.
type Error struct {
	// Kind classifies the failure.
	Kind Kind
	// Msg says what went wrong, in lower case, without secrets.
	Msg string
	// Result is PAYJS's answer for the kinds of a return_code 0 answer
	// (see [Refusals]); nil for the others.
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

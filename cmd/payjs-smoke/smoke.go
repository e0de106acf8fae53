package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// smoke closes orders through the function's own handler, so that what it
// prints as the function's reading is what the function answers, and taps
// the handler's PAYJS client to show what PAYJS sent: the function's
// Result keeps PAYJS's message, but clipped, and not beside a failure that
// carries no answer.
type smoke struct {
	h       *handler.Handler
	answers []answer // PAYJS's answers during the current close
}

// answer is one PAYJS answer as the function's client parsed it.
type answer struct {
	res *payjs.Result // PAYJS's fields; nil when there was no usable answer
	err error         // the client's error, if any
}

func newSmoke(k keys, baseURL string, timeout time.Duration) *smoke {
	s := &smoke{}
	hc := payjs.NewHTTPClient()
	s.h = handler.New(handler.Deps{
		Keys: k.src,
		NewCloser: func(key string) (closing.Closer, error) {
			c, err := payjs.NewClient(key, payjs.WithBaseURL(baseURL), payjs.WithHTTPClient(hc), payjs.WithTimeout(timeout))
			if err != nil {
				return nil, err
			}
			return tap{c: c, s: s}, nil
		},
		Budget: timeout,
	})
	return s
}

// tap is the core's Closer: the function's PAYJS client, its
// answers recorded.
type tap struct {
	c *payjs.Client
	s *smoke
}

func (t tap) CloseOrder(ctx context.Context, id string) (*payjs.Result, error) {
	res, err := t.c.CloseOrder(ctx, id)
	a := answer{res: res, err: err}
	var pe *payjs.Error
	if errors.As(err, &pe) {
		a.res = pe.Result
	}
	t.s.answers = append(t.s.answers, a)
	return res, err
}

// outcome is one close: PAYJS's answers and the function's Result.
type outcome struct {
	answers []answer
	res     closing.Result
}

// close asks the function, as a direct invoke would, to close the order.
func (s *smoke) close(ctx context.Context, order, mchid string) (outcome, error) {
	s.answers = nil
	event, err := json.Marshal(map[string]string{"payjs_order_id": order, "mchid": mchid})
	if err != nil {
		return outcome{}, err
	}
	body, err := s.h.Invoke(ctx, event)
	// A retryable failure comes back as a Lambda error that carries the
	// Result, so that Lambda's retries take over.
	var le messages.InvokeResponse_Error
	if errors.As(err, &le) {
		body, err = []byte(le.Message), nil
	}
	if err != nil {
		return outcome{}, fmt.Errorf("the function failed: %w", err)
	}
	o := outcome{answers: s.answers}
	if err := json.Unmarshal(body, &o.res); err != nil {
		return outcome{}, fmt.Errorf("the function's answer is not a Result: %w", err)
	}
	return o, nil
}

// code returns the function's error code, or "" when the close was ok.
func (o outcome) code() closing.Code {
	if o.res.Failure == nil {
		return ""
	}
	return o.res.Failure.Code
}

// classification is the function's reading: "closed", or "paid/order_paid".
func (o outcome) classification() string {
	if o.res.OK {
		return o.res.Status
	}
	return o.res.Status + "/" + string(o.code())
}

// last is PAYJS's answer the function acted on; nil when none was usable.
func (o outcome) last() *payjs.Result {
	if len(o.answers) == 0 {
		return nil
	}
	return o.answers[len(o.answers)-1].res
}

// rejectedUnknown reports whether PAYJS refused with a message the
// function does not know (payjs_rejected is its "anything else").
func (o outcome) rejectedUnknown() bool { return o.code() == closing.CodePayjsRejected }

// maxShown bounds PAYJS's message in the report.
const maxShown = 512

func (o outcome) print(w *strings.Builder, name string) {
	fmt.Fprintf(w, "%s:\n", name)
	if len(o.answers) == 0 {
		fmt.Fprintln(w, "  PAYJS:     not asked")
	}
	for _, a := range o.answers {
		if a.res == nil {
			why := "no answer"
			var pe *payjs.Error
			if errors.As(a.err, &pe) {
				why = "no usable answer: " + pe.Msg // never holds a key, a signature or the body
			}
			fmt.Fprintf(w, "  PAYJS:     %s\n", why)
			continue
		}
		sig := "verified"
		if !a.res.Verified {
			sig = "absent (not verified)"
		}
		fmt.Fprintf(w, "  PAYJS:     return_code %d, return_msg %s, signature %s\n", a.res.ReturnCode, quote(a.res.ReturnMsg), sig)
	}
	fmt.Fprintf(w, "  function:  %s", o.classification())
	if o.res.Failure != nil {
		retry := "not retried"
		if o.res.Failure.Retryable {
			retry = "retryable"
		}
		fmt.Fprintf(w, " (%s): %s", retry, o.res.Failure.Message)
	}
	fmt.Fprintln(w)
}

// quote shows PAYJS's message as Go quotes it (Chinese stays readable,
// control characters do not reach the terminal), cut at maxShown bytes.
func quote(msg string) string {
	if len(msg) <= maxShown {
		return strconv.Quote(msg)
	}
	n := maxShown
	for n > 0 && msg[n]&0xC0 == 0x80 { // not in the middle of a character
		n--
	}
	return strconv.Quote(msg[:n]) + fmt.Sprintf("... (%d bytes in all)", len(msg))
}

// verdict says what the two closes tell about the function's reading of
// PAYJS, and returns nil only when they confirm it.
func verdict(w *strings.Builder, first, second outcome) error {
	switch {
	case second.res.Status == closing.StatusAlreadyClosed:
		fmt.Fprintln(w, "MATCH: the function reads PAYJS's answers as expected: the order is closed, and closing it")
		fmt.Fprintln(w, "again is read as already_closed, a success. Nothing to report.")
		return nil

	case second.rejectedUnknown() || (first.res.Status == closing.StatusClosed && second.last() != nil):
		loud(w, second, first.res.Status == closing.StatusClosed)
		return errors.New("PAYJS's wording differs from what the function expects: please report it")

	case second.code() == closing.CodeOrderPaid:
		fmt.Fprintln(w, "PAID: the order is paid, and the function reads PAYJS's answer as paid/order_paid, as expected.")
		fmt.Fprintln(w, "The already-closed message was not checked: create an unpaid order and run again.")
		return errors.New("check incomplete: the order is paid")

	case second.code() == closing.CodeKeyMismatch:
		fmt.Fprintln(w, "KEY: PAYJS rejected the signature, and the function reads it as error/key_mismatch, as expected.")
		fmt.Fprintln(w, "The key is not this merchant's key at PAYJS: check the key and PAYJS_MCHID, then run again.")
		return errors.New("check incomplete: PAYJS rejected the key")
	}
	fmt.Fprintf(w, "NO ANSWER: PAYJS's messages were not checked: %s\n", second.res.Message)
	return errors.New("check incomplete: PAYJS gave no usable answer; run again")
}

// loud reports an answer the function does not read as PAYJS means it.
func loud(w *strings.Builder, second outcome, closedFirst bool) {
	msg := "(none)"
	code := "?"
	if r := second.last(); r != nil {
		msg, code = quote(r.ReturnMsg), strconv.Itoa(r.ReturnCode)
	}
	bar := "!!! "
	fmt.Fprintln(w, bar+"MISMATCH: PAYJS's wording differs from what the function expects.")
	fmt.Fprintf(w, bar+"PAYJS answered the second close with return_code %s, return_msg %s,\n", code, msg)
	fmt.Fprintf(w, bar+"which the function reads as %s, not already_closed.\n", second.classification())
	if closedFirst {
		fmt.Fprintln(w, bar+"The first close closed the order, so this is PAYJS's \"already closed\" answer: in production,")
		fmt.Fprintln(w, bar+"a repeated close (a retry after a lost answer) would be reported as a failure.")
	} else {
		fmt.Fprintln(w, bar+"If this message only means the order does not exist or is too old, create a new unpaid")
		fmt.Fprintln(w, bar+"order and run again. If it means closed, paid or a bad signature, the function misreads it.")
	}
	fmt.Fprintln(w, bar+"Please report it to the payjs-close maintainers with this output (it holds no key or signature).")
}

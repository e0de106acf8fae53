package handler

import "github.com/payjs-close/payjs-close/handler/closing"

// A scheduled close is a close the function arranged itself: when it was
// scheduled, the order id was valid and the merchant known, so a failure
// it meets when it fires for a reason of configuration is retried, not
// dropped, and finding the order paid is the customer paying in time,
// which pages nobody (no PaidOrders).
//
// Only the function marks a close as scheduled. Its schedules send the
// close queue a body of the form
//
//	{"payjs_order_id": "...", "mchid": "...", "scheduled": true}
//
// and "scheduled": true is honored there only: at the top level of an
// SQS record body that is a plain close request. The close queue's policy
// admits the EventBridge rule, whose bodies are EventBridge events, and
// the Scheduler role; any other sender needs IAM sqs:SendMessage on the
// queue, that is, it is an operator. Everywhere else a caller reaches
// (HTTP API, REST API, Function URL, an EventBridge event's detail,
// whether invoked directly or delivered through the queue, and direct
// invokes) the member is refused by fromOutside.

// fromOutside refuses a request, read from a way in open to callers,
// that claims to be a scheduled close: 400 invalid_request naming the
// field. err is the reading's error, passed through.
func fromOutside(req closing.Request, err error) (closing.Request, error) {
	if err == nil && req.Scheduled {
		req.Scheduled = false
		return req, closing.Errorf(closing.CodeInvalidRequest, `scheduled may not be set: it marks the function's own scheduled closes; remove it`)
	}
	return req, err
}

package closing

import (
	"time"

	"github.com/payjs-close/payjs-close/payjs"
)

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

// maxScheduleAhead is how far ahead a close may be scheduled: PAYJS closes
// only orders up to 30 days old.
const maxScheduleAhead = 30 * 24 * time.Hour

// validate checks a Request before any network call and returns when its
// close is due: the zero time means now, as for a time within closeNow.
// Valid ids, order ids and mchids alike, are [0-9A-Za-z]{1,32}
// (payjs.ValidOrderID, the one check of that alphabet), so no value can
// smuggle a separator into the string PAYJS signs.
func (r Request) validate(now time.Time, closeNow time.Duration) (at time.Time, err error) {
	switch {
	case r.PayjsOrderID == "":
		return at, Errorf(CodeInvalidRequest, "payjs_order_id is required")
	case !payjs.ValidOrderID(r.PayjsOrderID):
		return at, Errorf(CodeInvalidOrderID, "payjs_order_id must be 1 to 32 characters of [0-9A-Za-z]")
	case r.MchID != "" && !payjs.ValidOrderID(r.MchID):
		return at, Errorf(CodeInvalidRequest, "mchid must be 1 to 32 characters of [0-9A-Za-z]")
	case r.CloseAt != "" && r.CloseAfter != "":
		return at, Errorf(CodeInvalidRequest, "give close_at or close_after, not both")
	case r.Cancel && (r.CloseAt != "" || r.CloseAfter != ""):
		return at, Errorf(CodeInvalidRequest, "a cancel takes no close_at or close_after")
	case r.CloseAt != "":
		if at, err = parseCloseAt(r.CloseAt); err != nil {
			return at, err
		}
	case r.CloseAfter != "":
		d, err := time.ParseDuration(r.CloseAfter)
		if err != nil {
			return at, Errorf(CodeInvalidRequest, "close_after must be a duration such as 15m or 2h")
		}
		at = now.Add(d)
	}
	switch {
	case at.IsZero():
	case at.Sub(now) > maxScheduleAhead:
		return time.Time{}, Errorf(CodeInvalidRequest, "a close may be scheduled at most 30 days ahead: PAYJS closes only orders up to 30 days old")
	case at.Sub(now) <= closeNow:
		at = time.Time{} // due within a minute, or past: close now
	}
	return at, nil
}

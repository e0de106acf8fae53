package payjstest

import (
	"fmt"
	"time"
)

// State is where an order stands.
type State int

// The states of an order. Only an unpaid order can be closed.
const (
	// StateUnpaid: created, not paid; a close closes it.
	StateUnpaid State = iota
	// StatePaid: paid; a close is refused with [MsgAlreadyPaid].
	StatePaid
	// StateClosed: closed; a close is refused with [MsgAlreadyClosed].
	StateClosed
)

// String returns "unpaid", "paid" or "closed".
func (s State) String() string {
	switch s {
	case StateUnpaid:
		return "unpaid"
	case StatePaid:
		return "paid"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Order is a PAYJS order as the simulator holds it.
type Order struct {
	// ID is the PAYJS order id (payjs_order_id).
	ID string
	// MchID is the merchant the order belongs to; its key signs and
	// verifies every message about the order.
	MchID string
	// Created is when the order was made; PAYJS closes orders only within
	// [CloseWindow] of it. Zero means "now" when the order is added.
	Created time.Time
	// State is where the order stands.
	State State
	// FailStatus, when not zero, is the HTTP status the server answers to
	// every close of this order, before looking at anything else: an
	// outage that only this order sees. The demo order
	// [DemoOrderUnavailable] has 503.
	FailStatus int
}

// CloseWindow is how old an order may be and still be closed: PAYJS
// closes orders "within 30 days" (30天以内的订单).
const CloseWindow = 30 * 24 * time.Hour

// Verdict returns how PAYJS answers a correctly signed close of o at now:
// [OutcomeClosed] and [MsgSuccess] for an unpaid order within
// [CloseWindow], otherwise the refusal and its return_msg. FailStatus is
// not looked at: the server answers it before anything else.
func (o Order) Verdict(now time.Time) (Outcome, string) {
	switch {
	case o.State == StatePaid:
		return OutcomeAlreadyPaid, MsgAlreadyPaid
	case o.State == StateClosed:
		return OutcomeAlreadyClosed, MsgAlreadyClosed
	case now.Sub(o.Created) > CloseWindow:
		return OutcomeExpired, MsgExpired
	}
	return OutcomeClosed, MsgSuccess
}

// Age is how many whole days old o is at now.
func (o Order) Age(now time.Time) int { return int(now.Sub(o.Created) / (24 * time.Hour)) }

// The demo data of the project contract: the standalone simulator, local
// runs, the sample events and the end-to-end tests all use exactly these.
const (
	// DemoMchID is the demo merchant.
	DemoMchID = "1528140051"
	// DemoKey is the demo merchant's key. It is public and local: never
	// a real PAYJS key.
	DemoKey = "payjs-close-local-demo-key"
	// DemoOrderPaid is paid: closing it is refused with [MsgAlreadyPaid].
	DemoOrderPaid = "2026112500000000000000000010"
	// DemoOrderClosed is closed: closing it is refused with
	// [MsgAlreadyClosed].
	DemoOrderClosed = "2026112500000000000000000011"
	// DemoOrderExpired was created 40 days ago: closing it is refused
	// with [MsgExpired].
	DemoOrderExpired = "2026112500000000000000000012"
	// DemoOrderUnavailable is answered HTTP 503 every time.
	DemoOrderUnavailable = "2026112500000000000000000503"
)

// DemoOrderUnpaid returns the id of the demo's unpaid (closable) order n,
// 1 to 9: "2026112500000000000000000001" to "...0009". It panics for any
// other n.
func DemoOrderUnpaid(n int) string {
	if n < 1 || n > 9 {
		panic("payjstest: DemoOrderUnpaid: n must be 1 to 9")
	}
	return fmt.Sprintf("20261125%020d", n)
}

// DemoOrders returns the demo orders as they stand before any close, all
// of merchant [DemoMchID], for a clock reading now: nine unpaid orders
// created an hour ago ([DemoOrderUnpaid] 1 to 9), [DemoOrderPaid],
// [DemoOrderClosed], [DemoOrderExpired] (created 40 days ago) and
// [DemoOrderUnavailable] (unpaid, always answered HTTP 503).
func DemoOrders(now time.Time) []Order {
	recent := now.Add(-time.Hour)
	var out []Order
	for n := 1; n <= 9; n++ {
		out = append(out, Order{ID: DemoOrderUnpaid(n), MchID: DemoMchID, Created: recent, State: StateUnpaid})
	}
	return append(out,
		Order{ID: DemoOrderPaid, MchID: DemoMchID, Created: recent, State: StatePaid},
		Order{ID: DemoOrderClosed, MchID: DemoMchID, Created: recent, State: StateClosed},
		Order{ID: DemoOrderExpired, MchID: DemoMchID, Created: now.Add(-40 * 24 * time.Hour), State: StateUnpaid},
		Order{ID: DemoOrderUnavailable, MchID: DemoMchID, Created: recent, State: StateUnpaid, FailStatus: 503},
	)
}

package closing

import "testing"

// TestEnvelopeMembersAreNoNearMiss: the members that envelopes and
// callers' own data commonly carry beside a request are no typo of a
// request field, so they stay ignored.
func TestEnvelopeMembersAreNoNearMiss(t *testing.T) {
	for _, name := range []string{
		"version", "source", "id", "detail-type", "detail", "time", "region", "resources", "account", "Records",
		"order", "amount", "status", "note", "requestContext", "messageId", "body", "headers", "path", "resource",
		"schedule_time", "execution", "input", "orderId", "order_id", "created_at", "updated_at", "paid", "mch", "reason",
		// A shop's own order data, near a field's name but no misspelling of it.
		"scheduled_at", "schedule_id", "rescheduled", "schedule", "closed_at", "closedAt", "closed", "close", "close_by",
		"actions", "Payload", "Input", "TaskToken",
	} {
		if got := nearMiss(name, requestFields); got != "" {
			t.Errorf("nearMiss(%q) = %q, want none", name, got)
		}
	}
}

func TestNearMiss(t *testing.T) {
	cases := map[string]string{
		"closeAfter": "close_after", "CLOSE_AFTER": "close_after", "close-at": "close_at", "closeat": "close_at",
		"Close_At": "close_at", "PAYJS_ORDER_ID": "payjs_order_id", "payjsOrderId": "payjs_order_id", "MchId": "mchid",
		"mch_id": "mchid", "Scheduled": "scheduled", "schedueld": "", "cloe_at": "close_at",
		"close_after": "", "mchid": "", "closeafterwards": "", "order": "", "": "",
		"close after": "close_after", "close_after ": "close_after", "close_afer": "close_after", "cloze_at": "close_at",
		"cloſe_after":    "close_after", // 'ſ' is two bytes: a distance of 2 from 's'
		"paysj_order_id": "payjs_order_id", "mchids": "mchid", "mchd": "mchid", "actoin": "", "acton": "action",
		"cl\u212Ase_at": "", // a Kelvin sign is three bytes: too far from a k
	}
	for name, want := range cases {
		if got := nearMiss(name, requestFields); got != want {
			t.Errorf("nearMiss(%q) = %q, want %q", name, got, want)
		}
	}
}

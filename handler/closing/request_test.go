package closing

import "testing"

func TestNearMiss(t *testing.T) {
	cases := map[string]string{
		"closeAfter": "close_after", "CLOSE_AFTER": "close_after", "close-at": "close_at", "closeat": "close_at",
		"Close_At": "close_at", "PAYJS_ORDER_ID": "payjs_order_id", "payjsOrderId": "payjs_order_id", "MchId": "mchid",
		"mch_id": "mchid", "Scheduled": "scheduled",
		"close_after": "", "mchid": "", "closeafterwards": "", "order": "", "": "", "close after": "",
		"cl\u212Ase_at": "", // a Kelvin sign is not a k, nor an ASCII letter
	}
	for name, want := range cases {
		if got := nearMiss(name, requestFields); got != want {
			t.Errorf("nearMiss(%q) = %q, want %q", name, got, want)
		}
	}
}

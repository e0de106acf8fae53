package handler

import (
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/handler/closing"
)

// TestCloseAtIsRFC3339Exactly: close_at is an RFC 3339 date-time, no
// more and no less, on the way in; a refusal says what was wrong, and
// nothing is closed or scheduled.
func TestCloseAtIsRFC3339Exactly(t *testing.T) {
	const prefix = "close_at must be an RFC 3339 time such as 2026-11-29T12:00:00Z: "
	cases := []struct {
		closeAt string
		at      string // the schedule's time, UTC; "" = refused
		problem string
	}{
		{"2026-11-29T13:00:00Z", "2026-11-29T13:00:00Z", ""},
		{"2026-11-29t13:00:00z", "2026-11-29T13:00:00Z", ""},
		{"2026-11-29T13:00:00.5Z", "2026-11-29T13:00:00Z", ""},
		{"2026-11-29T13:00:00.123456789123Z", "2026-11-29T13:00:00Z", ""},
		{"2026-11-29T20:30:00+08:00", "2026-11-29T12:30:00Z", ""},
		{"2026-11-30T12:30:00+23:59", "2026-11-29T12:31:00Z", ""},
		{"2026-11-28T13:00:00-23:59", "2026-11-29T12:59:00Z", ""},
		{"2026-12-01T00:00:00-00:00", "2026-12-01T00:00:00Z", ""},
		{"2026-11-29T12:15:00+24:00", "", "offset +24:00 is out of range (at most ±23:59)"},
		{"2026-11-29T12:15:00-24:00", "", "offset -24:00 is out of range (at most ±23:59)"},
		{"2026-11-29T12:15:00+08:60", "", "offset +08:60 is out of range (at most ±23:59)"},
		{"2026-11-29T12:15:00,5Z", "", "use '.' before fractional seconds"},
		{"2026-11-29T12:15:00.Z", "", "fractional seconds need a digit after '.'"},
		{"2026-11-29T12:15:00+0800", "", "the offset must be ±hh:mm, such as +08:00"},
		{"2026-11-29T12:15:00+8:00", "", "the offset must be ±hh:mm, such as +08:00"},
		{"2026-11-29T12:15:00", "", "the time zone is missing: end with Z or an offset such as +08:00"},
		{"2026-11-29T12:15:00 CST", "", "the time zone must be Z or an offset such as +08:00"},
		{"2026-11-29T12:15:00Z ", "", "unexpected text after the time zone"},
		{"2026-11-29T12:15:00+08:00:00", "", "unexpected text after the time zone"},
		{"2026-11-29 12:15:00Z", "", "separate the date and the time with 'T'"},
		{"2026-11-29", "", "the time is missing: give a date, 'T', a time and a time zone"},
		{"2026-11-29T12:15Z", "", "the time must be hh:mm:ss"},
		{"26-11-29T12:15:00Z", "", "the date must be YYYY-MM-DD"},
		{"２０２６-11-29T12:15:00Z", "", "the date must be YYYY-MM-DD"},
		{"tomorrow", "", "the date must be YYYY-MM-DD"},
		{"2026-13-01T12:00:00Z", "", "month 13 is out of range"},
		{"2026-02-29T12:00:00Z", "", "day 29 is out of range for 2026-02"},
		{"2026-11-00T12:00:00Z", "", "day 00 is out of range for 2026-11"},
		{"2026-11-29T24:00:00Z", "", "hour 24 is out of range"},
		{"2026-11-29T12:60:00Z", "", "minute 60 is out of range"},
		{"2026-12-31T23:59:60Z", "", "second 60 (a leap second) is not supported"},
		{"2026-11-29T12:15:61Z", "", "second 61 is out of range"},
	}
	for _, tc := range cases {
		for _, way := range []string{"direct", "http form"} {
			t.Run(tc.closeAt+"/"+way, func(t *testing.T) {
				hs, fs, _ := schedHarness(t)
				kind, payload := EventDirect, withFields(`,"close_at":"`+tc.closeAt+`"`)
				if way == "http form" {
					kind = EventHTTPAPI
					payload = event(t, "http-api.json", setPathID(order1), setBody("close_at="+strings.NewReplacer("+", "%2B", " ", "+").Replace(tc.closeAt), "application/x-www-form-urlencoded", false))
				}
				out, err := hs.invokeARN(t, payload)
				if err != nil {
					t.Fatal(err)
				}
				if len(hs.closer.asked) != 0 {
					t.Errorf("PAYJS was asked to close %v", hs.closer.asked)
				}
				if tc.at == "" {
					res := decodeAnswer(t, kind, out, 400)
					if res.Failure == nil || res.Failure.Code != closing.CodeInvalidRequest || res.Failure.Message != prefix+tc.problem || fs.calls != 0 {
						t.Errorf("result %+v, scheduler calls %d; want invalid_request %q", res, fs.calls, tc.problem)
					}
					return
				}
				res := decodeAnswer(t, kind, out, 202)
				if res.Status != closing.StatusScheduled || res.CloseAt != tc.at {
					t.Errorf("result %+v, want scheduled at %s", res, tc.at)
				}
			})
		}
	}
}

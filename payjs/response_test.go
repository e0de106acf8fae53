package payjs_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields map[string]string
		sign   string
		err    string // substring of the error; "" for none
	}{
		{"PAYJS success", `{"return_code":1,"return_msg":"SUCCESS","payjs_order_id":"X1","sign":"ABC"}`,
			map[string]string{"return_code": "1", "return_msg": "SUCCESS", "payjs_order_id": "X1"}, "ABC", ""},
		{"PHP escapes", `{"return_code":0,"return_msg":"\u8ba2\u5355\u5df2\u5173\u95ed","u":"a\/b"}`,
			map[string]string{"return_code": "0", "return_msg": "订单已关闭", "u": "a/b"}, "", ""},
		{"numbers as their literal text", `{"a":1.0,"b":-0,"c":1e3,"d":12345678901234567890123}`,
			map[string]string{"a": "1.0", "b": "-0", "c": "1e3", "d": "12345678901234567890123"}, "", ""},
		{"true false null", `{"t":true,"f":false,"n":null}`, map[string]string{"t": "1", "f": "0", "n": ""}, "", ""},
		{"whitespace around", " \r\n\t{ \"a\" : \"b\" }\n", map[string]string{"a": "b"}, "", ""},
		{"empty object", `{}`, map[string]string{}, "", ""},
		{"empty body", ``, nil, "", "not a JSON object"},
		{"HTML", `<html><body>502</body></html>`, nil, "", "not a JSON object"},
		{"array", `[{"return_code":1}]`, nil, "", "not a JSON object"},
		{"string", `"SUCCESS"`, nil, "", "not a JSON object"},
		{"invalid JSON", `{"return_code":1,}`, nil, "", "not valid JSON"},
		{"truncated", `{"return_code":1,"return_ms`, nil, "", "not valid JSON"},
		{"trailing data", `{"a":1} {"b":2}`, nil, "", "not valid JSON"},
		{"nested object", `{"return_code":1,"data":{"a":1}}`, nil, "", `field "data": nested`},
		{"nested array", `{"return_code":1,"list":[1]}`, nil, "", `field "list": nested`},
		{"odd field name not echoed", `{"<script>x":[1]}`, nil, "", "a field: nested"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields, sign, err := payjs.ParseResponse([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(fields, tc.fields) || sign != tc.sign {
				t.Errorf("got %q sign %q, want %q sign %q", fields, sign, tc.fields, tc.sign)
			}
		})
	}
}

// PAYJS's message is verified whole, then cut to MaxMessageBytes on a
// character boundary; a refusal is classified by what the Result keeps.
func TestCloseClipsMessage(t *testing.T) {
	x := strings.Repeat
	tests := []struct {
		name, code, msg, want string
		kind                  payjs.Kind // "" for a success
	}{
		{"exactly the limit", "0", x("x", 256), x("x", 256), payjs.KindRejected},
		{"ASCII", "0", x("x", 300), x("x", 256), payjs.KindRejected},
		{"60 KB of three-byte characters", "0", x("很", 20000), x("很", 85), payjs.KindRejected},
		{"four-byte characters", "0", x("😀", 100), x("😀", 64), payjs.KindRejected},
		{"marker kept", "0", "订单已关闭" + x("x", 300), "订单已关闭" + x("x", 256-len("订单已关闭")), payjs.KindAlreadyClosed},
		{"marker past the cut", "0", x("x", 300) + "订单已关闭", x("x", 256), payjs.KindRejected},
		{"success", "1", x("好", 1000), x("好", 85), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSim(t)
			body := signedBody(payjstest.DemoKey, "return_code", tc.code, "return_msg", tc.msg, "payjs_order_id", unpaid1)
			srv.Inject(payjstest.Fault{Kind: payjstest.FaultBody, Body: body})
			res, err := newClient(t, srv).CloseOrder(context.Background(), unpaid1)
			if payjs.KindOf(err) != tc.kind {
				t.Fatalf("CloseOrder: %v, want kind %q", err, tc.kind)
			}
			var pe *payjs.Error
			if errors.As(err, &pe) {
				res = pe.Result
				if len(err.Error()) > payjs.MaxMessageBytes+100 {
					t.Errorf("error message of %d bytes", len(err.Error()))
				}
			}
			if res == nil || res.ReturnMsg != tc.want || !res.Verified {
				t.Fatalf("Result %+v, want the message cut to %d bytes, verified", res, len(tc.want))
			}
		})
	}
}

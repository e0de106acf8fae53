package payjs_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
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

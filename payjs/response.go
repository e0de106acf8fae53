package payjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ParseResponse decodes a PAYJS answer into its top-level fields, as the
// strings PAYJS signs: JSON strings unquoted, numbers as their literal
// JSON text (never through a float), true as "1", false as "0", null as
// "". Nested objects and arrays are not part of any close response and
// are refused. The "sign" field is returned separately.
func ParseResponse(body []byte) (fields map[string]string, sign string, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, "", fmt.Errorf("response is not a JSON object")
	}
	var raw map[string]rawValue
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "", fmt.Errorf("response is not valid JSON")
	}
	fields = make(map[string]string, len(raw))
	for name, v := range raw {
		s, err := scalar(v)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", fieldName(name), err)
		}
		if name == "sign" {
			sign = s
			continue
		}
		fields[name] = s
	}
	return fields, sign, nil
}

// fieldName names a response field in an error message. Names are part of
// the raw upstream body, which is never echoed: only a short, plain name
// is quoted.
func fieldName(name string) string {
	if len(name) == 0 || len(name) > 32 {
		return "a field"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && !isAlnum(c) {
			return "a field"
		}
	}
	return "field " + strconv.Quote(name)
}

// rawValue is a JSON value as a slice of the body being parsed, where
// json.RawMessage would copy it: the body outlives the parse and nothing
// writes to it.
type rawValue []byte

// UnmarshalJSON keeps b, a slice of the input of json.Unmarshal.
func (r *rawValue) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

func scalar(v rawValue) (string, error) {
	switch {
	case len(v) == 0:
		return "", fmt.Errorf("empty value")
	case v[0] == '"':
		if s, ok := plainString(v); ok {
			return s, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("bad string")
		}
		return s, nil
	case v[0] == '-' || ('0' <= v[0] && v[0] <= '9'):
		return string(v), nil
	case string(v) == "true":
		return "1", nil
	case string(v) == "false":
		return "0", nil
	case string(v) == "null":
		return "", nil
	}
	return "", fmt.Errorf("nested objects and arrays are not part of a close response")
}

// plainString returns the content of a JSON string literal that needs no
// unescaping: no backslash, no control character, valid UTF-8 (which
// json.Unmarshal would otherwise rewrite to U+FFFD). Close answers are
// mostly such strings; anything else takes json.Unmarshal.
func plainString(v rawValue) (string, bool) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// parse turns the body of an HTTP 200 answer into a Result or an *Error.
func (c *Client) parse(body []byte, orderID string) (*Result, *Error) {
	bad := func(msg string) *Error { return &Error{Kind: KindBadResponse, Msg: msg} }

	fields, sign, err := ParseResponse(body)
	if err != nil {
		return nil, bad(err.Error())
	}
	res := &Result{PayjsOrderID: orderID}
	switch fields["return_code"] {
	case "1":
		res.ReturnCode = 1
	case "0":
		res.ReturnCode = 0
	case "":
		return nil, bad("response has no return_code")
	default:
		return nil, bad("response has a return_code other than 0 or 1")
	}
	msg, ok := fields["return_msg"]
	if !ok {
		return nil, bad("response has no return_msg")
	}
	res.ReturnMsg = msg
	if id, ok := fields["payjs_order_id"]; ok && id != "" && id != orderID {
		return nil, bad("response is for another payjs_order_id")
	}
	if sign != "" {
		// A wrong signature is never a success, and a rejection that
		// claims a signature must carry the right one too: both mean
		// the answer did not come from PAYJS as sent.
		if !VerifySign(fields, c.key, sign) {
			return nil, &Error{Kind: KindBadResponse, Msg: "response signature does not verify"}
		}
		res.Verified = true
	}
	if res.ReturnCode == 0 {
		return nil, &Error{Kind: KindRejected, Msg: "PAYJS refused to close the order: " + res.ReturnMsg, Result: res}
	}
	if !res.Verified && c.requireSign {
		return nil, bad("response has no signature and signatures are required")
	}
	return res, nil
}

package payjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxMessageBytes is how much of PAYJS's message a [Result] keeps: PAYJS
// documents 32 characters, and more would fill every result and log line.
const MaxMessageBytes = 256

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
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "", fmt.Errorf("response is not valid JSON")
	}
	fields = make(map[string]string, len(raw))
	for name, v := range raw {
		s, err := scalar(v)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", fieldName(name), err)
		}
		fields[name] = s
	}
	sign = fields["sign"]
	delete(fields, "sign")
	return fields, sign, nil
}

// fieldName names a response field in an error message. Names are part of
// the raw upstream body, which is never echoed: only a short, plain name
// is quoted.
func fieldName(name string) string {
	if len(name) == 0 || len(name) > 32 || strings.ContainsFunc(name, func(r rune) bool { return r != '_' && !isAlnum(r) }) {
		return "a field"
	}
	return "field " + strconv.Quote(name)
}

func scalar(v json.RawMessage) (string, error) {
	switch {
	case v[0] == '"': // json.Unmarshal never leaves a value empty
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
	case "":
		return nil, bad("response has no return_code")
	default:
		return nil, bad("response has a return_code other than 0 or 1")
	}
	// PAYJS's message is return_msg, or msg where an API names it so.
	msg, ok := fields["return_msg"]
	if m, has := fields["msg"]; has && msg == "" {
		msg, ok = m, true
	}
	if !ok {
		return nil, bad("response has neither return_msg nor msg")
	}
	// Decoded JSON is valid UTF-8: what the cut leaves invalid is the
	// part of a character at the end.
	res.ReturnMsg = strings.ToValidUTF8(msg[:min(len(msg), MaxMessageBytes)], "")
	if id, ok := fields["payjs_order_id"]; ok && id != "" && id != orderID {
		return nil, bad("response is for another payjs_order_id")
	}
	var refusal Kind
	if res.ReturnCode == 0 {
		refusal = RefusalKind(res.ReturnMsg)
	}
	if sign != "" {
		// Over the fields as received, the whole message included. A
		// wrong signature is never a success, and a refusal that claims a
		// signature must carry the right one too, except a key mismatch:
		// under the wrong key, PAYJS's own signature cannot verify.
		res.Verified = VerifySign(fields, c.key, sign)
		if !res.Verified && refusal != KindKeyMismatch {
			return nil, bad("response signature does not verify")
		}
	}
	// An already-closed answer is a success to the caller: with
	// signatures required, it needs one as a success does.
	if !res.Verified && c.requireSign && (refusal == "" || refusal == KindAlreadyClosed) {
		return nil, bad("response has no signature and signatures are required")
	}
	if refusal != "" {
		return nil, &Error{Kind: refusal, Msg: "PAYJS refused to close the order: " + res.ReturnMsg, Result: res}
	}
	return res, nil
}

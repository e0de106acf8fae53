package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// requestFields are the members a JSON request may carry, wherever it
// comes from (HTTP body, EventBridge detail, SQS body, direct invoke).
var requestFields = []string{"payjs_order_id", "mchid", "close_at", "close_after", "action", "scheduled"}

// formFields are the fields a form body may carry: a form comes from a
// caller, never from a schedule, so it has no "scheduled".
var formFields = requestFields[:5:5]

// foldName is how a member name is compared for a near miss: ASCII
// lower-case, without '-' and '_'. Only ASCII letters are folded, so that
// a name which folds to a field name holds nothing but ASCII letters, '-'
// and '_', and can be quoted back safely.
func foldName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '-' || c == '_':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nearMiss returns the field of fields that name spells another way
// (closeAfter, Close_At, PAYJS_ORDER_ID, MchId), or "".
func nearMiss(name string, fields []string) string {
	f := foldName(name)
	for _, field := range fields {
		if name != field && f == foldName(field) {
			return field
		}
	}
	return ""
}

func hint(what, name, field string) *Error {
	return errorf(CodeInvalidRequest, fmt.Sprintf("unknown %s %q: did you mean %q?", what, clip(name), field))
}

// members reads the top-level members of a JSON object in order, keeping
// the value of each request field. Names match exactly: a request field
// given twice is refused, naming it, and so is a name that spells one
// another way (a case or separator variant), with a hint; encoding/json
// alone would take the last of them, matched case-insensitively, and a
// front end checking the first or the exact name could be bypassed.
// Other members are ignored (envelopes carry other data) and counted in
// others.
func members(raw []byte) (vals map[string]json.RawMessage, others int, err error) {
	notJSON := errorf(CodeInvalidRequest, "request is not valid JSON")
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, 0, errorf(CodeInvalidRequest, "request must be a JSON object")
	}
	vals = make(map[string]json.RawMessage, len(requestFields))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, 0, notJSON
		}
		name, _ := t.(string) // inside an object, Token returns names as strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, 0, notJSON
		}
		if field := nearMiss(name, requestFields); field != "" {
			return nil, 0, hint("field", name, field)
		}
		if !slices.Contains(requestFields, name) {
			others++
			continue
		}
		if _, dup := vals[name]; dup {
			return nil, 0, errorf(CodeInvalidRequest, fmt.Sprintf("member %q is given more than once", name))
		}
		vals[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, 0, notJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, notJSON // something after the object
	}
	return vals, others, nil
}

// misspelledOrderID answers an object of no known kind whose top level
// spells payjs_order_id another way (PAYJS_ORDER_ID, payjsOrderId): it is
// a direct request with a typo, and the hint says so.
func misspelledOrderID(payload []byte) *Error {
	var f fields
	if json.Unmarshal(payload, &f) != nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(f)) {
		if nearMiss(name, requestFields[:1]) != "" {
			return hint("field", name, "payjs_order_id")
		}
	}
	return nil
}

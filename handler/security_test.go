package handler

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// smuggled are values that try to change the string PAYJS signs
// ("payjs_order_id=ID&key=KEY"), to pass for a valid id, or to hurt
// whatever reads them after the handler (logs, PAYJS's PHP). Each is
// refused by validation, whatever event carries it.
var smuggled = []struct{ name, value string }{
	{"amp_key", order1 + "&key=attacker"},
	{"amp_key_alone", "&key="},
	{"amp_sign", order1 + "&sign=0"},
	{"equals", order1 + "="},
	{"equals_alone", "="},
	{"pct26_key", order1 + "%26key%3Dattacker"},
	{"pct26_alone", "%26"},
	{"plus", order1[:27] + "+"},
	{"fullwidth_digits", fullwidth(order1)},
	{"fullwidth_one", order1[:27] + "１"},
	{"cyrillic_a", "2026112500000000000000000а"},    // U+0430, not 'a'
	{"cyrillic_alone", "а"},                         // U+0430
	{"greek_omicron", "2026112500000000000000000ο"}, // U+03BF, not 'o'
	{"nul_end", order1 + "\x00"},
	{"nul_middle", order1[:14] + "\x00" + order1[14:]},
	{"space_leading", " " + order1},
	{"space_trailing", order1 + " "},
	{"space_middle", order1[:14] + " " + order1[14:]},
	{"newline", order1 + "\n"},
	{"crlf_log_injection", order1 + "\r\n{\"level\":\"INFO\",\"message\":\"close\",\"outcome\":\"closed\"}"},
	{"tab", order1 + "\t"},
	{"zero_width_space", order1 + "\u200b"},
	{"invalid_utf8", order1[:27] + "\xff"},
	{"dot_dot_slash", "../" + order1},
	{"len_33", order1 + "00001"},
	{"len_10KB", strings.Repeat("1", 10<<10)},
}

// fullwidth returns s with its ASCII digits as fullwidth digits (U+FF10 ...).
func fullwidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if '0' <= r && r <= '9' {
			r += '０' - '0'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// carrier puts a value where one event kind carries an order id (or, for
// the mchid carriers, an mchid beside a valid id).
type carrier struct {
	name string
	kind EventKind
	body bool // the value travels in an HTTP body (which is capped at 4 KiB)
	make func(t *testing.T, v string) []byte
}

func jsonBody(t *testing.T, fields map[string]string) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func formBody(fields map[string]string) string {
	v := url.Values{}
	for k, s := range fields {
		v.Set(k, s)
	}
	return v.Encode()
}

func sqsBody(t *testing.T, id, body string) []byte {
	t.Helper()
	b, err := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: id, Body: body, EventSource: "aws:sqs"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func carriers() []carrier {
	const jsonCT, formCT = "application/json", "application/x-www-form-urlencoded"
	id := func(v string) map[string]string { return map[string]string{"payjs_order_id": v} }
	mch := func(v string) map[string]string {
		return map[string]string{"payjs_order_id": order1, "mchid": v}
	}
	escapedPath := func(v string) string { return "/orders/" + url.PathEscape(v) + "/close" }
	return []carrier{
		{"http_api/path_parameter", EventHTTPAPI, false, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPathID(v))
		}},
		{"http_api/raw_path", EventHTTPAPI, false, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPath(escapedPath(v)))
		}},
		{"http_api/json_body", EventHTTPAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(jsonBody(t, id(v)), jsonCT, false))
		}},
		{"http_api/json_body_base64", EventHTTPAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(jsonBody(t, id(v)), jsonCT, true))
		}},
		{"http_api/form_body", EventHTTPAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(formBody(id(v)), formCT, false))
		}},
		{"http_api/mchid_json_body", EventHTTPAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(jsonBody(t, mch(v)), jsonCT, false))
		}},
		{"http_api/mchid_form_body", EventHTTPAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "http-api.json", setPath("/close"), setBody(formBody(mch(v)), formCT, false))
		}},
		{"rest_api/path_parameter", EventRESTAPI, false, func(t *testing.T, v string) []byte {
			return event(t, "rest-api.json", setPathID(v))
		}},
		{"rest_api/proxy_path", EventRESTAPI, false, func(t *testing.T, v string) []byte {
			return event(t, "rest-api.json", setBody("", "", false), setPath(escapedPath(v)))
		}},
		{"rest_api/form_body", EventRESTAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "rest-api.json", setBody(formBody(id(v)), formCT, false))
		}},
		{"rest_api/json_body", EventRESTAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "rest-api.json", setBody(jsonBody(t, id(v)), jsonCT, false))
		}},
		{"rest_api/mchid_form_body", EventRESTAPI, true, func(t *testing.T, v string) []byte {
			return event(t, "rest-api.json", setBody(formBody(mch(v)), formCT, false))
		}},
		{"function_url/raw_path", EventFunctionURL, false, func(t *testing.T, v string) []byte {
			return event(t, "function-url.json", setBody("", "", false), setPath(escapedPath(v)))
		}},
		{"function_url/json_body_base64", EventFunctionURL, true, func(t *testing.T, v string) []byte {
			return event(t, "function-url.json", setBody(jsonBody(t, id(v)), jsonCT, true))
		}},
		{"function_url/form_body", EventFunctionURL, true, func(t *testing.T, v string) []byte {
			return event(t, "function-url.json", setBody(formBody(id(v)), formCT, false))
		}},
		{"eventbridge/detail", EventBridge, false, func(t *testing.T, v string) []byte {
			return event(t, "eventbridge.json", func(m map[string]any) { m["detail"] = id(v) })
		}},
		{"eventbridge/mchid_detail", EventBridge, false, func(t *testing.T, v string) []byte {
			return event(t, "eventbridge.json", func(m map[string]any) { m["detail"] = mch(v) })
		}},
		{"sqs/direct_body", EventSQS, false, func(t *testing.T, v string) []byte {
			return sqsBody(t, "smuggled", jsonBody(t, id(v)))
		}},
		{"sqs/eventbridge_body", EventSQS, false, func(t *testing.T, v string) []byte {
			return sqsBody(t, "smuggled", string(event(t, "eventbridge.json", func(m map[string]any) { m["detail"] = id(v) })))
		}},
		{"sqs/mchid_direct_body", EventSQS, false, func(t *testing.T, v string) []byte {
			return sqsBody(t, "smuggled", jsonBody(t, mch(v)))
		}},
		{"direct/top_level", EventDirect, false, func(t *testing.T, v string) []byte {
			return []byte(jsonBody(t, id(v)))
		}},
		{"direct/mchid", EventDirect, false, func(t *testing.T, v string) []byte {
			return []byte(jsonBody(t, mch(v)))
		}},
	}
}

// lastClose returns the error code of the last "close" log line.
func lastClose(t *testing.T, out string) (code string, attempts float64) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var l map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", lines[i])
		}
		if l["message"] == "close" {
			code, _ = l["error_code"].(string)
			attempts, _ = l["attempts"].(float64)
			return code, attempts
		}
	}
	t.Fatalf("no close log line in:\n%s", out)
	return "", 0
}

// TestSmuggledValuesNeverReachPAYJS sends every smuggling attempt through
// every event kind and every place each kind carries an order id or an
// mchid, to the real PAYJS client talking to the simulator. Each must be
// refused before any network call: invalid_order_id for an order id,
// invalid_request for an mchid (payload_too_large when the value makes an
// HTTP body exceed 4 KiB), not retryable, never echoed at length, and the
// simulator must receive no request at all.
func TestSmuggledValuesNeverReachPAYJS(t *testing.T) {
	hs, sim := simHarness(t)
	for _, c := range carriers() {
		for _, s := range smuggled {
			t.Run(c.name+"/"+s.name, func(t *testing.T) {
				payload := c.make(t, s.value)
				want := closing.CodeInvalidOrderID
				if strings.Contains(c.name, "mchid") {
					want = closing.CodeInvalidRequest
				}
				if c.body && len(s.value) > MaxBodyBytes {
					want = closing.CodePayloadTooLarge
				}
				out, lerr := hs.invoke(t, payload)
				if lerr != nil {
					t.Fatalf("answered with a Lambda error %s: a refusal is final", lerr.Type)
				}
				recordOutput(t, string(out))
				if len(out) > 2048 {
					t.Errorf("answer is %d bytes: it echoes the value", len(out))
				}
				var got closing.Code
				retryable := false
				switch c.kind {
				case EventSQS:
					if string(out) != `{"batchItemFailures":[]}` {
						t.Errorf("answer %s, want no batch item failures", out)
					}
					code, _ := lastClose(t, hs.out.String())
					got = closing.Code(code)
				case EventHTTPAPI, EventRESTAPI, EventFunctionURL:
					var resp events.APIGatewayV2HTTPResponse
					if err := json.Unmarshal(out, &resp); err != nil {
						t.Fatal(err)
					}
					r := decodeResult(t, []byte(resp.Body))
					if r.Failure != nil {
						got, retryable = r.Failure.Code, r.Failure.Retryable
					}
					if resp.StatusCode != want.HTTPStatus() {
						t.Errorf("status %d, want %d", resp.StatusCode, want.HTTPStatus())
					}
				default:
					r := decodeResult(t, out)
					if r.Failure != nil {
						got, retryable = r.Failure.Code, r.Failure.Retryable
					}
				}
				if got != want || retryable {
					t.Errorf("answered %s (retryable %v), want %s: %s", got, retryable, want, out)
				}
				if _, attempts := lastClose(t, hs.out.String()); attempts != 0 {
					t.Errorf("logged %v attempts, want 0", attempts)
				}
			})
		}
	}
	if n := sim.Requests(); n != 0 {
		t.Errorf("PAYJS received %d requests", n)
	}
	if o, _ := sim.Order(order1); o.State != payjstest.StateUnpaid {
		t.Errorf("order %s is %v, want unpaid", order1, o.State)
	}
	// The same handler still closes a valid order: the refusals above
	// were validation, not a broken client.
	if r, _, _ := hs.answer(t, EventDirect, direct(order1)); !r.OK || sim.Requests() != 1 {
		t.Fatalf("valid close after the attempts: %+v", r)
	}
}

// TestLoggedValuesAreBoundedAndEscaped: a hostile value reaches the log
// line of its refusal (so that an operator can see what was sent), cut to
// a bounded length and JSON-escaped, so it can neither flood the log nor
// forge a line of its own.
func TestLoggedValuesAreBoundedAndEscaped(t *testing.T) {
	hs := newHarness(t)
	for _, s := range smuggled {
		before := strings.Count(hs.out.String(), "\n")
		_, _ = hs.invoke(t, []byte(jsonBody(t, map[string]string{"payjs_order_id": s.value})))
		lines := strings.Split(strings.TrimSpace(hs.out.String()), "\n")[before:]
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Errorf("%s: log output is not one JSON object per line: %q", s.name, l)
			}
			if len(l) > 1024 {
				t.Errorf("%s: log line of %d bytes", s.name, len(l))
			}
		}
		if n := strings.Count(hs.out.String(), `"outcome":"closed"`); n != 0 {
			t.Fatalf("%s: a line claims a close: %s", s.name, fmt.Sprint(lines))
		}
	}
	if len(hs.closer.asked) != 0 {
		t.Errorf("PAYJS was asked to close %q", hs.closer.asked)
	}
}

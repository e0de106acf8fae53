package payjs

import (
	"bytes"
	"crypto/md5" //nolint:gosec // PAYJS signs with MD5; the reference must too
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceSign is the signing rule written as plainly as possible,
// independently of Sign.
func referenceSign(params map[string]string, key string) string {
	var names []string
	for name, value := range params {
		if name != "sign" && value != "" && value != "0" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var pairs []string
	for _, name := range names {
		pairs = append(pairs, name+"="+params[name])
	}
	return md5Hex(strings.Join(pairs, "&") + "&key=" + key)
}

// md5Hex is PAYJS's digest, computed without this package's helpers.
func md5Hex(s string) string {
	return fmt.Sprintf("%X", md5.Sum([]byte(s))) //nolint:gosec // PAYJS's signature algorithm
}

func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'A' || s[i] > 'F') {
			return false
		}
	}
	return true
}

func FuzzSign(f *testing.F) {
	f.Add("payjs_order_id", "2019043012232600733973651", "", "", "", "", "testkey123")
	f.Add("payjs_order_id", "2019043012232600733973651", "mchid", "1528140051", "attach", "", "testkey123")
	f.Add("return_code", "0", "return_msg", "订单已关闭", "payjs_order_id", "2019043012232600733973651", "testkey123")
	f.Add("sign", "ABC", "a", "1&key=x", "a!", "=", "k&ey=")
	f.Add("", "", "\x00", "\xff\xfe", "B", "0", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3, key string) {
		params := map[string]string{k1: v1, k2: v2, k3: v3}
		got := Sign(params, key)
		if len(got) != 32 || !isUpperHex(got) {
			t.Fatalf("Sign = %q, want 32 upper-case hex digits", got)
		}
		if again := Sign(maps.Clone(params), key); again != got {
			t.Fatalf("Sign not deterministic: %s then %s", got, again)
		}
		if want := referenceSign(params, key); got != want {
			t.Fatalf("Sign = %s, reference %s (string to sign %q)", got, want, stringToSign(params, key))
		}
		if want := md5Hex(stringToSign(params, key)); got != want {
			t.Fatalf("Sign = %s is not the MD5 of stringToSign (%s)", got, want)
		}
		if !VerifySign(params, key, got) || !VerifySign(params, key, strings.ToLower(got)) {
			t.Fatalf("VerifySign refuses Sign's own signature")
		}
		withSign := maps.Clone(params)
		withSign["sign"] = got
		if Sign(withSign, key) != got {
			t.Fatalf("the sign field changed the signature")
		}
		if VerifySign(params, key+"x", got) {
			t.Fatalf("signature verifies under another key")
		}
	})
}

// encode writes fields (and sign, unless empty) as a JSON object of
// strings, as a PAYJS look-alike would.
func encode(t *testing.T, fields map[string]string, sign string) []byte {
	m := make(map[string]string, len(fields)+1)
	maps.Copy(m, fields)
	if sign != "" {
		m["sign"] = sign
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const fuzzOrderID = "2019043012232600733973651"

// clip is the message a Result keeps of msg, by the rule written plainly:
// the longest prefix of whole characters within MaxMessageBytes.
func clip(msg string) string {
	n := 0
	for i, r := range msg {
		if end := i + utf8.RuneLen(r); end <= MaxMessageBytes {
			n = end
		} else {
			break
		}
	}
	return msg[:n]
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"return_code":1,"return_msg":"SUCCESS","payjs_order_id":"2019043012232600733973651","sign":"853437E15713D472F217418D6E3809D5"}`), "testkey123")
	f.Add([]byte(`{"return_code":0,"return_msg":"\u8ba2\u5355\u5df2\u5173\u95ed","payjs_order_id":"2019043012232600733973651","sign":"957895435FB63B335DAF304E1FF16A9C"}`), "testkey123")
	f.Add([]byte(`{"return_code":1,"return_msg":"SUCCESS"}`), "k")
	f.Add([]byte(`{"return_code":"1","return_msg":null,"x":true,"y":false,"z":1.5e3}`), "k")
	f.Add([]byte(`{"a":{"b":1}}`), "k")
	f.Add([]byte(`<html>502</html>`), "k")
	f.Add([]byte(`{"return_code":1,`), "k")
	f.Add([]byte(" {\"\\ud83d\\ude00\":\"\\u0000\",\"sign\":\"\"} "), "")
	f.Add([]byte(`{"return_code":0,"msg":"订单已关闭"}`), "k")
	f.Add([]byte(`{"return_code":0,"return_msg":"","msg":"签名错误","sign":"00000000000000000000000000000000"}`), "k")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		fields, sign, err := ParseResponse(body)

		// Whatever the body, the client's parse classifies it.
		for _, require := range []bool{false, true} {
			c := &Client{key: key, requireSign: require}
			res, perr := c.parse(body, fuzzOrderID)
			switch {
			case perr == nil:
				if err != nil || res.ReturnCode != 1 || res.Verified != (sign != "") || (require && !res.Verified) {
					t.Fatalf("parse accepted %q as %+v (ParseResponse error %v, sign %q)", body, res, err, sign)
				}
				if res.Verified && !VerifySign(fields, key, sign) {
					t.Fatalf("parse verified a signature that does not verify")
				}
			case perr.Result != nil:
				r := perr.Result
				if r.ReturnCode != 0 || fields["return_code"] != "0" || perr.Kind != RefusalKind(r.ReturnMsg) {
					t.Fatalf("refusal %s with Result %+v for return_code %q", perr.Kind, r, fields["return_code"])
				}
				if len(r.ReturnMsg) > MaxMessageBytes || !utf8.ValidString(r.ReturnMsg) {
					t.Fatalf("message kept: %d bytes, valid UTF-8 %v", len(r.ReturnMsg), utf8.ValidString(r.ReturnMsg))
				}
				if sign != "" && !r.Verified && perr.Kind != KindKeyMismatch {
					t.Fatalf("a refusal whose signature does not verify was accepted as %s", perr.Kind)
				}
			case perr.Kind != KindBadResponse:
				t.Fatalf("parse error of kind %s: %v", perr.Kind, perr)
			}
		}
		if err != nil {
			return
		}

		// Re-encoded, the fields parse back the same.
		f2, s2, err := ParseResponse(encode(t, fields, sign))
		if err != nil || !maps.Equal(f2, fields) || s2 != sign {
			t.Fatalf("round trip: %q %q %v, want %q %q", f2, s2, err, fields, sign)
		}

		// Signed with key, they verify; tampered with, they do not.
		signed := Sign(fields, key)
		f3, s3, err := ParseResponse(encode(t, fields, signed))
		if err != nil || !VerifySign(f3, key, s3) {
			t.Fatalf("signed fields do not verify after a round trip: %v", err)
		}
		tampered := maps.Clone(f3)
		tampered["return_msg"] += "x"
		if VerifySign(tampered, key, s3) {
			t.Fatalf("tampered fields verify")
		}

		// As a close answer for our order: a signed success is a
		// verified success with its message, the same answer with a
		// wrong signature is a bad response, unsigned it is an unverified
		// success, and with return_code 0 a rejection.
		answer := maps.Clone(fields)
		answer["return_code"] = "1"
		answer["payjs_order_id"] = fuzzOrderID
		delete(answer, "msg")
		if _, ok := answer["return_msg"]; !ok {
			answer["return_msg"] = "SUCCESS"
		}
		kept := clip(answer["return_msg"])
		c := &Client{key: key}
		res, perr := c.parse(encode(t, answer, Sign(answer, key)), fuzzOrderID)
		if perr != nil || !res.Verified || res.ReturnMsg != kept || res.PayjsOrderID != fuzzOrderID {
			t.Fatalf("signed success parsed as %+v, %v", res, perr)
		}
		wrong := maps.Clone(answer)
		wrong["return_msg"] += "x"
		if res, perr := c.parse(encode(t, wrong, Sign(answer, key)), fuzzOrderID); perr == nil || perr.Kind != KindBadResponse {
			t.Fatalf("tampered success parsed as %+v, %v", res, perr)
		}
		if res, perr := c.parse(encode(t, answer, ""), fuzzOrderID); perr != nil || res.Verified {
			t.Fatalf("unsigned success parsed as %+v, %v", res, perr)
		}
		answer["return_code"] = "0"
		_, perr = c.parse(encode(t, answer, Sign(answer, key)), fuzzOrderID)
		if perr == nil || perr.Kind != RefusalKind(kept) || perr.Result.ReturnMsg != kept || !perr.Result.Verified {
			t.Fatalf("signed refusal parsed as %v", perr)
		}
		if bytes.Contains([]byte(perr.Error()), []byte(Sign(answer, key))) {
			t.Fatalf("error holds the signature")
		}
	})
}

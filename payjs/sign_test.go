package payjs_test

import (
	"bytes"
	"crypto/md5" //nolint:gosec // PAYJS signs with MD5; the vectors are checked independently
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
)

// vector is one entry of payjs_sign.json, computed with PAYJS's own
// reference implementations.
type vector struct {
	Name         string            `json:"name"`
	Params       map[string]string `json:"params"`
	Key          string            `json:"key"`
	StringToSign string            `json:"string_to_sign"`
	Sign         string            `json:"sign"`
}

func loadVectors(t *testing.T, path string) []vector {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(vs) < 7 {
		t.Fatalf("%s holds %d vectors, want at least the 7 published", path, len(vs))
	}
	seen := map[string]bool{}
	for _, v := range vs {
		if v.Name == "" || len(v.Params) == 0 || v.Key == "" || v.StringToSign == "" || len(v.Sign) != 32 || seen[v.Name] {
			t.Fatalf("%s: incomplete or repeated vector %+v", path, v)
		}
		seen[v.Name] = true
	}
	return vs
}

// TestSignVectors checks every vector of testdata/payjs_sign.json.
func TestSignVectors(t *testing.T) {
	vs := loadVectors(t, filepath.Join("testdata", "payjs_sign.json"))
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) { checkVector(t, v) })
	}
}

func checkVector(t *testing.T, v vector) {
	if got := payjs.StringToSign(v.Params, v.Key); got != v.StringToSign {
		t.Errorf("string to sign = %q, want %q", got, v.StringToSign)
	}
	// The vector's string and sign agree, independently of this package.
	if got := md5Hex(v.StringToSign); got != v.Sign {
		t.Errorf("MD5 of the vector's string_to_sign = %s, want its sign %s", got, v.Sign)
	}
	if got := payjs.Sign(v.Params, v.Key); got != v.Sign {
		t.Errorf("Sign = %s, want %s", got, v.Sign)
	}
	if !payjs.VerifySign(v.Params, v.Key, v.Sign) || !payjs.VerifySign(v.Params, v.Key, strings.ToLower(v.Sign)) {
		t.Errorf("VerifySign refuses the vector's sign")
	}
	withSign := map[string]string{"sign": v.Sign}
	for k, val := range v.Params {
		withSign[k] = val
	}
	if got := payjs.Sign(withSign, v.Key); got != v.Sign {
		t.Errorf("Sign with a sign field = %s, want %s: sign is never signed", got, v.Sign)
	}
	if payjs.VerifySign(v.Params, v.Key+"x", v.Sign) {
		t.Errorf("VerifySign accepts the sign under another key")
	}
}

// md5Hex is PAYJS's digest, computed without package payjs.
func md5Hex(s string) string {
	return fmt.Sprintf("%X", md5.Sum([]byte(s))) //nolint:gosec // PAYJS's signature algorithm
}

func TestStringToSignRules(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"empty and zero values dropped", map[string]string{"a": "", "b": "0", "c": "1"}, "c=1&key=K"},
		{"zero-looking values kept", map[string]string{"a": "00", "b": "0.0", "c": " 0", "d": "false"}, "a=00&b=0.0&c= 0&d=false&key=K"},
		{"sign dropped", map[string]string{"sign": "X", "z": "1"}, "z=1&key=K"},
		{"byte order", map[string]string{"b": "1", "B": "2", "a_b": "3", "ab": "4", "a": "5"}, "B=2&a=5&a_b=3&ab=4&b=1&key=K"},
		{"prefix names by name, not by pair", map[string]string{"a": "1", "a!": "2"}, "a=1&a!=2&key=K"},
		{"raw UTF-8, no URL encoding, no trimming", map[string]string{"msg": " 订单 已关闭&x=y%20+ "}, "msg= 订单 已关闭&x=y%20+ &key=K"},
		{"nothing to sign", map[string]string{}, "&key=K"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := payjs.StringToSign(tc.params, "K"); got != tc.want {
				t.Errorf("string to sign = %q, want %q", got, tc.want)
			}
			if got, want := payjs.Sign(tc.params, "K"), md5Hex(tc.want); got != want {
				t.Errorf("Sign = %s, want MD5 %s", got, want)
			}
		})
	}
}

func TestVerifySign(t *testing.T) {
	params := map[string]string{"payjs_order_id": "2019043012232600733973651"}
	const key, good = "testkey123", "B8E9403B47097F8142A1CDD1FD1F867C"
	for sign, want := range map[string]bool{
		good:                                true,
		strings.ToLower(good):               true,
		"B8E9403B47097F8142A1CDD1FD1F867D":  false,
		"B8E9403B47097F8142A1CDD1FD1F867":   false,
		"B8E9403B47097F8142A1CDD1FD1F867CC": false,
		"":                                  false,
		"G8E9403B47097F8142A1CDD1FD1F867C":  false,
		"b8e9403b47097f8142a1cdd1fd1f867ſ":  false,
	} {
		if got := payjs.VerifySign(params, key, sign); got != want {
			t.Errorf("VerifySign(%q) = %v, want %v", sign, got, want)
		}
	}
}

func TestValidateKey(t *testing.T) {
	for key, bad := range map[string]bool{
		"":                           true,
		"+":                          true,
		"%":                          true,
		"SECRETplus+1234":            true,
		"SECRETpercent%201234":       true,
		"payjs-close-local-demo-key": false,
		"a b":                        false,
		"中文密钥":                       false,
		"aZ09-_.~!*'()&=":            false,
	} {
		err := payjs.ValidateKey(key)
		if (err != nil) != bad {
			t.Errorf("ValidateKey(%q) = %v, want refused %v", key, err, bad)
			continue
		}
		if err == nil {
			continue
		}
		if payjs.KindOf(err) != payjs.KindInvalidInput || !errors.Is(err, payjs.ErrUnusableKey) {
			t.Errorf("ValidateKey(%q) = %v, want KindInvalidInput wrapping ErrUnusableKey", key, err)
		}
		if key != "" && len(key) > 3 && strings.Contains(err.Error(), key) {
			t.Errorf("ValidateKey error %q holds the key", err)
		}
	}
}

func TestValidOrderID(t *testing.T) {
	for id, want := range map[string]bool{
		"2026112500000000000000000001":      true,
		"A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6":  true,
		"x":                                 true,
		"":                                  false,
		"A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q": false,
		"bad-id!":                           false,
		"a b":                               false,
		"a&key=b":                           false,
		"订单":                                false,
		"１２３":                               false,
		"abc\n":                             false,
	} {
		if got := payjs.ValidOrderID(id); got != want {
			t.Errorf("ValidOrderID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		kind      payjs.Kind
		retryable bool
	}{
		{payjs.KindInvalidInput, false},
		{payjs.KindAlreadyClosed, false},
		{payjs.KindPaid, false},
		{payjs.KindKeyMismatch, true},
		{payjs.KindRejected, false},
		{payjs.KindBadResponse, true},
		{payjs.KindUnavailable, true},
		{payjs.KindTimeout, true},
	} {
		if got := tc.kind.Retryable(); got != tc.retryable {
			t.Errorf("%s.Retryable() = %v, want %v", tc.kind, got, tc.retryable)
		}
		err := fmt.Errorf("wrapped: %w", &payjs.Error{Kind: tc.kind, Msg: "m"})
		if got := payjs.KindOf(err); got != tc.kind {
			t.Errorf("KindOf(wrapped %s) = %q", tc.kind, got)
		}
	}
	if got := payjs.KindOf(errors.New("plain")); got != "" {
		t.Errorf("KindOf(plain error) = %q, want \"\"", got)
	}
	if got := payjs.KindOf(nil); got != "" {
		t.Errorf("KindOf(nil) = %q, want \"\"", got)
	}
}

func TestRefusalKind(t *testing.T) {
	for msg, want := range map[string]payjs.Kind{
		"订单已关闭":         payjs.KindAlreadyClosed,
		"该订单已关闭，请勿重复操作": payjs.KindAlreadyClosed,
		"订单已支付":         payjs.KindPaid,
		"订单已支付，无法关闭":    payjs.KindPaid,
		"签名错误":          payjs.KindKeyMismatch,
		"sign 签名校验失败":   payjs.KindKeyMismatch,
		"订单不存在":         payjs.KindRejected,
		"订单已超过30天，无法关闭": payjs.KindRejected,
		"关闭失败":          payjs.KindRejected,
		"":              payjs.KindRejected,
		"SIGN ERROR":    payjs.KindRejected,
		"订单已支付或已关闭":     payjs.KindPaid, // the first entry wins: never a success by mistake
	} {
		if got := payjs.RefusalKind(msg); got != want {
			t.Errorf("RefusalKind(%q) = %s, want %s", msg, got, want)
		}
	}
}

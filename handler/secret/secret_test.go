package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
)

// testKey is a realistic key: tests assert it never appears where it must not.
const testKey = "Zx9QwErTyU1oP2aSdF3gHjK4lLmN5bV6"

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Merchant
	}{
		{"one merchant", `{"mchid":"1528140051","key":"` + testKey + `"}`,
			[]Merchant{{"1528140051", testKey}}},
		{"one merchant, other members ignored", "\n {\"mchid\": \"1528140051\", \"key\": \"" + testKey + "\", \"note\": 1}\n",
			[]Merchant{{"1528140051", testKey}}},
		{"several merchants in order", `{"merchants":[{"mchid":"2","key":"k2"},{"mchid":"1","key":"k1"}]}`,
			[]Merchant{{"2", "k2"}, {"1", "k1"}}},
		{"32-character mchid", `{"mchid":"` + strings.Repeat("a", 32) + `","key":"k"}`,
			[]Merchant{{strings.Repeat("a", 32), "k"}}},
		{"key kept byte for byte", `{"mchid":"1","key":"a b=&c"}`,
			[]Merchant{{"1", "a b=&c"}}},
		{"byte-order mark before the JSON", "\uFEFF" + `{"mchid":"1528140051","key":"` + testKey + `"}`,
			[]Merchant{{"1528140051", testKey}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if set.Len() != len(tt.want) {
				t.Fatalf("Len = %d, want %d", set.Len(), len(tt.want))
			}
			var ids []string
			for _, w := range tt.want {
				ids = append(ids, w.MchID)
				got, err := set.Lookup(w.MchID)
				if err != nil || got != w {
					t.Errorf("Lookup(%q) = %q, %v; want the merchant", w.MchID, got.MchID, err)
				}
			}
			if !slices.Equal(set.MchIDs(), ids) {
				t.Errorf("MchIDs = %v, want %v", set.MchIDs(), ids)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	k := testKey
	tests := []struct {
		name     string
		text     string
		field    string
		problem  string
		unusable bool
	}{
		{"empty", "", "", "secret is empty", false},
		{"blank", " \n\t", "", "secret is empty", false},
		{"not JSON", "mchid=1528140051&key=" + k, "", "not JSON (syntax error at byte 1)", false},
		{"truncated JSON", `{"mchid":"1528140051","key":"` + k, "", "not JSON", false},
		{"trailing garbage", `{"mchid":"1","key":"` + k + `"} ` + k, "", "not JSON", false},
		{"JSON array", `["1528140051","` + k + `"]`, "", "not a JSON object", false},
		{"JSON null", `null`, "", "not a JSON object", false},
		{"JSON encoded twice", `"{\"mchid\":\"1\",\"key\":\"` + k + `\"}"`, "", "not a JSON object but a JSON string (encoded twice?)", false},
		{"no key", `{"mchid":"1528140051"}`, "key", "is missing", false},
		{"key null", `{"mchid":"1528140051","key":null}`, "key", "is missing", false},
		{"key not a string", `{"mchid":"1528140051","key":12345}`, "key", "is not a string", false},
		{"key empty", `{"mchid":"1528140051","key":""}`, "key", "unusable: key is empty", true},
		{"key with plus", `{"mchid":"1528140051","key":"` + k + `+"}`, "key", `unusable: key contains "+" or "%"`, true},
		{"key with percent", `{"mchid":"1528140051","key":"%41` + k + `"}`, "key", `unusable: key contains "+" or "%"`, true},
		{"key with a trailing newline", `{"mchid":"1528140051","key":"` + k + `\n"}`, "key", "has white space (a space, tab or newline) at its start or end", true},
		{"key with a leading space", `{"mchid":"1528140051","key":" ` + k + `"}`, "key", "has white space", true},
		{"key with a trailing tab", `{"mchid":"1528140051","key":"` + k + `\t"}`, "key", "has white space", true},
		{"merchant key with white space", `{"merchants":[{"mchid":"1","key":"` + k + `"},{"mchid":"2","key":"` + k + ` "}]}`, "merchants[1].key", "has white space", true},
		{"byte-order mark alone", "\uFEFF", "", "secret is empty", false},
		{"two byte-order marks", "\uFEFF\uFEFF{}", "", "not JSON", false},
		{"key in wrong case", `{"mchid":"1528140051","Key":"` + k + `"}`, "key", "is missing", false},
		{"no mchid", `{"key":"` + k + `"}`, "mchid", "is missing", false},
		{"mchid a number", `{"mchid":1528140051,"key":"` + k + `"}`, "mchid", "is not a string", false},
		{"mchid empty", `{"mchid":"","key":"` + k + `"}`, "mchid", "must be 1 to 32 characters of [0-9A-Za-z]", false},
		{"mchid too long", `{"mchid":"` + strings.Repeat("1", 33) + `","key":"k"}`, "mchid", "must be 1 to 32", false},
		{"mchid holding the key", `{"mchid":"` + k + `=","key":"k"}`, "mchid", "must be 1 to 32", false},
		{"mchid with separator", `{"mchid":"1&key=x","key":"` + k + `"}`, "mchid", "must be 1 to 32", false},
		{"both forms", `{"mchid":"1","key":"` + k + `","merchants":[{"mchid":"2","key":"k"}]}`, "", `holds both "merchants" and a top-level "mchid" or "key"`, false},
		{"merchants not an array", `{"merchants":{"mchid":"1","key":"` + k + `"}}`, "merchants", "is not an array", false},
		{"merchants null", `{"merchants":null}`, "merchants", "is not an array", false},
		{"merchants empty", `{"merchants":[]}`, "merchants", "is empty", false},
		{"merchant not an object", `{"merchants":[{"mchid":"1","key":"k"},"` + k + `"]}`, "merchants[1]", "not a JSON object", false},
		{"merchant without key", `{"merchants":[{"mchid":"1","key":"` + k + `"},{"mchid":"2"}]}`, "merchants[1].key", "is missing", false},
		{"merchant with unusable key", `{"merchants":[{"mchid":"1","key":"a+` + k + `"}]}`, "merchants[0].key", "unusable", true},
		{"merchant with bad mchid", `{"merchants":[{"mchid":"1 ","key":"` + k + `"}]}`, "merchants[0].mchid", "must be 1 to 32", false},
		{"duplicate mchid", `{"merchants":[{"mchid":"7","key":"` + k + `"},{"mchid":"8","key":"k"},{"mchid":"7","key":"k"}]}`, "merchants[2].mchid", "duplicates merchants[0].mchid 7", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse = %v, want an error", set)
			}
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v is not a *MalformedError", err, err)
			}
			if me.Field != tt.field {
				t.Errorf("Field = %q, want %q", me.Field, tt.field)
			}
			if !strings.Contains(me.Problem, tt.problem) {
				t.Errorf("Problem = %q, want it to contain %q", me.Problem, tt.problem)
			}
			if got := errors.Is(err, payjs.ErrUnusableKey); got != tt.unusable {
				t.Errorf("errors.Is(err, payjs.ErrUnusableKey) = %v, want %v", got, tt.unusable)
			}
			if kind := payjs.KindOf(err); kind != "" {
				t.Errorf("payjs.KindOf(err) = %q: a secret error must not pass for a PAYJS one", kind)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "secret: malformed: ") {
				t.Errorf("message %q lacks the prefix", msg)
			}
			assertNoSecret(t, "error", msg, k)
			if len(tt.text) > 8 && strings.Contains(msg, tt.text) {
				t.Errorf("message %q quotes the secret text", msg)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	one, err := Parse(`{"mchid":"1528140051","key":"k1"}`)
	if err != nil {
		t.Fatal(err)
	}
	two, err := Parse(`{"merchants":[{"mchid":"1","key":"k1"},{"mchid":"2","key":"k2"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		set     *Set
		mchid   string
		want    Merchant
		wantErr error
		msg     string
	}{
		{"only merchant by default", one, "", Merchant{"1528140051", "k1"}, nil, ""},
		{"only merchant by mchid", one, "1528140051", Merchant{"1528140051", "k1"}, nil, ""},
		{"other mchid with one merchant", one, "1528140052", Merchant{}, ErrUnknownMerchant, "secret: unknown merchant 1528140052"},
		{"second of two", two, "2", Merchant{"2", "k2"}, nil, ""},
		{"no mchid with two", two, "", Merchant{}, ErrMchIDRequired, "secret: mchid required"},
		{"unknown with two", two, "3", Merchant{}, ErrUnknownMerchant, "secret: unknown merchant 3"},
		{"malformed mchid not echoed", two, "1&key=x", Merchant{}, ErrUnknownMerchant, "secret: unknown merchant (malformed mchid)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.set.Lookup(tt.mchid)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Lookup(%q) error = %v, want %v", tt.mchid, err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("message = %q, want prefix %q", err, tt.msg)
			}
			if got != tt.want {
				t.Errorf("Lookup(%q) = %v, want %v", tt.mchid, got, tt.want)
			}
		})
	}
}

// TestNeverPrintsKey prints merchants and sets every way a program might
// and looks for the key.
func TestNeverPrintsKey(t *testing.T) {
	m := Merchant{MchID: "1528140051", Key: testKey}
	set, err := Parse(`{"merchants":[{"mchid":"1528140051","key":"` + testKey + `"},{"mchid":"2","key":"` + testKey + `2"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		M   Merchant
		P   *Merchant
		S   *Set
		All []Merchant
	}
	values := map[string]any{
		"Merchant": m, "*Merchant": &m, "[]Merchant": []Merchant{m}, "map": map[string]Merchant{"a": m},
		"*Set": set, "struct": holder{m, &m, set, []Merchant{m}},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
			assertNoSecret(t, name+" "+verb, fmt.Sprintf(verb, v), testKey)
		}
		assertNoSecret(t, name+" Sprint", fmt.Sprint(v), testKey)
		assertNoSecret(t, name+" Sprintln", fmt.Sprintln(v), testKey)
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal(%s): %v", name, err)
		}
		assertNoSecret(t, name+" json", string(b), testKey)
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("x", "v", v, slog.Any("w", v), slog.Group("g", "v", v))
			assertNoSecret(t, name+" slog", buf.String(), testKey)
		}
	}

	// What they do print, so that the redaction is not just empty output.
	for _, c := range []struct{ got, want string }{
		{fmt.Sprintf("%v", m), "{1528140051 [REDACTED]}"},
		{fmt.Sprintf("%+v", m), "{MchID:1528140051 Key:[REDACTED]}"},
		{fmt.Sprintf("%#v", m), `secret.Merchant{MchID:"1528140051", Key:"[REDACTED]"}`},
		{fmt.Sprintf("%v", &m), "{1528140051 [REDACTED]}"},
		{fmt.Sprintf("%v", set), "secret.Set{mchids:[1528140051 2]}"},
		{mustJSON(t, m), `{"mchid":"1528140051","key":"[REDACTED]"}`},
		{mustJSON(t, set), `{"merchants":[{"mchid":"1528140051","key":"[REDACTED]"},{"mchid":"2","key":"[REDACTED]"}]}`},
	} {
		if c.got != c.want {
			t.Errorf("printed %s, want %s", c.got, c.want)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "m", m, "set", set)
	if !strings.Contains(buf.String(), `"m":{"mchid":"1528140051","key":"[REDACTED]"},"set":{"count":2,"mchids":["1528140051","2"]}`) {
		t.Errorf("slog wrote %s", buf.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNoSecret fails the test when text contains any of secrets.
func assertNoSecret(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s leaks a secret: %q", what, text)
		}
	}
}

func TestValidMchID(t *testing.T) {
	for id, want := range map[string]bool{
		"1528140051": true, "a": true, strings.Repeat("Z", 32): true,
		"": false, strings.Repeat("Z", 33): false, "1-2": false, "１２": false, "1\x00": false, "a b": false,
	} {
		if got := payjs.ValidOrderID(id); got != want {
			t.Errorf("payjs.ValidOrderID(%q) = %v, want %v", id, got, want)
		}
	}
}

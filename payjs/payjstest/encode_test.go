package payjstest

import (
	"encoding/json"
	"testing"
)

func TestPHPURLDecode(t *testing.T) {
	for in, want := range map[string]string{
		"plain-key": "plain-key",
		"a+b":       "a b",
		"%41%7a":    "Az",
		"100%":      "100%",
		"%4":        "%4",
		"%zz%4a":    "%zzJ",
		"%%41":      "%A",
		"":          "",
	} {
		if got := phpURLDecode(in); got != want {
			t.Errorf("phpURLDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

// phpString escapes as PHP's json_encode, and what it writes is JSON that
// decodes to the original.
func TestPHPString(t *testing.T) {
	for in, want := range map[string]string{
		"SUCCESS":   `"SUCCESS"`,
		"订单已关闭":     `"\u8ba2\u5355\u5df2\u5173\u95ed"`,
		`a/b"c\d`:   `"a\/b\"c\\d"`,
		"tab\tnl\n": `"tab\tnl\n"`,
		"\x01":      `"\u0001"`,
		"😀":         `"\ud83d\ude00"`,
	} {
		got := string(phpString(nil, in))
		if got != want {
			t.Errorf("phpString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != in {
			t.Errorf("%s decodes to %q (%v), want %q", got, back, err, in)
		}
	}
}

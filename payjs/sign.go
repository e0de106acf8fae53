package payjs

import (
	"crypto/md5" //nolint:gosec // PAYJS defines its signature as MD5; we only follow it
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
)

// Sign returns PAYJS's signature of params under key, as PAYJS's reference
// implementation computes it: the "sign" field and every value that is ""
// or "0" are dropped, the remaining names are sorted by byte order, joined
// as name=value with "&" (raw UTF-8, no URL encoding, no trimming), then
// "&key=" and the key are appended, and the MD5 digest is returned as
// upper-case hex.
//
// Sign never fails: a key that PAYJS could never verify is refused by
// [ValidateKey] and [NewClient], not here.
func Sign(params map[string]string, key string) string {
	return md5Upper(stringToSign(params, key))
}

// stringToSign returns the text whose MD5 digest is the signature. It is
// kept apart from Sign so that tests can pin it against the vectors.
func stringToSign(params map[string]string, key string) string {
	names := make([]string, 0, len(params))
	size := len("&key=") + len(key)
	for name, value := range params {
		if !signed(name, value) {
			continue
		}
		names = append(names, name)
		size += len(name) + len(value) + 2
	}
	sort.Strings(names)

	var b strings.Builder
	b.Grow(size)
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(params[name])
	}
	b.WriteString("&key=")
	b.WriteString(key)
	return b.String()
}

// closeSign is Sign(map[string]string{"payjs_order_id": id}, key) without
// the map and the sort: the close request signs one field.
func closeSign(id, key string) string {
	if !signed("payjs_order_id", id) {
		return Sign(map[string]string{"payjs_order_id": id}, key)
	}
	return md5Upper("payjs_order_id=" + id + "&key=" + key)
}

// signed reports whether a field takes part in the signature: PAYJS drops
// the signature itself and the values its PHP reference treats as empty.
func signed(name, value string) bool {
	return name != "sign" && value != "" && value != "0"
}

func md5Upper(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // PAYJS's signature algorithm, not our choice
	var out [md5.Size * 2]byte
	hex.Encode(out[:], sum[:])
	for i, c := range out {
		if c >= 'a' && c <= 'f' {
			out[i] = c - ('a' - 'A')
		}
	}
	return string(out[:])
}

// VerifySign reports, in constant time, whether sign is the signature of
// params under key. The comparison ignores the case of the hex digits.
func VerifySign(params map[string]string, key, sign string) bool {
	if len(sign) != 2*md5.Size {
		// The length of a signature is public; only its digits are not.
		return false
	}
	got := []byte(sign)
	for i, c := range got {
		if 'a' <= c && c <= 'f' {
			got[i] = c - ('a' - 'A')
		}
	}
	return subtle.ConstantTimeCompare([]byte(Sign(params, key)), got) == 1
}

// ErrUnusableKey is returned by ValidateKey for a key that PAYJS could
// never verify.
var ErrUnusableKey = errors.New("payjs: unusable key")

// ValidateKey reports whether key can ever produce signatures PAYJS
// accepts. PAYJS's reference implementation URL-decodes the key before
// signing, so an empty key, or one holding "+" or "%", can never verify.
// The returned error never contains the key.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return &Error{Kind: KindInvalidInput, Msg: "key is empty", Err: ErrUnusableKey}
	case strings.ContainsAny(key, "+%"):
		return &Error{Kind: KindInvalidInput, Msg: `key contains "+" or "%", which PAYJS URL-decodes, so it can never verify`, Err: ErrUnusableKey}
	}
	return nil
}

// ValidOrderID reports whether id is a well-formed PAYJS order id: 1 to 32
// characters of [0-9A-Za-z]. Such an id can never smuggle "&", "=" or any
// other separator into the string that is signed.
func ValidOrderID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isAlnum(id[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

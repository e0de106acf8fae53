package payjs

import (
	"crypto/md5" //nolint:gosec // PAYJS defines its signature as MD5; we only follow it
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
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
	sum := md5.Sum([]byte(stringToSign(params, key))) //nolint:gosec // PAYJS's signature algorithm, not our choice
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// stringToSign returns the text whose MD5 digest is the signature. It is
// kept apart from Sign so that tests can pin it against the vectors.
func stringToSign(params map[string]string, key string) string {
	var pairs []string
	for _, name := range slices.Sorted(maps.Keys(params)) {
		// PAYJS drops the signature itself and the values its PHP
		// reference treats as empty.
		if v := params[name]; name != "sign" && v != "" && v != "0" {
			pairs = append(pairs, name+"="+v)
		}
	}
	return strings.Join(pairs, "&") + "&key=" + key
}

// VerifySign reports, in constant time, whether sign is the signature of
// params under key. The comparison ignores the case of the hex digits.
func VerifySign(params map[string]string, key, sign string) bool {
	return subtle.ConstantTimeCompare([]byte(Sign(params, key)), []byte(strings.ToUpper(sign))) == 1
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
	return !strings.ContainsFunc(id, func(r rune) bool { return !isAlnum(r) })
}

func isAlnum(c rune) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

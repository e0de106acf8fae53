package handler

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
)

// TestMain checks, after every test of the package has run, that no log
// or metric line any handler wrote holds a key or a signature.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := scanForSecrets(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: secret leaked into handler output:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// signLike matches an MD5 signature as PAYJS writes it.
var signLike = regexp.MustCompile(`\b[0-9A-F]{32}\b`)

func scanForSecrets() error {
	captured.mu.Lock()
	defer captured.mu.Unlock()
	for _, out := range captured.all {
		for _, key := range leakKeys {
			if strings.Contains(out, key) {
				return fmt.Errorf("a key appears in: %.200s", out)
			}
		}
		if s := signLike.FindString(out); s != "" && strings.ContainsAny(s, "ABCDEF") {
			return fmt.Errorf("a signature-like value %s appears", s)
		}
	}
	return nil
}

// leakKeys are every key the package's tests hand to a handler.
var leakKeys = []string{testKey, "second-merchant-key", "rotated-key-value"}

func TestKeyUnavailableIsRetryable(t *testing.T) {
	hs := newHarness(t)
	hs.keys.set, hs.keys.err = nil, &secret.LoadError{Reason: secret.ReasonUnreachable, SecretID: "payjs-close", Err: errors.New("dial tcp: connection refused")}
	a := hs.invokeHTTP(t, event(t, "http-api.json"))
	if a.status != 503 || a.result.Failure == nil || a.result.Failure.Code != closing.CodeConfigUnavailable || !a.result.Failure.Retryable {
		t.Fatalf("got %d %+v", a.status, a.result)
	}
	_, lerr := hs.invoke(t, event(t, "direct.json"))
	if lerr == nil || lerr.Type != string(closing.CodeConfigUnavailable) {
		t.Fatalf("direct invoke: %v, want a config_unavailable Lambda error", lerr)
	}
	if len(hs.closer.asked) != 0 {
		t.Errorf("PAYJS was called without a key")
	}
	if !strings.Contains(hs.out.String(), `"cause":"secret \"payjs-close\": unreachable`) {
		t.Errorf("no log line for the key failure")
	}
	// The next invoke asks the key source again: init failure is not sticky.
	hs.keys.set, hs.keys.err = mustSet(t, `{"mchid":"`+testMchID+`","key":"`+testKey+`"}`), nil
	if a := hs.invokeHTTP(t, event(t, "http-api.json")); a.status != 200 {
		t.Fatalf("after the key came back: %d %+v", a.status, a.result)
	}
}

func TestClientsAreBuiltOncePerKeySet(t *testing.T) {
	hs := newHarness(t)
	built := 0
	hs.h.deps.NewCloser = func(key string) (closing.Closer, error) { built++; hs.closer.key = key; return hs.closer, nil }
	hs.rebuild()
	for range 50 {
		_, _ = hs.invoke(t, event(t, "direct.json"))
	}
	if built != 1 {
		t.Errorf("NewCloser called %d times for 50 warm invokes, want 1", built)
	}
	// A new key set (a refresh that found a rotated secret) builds anew.
	hs.keys.set = mustSet(t, `{"mchid":"`+testMchID+`","key":"rotated-key-value"}`)
	_, _ = hs.invoke(t, event(t, "direct.json"))
	if built != 2 || hs.closer.key != "rotated-key-value" {
		t.Errorf("after rotation: built %d, key in use is the new one: %v", built, hs.closer.key == "rotated-key-value")
	}
}

func TestSeveralMerchantsNeedAnMchID(t *testing.T) {
	hs := newHarness(t)
	hs.keys.set = mustSet(t, `{"merchants":[{"mchid":"`+testMchID+`","key":"`+testKey+`"},{"mchid":"2000000001","key":"second-merchant-key"}]}`)
	var keys []string
	hs.h.deps.NewCloser = func(key string) (closing.Closer, error) { keys = append(keys, key); return hs.closer, nil }
	hs.rebuild()

	out, _ := hs.invoke(t, []byte(`{"payjs_order_id":"`+order1+`"}`))
	if r := decodeResult(t, out); r.Failure == nil || r.Failure.Code != closing.CodeInvalidRequest {
		t.Errorf("no mchid with two merchants: %+v", r)
	}
	out, _ = hs.invoke(t, []byte(`{"payjs_order_id":"`+order1+`","mchid":"2000000001"}`))
	if r := decodeResult(t, out); !r.OK || len(keys) != 1 || keys[0] != "second-merchant-key" {
		t.Errorf("mchid 2000000001: %+v, keys used %d", r, len(keys))
	}
}

func TestColdStartIsCountedOnce(t *testing.T) {
	hs := newHarness(t)
	for range 3 {
		_, _ = hs.invoke(t, event(t, "direct.json"))
	}
	if n := strings.Count(hs.out.String(), `"ColdStarts":1`); n != 1 {
		t.Errorf("ColdStarts emitted %d times, want 1", n)
	}
}

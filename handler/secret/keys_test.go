package secret

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// TestStoreRekeyReadsOnlyForTheKeySeen: a caller whose rejected key is
// still the current one forces a read; one whose key the current set
// already replaced gets the current key without a read.
func TestStoreRekeyReadsOnlyForTheKeySeen(t *testing.T) {
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	if mchid, key, err := s.Key(ctx, ""); err != nil || mchid != "1528140051" || key != testKey {
		t.Fatalf("Key = %s, key is the secret's: %v, %v", mchid, key == testKey, err)
	}
	api.set(serve(secretJSON("rotated-key-value")))
	if _, key, err := s.Rekey(ctx, "", testKey); err != nil || key != "rotated-key-value" || api.Calls() != 2 {
		t.Fatalf("Rekey after a rotation: new key %v, %v, %d reads; want the new key from a second read", key == "rotated-key-value", err, api.Calls())
	}
	if _, key, err := s.Rekey(ctx, "", testKey); err != nil || key != "rotated-key-value" || api.Calls() != 2 {
		t.Errorf("Rekey of a key already replaced: new key %v, %v, %d reads; want it without a read", key == "rotated-key-value", err, api.Calls())
	}
}

// TestKeysErrorsMatchTheCore: the errors the core maps to codes reach it
// through errors.Is, whatever secret wraps them in.
func TestKeysErrorsMatchTheCore(t *testing.T) {
	api := &fakeAPI{answer: fail(errors.New("unreachable"))}
	s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)))
	if _, _, err := s.Key(context.Background(), ""); !errors.Is(err, closing.ErrKeysUnavailable) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Key with Secrets Manager down = %v; want ErrUnavailable and closing.ErrKeysUnavailable", err)
	}
	two, err := Parse(`{"merchants":[{"mchid":"1","key":"` + testKey + `"},{"mchid":"2","key":"` + testKey + `2"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := two.Key(context.Background(), ""); !errors.Is(err, closing.ErrMchIDRequired) {
		t.Errorf("Key without mchid of two = %v; want closing.ErrMchIDRequired", err)
	}
	if _, _, err := two.Key(context.Background(), "3"); !errors.Is(err, closing.ErrUnknownMerchant) {
		t.Errorf("Key of an unknown mchid = %v; want closing.ErrUnknownMerchant", err)
	}
}

// TestOneChecksAsParseDoes: One refuses what Parse refuses in a secret.
func TestOneChecksAsParseDoes(t *testing.T) {
	set, err := One("1528140051", testKey)
	if err != nil {
		t.Fatal(err)
	}
	if mchid, key, err := set.Rekey(context.Background(), "", testKey); err != nil || mchid != "1528140051" || key != testKey {
		t.Errorf("Rekey = %s, %v; want the one merchant", mchid, err)
	}
	if _, err := One("1528-140051", testKey); err == nil {
		t.Error("One took a malformed mchid")
	}
	if _, err := One("1528140051", " "+testKey); !errors.Is(err, payjs.ErrUnusableKey) {
		t.Errorf("One with a padded key = %v; want ErrUnusableKey", err)
	}
}

package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
)

const (
	testMchID = "1528140051"
	testKey   = "payjs-close-local-demo-key"
	testReqID = "c6af9ac6-7b61-11e6-9a41-93e812345678"
)

// staticKeys is the handler's Keys serving one parsed secret, or an
// error, and counting its calls.
type staticKeys struct {
	mu        sync.Mutex
	set       *secret.Set
	err       error
	calls     int
	refreshes int
	// rotated, when set, is what a Refresh finds: the secret after a
	// key rotation.
	rotated *secret.Set
}

func (k *staticKeys) Key(_ context.Context, mchid string) (string, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	return k.lookup(mchid)
}

func (k *staticKeys) Rekey(_ context.Context, mchid, _ string) (string, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshes++
	if k.rotated != nil {
		k.set = k.rotated
	}
	return k.lookup(mchid)
}

// lookup answers mchid's merchant from k.set, as *secret.Store does.
func (k *staticKeys) lookup(mchid string) (string, string, error) {
	if k.err != nil {
		return "", "", k.err
	}
	return k.set.Key(context.Background(), mchid)
}

func mustSet(t testing.TB, text string) *secret.Set {
	t.Helper()
	s, err := secret.Parse(text)
	if err != nil {
		t.Fatalf("secret.Parse: %v", err)
	}
	return s
}

// fakeCloser answers by order id and records what it was asked.
type fakeCloser struct {
	mu     sync.Mutex
	key    string
	asked  []string
	answer func(id string) (*payjs.Result, error)
}

func (f *fakeCloser) CloseOrder(_ context.Context, id string) (*payjs.Result, error) {
	f.mu.Lock()
	f.asked = append(f.asked, id)
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(id)
	}
	return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
}

// harness is a Handler with a capture of everything it logged.
type harness struct {
	h      *Handler
	keys   *staticKeys
	closer *fakeCloser
	out    *testlog.Buffer
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	out := &testlog.Buffer{}
	hs := &harness{
		keys:   &staticKeys{set: mustSet(t, `{"mchid":"`+testMchID+`","key":"`+testKey+`"}`)},
		closer: &fakeCloser{},
		out:    out,
	}
	hs.h = New(Deps{
		Keys: hs.keys,
		NewCloser: func(key string) (closing.Closer, error) {
			hs.closer.key = key
			return hs.closer, nil
		},
		Obs: NewObserver(NewLogger(out, slog.LevelDebug), out),
	})
	t.Cleanup(func() { recordOutput(t, out.String()) })
	return hs
}

// rebuild makes the Handler anew from its Deps, after a test changed
// them: the core is built from them in New.
func (hs *harness) rebuild() { hs.h = New(hs.h.deps) }

// lambdaCtx is an invocation context like the runtime's, with a deadline.
func lambdaCtx(t testing.TB) context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: testReqID})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// invoke runs one invocation; lambdaErr is set when the Handler answered
// with a Lambda error.
func (hs *harness) invoke(t testing.TB, payload []byte) (out []byte, lambdaErr *messages.InvokeResponse_Error) {
	t.Helper()
	out, err := hs.h.Invoke(lambdaCtx(t), payload)
	if err != nil {
		var ie messages.InvokeResponse_Error
		if !errors.As(err, &ie) {
			t.Fatalf("Invoke returned a %T error: %v", err, err)
		}
		return nil, &ie
	}
	return out, nil
}

// event reads a sample from events/ and applies edits to its JSON.
func event(t testing.TB, name string, edits ...func(map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(m)
	}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeResult(t testing.TB, b []byte) closing.Result {
	t.Helper()
	var r closing.Result
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("result %s: %v", b, err)
	}
	return r
}

// captured collects the log output of every handler run in this package,
// so that TestNoSecretInAnyOutput can look through all of it.
var captured struct {
	mu  sync.Mutex
	all []string
}

func recordOutput(_ testing.TB, s string) {
	captured.mu.Lock()
	captured.all = append(captured.all, s)
	captured.mu.Unlock()
}

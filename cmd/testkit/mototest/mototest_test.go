package mototest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
)

func get(t *testing.T, c *secretsmanager.Client, name string) (string, error) {
	t.Helper()
	out, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

func TestServerServesSecrets(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := mototest.Start(t)
	t.Logf("moto answered after %v", time.Since(start))
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want a loopback URL", srv.URL)
	}
	arn := srv.CreateSecret(t, "app/one", "v1")
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:") || !strings.Contains(arn, ":secret:app/one-") {
		t.Errorf("ARN = %q", arn)
	}
	c := srv.Client(t)
	for _, id := range []string{"app/one", arn} {
		if v, err := get(t, c, id); err != nil || v != "v1" {
			t.Errorf("GetSecretValue(%s) = %q, %v", id, v, err)
		}
	}
	srv.PutSecretValue(t, "app/one", "v2")
	if v, err := get(t, c, "app/one"); err != nil || v != "v2" {
		t.Errorf("after PutSecretValue: %q, %v", v, err)
	}
	if n := srv.Calls("GetSecretValue"); n != 3 {
		t.Errorf("Calls(GetSecretValue) = %d, want 3", n)
	}
	if n := srv.Calls("CreateSecret") + srv.Calls("PutSecretValue"); n != 0 {
		t.Errorf("the Server's own calls were counted: %d", n)
	}
	srv.ResetCalls()
	if n := srv.Calls("GetSecretValue"); n != 0 {
		t.Errorf("after ResetCalls: %d", n)
	}

	srv.DeleteSecret(t, "app/one")
	_, err := get(t, c, "app/one")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("after DeleteSecret: %v, want ResourceNotFoundException", err)
	}
	srv.CreateSecret(t, "app/one", "again") // the name is free at once
}

func TestServerFaultsAreRealAWSErrors(t *testing.T) {
	t.Parallel()
	srv := mototest.Start(t)
	srv.CreateSecret(t, "app/s", "v")
	noRetry := srv.Client(t, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	tests := []struct {
		fault  mototest.Fault
		code   string
		status int
	}{
		{mototest.AccessDenied(), "AccessDeniedException", 400},
		{mototest.Throttled(), "ThrottlingException", 400},
		{mototest.InternalError(), "InternalServiceError", 500},
	}
	for _, tt := range tests {
		srv.Fail("GetSecretValue", tt.fault)
		_, err := get(t, noRetry, "app/s")
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tt.code {
			t.Errorf("with %s: %v, want API error %s", tt.code, err, tt.code)
		}
		if !strings.Contains(fmt.Sprint(err), fmt.Sprintf("StatusCode: %d", tt.status)) {
			t.Errorf("with %s: %v, want HTTP %d", tt.code, err, tt.status)
		}
	}
	srv.ClearFaults()
	if v, err := get(t, noRetry, "app/s"); err != nil || v != "v" {
		t.Errorf("after ClearFaults: %q, %v", v, err)
	}

	// Times limits a fault; other operations are not affected.
	f := mototest.InternalError()
	f.Times = 1
	srv.Fail("GetSecretValue", f)
	srv.Fail("DescribeSecret", mototest.AccessDenied())
	srv.ResetCalls()
	if v, err := get(t, srv.Client(t), "app/s"); err != nil || v != "v" {
		t.Errorf("a 500 once, then the SDK's retry: %q, %v", v, err)
	}
	if n := srv.Calls("GetSecretValue"); n != 2 {
		t.Errorf("Calls = %d, want 2 (the failed attempt and the retry)", n)
	}

	// A slow answer holds the client until its deadline.
	srv.Fail("GetSecretValue", mototest.Slow(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := noRetry.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/s")})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("slow fault: %v after %v", err, time.Since(start))
	}
}

func TestServerStopAndRestart(t *testing.T) {
	t.Parallel()
	srv := mototest.Start(t)
	url := srv.URL
	srv.CreateSecret(t, "app/a", "a1")
	srv.CreateSecret(t, "app/b", "b1")
	srv.PutSecretValue(t, "app/a", "a2")
	c := srv.Client(t)
	if _, err := get(t, c, "app/a"); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	srv.Stop() // twice is fine
	_, err := get(t, c, "app/a")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("while stopped: %v, want connection refused", err)
	}

	srv.Restart(t)
	if srv.URL != url {
		t.Errorf("URL changed from %s to %s", url, srv.URL)
	}
	for name, want := range map[string]string{"app/a": "a2", "app/b": "b1"} {
		if v, err := get(t, c, name); err != nil || v != want {
			t.Errorf("after Restart, %s = %q, %v; want %q", name, v, err, want)
		}
	}
	srv.Restart(t) // restarting a running server works too
	if v, err := get(t, c, "app/b"); err != nil || v != "b1" {
		t.Errorf("after a second Restart: %q, %v", v, err)
	}

	srv.Reset(t)
	if _, err := get(t, c, "app/a"); err == nil {
		t.Error("a secret survived Reset")
	}
	if n := srv.Calls("GetSecretValue"); n != 1 {
		t.Errorf("Calls after Reset and one Get = %d, want 1", n)
	}
}

func TestServerEnvReachesItThroughTheSDKConfig(t *testing.T) {
	srv := mototest.Start(t)
	srv.CreateSecret(t, "app/env", "from-env")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // a global override must not win
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := get(t, secretsmanager.NewFromConfig(cfg), "app/env"); err != nil || v != "from-env" {
		t.Errorf("through AWS_ENDPOINT_URL_SECRETS_MANAGER: %q, %v", v, err)
	}
	if srv.Calls("GetSecretValue") != 1 {
		t.Error("the call did not reach the server")
	}

	// Config ignores the environment: it reaches the endpoint it is given.
	other := mototest.Start(t)
	other.CreateSecret(t, "app/env", "other")
	if v, err := get(t, other.Client(t), "app/env"); err != nil || v != "other" {
		t.Errorf("Config with AWS_ENDPOINT_URL_SECRETS_MANAGER set elsewhere: %q, %v", v, err)
	}
}

// fatalTB records the first Fatalf or Skip and ends its goroutine as
// testing.T does.
type fatalTB struct {
	testing.TB
	mu      sync.Mutex
	msg     string
	skipped bool
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Skip(args ...any) {
	f.mu.Lock()
	f.msg, f.skipped = fmt.Sprint(args...), true
	f.mu.Unlock()
	runtime.Goexit()
}

// ended runs fn with a fatalTB in a goroutine of its own and returns what
// ended it: a Fatalf or a Skip, or neither (msg "").
func ended(t *testing.T, fn func(testing.TB)) (msg string, skipped bool) {
	t.Helper()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.msg, tb.skipped
}

func TestStartFailsWithInstallHint(t *testing.T) {
	dir := t.TempDir()
	noModule := filepath.Join(dir, "python-without-moto")
	script := "#!/bin/sh\necho \"$0: Error while finding module specification for 'moto.server' (ModuleNotFoundError: No module named 'moto')\" >&2\nexit 1\n"
	if err := os.WriteFile(noModule, []byte(script), 0o700); err != nil { //nolint:gosec // G306: a fake interpreter must be executable
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		expect []string
	}{
		{"no python3 in PATH", map[string]string{"PATH": dir, mototest.PythonEnv: ""},
			[]string{"python3 not found in PATH", "pip install 'moto[server]'", "make test"}},
		{"interpreter missing", map[string]string{mototest.PythonEnv: filepath.Join(dir, "nope")},
			[]string{"start " + filepath.Join(dir, "nope"), "pip install 'moto[server]'", "make test"}},
		{"moto not installed", map[string]string{mototest.PythonEnv: noModule},
			[]string{"exited", "No module named 'moto'", "pip install 'moto[server]'", "make test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			// The full tier's Start, whichever tier runs this test.
			msg, skipped := ended(t, func(tb testing.TB) { mototest.StartTier(tb, false) })
			if msg == "" || skipped {
				t.Fatalf("Start did not fail the test (skipped: %v, %q)", skipped, msg)
			}
			for _, want := range tt.expect {
				if !strings.Contains(msg, want) {
					t.Errorf("Fatalf message %q lacks %q", msg, want)
				}
			}
		})
	}
}

// TestRequireSkipsOnlyUnderShort: under -short a test that needs moto
// skips, saying why and what runs it; without -short it never skips, even
// with nothing installed.
func TestRequireSkipsOnlyUnderShort(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing in it
	t.Setenv(mototest.PythonEnv, "")
	msg, skipped := ended(t, func(tb testing.TB) { mototest.RequireTier(tb, true) })
	if !skipped || !strings.Contains(msg, "-short") || !strings.Contains(msg, "make test") {
		t.Errorf("under -short: skipped %v, %q; want a skip naming -short and `make test`", skipped, msg)
	}
	msg, skipped = ended(t, func(tb testing.TB) { mototest.StartTier(tb, true) })
	if !skipped {
		t.Errorf("Start under -short: %q, want a skip", msg)
	}
	msg, skipped = ended(t, func(tb testing.TB) { mototest.RequireTier(tb, false) })
	if skipped || !strings.Contains(msg, "python3 not found") || !strings.Contains(msg, "make test") {
		t.Errorf("without -short: skipped %v, %q; want a failure with an install hint", skipped, msg)
	}

	fake := filepath.Join(t.TempDir(), "python")
	t.Setenv(mototest.PythonEnv, fake)
	var got string
	if msg, _ := ended(t, func(tb testing.TB) { got = mototest.RequireTier(tb, false) }); msg != "" || got != fake {
		t.Errorf("with %s set: %q, ended by %q; want the interpreter it names", mototest.PythonEnv, got, msg)
	}
}

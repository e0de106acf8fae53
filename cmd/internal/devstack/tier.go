package devstack

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
)

// Tests that run the emulator belong to the full tier: go test -short,
// which needs nothing but Go, skips them; without -short a missing
// emulator or moto fails them with an install hint.

// skipShort is why a test that needs the emulator skips under -short.
const skipShort = "needs aws-lambda-rie (and moto for a whole Stack): skipped under -short; " +
	"the full tier (`make test`, or go test without -short) runs it"

// RequireRIE sorts a test that needs aws-lambda-rie into its tier. Under
// go test -short it skips tb, saying why. Otherwise it returns the
// emulator's path ([FindRIE] from the module root, with PAYJS_RIE from
// the environment), and fails tb with an install hint when there is none;
// it never skips.
func RequireRIE(tb testing.TB) string {
	tb.Helper()
	rie, skip, err := needRIE(testing.Short(), os.Getenv)
	if skip != "" {
		tb.Skip("devstack: " + skip)
	}
	if err != nil {
		tb.Fatalf("devstack: %v", err)
	}
	return rie
}

// needRIE is RequireRIE's decision: a reason to skip, or the emulator,
// or why it cannot be had.
func needRIE(short bool, getenv func(string) string) (rie, skip string, err error) {
	if short {
		return "", skipShort, nil
	}
	root, err := Root()
	if err != nil {
		return "", "", err
	}
	rie, err = FindRIE(root, getenv)
	return rie, "", err
}

// Require sorts a test that starts a [Stack] into its tier: it needs the
// emulator ([RequireRIE]) and moto ([mototest.Require]). Call it before
// [Start]; [StartTest] does.
func Require(tb testing.TB) {
	tb.Helper()
	RequireRIE(tb)
	mototest.Require(tb)
}

// StartTest is [Start] for a test: it calls [Require], collects what the
// emulator and the function print in the returned Buffer (in place of
// o.Output), fails tb when the stack does not start within five minutes
// (a build and moto's start, on a machine that may be busy),
// and closes the stack when the test ends, logging that output if the
// test failed.
func StartTest(tb testing.TB, o Options) (*Stack, *testlog.Buffer) {
	tb.Helper()
	Require(tb)
	out := &testlog.Buffer{}
	o.Output = out
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := Start(ctx, o)
	if err != nil {
		tb.Fatalf("start the bootstrap under aws-lambda-rie with moto and the simulator: %v\noutput:\n%s", err, out.String())
	}
	tb.Cleanup(func() {
		st.Close()
		if tb.Failed() {
			tb.Logf("emulator and function output:\n%s", out.String())
		}
	})
	return st, out
}

package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

type result struct {
	OK           bool   `json:"ok"`
	Status       string `json:"status"`
	PayjsOrderID string `json:"payjs_order_id"`
	Error        *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func invoke(t *testing.T, st *devstack.Stack, payload string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return st.Invoke(ctx, []byte(payload))
}

func direct(id string) string { return `{"payjs_order_id":"` + id + `"}` }

func TestStackRunsTheBootstrapUnderTheEmulator(t *testing.T) {
	t.Parallel()
	st, _ := devstack.StartTest(t, devstack.Options{})
	if !strings.HasPrefix(st.Emulator.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %q, want a loopback URL", st.Emulator.URL())
	}
	if _, ok := st.Emulator.FirstResponse(); ok {
		t.Error("FirstResponse is set before any invoke")
	}
	if _, err := st.Emulator.BootstrapPID(); err == nil {
		t.Error("the bootstrap runs before the first invoke")
	}

	out, err := invoke(t, st, direct(payjstest.DemoOrderUnpaid(1)))
	var r result
	if err != nil || json.Unmarshal(out, &r) != nil || !r.OK || r.Status != "closed" {
		t.Fatalf("close: %s, %v; want a closed result", out, err)
	}
	if o, _ := st.Sim.Order(payjstest.DemoOrderUnpaid(1)); o.State != payjstest.StateClosed {
		t.Errorf("simulator order state = %v, want closed", o.State)
	}
	cold, ok := st.Emulator.FirstResponse()
	if !ok || cold <= 0 || cold > 30*time.Second {
		t.Errorf("FirstResponse = %v, %v", cold, ok)
	}
	t.Logf("emulator start to first answer: %v", cold)

	// A retryable failure is a Lambda error, told apart by its shape.
	out, err = invoke(t, st, direct(payjstest.DemoOrderUnavailable))
	var fe *devstack.FunctionError
	if !errors.As(err, &fe) || fe.Type != "payjs_unavailable" {
		t.Fatalf("the 503 order: %s, %v; want a FunctionError payjs_unavailable", out, err)
	}
	if json.Unmarshal([]byte(fe.Message), &r) != nil || r.Error == nil || r.Error.Code != "payjs_unavailable" {
		t.Errorf("FunctionError.Message = %q, want the result as JSON", fe.Message)
	}

	pid, err := st.Emulator.BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	rss, err := st.Emulator.PeakRSS()
	if err != nil || rss < 1<<20 || rss > 1<<30 {
		t.Errorf("PeakRSS = %d, %v", rss, err)
	}
	t.Logf("bootstrap %d peak RSS %.1f MiB", pid, float64(rss)/(1<<20))

	// Restart: a fresh bootstrap, the same moto and simulator.
	gets := st.Moto.Calls("GetSecretValue")
	if err := st.Emulator.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if processExists(pid) {
		t.Errorf("the old bootstrap %d still runs after Restart", pid)
	}
	if _, ok := st.Emulator.FirstResponse(); ok {
		t.Error("FirstResponse survived Restart")
	}
	if out, err := invoke(t, st, direct(payjstest.DemoOrderUnpaid(2))); err != nil || !bytes.Contains(out, []byte(`"status":"closed"`)) {
		t.Errorf("after Restart: %s, %v", out, err)
	}
	if n := st.Moto.Calls("GetSecretValue") - gets; n != 1 {
		t.Errorf("the cold start after Restart made %d GetSecretValue calls, want 1", n)
	}
	pid2, err := st.Emulator.BootstrapPID()
	if err != nil || pid2 == pid {
		t.Errorf("BootstrapPID after Restart = %d, %v (was %d)", pid2, err, pid)
	}
	st.Close()
	if processExists(pid2) {
		t.Errorf("the bootstrap %d still runs after Close", pid2)
	}
	if _, err := invoke(t, st, direct(payjstest.DemoOrderUnpaid(3))); err == nil {
		t.Error("Invoke after Close succeeded")
	}
}

func processExists(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

func TestStartRefusesAMissingEmulatorWithAnInstallHint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := devstack.Start(context.Background(), devstack.Options{
		Root:   dir,
		Getenv: func(string) string { return filepath.Join(dir, "aws-lambda-rie") },
	})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("Start = %v, want an error saying `make tools`", err)
	}
}

func TestFindRIE(t *testing.T) {
	dir := t.TempDir()
	noEnv := func(string) string { return "" }
	t.Setenv("PATH", dir) // nothing in it

	if _, err := devstack.FindRIE(dir, noEnv); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("nothing installed: %v, want an error saying `make tools`", err)
	}

	local := filepath.Join(dir, ".bin", "aws-lambda-rie")
	if err := os.MkdirAll(filepath.Dir(local), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, []byte("#!/bin/sh\n"), 0o700); err != nil { //nolint:gosec // G306: a fake emulator must be executable
		t.Fatal(err)
	}
	if p, err := devstack.FindRIE(dir, noEnv); err != nil || p != local {
		t.Errorf(".bin/aws-lambda-rie: %q, %v", p, err)
	}

	other := filepath.Join(dir, "rie")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o700); err != nil { //nolint:gosec // G306: a fake emulator must be executable
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == devstack.RIEEnv {
			return other
		}
		return ""
	}
	if p, err := devstack.FindRIE(dir, env); err != nil || p != other {
		t.Errorf("PAYJS_RIE: %q, %v", p, err)
	}
	missing := func(string) string { return filepath.Join(dir, "missing") }
	if _, err := devstack.FindRIE(dir, missing); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("PAYJS_RIE naming a missing file: %v", err)
	}
}

func TestRootIsTheModuleRoot(t *testing.T) {
	t.Parallel()
	root, err := devstack.Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "closeorder", "main.go")); err != nil {
		t.Errorf("Root = %s: %v", root, err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// TestRunHandsTheRuntimeAHandlerThatCloses runs the bootstrap's run as
// Lambda would and closes an order through the handler it hands over.
func TestRunHandsTheRuntimeAHandlerThatCloses(t *testing.T) {
	sm := mototest.Start(t)
	sim := payjstest.NewServer(payjstest.WithDemoData())
	t.Cleanup(sim.Close)
	sm.CreateSecret(t, "payjs-close/run", `{"mchid":"`+payjstest.DemoMchID+`","key":"`+payjstest.DemoKey+`"}`)
	// The AWS SDK reads its endpoint and credentials from the process.
	for k, v := range sm.Env() {
		t.Setenv(k, v)
	}
	env := map[string]string{"PAYJS_SECRET_ID": "payjs-close/run", "PAYJS_BASE_URL": sim.URL}
	var out bytes.Buffer
	started := false
	err := run(context.Background(), func(k string) string { return env[k] }, &out, func(h lambda.Handler) {
		started = true
		id := payjstest.DemoOrderUnpaid(1)
		answer, err := h.Invoke(context.Background(), []byte(`{"payjs_order_id":"`+id+`"}`))
		var res struct{ Status string }
		if err != nil || json.Unmarshal(answer, &res) != nil || res.Status != "closed" {
			t.Errorf("close %s: %s, %v", id, answer, err)
		}
	})
	if err != nil || !started {
		t.Fatalf("run: %v (handler started: %v)", err, started)
	}
	if strings.Contains(out.String(), payjstest.DemoKey) {
		t.Error("the key appears in the function's output")
	}
}

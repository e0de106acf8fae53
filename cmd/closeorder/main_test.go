package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/payjs-close/payjs-close/handler/secret/mototest"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// TestRunFitsGOMAXPROCSBeforeTheFirstInvoke runs the bootstrap's run as
// Lambda would (AWS_LAMBDA_FUNCTION_MEMORY_SIZE set): the handler reaches
// the runtime with GOMAXPROCS as wire.MaxProcs says, or as the
// GOMAXPROCS variable says when it is set, and closes an order.
func TestRunFitsGOMAXPROCSBeforeTheFirstInvoke(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	sm := mototest.Start(t)
	sim := payjstest.NewServer(payjstest.WithDemoData())
	t.Cleanup(sim.Close)
	sm.CreateSecret(t, "payjs-close/run", `{"mchid":"`+payjstest.DemoMchID+`","key":"`+payjstest.DemoKey+`"}`)
	// The AWS SDK reads its endpoint and credentials from the process.
	for k, v := range sm.Env() {
		t.Setenv(k, v)
	}

	cases := []struct {
		name string
		vars map[string]string
		want int
	}{
		{"128 MB", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, 1},
		{"GOMAXPROCS set", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "GOMAXPROCS": "2"}, 2},
		{"off Lambda", map[string]string{}, 2},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runtime.GOMAXPROCS(2)
			env := map[string]string{"PAYJS_SECRET_ID": "payjs-close/run", "PAYJS_BASE_URL": sim.URL}
			maps.Copy(env, c.vars)
			var out bytes.Buffer
			started := false
			err := run(context.Background(), func(k string) string { return env[k] }, &out, func(h lambda.Handler) {
				started = true
				if got := runtime.GOMAXPROCS(0); got != c.want {
					t.Errorf("GOMAXPROCS %d when the runtime got the handler, want %d", got, c.want)
				}
				id := payjstest.DemoOrderUnpaid(i + 1)
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
		})
	}
}

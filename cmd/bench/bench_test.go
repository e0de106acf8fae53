package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestParseInitMSReadsTheInitLineOfEitherFunction(t *testing.T) {
	for _, tc := range []struct {
		line string
		want float64
		ok   bool
	}{
		{`{"time":"x","level":"INFO","msg":"init","key_loaded":true,"key_ms":4.5,"warm_ms":1.25,"init_ms":5}`, 5, true},
		{`{"timestamp":"x","level":"INFO","message":"init","init_ms":4.37}`, 4.37, true},
		{`{"message":"init","init_ms":0.5}`, 0.5, true}, // the minimal Go Lambda's
		{`{"message":"close","latency_ms":0.75}`, 0, false},
		{`{"message":"init"}`, 0, false},
		{"REPORT RequestId: a\tDuration: 11.50 ms", 0, false},
		{`{"message":"init","init_ms":`, 0, false},
	} {
		got, ok := parseInitMS(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInitMS(%s) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLinesInitMSTakesTheFirstInitLineAfterTheMark(t *testing.T) {
	l := &lines{copy: io.Discard}
	_, _ = l.Write([]byte(`{"message":"init","init_ms":1}` + "\n"))
	mark := l.mark()
	got := make(chan float64)
	go func() {
		v, err := l.initMS(t.Context(), mark)
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	_, _ = l.Write([]byte("START RequestId: a\n{\"message\":\"in"))
	_, _ = l.Write([]byte("it\",\"init_ms\":2}\r\n"))
	if v := <-got; v != 2 {
		t.Errorf("init_ms = %v, want 2 (the line after the mark, written in two pieces)", v)
	}
}

func TestLinesInitMSGivesUpWhenTheContextEnds(t *testing.T) {
	l := &lines{copy: io.Discard}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.initMS(ctx, 0); err == nil {
		t.Error("no init line and a done context: want an error")
	}
}

func TestMedianAndPercentile(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median = %v", got)
	}
	if got := median([]int{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of even count = %v", got)
	}
	xs := make([]time.Duration, 100)
	for i := range xs {
		xs[i] = time.Duration(100-i) * time.Millisecond
	}
	if p50, p90 := percentile(xs, 50), percentile(xs, 90); p50 != 50*time.Millisecond || p90 != 90*time.Millisecond {
		t.Errorf("p50 %v, p90 %v", p50, p90)
	}
	if got := percentile([]float64{7}, 90); got != 7 {
		t.Errorf("p90 of one = %v", got)
	}
}

func TestRowResultAgainstItsTarget(t *testing.T) {
	for _, tc := range []struct {
		goal *goal
		a, b float64
		want string
	}{
		{atMost(1.05), 105, 100, "PASS"},
		{atMost(1.05), 106, 100, "**FAIL**"},
		{atMost(0.85), 300, 385, "PASS"},
		{atMost(0.85), 397, 385, "**FAIL**"},
		{below(1.5), 149, 100, "PASS"},
		{below(1.5), 150, 100, "**FAIL**"},
		{atLeast(0.9), 180, 200, "PASS"},
		{atLeast(0.9), 179, 200, "**FAIL**"},
		{nil, 275, 85, "–"},
		{atMost(1.1), 1, 0, "–"},
	} {
		r := row{goal: tc.goal, a: tc.a, b: tc.b}
		if got := r.result(); got != tc.want {
			t.Errorf("%v / %v against %v: %s, want %s", tc.a, tc.b, tc.goal, got, tc.want)
		}
	}
}

// TestMarkdownIsOneTableWithEveryTarget renders a made-up run whose WAN
// first close misses its target.
func TestMarkdownIsOneTableWithEveryTarget(t *testing.T) {
	sb := func(start, init float64, warm ...float64) *sandbox {
		s := &sandbox{start: dur(start), initMS: init, peakRSS: 11 << 20, conns: 1, secrets: 1}
		for _, w := range warm {
			s.warm = append(s.warm, dur(w))
		}
		return s
	}
	r := &report{
		when:    time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
		machine: "2 cores",
		command: commandLine([]string{"bench", "-cold", "2"}),
		o:       options{cold: 2, warm: 1, wanCold: 1, wanWarm: 1, batches: 1, payjsRTT: 80 * time.Millisecond, secretsRTT: 30 * time.Millisecond},
		loopback: map[string][]*sandbox{
			ours:     {sb(9.5, 4, 0.6), sb(9.7, 4, 0.6)},
			baseline: {sb(9.4, 4, 0.65), sb(9.6, 4, 0.65)},
		},
		wan: map[string][]*sandbox{
			ours:     {sb(397, 275, 85)},
			baseline: {sb(385, 85, 84.9)},
		},
		arm64: map[string]int64{ours: 9 << 20, baseline: 8 << 20},
		one:   []time.Duration{dur(51)},
		batch: []time.Duration{dur(52)},

		unpublished: []time.Duration{dur(52)},
		published:   []time.Duration{dur(60)},
	}
	// The baseline's CPU time stays unknown, as without /proc/PID/task/*/schedstat.
	r.loopback[ours][0].cpu, r.loopback[ours][1].cpu = dur(20), dur(22)
	md := r.markdown()
	for _, want := range []string{
		"`go run ./cmd/bench -cold 2`",
		"| loopback | cold start: start → first close answered | ≤ 1.05× | 9.60 ms (9.50–9.70 ms) | 9.50 ms (9.40–9.60 ms) | 1.01× | PASS |",
		"| loopback | CPU time, start → first close (all threads; for reading the row above) | – | 21.0 ms (20.0–22.0 ms) | – | – | – |",
		"| loopback | warm invoke, p50 | ≤ 1.10× |",
		"| loopback | peak RSS (VmHWM) | ≤ 1.20× |",
		"| loopback | bootstrap size, linux/arm64 | ≤ 1.25× | 9.0 MiB | 8.0 MiB | 1.12× | PASS |",
		"| < 1.50× | batch 52.0 ms | one close 51.0 ms | 1.02× | PASS |",
		"| loopback | SQS path, one sandbox: closes per second against the bound PAYJS_SQS_CONCURRENCY (10) / PAYJS latency (50ms) | ≥ 0.90× | 192 closes/s | bound 200 closes/s | 0.96× | PASS |",
		"against it without a bus | – | with 60.0 ms | without 52.0 ms | 1.15× | – |",
		"| WAN | start → first close answered | ≤ 0.85× | 397 ms | 385 ms | 1.03× | **FAIL** |",
		"| WAN | init (the bootstrap's init_ms, main → ready) | – | 275 ms | 85.0 ms | 3.24× | – |",
		"| WAN | warm close, p50 | ≤ 1.05× | 85.0 ms (p90 85.0 ms) | 84.9 ms (p90 84.9 ms) | 1.00× | PASS |",
		"| 1 / 1 | 1 / 1 | – | – |",
		"= 240ms",
		"exits 0",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "\n| profile |"); n != 1 {
		t.Errorf("%d tables, want one", n)
	}
}

func dur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func TestSQSEventDecodesAsLambdaDeliversIt(t *testing.T) {
	ids := []string{"2026112590000000000000000001", "2026112590000000000000000002"}
	b, err := sqsEvent(ids)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != len(ids) {
		t.Fatalf("%d records, want %d", len(ev.Records), len(ids))
	}
	for i, r := range ev.Records {
		if r.EventSource != "aws:sqs" || r.Body != `{"payjs_order_id":"`+ids[i]+`"}` || r.MessageId == "" {
			t.Errorf("record %d: %+v", i, r)
		}
	}
}

// TestBenchRunsBothProfiles runs the whole command, as briefly as it
// allows, against the real bootstraps.
func TestBenchRunsBothProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto (pip install 'moto[server]') and aws-lambda-rie (make tools): skipped under -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"bench", "-cold", "1", "-warm", "1", "-wan-cold", "1", "-wan-warm", "1", "-batches", "1"}, &stdout, &stderr)
	if err != nil {
		// A missing moto or aws-lambda-rie fails here, with how to install it.
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	md := stdout.String()
	t.Log(md)
	for _, want := range []string{"| loopback | cold start", "| loopback | SQS batch of 10", "| loopback | the same batch publishing", "| WAN | start → first close", "| WAN | warm close"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q row", want)
		}
	}
}

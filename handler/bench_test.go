package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// The benchmarks of this file measure what the function itself costs per
// invocation, PAYJS excluded: the real payjs.Client (signing, request,
// response parsing and signature verification), logging through the
// real JSON logger and the EMF metric lines, all written to a sink that
// drops them. PAYJS is an in-process http.RoundTripper that answers as
// PAYJS does, signed with payjs.Sign, so no socket is involved.
//
//	go test ./handler -run '^$' -bench Invoke -benchmem
//	go test ./handler -run '^$' -bench 'Invoke/http_api' -benchmem -cpuprofile cpu.prof -memprofile mem.prof
//	go tool pprof -top handler.test cpu.prof

// sink drops what it is given. Unlike io.Discard it does not let the
// Observer skip formatting its metric lines, so their cost is measured.
type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }

// payjsTripper answers POST /api/close like PAYJS: return_code 1,
// "SUCCESS", signed under key. Answers are signed with payjs.Sign once per
// order id and kept, so the benchmarks time the function, not PAYJS.
type payjsTripper struct {
	key     string
	answers map[string][]byte
	header  http.Header
}

func newPayjsTripper(key string, ids ...string) *payjsTripper {
	t := &payjsTripper{key: key, answers: make(map[string][]byte, len(ids)),
		header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
	for _, id := range ids {
		fields := map[string]string{"return_code": "1", "return_msg": "SUCCESS", "payjs_order_id": id}
		t.answers[id] = []byte(`{"return_code":1,"return_msg":"SUCCESS","payjs_order_id":"` + id +
			`","sign":"` + payjs.Sign(fields, key) + `"}`)
	}
	return t
}

func (t *payjsTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var buf [128]byte
	n, _ := io.ReadFull(req.Body, buf[:])
	_ = req.Body.Close()
	form := string(buf[:n])
	id, _, _ := strings.Cut(strings.TrimPrefix(form, "payjs_order_id="), "&")
	body, ok := t.answers[id]
	if !ok {
		return nil, fmt.Errorf("payjsTripper: no answer prepared for order %q", id)
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        t.header, // read only by the client
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// benchOrders are the ids the benchmarks close; the SQS batch uses all ten.
var benchOrders = func() []string {
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("20261125%020d", 1001+i)
	}
	return ids
}()

// benchHandler is the production Handler with PAYJS replaced by rt and
// keys served from memory (as the secret store serves them when warm).
func benchHandler(tb testing.TB, hc *http.Client, baseURL string) *Handler {
	tb.Helper()
	return New(Deps{
		Keys: &staticKeys{set: mustSet(tb, `{"mchid":"`+testMchID+`","key":"`+testKey+`"}`)},
		NewCloser: func(key string) (OrderCloser, error) {
			return payjs.NewClient(key, payjs.WithBaseURL(baseURL), payjs.WithHTTPClient(hc))
		},
		// As wire.Build wires the bootstrap.
		Obs:    NewJSONObserver(sink{}, slog.LevelInfo),
		Budget: payjs.DefaultTimeout,
	})
}

// benchCtx is an invocation context as the Lambda runtime builds it.
func benchCtx(tb testing.TB) context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: testReqID})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// benchEvents returns one event per kind, each closing a benchOrders id.
func benchEvents(tb testing.TB) []struct {
	name    string
	payload []byte
} {
	tb.Helper()
	id := benchOrders[0]
	withID := func(m map[string]any) {
		switch {
		case m["pathParameters"] != nil: // HTTP API: the id is in the path
			m["pathParameters"] = map[string]any{"payjs_order_id": id}
			m["rawPath"] = "/orders/" + id + "/close"
		case m["httpMethod"] != nil: // REST API: form body
			m["body"] = "payjs_order_id=" + id
		case m["detail"] != nil:
			m["detail"] = map[string]any{"payjs_order_id": id}
		case m["payjs_order_id"] != nil:
			m["payjs_order_id"] = id
		}
	}
	fnURL := event(tb, "function-url.json", func(m map[string]any) {
		m["body"] = `{"payjs_order_id":"` + id + `"}`
		m["isBase64Encoded"] = false
	})
	return []struct {
		name    string
		payload []byte
	}{
		{"http_api", event(tb, "http-api.json", withID)},
		{"rest_api", event(tb, "rest-api.json", withID)},
		{"function_url", fnURL},
		{"eventbridge", event(tb, "eventbridge.json", withID)},
		{"sqs_batch_10", sqsBatch(tb, benchOrders)},
		{"direct", event(tb, "direct.json", withID)},
	}
}

// sqsBatch returns an SQS event with one direct-request record per id,
// shaped like the records of events/sqs.json.
func sqsBatch(tb testing.TB, ids []string) []byte {
	tb.Helper()
	var sample map[string][]map[string]any
	if err := json.Unmarshal(event(tb, "sqs.json"), &sample); err != nil {
		tb.Fatal(err)
	}
	recs := make([]map[string]any, len(ids))
	for i, id := range ids {
		r := make(map[string]any, len(sample["Records"][0]))
		for k, v := range sample["Records"][0] {
			r[k] = v
		}
		r["messageId"] = "msg-" + strconv.Itoa(i)
		r["body"] = `{"payjs_order_id":"` + id + `"}`
		recs[i] = r
	}
	b, err := json.Marshal(map[string]any{"Records": recs})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkClosed fails the benchmark unless out is a successful, verified
// answer for the event kind.
func checkClosed(tb testing.TB, name string, out []byte) {
	tb.Helper()
	s := string(out)
	switch name {
	case "sqs_batch_10":
		if s != `{"batchItemFailures":[]}` {
			tb.Fatalf("%s: %s", name, s)
		}
	case "eventbridge", "direct":
		if !strings.Contains(s, `"ok":true`) || !strings.Contains(s, `"verified":true`) {
			tb.Fatalf("%s: %s", name, s)
		}
	default:
		if !strings.Contains(s, `"statusCode":200`) || !strings.Contains(s, `\"verified\":true`) {
			tb.Fatalf("%s: %s", name, s)
		}
	}
}

// BenchmarkInvoke measures one warm invocation per event kind, PAYJS
// answering in-process (no network). Target for http_api: under 20 µs
// and under 100 allocations.
func BenchmarkInvoke(b *testing.B) {
	hc := &http.Client{Transport: newPayjsTripper(testKey, benchOrders...)}
	for _, ev := range benchEvents(b) {
		b.Run(ev.name, func(b *testing.B) {
			h := benchHandler(b, hc, payjs.DefaultBaseURL)
			ctx := benchCtx(b)
			out, err := h.Invoke(ctx, ev.payload) // cold: builds the client
			if err != nil {
				b.Fatal(err)
			}
			checkClosed(b, ev.name, out)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Invoke(ctx, ev.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSQSBatchSlowPAYJS closes SQS batches of 10 against the loopback
// PAYJS simulator answering every close in 50 ms, through the production
// HTTP client. Records are closed concurrently, so a batch should take
// about as long as one close: it reports the batch time, one close's time
// and their ratio (x_one_close, target under 1.5).
func BenchmarkSQSBatchSlowPAYJS(b *testing.B) {
	const latency = 50 * time.Millisecond
	srv := payjstest.NewServer()
	b.Cleanup(srv.Close)
	srv.AddMerchant(testMchID, testKey)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: latency, Count: payjstest.Forever})
	hc := payjs.NewHTTPClient()
	b.Cleanup(hc.CloseIdleConnections)
	h := benchHandler(b, hc, srv.URL)
	ctx := benchCtx(b)

	seq := 0
	orders := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			seq++
			ids[i] = fmt.Sprintf("20261125%020d", 500000+seq)
			srv.AddOrder(payjstest.Order{ID: ids[i], MchID: testMchID})
		}
		return ids
	}
	direct := func() time.Duration {
		payload := []byte(`{"payjs_order_id":"` + orders(1)[0] + `"}`)
		start := time.Now()
		out, err := h.Invoke(ctx, payload)
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		checkClosed(b, "direct", out)
		return d
	}
	// Warm the pool as a busy sandbox has it: one batch opens the
	// connections that the next batches reuse.
	if out, err := h.Invoke(ctx, sqsBatch(b, orders(10))); err != nil {
		b.Fatal(err)
	} else {
		checkClosed(b, "sqs_batch_10", out)
	}
	one := direct()
	for range 4 {
		one = min(one, direct())
	}

	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		payload := sqsBatch(b, orders(10))
		b.StartTimer()
		start := time.Now()
		out, err := h.Invoke(ctx, payload)
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		checkClosed(b, "sqs_batch_10", out)
	}
	batch := total / time.Duration(b.N)
	b.ReportMetric(float64(batch.Microseconds())/1000, "ms/batch")
	b.ReportMetric(float64(one.Microseconds())/1000, "ms/one_close")
	b.ReportMetric(float64(batch)/float64(one), "x_one_close")
	b.ReportMetric(float64(srv.Connections()), "conns")
}

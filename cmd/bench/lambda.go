package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// The two functions, by the names the report gives them.
const (
	ours     = "payjs-close"
	baseline = "minimal Go Lambda"
)

// packages are the functions' main packages.
var packages = map[string]string{ours: "./cmd/closeorder", baseline: "./cmd/bench/baseline"}

// bench holds what a run started: moto and the loopback simulator (a
// devstack.Stack, which also runs our loopback emulator), the TLS
// simulator and the two delaying proxies of the WAN profile, and the
// other three emulators.
type bench struct {
	o        options
	log      io.Writer // progress, to stderr
	began    time.Time
	root     string
	tmp      string
	stack    *devstack.Stack
	wanSim   *payjstest.Server
	proxies  []*delayProxy
	emus     []*devstack.Emulator // closed by close; the stack closes its own
	loopback profile
	wan      profile
	arm64    map[string]int64 // function -> size of its linux/arm64 bootstrap
	nextID   int
}

// profile is one network setting, with both functions under it.
type profile struct {
	name  string
	sim   *payjstest.Server
	funcs [2]*function // ours, then the baseline
}

// function is a bootstrap under its own emulator, with its output.
type function struct {
	name string
	emu  *devstack.Emulator
	out  *lines
}

func newBench(ctx context.Context, o options, log io.Writer) (_ *bench, err error) {
	b := &bench{o: o, log: log, began: time.Now(), arm64: map[string]int64{}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.root, err = devstack.Root(); err != nil {
		return nil, err
	}
	rie, err := devstack.FindRIE(b.root, os.Getenv)
	if err != nil {
		return nil, err
	}
	if b.tmp, err = os.MkdirTemp("", "payjs-close-bench-"); err != nil {
		return nil, err
	}

	b.progress("building both bootstraps, for this machine and for linux/arm64 ...")
	bootstrap := map[string]string{}
	for _, name := range []string{ours, baseline} {
		bootstrap[name] = filepath.Join(b.tmp, name, "bootstrap")
		if err := devstack.Build(ctx, b.root, packages[name], bootstrap[name]); err != nil {
			return nil, err
		}
		arm := filepath.Join(b.tmp, name, "bootstrap-linux-arm64")
		if err := crossBuild(ctx, b.root, packages[name], "arm64", arm); err != nil {
			return nil, err
		}
		fi, err := os.Stat(arm)
		if err != nil {
			return nil, err
		}
		b.arm64[name] = fi.Size()
	}

	b.progress("starting moto, the PAYJS simulators, the delaying proxies and the emulators ...")
	verbose := io.Discard
	if o.verbose {
		verbose = log
	}
	newFunction := func(name string, env map[string]string) (*function, error) {
		out := &lines{copy: verbose}
		emu, err := devstack.StartEmulator(ctx, devstack.EmulatorOptions{RIE: rie, Bootstrap: bootstrap[name], Env: env, Output: out})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b.emus = append(b.emus, emu)
		return &function{name: name, emu: emu, out: out}, nil
	}

	oursOut := &lines{copy: verbose}
	if b.stack, err = devstack.Start(ctx, devstack.Options{Root: b.root, Bootstrap: bootstrap[ours], RIE: rie, Output: oursOut}); err != nil {
		return nil, err
	}
	b.loopback = profile{name: "loopback", sim: b.stack.Sim}
	b.loopback.funcs[0] = &function{name: ours, emu: b.stack.Emulator, out: oursOut}
	if b.loopback.funcs[1], err = newFunction(baseline, b.stack.Env()); err != nil {
		return nil, err
	}

	env, err := b.startWAN(ctx)
	if err != nil {
		return nil, err
	}
	b.wan = profile{name: "WAN", sim: b.wanSim}
	for i, name := range []string{ours, baseline} {
		if b.wan.funcs[i], err = newFunction(name, env); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// startWAN starts the TLS simulator and the delaying proxies in front of
// it and of moto, writes the simulator's certificate where SSL_CERT_FILE
// will point, and returns the functions' environment for the WAN profile.
func (b *bench) startWAN(ctx context.Context) (map[string]string, error) {
	b.wanSim = payjstest.NewTLSServer(payjstest.WithDemoData())
	certFile := filepath.Join(b.tmp, "payjs-simulator.pem")
	if err := writeCertPEM(ctx, b.wanSim, certFile); err != nil {
		return nil, err
	}
	proxy := func(rawURL string, rtt time.Duration) (*delayProxy, error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, err
		}
		p, err := startDelayProxy(ctx, proxyConfig{Target: u.Host, Up: rtt / 2, Down: rtt - rtt/2})
		if err != nil {
			return nil, err
		}
		b.proxies = append(b.proxies, p)
		return p, nil
	}
	payjs, err := proxy(b.wanSim.URL, b.o.payjsRTT)
	if err != nil {
		return nil, err
	}
	secrets, err := proxy(b.stack.Moto.URL, b.o.secretsRTT)
	if err != nil {
		return nil, err
	}
	env := b.stack.Env()
	env["PAYJS_BASE_URL"] = "https://" + payjs.Addr
	env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = "http://" + secrets.Addr
	env["SSL_CERT_FILE"] = certFile
	return env, nil
}

// writeCertPEM writes the certificate that sim presents to path, as PEM:
// with SSL_CERT_FILE naming it, Go's crypto/x509 trusts it as the
// system's only root, so the bootstraps verify the simulator as they
// would PAYJS.
func writeCertPEM(ctx context.Context, sim *payjstest.Server, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, sim.URL+"/", nil)
	if err != nil {
		return err
	}
	resp, err := sim.Client().Do(req)
	if err != nil {
		return fmt.Errorf("read the TLS simulator's certificate: %w", err)
	}
	_ = resp.Body.Close() // a HEAD: nothing to read
	sim.Client().CloseIdleConnections()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return errors.New("the TLS simulator presented no certificate")
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: resp.TLS.PeerCertificates[0].Raw}), 0o600)
}

func (b *bench) close() {
	for _, e := range b.emus {
		e.Close()
	}
	for _, p := range b.proxies {
		p.Close()
	}
	if b.wanSim != nil {
		b.wanSim.Close()
	}
	if b.stack != nil {
		b.stack.Close()
	}
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp) // a temporary directory
	}
}

func (b *bench) progress(format string, args ...any) {
	_, _ = fmt.Fprintf(b.log, "bench: %5.1fs "+format+"\n", append([]any{time.Since(b.began).Seconds()}, args...)...) // progress only
}

// crossBuild builds pkg for linux/arch as the Makefile builds the Lambda
// bootstrap.
func crossBuild(ctx context.Context, root, pkg, arch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg) //nolint:gosec // G204: the go command with our own packages and a temporary output path
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for linux/%s: %w\n%s", pkg, arch, err, bytes.TrimSpace(b))
	}
	return nil
}

// newOrders adds n new unpaid orders of the demo merchant to sim and
// returns their ids.
func (b *bench) newOrders(sim *payjstest.Server, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		b.nextID++
		ids[i] = fmt.Sprintf("2026112590%018d", b.nextID)
		sim.AddOrder(payjstest.Order{ID: ids[i], MchID: payjstest.DemoMchID})
	}
	return ids
}

// invoke sends payload to f and returns how long the answer took. The
// orders must then be closed at the simulator: that, not the answer's
// shape, is what makes a close count.
func invoke(ctx context.Context, p *profile, f *function, payload []byte, ids []string) (time.Duration, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t := time.Now()
	out, err := f.emu.Invoke(ctx, payload)
	d := time.Since(t)
	if err != nil {
		return 0, out, fmt.Errorf("%s, %s: invoke: %w", f.name, p.name, err)
	}
	for _, id := range ids {
		if o, ok := p.sim.Order(id); !ok || o.State != payjstest.StateClosed {
			return 0, out, fmt.Errorf("%s, %s: order %s is not closed at the simulator; the answer was %s", f.name, p.name, id, out)
		}
	}
	return d, out, nil
}

// closeOne closes a new order with a direct invoke of f.
func (b *bench) closeOne(ctx context.Context, p *profile, f *function) (time.Duration, error) {
	id := b.newOrders(p.sim, 1)[0]
	d, _, err := invoke(ctx, p, f, []byte(`{"payjs_order_id":"`+id+`","mchid":"`+payjstest.DemoMchID+`"}`), []string{id})
	return d, err
}

// sandbox is what one cold start and its warm invokes showed.
type sandbox struct {
	start   time.Duration   // the invoke that starts the bootstrap, to its answer
	initMS  float64         // init_ms of the bootstrap's init line: main to ready
	warm    []time.Duration // the warm invokes, request to answer
	peakRSS int64           // VmHWM after the warm invokes
	cpu     time.Duration   // CPU time of the bootstrap up to the first answer; 0 if unknown
	conns   int             // TCP connections to PAYJS, whole sandbox
	secrets int             // GetSecretValue calls, whole sandbox
}

// coldStart restarts f's emulator, so that its next invoke starts the
// bootstrap, closes an order with it and then warm more.
func (b *bench) coldStart(ctx context.Context, p *profile, f *function, warm int) (*sandbox, error) {
	if err := f.emu.Restart(ctx); err != nil {
		return nil, err
	}
	mark := f.out.mark()
	conns0, secrets0 := p.sim.Connections(), b.stack.Moto.Calls("GetSecretValue")
	var s sandbox
	var err error
	if s.start, err = b.closeOne(ctx, p, f); err != nil {
		return nil, err
	}
	if pid, err := f.emu.BootstrapPID(); err == nil {
		s.cpu = cpuTime(pid)
	}
	for range warm {
		d, err := b.closeOne(ctx, p, f)
		if err != nil {
			return nil, err
		}
		s.warm = append(s.warm, d)
	}
	s.conns, s.secrets = p.sim.Connections()-conns0, b.stack.Moto.Calls("GetSecretValue")-secrets0
	if s.peakRSS, err = f.emu.PeakRSS(); err != nil {
		return nil, fmt.Errorf("%s, %s: peak RSS: %w", f.name, p.name, err)
	}
	if s.initMS, err = f.out.initMS(ctx, mark); err != nil {
		return nil, fmt.Errorf("%s, %s: %w", f.name, p.name, err)
	}
	return &s, nil
}

// cpuTime returns the CPU time process pid has used, all its threads
// together (the first field of /proc/PID/task/*/schedstat, in
// nanoseconds; Linux), or 0 when that cannot be read. Unlike wall time it
// hardly depends on what else the machine runs.
func cpuTime(pid int) time.Duration {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0
	}
	var sum int64
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // G304: /proc files of the bootstrap
		if err != nil {
			return 0
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			return 0
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		sum += ns
	}
	return time.Duration(sum)
}

// sqsLatency is how long the simulator takes to answer each close in the
// SQS batch measurement: a PAYJS far enough away that closing a batch's
// records one after another would show.
const sqsLatency = 50 * time.Millisecond

// sqsConcurrency is the function's PAYJS_SQS_CONCURRENCY in the bench: its
// default, which the bench leaves unset, equal to the batch size.
const sqsConcurrency = 10

// sqsBatches measures, in one warm loopback sandbox of ours with the
// simulator answering every close in sqsLatency, n single closes and n
// SQS batches of 10, taken in turn.
func (b *bench) sqsBatches(ctx context.Context, n int) (one, batch []time.Duration, err error) {
	p := &b.loopback
	f := p.funcs[0]
	if err := f.emu.Restart(ctx); err != nil {
		return nil, nil, err
	}
	if _, err := b.closeOne(ctx, p, f); err != nil { // the cold start, at full speed
		return nil, nil, err
	}
	p.sim.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: sqsLatency, Count: payjstest.Forever})
	defer p.sim.ClearFaults()
	// A busy sandbox has a connection per record in its pool: the first
	// batch opens them, the measured ones reuse them.
	if _, err := b.closeBatch(ctx, p, f, 10); err != nil {
		return nil, nil, err
	}
	for range n {
		d, err := b.closeOne(ctx, p, f)
		if err != nil {
			return nil, nil, err
		}
		one = append(one, d)
		if d, err = b.closeBatch(ctx, p, f, 10); err != nil {
			return nil, nil, err
		}
		batch = append(batch, d)
	}
	return one, batch, nil
}

// closeBatch closes n new orders with one SQS event of n records and
// checks that the answer reports no failed record.
func (b *bench) closeBatch(ctx context.Context, p *profile, f *function, n int) (time.Duration, error) {
	ids := b.newOrders(p.sim, n)
	payload, err := sqsEvent(ids)
	if err != nil {
		return 0, err
	}
	d, out, err := invoke(ctx, p, f, payload, ids)
	if err != nil {
		return 0, err
	}
	var answer struct {
		Failures []json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &answer); err != nil || len(answer.Failures) > 0 {
		return 0, fmt.Errorf("%s: SQS batch: unexpected answer %s", f.name, out)
	}
	return d, nil
}

// sqsEvent is an SQS event as Lambda delivers it, one record per order.
func sqsEvent(ids []string) ([]byte, error) {
	type record struct {
		MessageID         string            `json:"messageId"`
		ReceiptHandle     string            `json:"receiptHandle"`
		Body              string            `json:"body"`
		Attributes        map[string]string `json:"attributes"`
		MessageAttributes map[string]any    `json:"messageAttributes"`
		MD5OfBody         string            `json:"md5OfBody"`
		EventSource       string            `json:"eventSource"`
		EventSourceARN    string            `json:"eventSourceARN"`
		AWSRegion         string            `json:"awsRegion"`
	}
	recs := make([]record, len(ids))
	for i, id := range ids {
		recs[i] = record{
			MessageID:     fmt.Sprintf("bench-%s", id),
			ReceiptHandle: "AQEB" + id,
			Body:          `{"payjs_order_id":"` + id + `"}`,
			Attributes: map[string]string{
				"ApproximateReceiveCount": "1", "SentTimestamp": "1795595400120",
				"SenderId": "AROAEXAMPLEROLEID0001:shop-backend", "ApproximateFirstReceiveTimestamp": "1795595400157",
			},
			MessageAttributes: map[string]any{},
			EventSource:       "aws:sqs",
			EventSourceARN:    "arn:aws:sqs:us-east-1:123456789012:payjs-close-CloseQueue",
			AWSRegion:         "us-east-1",
		}
	}
	return json.Marshal(map[string]any{"Records": recs})
}

// lines keeps every line written to it (an emulator's and its
// function's output), and copies the output on.
type lines struct {
	copy    io.Writer
	mu      sync.Mutex
	partial []byte
	all     []string
	changed chan struct{} // closed and replaced on every new line
}

func (l *lines) Write(p []byte) (int, error) {
	_, _ = l.copy.Write(p) // progress output only
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, strings.TrimRight(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added && l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return len(p), nil
}

// mark returns the number of lines so far.
func (l *lines) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// initMS waits for the bootstrap's init line after mark and returns its
// init_ms. (The line comes through the emulator's output pipe, which may
// trail the answer a little.)
func (l *lines) initMS(ctx context.Context, mark int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		l.mu.Lock()
		for _, s := range l.all[mark:] {
			if v, ok := parseInitMS(s); ok {
				l.mu.Unlock()
				return v, nil
			}
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, fmt.Errorf(`no "init" line with init_ms from the bootstrap: %w`, ctx.Err())
		}
	}
}

// parseInitMS reads init_ms from a JSON log line whose message ("msg"
// with slog's JSON handler, "message" otherwise) is "init".
func parseInitMS(line string) (float64, bool) {
	if !strings.HasPrefix(line, "{") {
		return 0, false
	}
	var rec struct {
		Msg     string   `json:"msg"`
		Message string   `json:"message"`
		InitMS  *float64 `json:"init_ms"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil || rec.InitMS == nil || rec.Msg+rec.Message != "init" {
		return 0, false
	}
	return *rec.InitMS, true
}

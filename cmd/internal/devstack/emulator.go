package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testproc"
)

// InvokePath is the emulator's invoke endpoint, the Lambda Invoke API's
// path for a function named "function".
const InvokePath = "/2015-03-31/functions/function/invocations"

// ReadyTimeout bounds how long [StartEmulator] and [Emulator.Restart]
// wait for the emulator to listen.
const ReadyTimeout = 10 * time.Second

// maxResponse is Lambda's limit on a synchronous invoke's response (6 MB),
// with room to notice an answer over it.
const maxResponse = 6<<20 + 1

// EmulatorOptions configure [StartEmulator].
type EmulatorOptions struct {
	// RIE is the path of aws-lambda-rie ([FindRIE]).
	RIE string
	// Bootstrap is the path of the function's bootstrap binary. Its
	// directory is the function's working directory, as /var/task is.
	Bootstrap string
	// Env is the emulator's whole environment, which it passes on to the
	// bootstrap (adding AWS_LAMBDA_RUNTIME_API and the like). Nothing is
	// inherited from this process. AWS_LAMBDA_FUNCTION_TIMEOUT (seconds,
	// default 300) sets the invoke deadline; AWS_LAMBDA_MAX_CONCURRENCY
	// must not be set (it switches the emulator to another mode).
	Env map[string]string
	// Output receives what the emulator and the bootstrap print. Nil
	// discards it.
	Output io.Writer
	// LogLevel is the emulator's own log level. Empty: "error".
	LogLevel string
}

// Emulator is a bootstrap running under aws-lambda-rie, which listens on
// 127.0.0.1 only: its invoke endpoint on a free port, and the Runtime API
// it gives the bootstrap on another. Like a Lambda sandbox it runs one
// invoke at a time. Its methods are safe for concurrent use.
type Emulator struct {
	opts   EmulatorOptions
	client *http.Client
	sem    chan struct{} // held by an invoke or a restart

	mu     sync.Mutex
	proc   *rieProcess
	closed bool
}

// rieProcess is one run of aws-lambda-rie.
type rieProcess struct {
	*testproc.Proc
	url     string
	started time.Time
	first   time.Duration // from started to the first answer; 0 before it
}

// StartEmulator starts aws-lambda-rie for o.Bootstrap and waits until it
// listens. The emulator starts the bootstrap itself on the first invoke,
// so that first invoke is the cold start. The caller must Close the
// Emulator.
func StartEmulator(ctx context.Context, o EmulatorOptions) (*Emulator, error) {
	if o.RIE == "" {
		return nil, fmt.Errorf("devstack: EmulatorOptions.RIE is empty: %s", installRIE)
	}
	rie, err := filepath.Abs(o.RIE)
	if err == nil {
		err = isExecutable(rie)
	}
	if err != nil {
		return nil, fmt.Errorf("aws-lambda-rie %s: %w; %s", o.RIE, err, installRIE)
	}
	o.RIE = rie
	bootstrap, err := filepath.Abs(o.Bootstrap)
	if err == nil {
		err = isExecutable(bootstrap)
	}
	if err != nil {
		return nil, fmt.Errorf("bootstrap %q: %w", o.Bootstrap, err)
	}
	o.Bootstrap = bootstrap
	if o.LogLevel == "" {
		o.LogLevel = "error"
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	o.Env = maps.Clone(o.Env)
	e := &Emulator{
		opts: o,
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // loopback only, whatever HTTP_PROXY says
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
		}},
		sem: make(chan struct{}, 1),
	}
	p, err := e.launch(ctx)
	if err != nil {
		return nil, err
	}
	e.proc = p
	return e, nil
}

// URL returns the emulator's base URL, such as "http://127.0.0.1:41234":
// the --endpoint-url for `aws lambda invoke --function-name function`. It
// changes on Restart.
func (e *Emulator) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc == nil {
		return ""
	}
	return e.proc.url
}

// FunctionError is a Lambda function error: the function failed the
// invoke (returned an error, panicked or timed out) instead of returning
// a result. Lambda marks such an answer with the X-Amz-Function-Error
// header; aws-lambda-rie sends neither that header nor another status
// than 200, only the error document {"errorMessage", "errorType"}, so
// [Emulator.Invoke] recognizes it by that shape.
type FunctionError struct {
	// Type is errorType: for this function, the error code of a
	// retryable failure, such as "payjs_unavailable".
	Type string
	// Message is errorMessage: for this function, the normalized result
	// as JSON text.
	Message string
}

func (e *FunctionError) Error() string {
	return "function error " + e.Type + ": " + e.Message
}

// Invoke sends payload to the function, as a synchronous Lambda invoke,
// and returns its answer. When the function fails the invoke, the answer
// is the error document and err a *[FunctionError]. Any other error means
// the invoke did not happen or the emulator failed. Invokes wait for each
// other, as in one Lambda sandbox.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.sem }()

	p, err := e.current()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+InvokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		select {
		case <-p.Exited():
			return nil, fmt.Errorf("invoke: the emulator exited: %s", p.Output())
		default:
			return nil, fmt.Errorf("invoke: %w", err)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close() // read to the end or over the limit
	if err != nil {
		return nil, fmt.Errorf("invoke: read the answer: %w", err)
	}
	e.mu.Lock()
	if p.first == 0 {
		p.first = time.Since(p.started)
	}
	e.mu.Unlock()
	switch {
	case len(body) == maxResponse:
		return nil, errors.New("invoke: the answer is over Lambda's 6 MB limit")
	case resp.StatusCode != http.StatusOK:
		return body, fmt.Errorf("invoke: the emulator answered HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if fe := functionError(body); fe != nil {
		return body, fe
	}
	return body, nil
}

// errorDocument holds the names an error document may have; a result of
// this function never has only these.
var errorDocument = map[string]bool{"errorMessage": true, "errorType": true, "stackTrace": true, "cause": true}

// functionError returns the FunctionError that body is, or nil.
func functionError(body []byte) *FunctionError {
	if m, ok := strings.CutPrefix(string(body), "Task timed out"); ok {
		// The emulator's own answer when the deadline passes.
		return &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out" + m}
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil || doc["errorMessage"] == nil {
		return nil
	}
	for name := range doc {
		if !errorDocument[name] {
			return nil
		}
	}
	var fe FunctionError
	if json.Unmarshal(doc["errorMessage"], &fe.Message) != nil {
		return nil
	}
	if t, ok := doc["errorType"]; ok && json.Unmarshal(t, &fe.Type) != nil {
		return nil
	}
	return &fe
}

// FirstResponse returns how long after the emulator's start (or latest
// Restart) its first answer to an invoke arrived: the cold start as a
// caller sees it, including the emulator's own start, the bootstrap's
// init and the first invoke. ok is false before that answer.
func (e *Emulator) FirstResponse() (d time.Duration, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc == nil || e.proc.first == 0 {
		return 0, false
	}
	return e.proc.first, true
}

// BootstrapPID returns the process id of the running bootstrap, which the
// emulator starts on the first invoke.
func (e *Emulator) BootstrapPID() (int, error) {
	p, err := e.current()
	if err != nil {
		return 0, err
	}
	pids, err := testproc.Children(p.Pid())
	if err != nil {
		return 0, err
	}
	if len(pids) == 0 {
		return 0, errors.New("the bootstrap is not running: the emulator starts it on the first invoke")
	}
	return pids[0], nil
}

// PeakRSS returns the bootstrap's peak resident set size in bytes (VmHWM
// of /proc/PID/status; Linux only), the figure Lambda reports as "Max
// Memory Used". Read it before Restart or Close.
func (e *Emulator) PeakRSS() (int64, error) {
	pid, err := e.BootstrapPID()
	if err != nil {
		return 0, err
	}
	return testproc.PeakRSS(pid)
}

// Restart stops the emulator and the bootstrap and starts the emulator
// again with the same bootstrap and environment, so that the next invoke
// is a cold start. It waits for an invoke in flight to end.
func (e *Emulator) Restart(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.sem }()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errors.New("restart: the emulator is closed")
	}
	old := e.proc
	e.proc = nil
	e.mu.Unlock()
	if old != nil {
		old.stop()
	}
	p, err := e.launch(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed { // Close ran meanwhile
		p.stop()
		return errors.New("restart: the emulator is closed")
	}
	e.proc = p
	return nil
}

// Close stops the emulator and the bootstrap. Calling it again does
// nothing.
func (e *Emulator) Close() {
	e.mu.Lock()
	p := e.proc
	e.proc, e.closed = nil, true
	e.mu.Unlock()
	if p != nil {
		p.stop()
	}
	e.client.CloseIdleConnections()
}

func (e *Emulator) current() (*rieProcess, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc == nil {
		return nil, errors.New("the emulator is closed")
	}
	return e.proc, nil
}

// launch starts aws-lambda-rie on two free loopback ports and waits until
// it listens. A port taken between choosing and binding it makes the
// emulator exit; then other ports are tried.
func (e *Emulator) launch(ctx context.Context) (*rieProcess, error) {
	return testproc.Retry(func() (*rieProcess, error) { return e.launchOnce(ctx) })
}

func (e *Emulator) launchOnce(ctx context.Context) (*rieProcess, error) {
	ports, err := testproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	// Without these two flags the emulator listens on 0.0.0.0:8080 and
	// the Runtime API on 127.0.0.1:9001.
	args := []string{
		"--log-level", e.opts.LogLevel,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", apiAddr,
		e.opts.Bootstrap,
	}
	// The process outlives ctx, which only bounds the start.
	cmd := exec.CommandContext(context.Background(), e.opts.RIE, args...) //nolint:gosec // G204: the emulator found by FindRIE, running our bootstrap
	cmd.Dir = filepath.Dir(e.opts.Bootstrap)
	cmd.Env = envList(e.opts.Env)
	// The bootstrap inherits the output pipe; should it outlive the
	// emulator, Wait must not wait for it.
	cmd.WaitDelay = time.Second
	started := time.Now()
	proc, err := testproc.Start(cmd, e.opts.Output)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w; %s", e.opts.RIE, err, installRIE)
	}
	p := &rieProcess{Proc: proc, url: "http://" + addr, started: started}
	if err := p.waitReady(ctx, addr, apiAddr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls the emulator's two ports (it binds the Runtime API's
// in the background) until each accepts a connection, the process exits,
// ReadyTimeout passes or ctx is done.
func (p *rieProcess) waitReady(ctx context.Context, addrs ...string) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	var d net.Dialer
	err := p.WaitReady(ctx, 2*time.Millisecond, func(ctx context.Context) bool {
		for len(addrs) > 0 {
			c, err := d.DialContext(ctx, "tcp", addrs[0])
			if err != nil {
				return false
			}
			_ = c.Close() // only a probe
			addrs = addrs[1:]
		}
		return true
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, testproc.ErrExited):
		return fmt.Errorf("aws-lambda-rie exited at start: %s", strings.TrimSpace(p.Output()))
	}
	return fmt.Errorf("aws-lambda-rie did not listen on %s: %w; output:\n%s", addrs[0], err, p.Output())
}

// stop kills the bootstrap, then the emulator, and waits for the
// emulator to exit. The bootstrap is in a process group of its own (the
// emulator starts it so), hence killed on its own, first, and the
// emulator is given a moment to reap it.
func (p *rieProcess) stop() {
	p.KillChildrenFirst(time.Second)
}

// envList turns env into sorted NAME=value strings.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

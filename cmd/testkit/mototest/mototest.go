// Package mototest runs moto as the AWS services the function uses, for
// tests, in the spirit of net/http/httptest: Secrets Manager, EventBridge
// Scheduler ([Server.SchedulerClient], [Server.CreateScheduleGroup]) and
// EventBridge with an SQS mailbox ([Server.CreateEventBus]). [Start]
// launches moto (python3 -m moto.server, a child process of package
// testproc) on a free loopback port behind a small front server of this
// package, and the test's cleanup stops both.
//
// The front server is what [Server.URL] points at. It stays at the same
// address across [Server.Stop] and [Server.Restart], counts the requests
// per operation ([Server.Calls]), and can answer with injected faults
// ([Server.Fail]) such as throttling or AccessDenied in the exact wire
// format of AWS, so that the real SDK parses them. Because all of this
// happens server-side, it works just as well for a function running in
// another process (pointed at [Server.URL] through [Server.Env]).
//
//	srv := mototest.Start(t)
//	srv.CreateSecret(t, "payjs-close/local", `{"mchid":"1528140051","key":"..."}`)
//	client := srv.Client(t) // or secretsmanager.NewFromConfig(mototest.Config(t, srv.URL))
//	...
//	if n := srv.Calls("GetSecretValue"); n != 1 { ... }
//
// moto must be installed for python3 (pip install 'moto[server]'; `make
// test` installs it); the interpreter can be chosen with MOTOTEST_PYTHON.
// Tests that need moto belong to the full tier: under go test -short,
// which needs nothing but Go, [Start] skips them ([Require]). Without
// -short a missing interpreter or moto fails the test with an install
// hint; it is never skipped.
//
// It lives in cmd/testkit, not under an internal/ directory, because its
// users are spread over the tree (the tests of handler/secret,
// handler/schedule, handler/outcome, cmd/closeorder and cmd/local,
// cmd/internal/devstack, cmd/bench), and Go's internal rule would keep
// the tests of handler/ out of cmd/internal. Nothing the function ships
// imports it (TestTheBootstrapShipsNoTestTooling).
package mototest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Region and credentials of every [Config] and of [Server.Env].
const (
	Region          = "us-east-1"
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
)

// PythonEnv names the environment variable that, when set, is the Python
// interpreter to run moto with, instead of python3 from PATH.
const PythonEnv = "MOTOTEST_PYTHON"

// StartTimeout bounds how long [Start] and [Server.Restart] wait for moto to
// answer. moto takes a second or two of CPU to start, and a test binary
// may start a dozen at once beside other packages' tests on a 2-core
// machine: a wait, not a speed test, so generous.
const StartTimeout = 2 * time.Minute

const installHint = "install moto for it with: pip install 'moto[server]' (or set " + PythonEnv + " to an interpreter that has it); " +
	"`make test` installs it (into .venv/, or from Debian's packages) before it runs the tests"

// skipShort is why a test that needs moto skips under go test -short.
const skipShort = "needs moto (python3 -m moto.server): skipped under -short; " +
	"the full tier (`make test`, or go test without -short) runs it"

// Server is a running moto Secrets Manager behind a counting, fault
// injecting front server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint to give the SDK, e.g. "http://127.0.0.1:41234".
	// It does not change across Stop and Restart.
	URL string

	python    string
	frontAddr string
	transport *http.Transport

	mu      sync.Mutex
	front   *http.Server // nil while stopped
	moto    *process     // nil while stopped
	motoURL *url.URL
	secrets []known // created through the Server, in order, with their current values
	calls   map[string]int
	faults  map[string]*Fault
}

// known is a secret the Server created, re-created by Restart.
type known struct {
	name, value string
}

// Require sorts a test that needs moto into its tier. Under go test
// -short it skips tb, saying why: that tier needs nothing but Go.
// Otherwise it returns the interpreter to run moto with, and fails tb with
// an install hint when there is none; it never skips. [Start] calls it; a
// test that starts moto another way (through package devstack) calls it
// first.
func Require(tb testing.TB) (python string) {
	tb.Helper()
	return require(tb, testing.Short())
}

func require(tb testing.TB, short bool) string {
	tb.Helper()
	if short {
		tb.Skip("mototest: " + skipShort)
	}
	python, err := findPython()
	if err != nil {
		tb.Fatalf("mototest: %v", err)
	}
	return python
}

// Start launches moto and the front server, and registers their shutdown
// with tb.Cleanup. Under go test -short it skips the test ([Require]);
// otherwise it fails the test when python3 or moto is missing or moto
// does not answer within [StartTimeout].
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, testing.Short())
}

func start(tb testing.TB, short bool) *Server {
	tb.Helper()
	require(tb, short)
	s, err := Launch(context.Background())
	if err != nil {
		tb.Fatalf("mototest: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			if p := s.current(); p != nil {
				tb.Logf("mototest: moto output (last lines):\n%s", p.Output())
			}
		}
		s.Close()
	})
	return s
}

// Launch is [Start] outside of a test, for local runs and benchmarks: it
// launches moto and the front server and returns an error, with an
// install hint, where Start fails the test. ctx bounds the wait for moto
// to answer. The caller must Close the Server.
func Launch(ctx context.Context) (*Server, error) {
	python, err := findPython()
	if err != nil {
		return nil, err
	}
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s := &Server{
		URL:       "http://" + ln.Addr().String(),
		python:    python,
		frontAddr: ln.Addr().String(),
		transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16},
		calls:     make(map[string]int),
		faults:    make(map[string]*Fault),
	}
	p, err := launch(ctx, python)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.mu.Lock()
	s.moto, s.motoURL = p, p.url
	s.front = s.serve(ln)
	s.mu.Unlock()
	return s, nil
}

// findPython returns the interpreter to run moto with.
func findPython() (string, error) {
	if p := os.Getenv(PythonEnv); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("python3 not found in PATH (%v): install Python 3, then %s", err, installHint)
	}
	return p, nil
}

func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.moto
}

func (s *Server) serve(ln net.Listener) *http.Server {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // http.ErrServerClosed on Stop
	return srv
}

// handle counts the request, answers an injected fault, or forwards the
// request to moto unchanged.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	op := operation(r)
	s.mu.Lock()
	s.calls[op]++
	var fault Fault
	if f := s.faults[op]; f != nil {
		fault = *f
		if f.Times > 0 {
			if f.Times--; f.Times == 0 {
				delete(s.faults, op)
			}
		}
	}
	target := s.motoURL
	s.mu.Unlock()

	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fault.Status != 0 {
		writeFault(w, fault)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // forward the request exactly as signed
		},
		Transport: s.transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeFault(w, Fault{Status: http.StatusBadGateway, Code: "InternalServiceError", Message: "mototest: moto unreachable: " + err.Error()})
		},
	}
	proxy.ServeHTTP(w, r)
}

// operation returns the operation of a request: for Secrets Manager, e.g.
// "GetSecretValue" for X-Amz-Target "secretsmanager.GetSecretValue" (the
// whole header when it has no "secretsmanager." prefix); for EventBridge
// Scheduler, whose operations are a method and a path, e.g.
// "CreateSchedule" for POST /schedules/NAME.
func operation(r *http.Request) string {
	target := r.Header.Get("X-Amz-Target")
	if op, ok := strings.CutPrefix(target, "secretsmanager."); ok {
		return op
	}
	if target == "" {
		if op := schedulerOperation(r.Method, r.URL.Path); op != "" {
			return op
		}
	}
	return target
}

// Calls returns how many requests for the operation op (e.g.
// "GetSecretValue") reached the server since Start or ResetCalls,
// including those answered with an injected fault; requests made while the
// server was stopped never reached it. The Server's own CreateSecret,
// PutSecretValue and DeleteSecret calls are not counted.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// ResetCalls sets every count of [Server.Calls] to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// Fault is an answer the front server gives instead of forwarding a
// request to moto.
type Fault struct {
	// Status is the HTTP status of the error answer. 0 forwards the request
	// to moto (after Delay).
	Status int
	// Code is the AWS error code, sent as X-Amzn-ErrorType and "__type",
	// e.g. "ThrottlingException".
	Code string
	// Message is the error message.
	Message string
	// Delay is how long to wait before answering; the wait ends early when
	// the client gives up.
	Delay time.Duration
	// Times is how many requests the fault applies to; 0 means every
	// request until ClearFaults.
	Times int
}

// Throttled is the answer of a throttled Secrets Manager call.
func Throttled() Fault {
	return Fault{Status: http.StatusBadRequest, Code: "ThrottlingException", Message: "Rate exceeded"}
}

// AccessDenied is the answer to a role that may not read the secret.
func AccessDenied() Fault {
	return Fault{Status: http.StatusBadRequest, Code: "AccessDeniedException",
		Message: "User: arn:aws:sts::123456789012:assumed-role/payjs-close/fn is not authorized to perform: " +
			"secretsmanager:GetSecretValue because no identity-based policy allows the secretsmanager:GetSecretValue action"}
}

// InternalError is Secrets Manager failing on its side (HTTP 500).
func InternalError() Fault {
	return Fault{Status: http.StatusInternalServerError, Code: "InternalServiceError", Message: "An error occurred on the server side."}
}

// Slow forwards requests to moto after d.
func Slow(d time.Duration) Fault {
	return Fault{Delay: d}
}

// Fail makes the server answer requests for the operation op (e.g.
// "GetSecretValue") with f, replacing any fault set for op before.
func (s *Server) Fail(op string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = &f
}

// ClearFaults removes every fault set with Fail.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// writeFault answers as an AWS JSON 1.1 service does.
func writeFault(w http.ResponseWriter, f Fault) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", f.Code)
	w.Header().Set("X-Amzn-RequestId", "mototest-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": f.Code, "message": f.Message}) // the client may be gone
}

// Stop makes Secrets Manager unreachable: moto is killed and the front
// server stops listening, so that clients get "connection refused". moto's
// state is lost; Restart re-creates the secrets made through the Server.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	front, moto := s.front, s.moto
	s.front, s.moto = nil, nil
	s.mu.Unlock()
	if front != nil {
		_ = front.Close()
	}
	if moto != nil {
		moto.Kill()
	}
	s.transport.CloseIdleConnections()
}

// Restart stops the server if it runs, starts a fresh moto, re-creates the
// secrets made through CreateSecret with their latest values (their ARNs
// change), and listens again at URL. Counts and faults are kept.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	p, err := launch(context.Background(), s.python)
	if err != nil {
		tb.Fatalf("mototest: restart: %v", err)
	}
	s.mu.Lock()
	s.moto, s.motoURL = p, p.url
	secrets := append([]known(nil), s.secrets...)
	s.mu.Unlock()
	admin := s.admin(tb)
	for _, k := range secrets {
		if _, err := admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
			Name: aws.String(k.name), SecretString: aws.String(k.value),
		}); err != nil {
			tb.Fatalf("mototest: restart: re-create secret %q: %v", k.name, err)
		}
	}
	ln, err := listenAgain(s.frontAddr)
	if err != nil {
		tb.Fatalf("mototest: restart: %v", err)
	}
	s.mu.Lock()
	s.front = s.serve(ln)
	s.mu.Unlock()
}

// listenAgain listens at addr, which was free a moment ago; another
// process may briefly hold it, hence the few retries.
func listenAgain(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = listen(addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("listen again at %s: %w", addr, err)
}

// Close stops the server for good; tb.Cleanup calls it.
func (s *Server) Close() {
	s.Stop()
}

// Reset empties moto (POST /moto-api/reset) and forgets the secrets,
// counts and faults of the Server.
func (s *Server) Reset(tb testing.TB) {
	tb.Helper()
	base := s.motoBase(tb)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base.JoinPath("moto-api", "reset").String(), nil)
	if err != nil {
		tb.Fatalf("mototest: reset: %v", err)
	}
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		tb.Fatalf("mototest: reset: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("mototest: reset: HTTP %d", resp.StatusCode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = nil
	clear(s.calls)
	clear(s.faults)
}

// motoBase returns moto's own URL, failing the test while stopped.
func (s *Server) motoBase(tb testing.TB) *url.URL {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.moto == nil {
		tb.Fatalf("mototest: the server is stopped; call Restart first")
	}
	return s.motoURL
}

// admin returns a client that talks to moto directly, bypassing counts and
// faults.
func (s *Server) admin(tb testing.TB) *secretsmanager.Client {
	tb.Helper()
	return secretsmanager.NewFromConfig(Config(tb, s.motoBase(tb).String()))
}

// CreateSecret creates a secret with a SecretString and returns its ARN.
func (s *Server) CreateSecret(tb testing.TB, name, value string) (arn string) {
	tb.Helper()
	arn, err := s.CreateSecretContext(context.Background(), name, value)
	if err != nil {
		tb.Fatalf("mototest: %v", err)
	}
	return arn
}

// CreateSecretContext is [Server.CreateSecret] outside of a test: it
// returns an error instead of failing one.
func (s *Server) CreateSecretContext(ctx context.Context, name, value string) (arn string, err error) {
	s.mu.Lock()
	base := s.motoURL
	stopped := s.moto == nil
	s.mu.Unlock()
	if stopped {
		return "", fmt.Errorf("create secret %q: the server is stopped; call Restart first", name)
	}
	admin := secretsmanager.NewFromConfig(config(base.String()))
	out, err := admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
	})
	if err != nil {
		return "", fmt.Errorf("create secret %q: %w", name, err)
	}
	s.mu.Lock()
	s.secrets = append(s.secrets, known{name, value})
	s.mu.Unlock()
	return aws.ToString(out.ARN), nil
}

// PutSecretValue stores a new current version of a secret, as a rotation
// does.
func (s *Server) PutSecretValue(tb testing.TB, name, value string) {
	tb.Helper()
	if _, err := s.admin(tb).PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(value),
	}); err != nil {
		tb.Fatalf("mototest: put secret value %q: %v", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.secrets {
		if s.secrets[i].name == name {
			s.secrets[i].value = value
		}
	}
}

// DeleteSecret deletes a secret at once, without a recovery window.
func (s *Server) DeleteSecret(tb testing.TB, name string) {
	tb.Helper()
	if _, err := s.admin(tb).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true),
	}); err != nil {
		tb.Fatalf("mototest: delete secret %q: %v", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = slices.DeleteFunc(s.secrets, func(k known) bool { return k.name == name })
}

// Client returns a real Secrets Manager client for the server: [Config]
// with URL as its endpoint, adjusted by optFns.
func (s *Server) Client(tb testing.TB, optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	tb.Helper()
	return secretsmanager.NewFromConfig(Config(tb, s.URL), optFns...)
}

// Env returns the environment a process needs to reach the server with the
// SDK's own configuration (config.LoadDefaultConfig):
// AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_EC2_METADATA_DISABLED, and, so that a
// developer's own AWS setup cannot interfere, an empty AWS_SESSION_TOKEN and
// AWS_PROFILE and the null device as AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE. It is meant for processes using the Go SDK
// (botocore refuses an empty AWS_PROFILE). Use it for a child process's
// Env, a getenv function, or tb.Setenv (not in parallel tests).
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":      os.DevNull,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": s.URL,
		"AWS_REGION":                       Region,
		"AWS_ACCESS_KEY_ID":                AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":            SecretAccessKey,
		"AWS_SESSION_TOKEN":                "",
		"AWS_EC2_METADATA_DISABLED":        "true",
	}
}

// Config returns an SDK configuration for a Secrets Manager look-alike at
// endpoint: region us-east-1, static credentials testing/testing, and
// BaseEndpoint. It is built without reading the environment or the shared
// config files, so it reaches endpoint whatever AWS_* variables (including
// AWS_ENDPOINT_URL_SECRETS_MANAGER) are set. Retries are the SDK's default.
func Config(tb testing.TB, endpoint string) aws.Config {
	tb.Helper()
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		tb.Fatalf("mototest: endpoint %q is not an absolute URL", endpoint)
	}
	return config(endpoint)
}

func config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		BaseEndpoint: aws.String(endpoint),
	}
}

// errStartTimeout is wrapped by launch when moto does not answer in time.
var errStartTimeout = errors.New("moto did not answer in time")

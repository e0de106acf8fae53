package mototest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// process is one running moto server.
type process struct {
	cmd    *exec.Cmd
	url    *url.URL
	out    *tail
	exited chan struct{} // closed when the process has exited
}

// launch starts moto on a free loopback port and waits until it answers.
// A port taken between choosing and binding it makes moto exit; then
// another port is tried.
func launch(ctx context.Context, python string) (*process, error) {
	var err error
	for range 3 {
		var p *process
		if p, err = launchOnce(ctx, python); err == nil {
			return p, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, err
}

func launchOnce(ctx context.Context, python string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(context.Background(), python, //nolint:gosec // G204: the test's own interpreter (PATH or MOTOTEST_PYTHON), fixed arguments
		"-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	out := &tail{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	cmd.Env = motoEnv(os.Environ())
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %v; %s", python, err, installHint)
	}
	p := &process{
		cmd:    cmd,
		url:    &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))},
		out:    out,
		exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait() // killed on purpose, or its output tells why it exited
		close(p.exited)
	}()
	if err := p.waitReady(ctx, StartTimeout); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// motoEnv drops the AWS_ variables from env: moto needs none, and a
// test's (such as an empty AWS_PROFILE from Server.Env) can break botocore
// inside moto.
func motoEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}

// waitReady polls moto's dashboard until it answers, the process exits,
// timeout passes or ctx is done. Polling is the only way to learn that a
// child process listens.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: time.Second}
	ping := p.url.JoinPath("moto-api", "").String()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ping, nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s -m moto.server exited: %s\n%s", p.cmd.Path, strings.TrimSpace(p.out.String()), installHint)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("waiting for moto at %s: %w", p.url, ctx.Err())
			}
			return fmt.Errorf("%w within %v at %s; output:\n%s", errStartTimeout, timeout, p.url, p.out.String())
		case <-tick.C:
		}
	}
}

// kill ends moto's whole process group and waits for it to exit.
func (p *process) kill() {
	killGroup(p.cmd)
	<-p.exited
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("find a free port: unexpected address %v", ln.Addr())
	}
	return addr.Port, nil
}

// listen listens on a loopback TCP address.
func listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", addr)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

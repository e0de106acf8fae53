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
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testproc"
)

// process is one running moto server.
type process struct {
	*testproc.Proc
	url *url.URL
}

// launch starts moto on a free loopback port and waits until it answers.
// A port taken between choosing and binding it makes moto exit; then
// another port is tried.
func launch(ctx context.Context, python string) (*process, error) {
	return testproc.Retry(func() (*process, error) { return launchOnce(ctx, python) })
}

func launchOnce(ctx context.Context, python string) (*process, error) {
	ports, err := testproc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	cmd := exec.CommandContext(context.Background(), python, //nolint:gosec // G204: the test's own interpreter (PATH or MOTOTEST_PYTHON), fixed arguments
		"-m", "moto.server", "-H", "127.0.0.1", "-p", port)
	cmd.Env = motoEnv(os.Environ())
	proc, err := testproc.Start(cmd, nil)
	if err != nil {
		return nil, fmt.Errorf("start %s: %v; %s", python, err, installHint)
	}
	p := &process{Proc: proc, url: &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", port)}}
	if err := p.waitReady(ctx, StartTimeout); err != nil {
		p.Kill()
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
// timeout passes or ctx is done.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: time.Second}
	ping := p.url.JoinPath("moto-api", "").String()
	err := p.WaitReady(ctx, 20*time.Millisecond, func(ctx context.Context) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ping, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, testproc.ErrExited):
		return fmt.Errorf("%s -m moto.server exited: %s\n%s", p.Path(), strings.TrimSpace(p.Output()), installHint)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("waiting for moto at %s: %w", p.url, err)
	}
	return fmt.Errorf("%w within %v at %s; output:\n%s", errStartTimeout, timeout, p.url, p.Output())
}

// listen listens on a loopback TCP address.
func listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", addr)
}

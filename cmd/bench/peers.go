package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// goPeer names the plain Go program, which the warm-close target is
// measured against; goTunedPeer names it run with GOMAXPROCS=1.
const (
	goPeer      = "Go, aws-sdk-go-v2 + net/http"
	goTunedPeer = "Go, aws-sdk-go-v2 + net/http, run with GOMAXPROCS=1 (for reference)"
)

// loopPeer names the run of payjs-close's own handler as a peer (see
// closeLoopArg): only its per-close figure is reported.
const loopPeer = "payjs-close handler in a loop"

// peer is a program a user would write instead of the function.
type peer struct {
	name string
	argv []string          // the command; nil when the peer cannot run here
	env  map[string]string // added to the environment
	skip string            // why not, with a hint
	// reference marks a peer shown for comparison only, not one a target
	// is measured against.
	reference bool
}

// peerResult is what the runs of one peer showed.
type peerResult struct {
	name       string
	skip       string
	wall       []time.Duration // one-shot runs: process start to exit
	rss        []int64         // their peak RSS
	secrets    []int           // their GetSecretValue calls
	perClose   []float64       // ms, one figure per per-close run
	closes     int             // closes of each per-close run
	closeConns int             // TCP connections of a per-close run, the most any opened
	reference  bool            // see peer.reference
}

// peers prepares the three peer programs: it builds the Go one, finds a
// Python with boto3 and requests, and installs the Node one's dependency
// into .bin/bench-node when it is missing.
func (b *bench) peers(ctx context.Context) []peer {
	var out []peer

	py := peer{name: "Python 3, requests + boto3 (PAYJS docs' way)"}
	script := filepath.Join(b.root, "cmd", "bench", "peers", "python", "close.py")
	if exe, err := pythonWithDeps(ctx); err != nil {
		py.skip = err.Error()
	} else {
		py.argv = []string{exe, script}
	}
	out = append(out, py)

	node := peer{name: "Node.js 20, AWS SDK v3 + fetch"}
	if argv, err := b.nodePeer(ctx); err != nil {
		node.skip = err.Error()
	} else {
		node.argv = argv
	}
	out = append(out, node)

	lp := peer{name: loopPeer}
	if exe, err := os.Executable(); err != nil {
		lp.skip = err.Error()
	} else {
		lp.argv = []string{exe, closeLoopArg}
	}
	out = append(out, lp)

	gp := peer{name: goPeer}
	bin := filepath.Join(b.tmp, "goclose")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bench/peers/goclose") //nolint:gosec // G204: the go command with a temporary output path
	cmd.Dir = b.root
	if msg, err := cmd.CombinedOutput(); err != nil {
		gp.skip = fmt.Sprintf("go build: %v: %s", err, bytes.TrimSpace(msg))
	} else {
		gp.argv = []string{bin}
	}
	// The same program with the runtime setting payjs-close runs with at
	// 128 MB: what the setting alone is worth, shown beside the targets.
	gp1 := gp
	gp1.name, gp1.env, gp1.reference = goTunedPeer, map[string]string{"GOMAXPROCS": "1"}, true
	return append(out, gp, gp1)
}

// pythonWithDeps returns the real interpreter behind python3 (not a
// pyenv shim, whose own start would be measured) once it has checked
// that boto3 and requests import.
func pythonWithDeps(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "python3", "-c", "import sys, boto3, requests; print(sys.executable)").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("python3 with boto3 and requests is needed (pip install boto3 requests; moto[server] brings both): %s", bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// nodePeer copies the Node peer into .bin/bench-node and installs its
// pinned dependency there with npm, once.
func (b *bench) nodePeer(ctx context.Context) ([]string, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not in PATH (Node.js 20: apt-get install nodejs npm)")
	}
	src := filepath.Join(b.root, "cmd", "bench", "peers", "node")
	dir := filepath.Join(b.root, ".bin", "bench-node")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	for _, f := range []string{"close.mjs", "package.json"} {
		data, err := os.ReadFile(filepath.Join(src, f)) //nolint:gosec // G304: the repository's own files
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil { //nolint:gosec // G703: fixed names under the repository's .bin/
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-secrets-manager", "package.json")); err != nil {
		b.progress("installing the Node peer's @aws-sdk/client-secrets-manager into %s (once) ...", dir)
		cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("npm install in %s: %v: %s", dir, err, bytes.TrimSpace(out))
		}
	}
	return []string{nodeBin, filepath.Join(dir, "close.mjs")}, nil
}

// runPeers runs each peer o.peerRuns times one-shot, and then
// o.peerRuns times with o.peerCloses additional closes. Both rounds take
// the peers in turn, so that each sees the machine's other work alike.
func (b *bench) runPeers(ctx context.Context) ([]peerResult, error) {
	var results []peerResult
	ps := b.peers(ctx)
	env := b.peerEnv()
	for i := range b.o.peerRuns {
		for pi, p := range ps {
			if len(results) <= pi {
				results = append(results, peerResult{name: p.name, skip: p.skip, reference: p.reference})
			}
			if p.argv == nil {
				continue
			}
			b.progress("%s: one-shot run %d/%d", p.name, i+1, b.o.peerRuns)
			r, err := b.runPeer(ctx, p, env, 0)
			if err != nil {
				return nil, err
			}
			res := &results[pi]
			res.wall = append(res.wall, r.wall)
			res.rss = append(res.rss, r.rss)
			res.secrets = append(res.secrets, r.secrets)
		}
	}
	for i := range b.o.peerRuns {
		for pi, p := range ps {
			if p.argv == nil {
				continue
			}
			b.progress("%s: 1 + %d closes, run %d/%d", p.name, b.o.peerCloses, i+1, b.o.peerRuns)
			r, err := b.runPeer(ctx, p, env, b.o.peerCloses)
			if err != nil {
				return nil, err
			}
			res := &results[pi]
			res.perClose = append(res.perClose, r.perClose)
			res.closes, res.closeConns = b.o.peerCloses+1, max(res.closeConns, r.conns)
		}
	}
	return results, nil
}

// peerEnv is the function's environment (moto, the simulator, the
// secret's name) without empty values, which botocore refuses, plus HOME.
func (b *bench) peerEnv() map[string]string {
	env := b.stack.Env()
	maps.DeleteFunc(env, func(_, v string) bool { return v == "" })
	env["HOME"] = b.tmp
	env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
	return env
}

type peerRun struct {
	wall     time.Duration
	rss      int64
	secrets  int
	conns    int
	perClose float64
}

// runPeer runs p once, closing 1+extra new orders.
func (b *bench) runPeer(ctx context.Context, p peer, env map[string]string, extra int) (peerRun, error) {
	b.nextID++
	prefix := fmt.Sprintf("202611259%05d", b.nextID)
	for i := 0; i <= extra; i++ {
		b.stack.Sim.AddOrder(payjstest.Order{ID: prefix + fmt.Sprintf("%0*d", 28-len(prefix), i), MchID: payjstest.DemoMchID})
	}
	env = maps.Clone(env)
	env["BENCH_ORDER_PREFIX"] = prefix
	env["BENCH_CLOSES"] = strconv.Itoa(extra)
	maps.Copy(env, p.env)

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...) //nolint:gosec // G204: the peers of cmd/bench/peers
	cmd.Dir = b.tmp
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second

	conns0, secrets0 := b.stack.Sim.Connections(), b.stack.Moto.Calls("GetSecretValue")
	start := time.Now()
	err := cmd.Run()
	r := peerRun{wall: time.Since(start)}
	// Whatever the peer left in its group goes with it.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		return r, fmt.Errorf("%s: %v\n%s%s", p.name, err, stdout.Bytes(), stderr.Bytes())
	}
	r.conns, r.secrets = b.stack.Sim.Connections()-conns0, b.stack.Moto.Calls("GetSecretValue")-secrets0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rss = ru.Maxrss << 10 // KiB on Linux
	}
	var got struct {
		PerCloseMS float64 `json:"per_close_ms"`
	}
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &got); err != nil {
		return r, fmt.Errorf("%s: unexpected output %q: %v", p.name, stdout.String(), err)
	}
	r.perClose = got.PerCloseMS
	// Every peer's closes are checked where it matters, at PAYJS.
	for i := 0; i <= extra; i++ {
		id := prefix + fmt.Sprintf("%0*d", 28-len(prefix), i)
		if o, ok := b.stack.Sim.Order(id); !ok || o.State != payjstest.StateClosed {
			return r, fmt.Errorf("%s: order %s is not closed at the simulator", p.name, id)
		}
	}
	return r, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// Package testproc runs the child processes of tests and local tools (moto,
// aws-lambda-rie): each in a process group of its own, so that one kill
// reaches whatever it starts in that group and, on Linux, the kernel kills
// it should the test binary die without its cleanup (a test timeout); its
// output kept in a tail for the error that says why it failed; on free
// loopback ports, tried again when one is taken meanwhile; with a wait
// until it is ready.
//
//	p, err := testproc.Start(exec.Command(python, "-m", "moto.server", "-p", port), nil)
//	if err != nil { ... }
//	defer p.Kill()
//	if err := p.WaitReady(ctx, 20*time.Millisecond, ping); err != nil {
//		return fmt.Errorf("moto: %w: %s", err, p.Output())
//	}
//
// Package mototest and cmd/internal/devstack share it. It lives in
// cmd/testkit, not under an internal/ directory, so that both may import
// it (mototest serves the tests of handler/ as well as of cmd/). Nothing
// the function ships imports it.
package testproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
)

// TailSize is how much of a process's latest output [Proc.Output] keeps.
const TailSize = 16 << 10

// ErrExited is what [Proc.WaitReady] returns when the process exits before
// it is ready.
var ErrExited = errors.New("exited")

// Proc is one running child process, the leader of a process group of its
// own. Its methods are safe for concurrent use.
type Proc struct {
	cmd    *exec.Cmd
	out    *testlog.Buffer
	exited chan struct{} // closed when the process has exited
}

// Start starts cmd as the leader of a new process group, collecting its
// output (stdout and stderr) in a tail of [TailSize] bytes and copying it
// to also unless that is nil, and reaps it when it exits. The caller sets
// everything else of cmd (arguments, Env, Dir) and must Kill the Proc;
// cmd's context must outlive the process (a start's deadline must not end
// it). Should a process that cmd starts keep the output open after cmd
// exits, Wait gives up on it after a second, unless cmd.WaitDelay says
// otherwise.
func Start(cmd *exec.Cmd, also io.Writer) (*Proc, error) {
	out := &testlog.Buffer{Limit: TailSize}
	var w io.Writer = out
	if also != nil {
		w = io.MultiWriter(also, out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = procAttr()
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = time.Second
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // killed on purpose, or its output says why it exited
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process's id, which is also its process group's.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Path is the program the process runs.
func (p *Proc) Path() string { return p.cmd.Path }

// Output returns the last [TailSize] bytes the process printed.
func (p *Proc) Output() string { return p.out.String() }

// Exited is closed once the process has exited and been reaped.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// WaitReady calls ready every interval until it returns true, the process
// exits (then it returns [ErrExited]) or ctx is done (then ctx's error).
// Polling is the only way to learn that a child process listens.
func (p *Proc) WaitReady(ctx context.Context, every time.Duration, ready func(context.Context) bool) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !ready(ctx) {
		select {
		case <-p.exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Kill kills the process's group and the process itself, and waits until
// it has exited. Killing it again does nothing.
func (p *Proc) Kill() {
	killGroup(p.Pid())
	<-p.exited
}

// KillChildrenFirst kills, before the process, the processes it started
// (each with its group: a child that left the process's group, as
// aws-lambda-rie's bootstrap does, is not reached by Kill), and gives the
// process up to reap to reap them; then it kills the process as Kill does.
// An orphan left to an init that does not reap (as in many containers)
// would stay a zombie. Without Linux's /proc it is Kill.
func (p *Proc) KillChildrenFirst(reap time.Duration) {
	kids, _ := Children(p.Pid()) // none found: nothing more to kill
	for _, k := range kids {
		killGroup(k)
	}
	deadline := time.Now().Add(reap)
	for _, k := range kids {
		for Exists(k) && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond) // the parent reaps its child on its own schedule
		}
	}
	p.Kill()
}

// Retry calls launch up to three times while it fails because a port was
// taken: a port chosen free ([FreePorts]) may be taken by another process
// before the child binds it, and then the child exits saying "address
// already in use" (in any case), which launch's error must carry.
func Retry[T any](launch func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for range 3 {
		if v, err = launch(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "address already in use") {
			break
		}
	}
	return v, err
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago.
func FreePorts(n int) ([]int, error) {
	var lc net.ListenConfig
	ports := make([]int, 0, n)
	for range n {
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer func() { _ = ln.Close() }() // held until all n are chosen, so that they differ
		addr, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("find a free port: unexpected address %v", ln.Addr())
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}

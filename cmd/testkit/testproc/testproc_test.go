package testproc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/cmd/testkit/testproc"
)

// helperEnv names what the test binary does when it runs as a child
// process of these tests, so that they need nothing but Go.
const helperEnv = "TESTPROC_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helper(mode)
		return
	}
	os.Exit(m.Run())
}

// helper is the child process: mode says what it does.
func helper(mode string) {
	switch mode {
	case "print": // more than a tail, then a last line
		fmt.Print(strings.Repeat("x", testproc.TailSize+100))
		fmt.Fprintln(os.Stderr, "END")
	case "exit":
		fmt.Fprintln(os.Stderr, "bind: address already in use")
		os.Exit(3)
	case "tree", "detached": // a child in this group, or in a group of its own
		kid := self("wait")
		kid.SysProcAttr = &syscall.SysProcAttr{Setpgid: mode == "detached"}
		if mode == "tree" {
			// It holds the output pipe: the Proc's Wait, hence Kill, ends
			// once it is gone too (or after cmd.WaitDelay).
			kid.Stdout = os.Stdout
		}
		if err := kid.Start(); err != nil {
			fmt.Println("start:", err)
			os.Exit(1)
		}
		fmt.Printf("child %d\n", kid.Process.Pid)
		_ = kid.Wait() // reap it when it is killed
		wait()
	case "wait":
		wait()
	case "grow": // a peak of more than grown bytes, then less
		touch(grown)
		runtime.GC()
		fmt.Printf("child %d\n", os.Getpid())
		wait()
	default:
		os.Exit(2)
	}
}

// grown is how much memory the "grow" helper touches.
const grown = 64 << 20

// touch allocates n bytes and touches every page of them.
func touch(n int) {
	b := make([]byte, n)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
}

// wait is how a child process waits to be killed.
func wait() { time.Sleep(time.Hour) }

// self is a command that runs this test binary as a helper in mode.
func self(mode string) *exec.Cmd {
	cmd := exec.CommandContext(context.Background(), os.Args[0]) //nolint:gosec // G204: this test binary, as its own helper
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func start(t *testing.T, mode string, also io.Writer) *testproc.Proc {
	t.Helper()
	p, err := testproc.Start(self(mode), also)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestOutputKeepsTheTailAndCopiesAll(t *testing.T) {
	t.Parallel()
	all := &testlog.Buffer{}
	p := start(t, "print", all)
	<-p.Exited()
	out := p.Output()
	if len(out) != testproc.TailSize || !strings.HasSuffix(out, "xxEND\n") {
		t.Errorf("Output holds %d bytes ending %q; want the last %d", len(out), out[max(0, len(out)-10):], testproc.TailSize)
	}
	if n := len(all.String()); n != testproc.TailSize+100+len("END\n") {
		t.Errorf("the copy holds %d bytes, want everything", n)
	}
	p.Kill() // an exited process: does nothing, twice
	p.Kill()
}

func TestWaitReady(t *testing.T) {
	t.Parallel()
	p := start(t, "wait", nil)
	calls := 0
	err := p.WaitReady(context.Background(), time.Millisecond, func(context.Context) bool {
		calls++
		return calls == 3
	})
	if err != nil || calls != 3 {
		t.Errorf("ready at the third call: %v after %d calls", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitReady(ctx, time.Millisecond, func(context.Context) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("ctx done: %v, want context.Canceled", err)
	}

	exits := start(t, "exit", nil)
	err = exits.WaitReady(context.Background(), time.Millisecond, func(context.Context) bool { return false })
	if !errors.Is(err, testproc.ErrExited) {
		t.Errorf("the process exited: %v, want ErrExited", err)
	}
	if !strings.Contains(exits.Output(), "address already in use") {
		t.Errorf("Output = %q, want what it printed", exits.Output())
	}
}

func TestRetryOnlyWhileAPortIsTaken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		errs  []error
		calls int
	}{
		{"at once", []error{nil}, 1},
		{"taken once", []error{errors.New("listen tcp: bind: Address already in use"), nil}, 2},
		{"taken thrice", []error{errors.New("address already in use"), errors.New("address already in use"), errors.New("address already in use"), nil}, 3},
		{"another error", []error{errors.New("no such file"), nil}, 1},
	}
	for _, tt := range tests {
		calls := 0
		v, err := testproc.Retry(func() (int, error) {
			err := tt.errs[calls]
			calls++
			return calls, err
		})
		if calls != tt.calls || v != calls || !errors.Is(err, tt.errs[calls-1]) {
			t.Errorf("%s: %d calls, %d, %v; want %d calls and the last one's answer", tt.name, calls, v, err, tt.calls)
		}
	}
}

// TestFreePortsAreDistinctAndFree runs alone: a process forked meanwhile
// holds a copy of a listener until it execs (the race Retry is for).
func TestFreePortsAreDistinctAndFree(t *testing.T) {
	ports, err := testproc.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, port := range ports {
		if seen[port] || port <= 0 {
			t.Errorf("ports %v: not distinct, or not ports", ports)
		}
		seen[port] = true
		var lc net.ListenConfig
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("port %d is not free: %v", port, err)
			continue
		}
		_ = ln.Close()
	}
}

// child starts a helper in mode and returns it with the process id it
// prints once ready: of the child it started, or its own.
func child(t *testing.T, mode string) (*testproc.Proc, int) {
	t.Helper()
	out := &testlog.Buffer{}
	started := out.Watch(regexp.MustCompile(`child (\d+)\n`))
	p := start(t, mode, out)
	select {
	case m := <-started:
		pid, _ := strconv.Atoi(m[1])
		return p, pid
	case <-p.Exited():
		t.Fatalf("the helper exited: %s", p.Output())
	}
	return nil, 0
}

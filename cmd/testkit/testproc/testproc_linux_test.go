package testproc_test

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testproc"
)

// subreaper makes this process the one that orphans of its children's
// are given to (PR_SET_CHILD_SUBREAPER), so that adopt can reap them: an
// init that does not reap (as in many containers) would keep them as
// zombies.
var subreaper = sync.OnceValue(func() error {
	const prSetChildSubreaper = 36
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return e
	}
	return nil
})

// adopt has pid, a child of a helper, reaped by this process at the end of
// the test, killed first should it still run. Call it while the helper
// runs, before pid is orphaned.
func adopt(t *testing.T, pid int) {
	t.Helper()
	if err := subreaper(); err != nil {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL) // already gone is fine
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil) // ECHILD: its parent reaped it
	})
}

// alive reports whether pid runs: it exists, is not a zombie, and is not
// on its way out (PF_EXITING in the flags of /proc/PID/stat, set when a
// fatal signal is taken, before its files are closed).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state ppid pgrp session tty_nr tpgid flags ...
	if len(f) < 7 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	const pfExiting = 0x4
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting == 0
}

func TestKillReachesTheProcessGroup(t *testing.T) {
	t.Parallel()
	p, kid := child(t, "tree")
	adopt(t, kid)
	if kids, err := testproc.Children(p.Pid()); err != nil || len(kids) != 1 || kids[0] != kid {
		t.Errorf("Children = %v, %v; want [%d]", kids, err, kid)
	}
	if !testproc.Exists(kid) || !alive(kid) {
		t.Fatalf("the child %d does not run", kid)
	}
	p.Kill()
	if alive(p.Pid()) || alive(kid) {
		t.Errorf("after Kill: the process runs %v, its child %v; want neither", alive(p.Pid()), alive(kid))
	}
}

func TestKillChildrenFirstReachesAChildInAGroupOfItsOwn(t *testing.T) {
	t.Parallel()
	// Kill alone leaves it running: that is why KillChildrenFirst exists.
	p, kid := child(t, "detached")
	adopt(t, kid)
	p.Kill()
	if !alive(kid) {
		t.Fatalf("Kill reached the child %d in a group of its own: the test proves nothing", kid)
	}

	p, kid = child(t, "detached")
	adopt(t, kid)
	p.KillChildrenFirst(time.Second)
	if alive(p.Pid()) || alive(kid) {
		t.Errorf("after KillChildrenFirst: the process runs %v, its child %v; want neither", alive(p.Pid()), alive(kid))
	}
	if testproc.Exists(kid) {
		t.Errorf("the child %d was not reaped by its parent", kid)
	}
}

func TestPeakRSSIsThePeakInBytes(t *testing.T) {
	t.Parallel()
	p, _ := child(t, "grow") // 64 MiB touched, then freed
	rss, err := testproc.PeakRSS(p.Pid())
	if err != nil || rss < grown || rss > 1<<30 {
		t.Errorf("PeakRSS = %d, %v; want over the %d bytes the helper touched", rss, err, grown)
	}
	if _, err := testproc.PeakRSS(-1); err == nil {
		t.Error("PeakRSS of no process succeeded")
	}
}

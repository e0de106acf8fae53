package testproc_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/internal/testproc"
)

// alive reports whether pid runs: it exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

func TestKillReachesTheProcessGroup(t *testing.T) {
	t.Parallel()
	p, kid := child(t, "tree")
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
	p.Kill()
	if !alive(kid) {
		t.Fatalf("Kill reached the child %d in a group of its own: the test proves nothing", kid)
	}
	_ = syscall.Kill(kid, syscall.SIGKILL)

	p, kid = child(t, "detached")
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

package mototest

import (
	"os/exec"
	"syscall"
)

// procAttr puts moto in its own process group, so that killGroup reaches
// any process it starts, and has the kernel kill it should the test binary
// die without running its cleanup (e.g. on a test timeout).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group that cmd leads.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // already gone is fine
}

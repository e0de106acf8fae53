//go:build unix && !linux

package mototest

import (
	"os/exec"
	"syscall"
)

// procAttr puts moto in its own process group, so that killGroup reaches
// any process it starts.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group that cmd leads.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // already gone is fine
}

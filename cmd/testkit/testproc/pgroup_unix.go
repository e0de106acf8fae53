//go:build unix

package testproc

import "syscall"

// groupAttr makes the child the leader of a new process group.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group that pid leads, and pid itself.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL) // already gone is fine
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

//go:build !unix

package testproc

import (
	"os"
	"syscall"
)

// groupAttr has nothing to set where process groups do not exist.
func groupAttr() *syscall.SysProcAttr { return nil }

// killGroup kills pid.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill() // already gone is fine
	}
}

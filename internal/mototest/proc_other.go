//go:build !unix

package mototest

import (
	"os/exec"
	"syscall"
)

// procAttr has nothing to set where process groups do not exist.
func procAttr() *syscall.SysProcAttr { return nil }

// killGroup kills moto itself.
func killGroup(cmd *exec.Cmd) {
	_ = cmd.Process.Kill() // already gone is fine
}

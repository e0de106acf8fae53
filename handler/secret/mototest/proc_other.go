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
	cmd.Process.Kill() //nolint:errcheck // already gone is fine
}

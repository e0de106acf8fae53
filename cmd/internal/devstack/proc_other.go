//go:build !linux

package devstack

import (
	"errors"
	"os"
	"syscall"
)

var errNotLinux = errors.New("devstack: finding and measuring the bootstrap process needs Linux's /proc")

// procAttr has nothing portable to set.
func procAttr() *syscall.SysProcAttr { return nil }

// killGroup kills pid.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill() // already gone is fine
	}
}

// children cannot be found without /proc: the bootstrap exits on its own
// once the emulator's Runtime API is gone.
func children(int) ([]int, error) { return nil, errNotLinux }

func exists(int) bool { return false }

func peakRSS(int) (int64, error) { return 0, errNotLinux }

//go:build !linux

package testproc

import (
	"errors"
	"syscall"
)

var errNotLinux = errors.New("testproc: finding and measuring processes needs Linux's /proc")

// procAttr is groupAttr: only Linux kills a child when its parent dies.
func procAttr() *syscall.SysProcAttr { return groupAttr() }

// Children cannot be found without /proc.
func Children(int) ([]int, error) { return nil, errNotLinux }

// Exists cannot tell without /proc: it reports false.
func Exists(int) bool { return false }

// PeakRSS cannot be read without /proc.
func PeakRSS(int) (int64, error) { return 0, errNotLinux }

package testproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procAttr makes the child the leader of a new process group, so that
// killGroup reaches anything it starts in that group, and has the kernel
// kill it should this process die without killing it.
func procAttr() *syscall.SysProcAttr {
	a := groupAttr()
	a.Pdeathsig = syscall.SIGKILL
	return a
}

// Children returns the ids of the processes whose parent is ppid.
func Children(ppid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := parent(pid); ok && p == ppid {
			out = append(out, pid)
		}
	}
	return out, nil
}

// parent reads the parent process id from /proc/PID/stat, whose second
// field (the command name, in parentheses) may itself hold spaces and
// parentheses.
func parent(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false // gone meanwhile
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:])) // state, ppid, ...
	if len(f) < 2 {
		return 0, false
	}
	p, err := strconv.Atoi(f[1])
	return p, err == nil
}

// Exists reports whether pid exists, zombie or not.
func Exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// PeakRSS returns the peak resident set size of pid in bytes: VmHWM of
// /proc/PID/status, which Lambda reports as "Max Memory Used".
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(v) // "12345", "kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: unexpected VmHWM %q", pid, v)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: VmHWM: %w", pid, err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("/proc/" + strconv.Itoa(pid) + "/status has no VmHWM")
}
